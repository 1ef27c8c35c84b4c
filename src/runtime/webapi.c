/* Web-standard globals and fetch for function contexts (see webapi.h).
 * Minimal first version: env lifecycle and an event-loop step that only polls extra_fd;
 * the prelude and fetch follow. */
#include "runtime/webapi.h"

#include <poll.h>
#include <stdlib.h>
#include <string.h>

struct webapi_env {
    int pending;
};

webapi_env_t *webapi_env_create(const char *egress_allow, char *errbuf, size_t errlen) {
    (void)egress_allow;
    if (errbuf && errlen) errbuf[0] = 0;
    return calloc(1, sizeof(webapi_env_t));
}

void webapi_env_destroy(webapi_env_t *env) {
    free(env);
}

void webapi_install(webapi_env_t *env, JSGlobalContextRef ctx) {
    (void)env;
    (void)ctx;
}

void webapi_begin(webapi_env_t *env, JSGlobalContextRef ctx, int max_fetches,
                  size_t max_fetch_bytes, long deadline_ms_from_now) {
    (void)env;
    (void)ctx;
    (void)max_fetches;
    (void)max_fetch_bytes;
    (void)deadline_ms_from_now;
}

void webapi_end(webapi_env_t *env) {
    (void)env;
}

int webapi_pending(webapi_env_t *env) {
    return env ? env->pending : 0;
}

int webapi_wait(webapi_env_t *env, int extra_fd, int timeout_ms) {
    (void)env;
    struct pollfd p = {.fd = extra_fd, .events = POLLIN};
    int n = poll(&p, extra_fd >= 0 ? 1 : 0, timeout_ms);
    return n > 0 && (p.revents & (POLLIN | POLLHUP)) ? 1 : 0;
}
