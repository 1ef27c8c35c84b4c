/* Prototypes for JavaScriptCore symbols that libjavascriptcoregtk exports but does not
 * install headers for (WebKit's JSContextRefPrivate.h, JSScriptRefPrivate.h and
 * JSBasePrivate.h). Signatures checked against WebKit's API headers; the library is
 * 2.50.x (see scripts/install-deps.sh). */
#ifndef R3E_RUNTIME_JSC_PRIVATE_H
#define R3E_RUNTIME_JSC_PRIVATE_H

#include <JavaScriptCore/JavaScript.h>
#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Called when a script has run for `limit` seconds since it entered the VM (or since the
 * last call). Return true to terminate it; false lets it run another period. The callback
 * may re-arm itself with JSContextGroupSetExecutionTimeLimit. */
typedef bool (*JSShouldTerminateCallback)(JSContextRef ctx, void *context);

JS_EXPORT void JSContextGroupSetExecutionTimeLimit(JSContextGroupRef group, double limit,
                                                   JSShouldTerminateCallback callback,
                                                   void *context);
JS_EXPORT void JSContextGroupClearExecutionTimeLimit(JSContextGroupRef group);

/* Object with heapSize, heapCapacity, extraMemorySize, objectCount, … */
JS_EXPORT JSObjectRef JSGetMemoryUsageStatistics(JSContextRef ctx);

/* Like window.onunhandledrejection: function(promise, reason). */
JS_EXPORT void JSGlobalContextSetUnhandledRejectionCallback(JSGlobalContextRef ctx,
                                                            JSObjectRef function,
                                                            JSValueRef *exception);

/* A parsed program, reusable across the contexts of one group. */
typedef struct OpaqueJSScript *JSScriptRef;

/* Returns NULL on a syntax error (message and 1-based line filled when non-NULL).
 * Ownership follows the Create Rule. */
JS_EXPORT JSScriptRef JSScriptCreateFromString(JSContextGroupRef contextGroup, JSStringRef url,
                                               int startingLineNumber, JSStringRef source,
                                               JSStringRef *errorMessage, int *errorLine);
JS_EXPORT void JSScriptRetain(JSScriptRef script);
JS_EXPORT void JSScriptRelease(JSScriptRef script);
/* Returns the completion value, or NULL with *exception set. */
JS_EXPORT JSValueRef JSScriptEvaluate(JSContextRef ctx, JSScriptRef script, JSValueRef thisValue,
                                      JSValueRef *exception);

#ifdef __cplusplus
}
#endif

#endif
