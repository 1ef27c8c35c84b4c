/* httpc: the one small blocking HTTP client wrapper (libcurl easy interface) used by the
 * CLI to talk to the REST API. Kept free of CLI concerns so other clients (admin tools,
 * tests written in C) can reuse it.
 *
 * A client is a base URL plus settings; each request is independent (not thread-safe:
 * use one httpc_t per thread). Transport failures (refused, DNS, timeout) are errors
 * (R3E_EUNAVAIL with the URL and curl's reason); any HTTP status, including 4xx/5xx,
 * is a successful request whose status the caller inspects. */
#ifndef R3E_CLI_HTTPC_H
#define R3E_CLI_HTTPC_H

#include "core/err.h"

#include <stddef.h>

typedef struct httpc httpc_t;

typedef struct {
    long status; /* HTTP status */
    char *body;  /* malloc'ed, NUL-terminated (binary-safe with len); owned */
    size_t len;
    char content_type[128]; /* "" when the server sent none */
} httpc_response_t;

/* Called with each chunk of a streamed body as it arrives. Return non-zero to stop. */
typedef int (*httpc_chunk_fn)(const char *data, size_t n, void *ud);

/* Process-wide libcurl setup; call once before any other httpc function (main thread). */
void httpc_global_init(void);
void httpc_global_cleanup(void);

/* base_url like "http://127.0.0.1:8080" (a trailing '/' is dropped). Returns NULL with
 * err on failure. connect_timeout_ms <= 0 -> 5000. */
httpc_t *httpc_create(const char *base_url, long connect_timeout_ms, err_t *err);
void httpc_destroy(httpc_t *c); /* NULL is fine */
const char *httpc_base_url(const httpc_t *c);

/* Sends method base_url+path (path starts with '/', already escaped) with an optional body
 * (content_type may be NULL when body is NULL). Fills *out (release with
 * httpc_response_free). Returns 0 when an HTTP response arrived, -1 with err otherwise. */
int httpc_request(httpc_t *c, const char *method, const char *path, const char *content_type,
                  const char *body, size_t body_len, httpc_response_t *out, err_t *err);

/* GETs base_url+path and hands the body to cb chunk by chunk as it arrives (for NDJSON
 * follow streams). *status receives the HTTP status; when it is >= 400 the body is
 * collected into err_body (malloc'ed, caller frees) instead of being streamed.
 * Returns 0 when the stream ended (server closed or cb stopped it), -1 with err. */
int httpc_stream(httpc_t *c, const char *path, httpc_chunk_fn cb, void *ud, long *status,
                 char **err_body, err_t *err);

void httpc_response_free(httpc_response_t *r);

/* Every later request carries "Authorization: Bearer <token>" (NULL/"" = none) and
 * "X-R3E-Namespace: <ns>" (NULL/"" = none). Strings are copied. */
void httpc_set_credentials(httpc_t *c, const char *token, const char *ns);
/* HTTPS: trusted CA file (NULL = system store), client certificate and key (mTLS). */
void httpc_set_tls(httpc_t *c, const char *cacert, const char *cert, const char *key);

/* Percent-escapes one path segment (names, ids). Returns malloc'ed text; caller frees. */
char *httpc_escape(httpc_t *c, const char *segment);

#endif
