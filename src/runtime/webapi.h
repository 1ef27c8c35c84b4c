/* Web-standard globals for function contexts, implemented as a JS prelude
 * (src/runtime/prelude.js, embedded at build time) on top of a few native helpers:
 * TextEncoder/TextDecoder, atob/btoa, crypto.getRandomValues/randomUUID, structuredClone,
 * URL/URLSearchParams, Headers/Request/Response and fetch (libcurl multi under an egress
 * policy: no loopback/private/link-local/metadata addresses unless allowed, checked after
 * DNS resolution and on every redirect; per-invocation request count and response size
 * caps). Every violation rejects with a clear JS error. */
#ifndef R3E_RUNTIME_WEBAPI_H
#define R3E_RUNTIME_WEBAPI_H

#include <JavaScriptCore/JavaScript.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct webapi_env webapi_env_t;

/* One per worker process. egress_allow: comma-separated allow-list entries, each a CIDR
 * ("10.1.0.0/16"), an address ("127.0.0.1"), optionally with ":port", or a hostname;
 * NULL/"" = nothing beyond public addresses. Returns NULL on a malformed allow-list. */
webapi_env_t *webapi_env_create(const char *egress_allow, char *errbuf, size_t errlen);
void webapi_env_destroy(webapi_env_t *env);

/* Installs the globals into a new context (native helpers first, then the prelude). */
void webapi_install(webapi_env_t *env, JSGlobalContextRef ctx);

/* Per-invocation bracket: resets counters and limits; end aborts pending fetches (their
 * promises are dropped with the invocation). */
void webapi_begin(webapi_env_t *env, JSGlobalContextRef ctx, int max_fetches,
                  size_t max_fetch_bytes, long deadline_ms_from_now);
void webapi_end(webapi_env_t *env);

/* Number of fetches in flight. */
int webapi_pending(webapi_env_t *env);

/* Event-loop step: waits up to timeout_ms for network progress or for `extra_fd` to become
 * readable (extra_fd < 0: none), drives transfers and settles finished fetch promises
 * (which runs JS). Returns 1 when extra_fd is readable, 0 otherwise. */
int webapi_wait(webapi_env_t *env, int extra_fd, int timeout_ms);

#endif
