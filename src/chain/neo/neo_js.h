/* r3e.neo for function sandboxes: Neo N3 keys, scripts and transactions with neon-js 5.9.0
 * shapes (wallet, sc, tx, CONST) plus application-log decoding. */
#ifndef R3E_CHAIN_NEO_JS_H
#define R3E_CHAIN_NEO_JS_H

#include <JavaScriptCore/JavaScript.h>

/* Defines globalThis.r3e.neo (creating globalThis.r3e when absent). Call once per new
 * context, before user code runs. Fails only on an engine-level error, which is logged. */
void neo_js_install(JSGlobalContextRef ctx);
/* A fresh r3e.neo object, not installed anywhere (ctx.neo keeps a private one); NULL on an
 * engine-level error, which is logged. */
JSValueRef neo_js_make(JSGlobalContextRef ctx);

#endif
