/* HTTP client behind the JS fetch(): libcurl multi, http/https only, no proxies, no
 * cookie/HSTS/alt-svc files, every connection attempt (redirects included) checked by the
 * egress policy after DNS resolution. Knows nothing about JavaScript: webapi.c maps
 * requests and results to JS objects and promises. Single-threaded. */
#ifndef R3E_RUNTIME_FETCH_H
#define R3E_RUNTIME_FETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "runtime/egress.h"

#define FETCH_MAX_REDIRECTS 5

typedef struct fetch_client fetch_client_t;

typedef enum {
    FETCH_REDIRECT_FOLLOW = 0,
    FETCH_REDIRECT_MANUAL,
    FETCH_REDIRECT_ERROR
} fetch_redirect_t;

typedef struct {
    const char *method;         /* "GET", "POST", ... (already validated/normalised) */
    const char *url;            /* absolute http(s) URL */
    const char *const *headers; /* "Name: value" lines; no CR/LF/NUL allowed */
    size_t nheaders;
    const void *body; /* copied by fetch_start; NULL = no body */
    size_t body_len;
    fetch_redirect_t redirect;
    size_t max_bytes; /* response body cap after decoding; 0 = unlimited */
    long timeout_ms;  /* whole transfer; must be > 0 */
} fetch_request_t;

/* Outcome of one transfer, valid only during the completion callback. */
typedef struct {
    const char *error; /* NULL on success, else a message for a JS TypeError */
    long status;
    const char *status_text;
    const char *url; /* final URL after redirects */
    bool redirected;
    const char *const *headers; /* 2*nheaders strings: name, value, name, value, ... */
    size_t nheaders;
    uint8_t *body; /* malloc'ed; the callback may take it (set to NULL) and free() it later */
    size_t body_len;
} fetch_result_t;

typedef void (*fetch_done_fn)(void *ud, fetch_result_t *res);

/* policy is borrowed and must outlive the client. */
fetch_client_t *fetch_client_create(const egress_policy_t *policy, err_t *err);
/* Aborts every transfer without calling its callback. */
void fetch_client_destroy(fetch_client_t *c);

/* Starts a transfer; `done` is called exactly once from fetch_wait (or never, when the
 * transfer is aborted). Returns 0, or -1 with err for a request curl cannot even start. */
int fetch_start(fetch_client_t *c, const fetch_request_t *req, fetch_done_fn done, void *ud,
                err_t *err);

/* Waits up to timeout_ms for network progress or for extra_fd (< 0: none) to be readable,
 * drives transfers and calls the callbacks of finished ones. Returns 1 when extra_fd is
 * readable, else 0. */
int fetch_wait(fetch_client_t *c, int extra_fd, int timeout_ms);

/* Aborts every transfer; calls drop(ud) for each instead of its completion callback. */
void fetch_abort_all(fetch_client_t *c, void (*drop)(void *ud));

int fetch_pending(const fetch_client_t *c);

#endif
