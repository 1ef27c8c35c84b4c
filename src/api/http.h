/* HTTP glue between libmicrohttpd and the handlers: the per-request state, body
 * accumulation with a cap, JSON parsing with positions, and the response helpers that
 * enforce the one error shape {"error":{"code","message"[,"details"]}}.
 *
 * The first half (no MHD types) is pure and unit-tested / fuzzed without a server. */
#ifndef R3E_API_HTTP_H
#define R3E_API_HTTP_H

#include "core/err.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct MHD_Connection;
struct MHD_Response;
struct api;

/* ---- pure helpers ------------------------------------------------------------------- */

/* Appends n bytes to a growing malloc'ed buffer (kept NUL-terminated). Fails with
 * R3E_ETOOBIG when the total would exceed max (the buffer is left as it was). */
int http_body_append(char **buf, size_t *len, size_t *cap, const void *data, size_t n, size_t max,
                     err_t *err);

/* "application/json", optionally with parameters ("; charset=utf-8"), case-insensitive. */
bool http_is_json_content_type(const char *ct);

/* Parses JSON text (any value when any_value, else an object). On failure returns NULL
 * with R3E_EINVAL "malformed JSON: <reason> (line L, column C)" and line and column set
 * (0 when the failure is "not an object"). line/column may be NULL. */
json_t *http_json_parse(const char *text, size_t len, bool any_value, int *line, int *column,
                        err_t *err);

/* Client-supplied X-Request-Id is echoed only when it is 1..128 chars of
 * [A-Za-z0-9._:-], so it can be spliced into logs and JSON without escaping. */
bool http_request_id_ok(const char *s);

/* The error body: malloc'ed JSON text; details (object or NULL) is consumed. */
char *http_error_body(const char *code, const char *message, json_t *details, size_t *len);

/* Parses a decimal integer query value in lo..hi; absent (NULL) -> def. */
int http_query_int(const char *v, long lo, long hi, long def, long *out, err_t *err);

/* ---- per-request state (one per HTTP request, owned by server.c) -------------------- */

typedef struct http_req {
    struct api *api;
    struct MHD_Connection *conn;
    const char *method; /* MHD-owned, valid until the request completes */
    const char *url;    /* path only, percent-decoded by MHD */
    char request_id[132];
    uint64_t start_us;
    char *body; /* malloc'ed, NUL-terminated, NULL when empty */
    size_t body_len, body_cap;
    bool body_too_big;
    size_t discarded;     /* body bytes dropped after the cap was hit */
    bool quiet;           /* access log at debug level (healthz, metrics) */
    bool timeout_raised;  /* connection timeout raised for a long invocation */
    int status;           /* 0 until a response is queued */
    const char *function; /* for the access log, when a handler knows it; static or req-owned */
    char function_buf[64];
    char execution_id[27]; /* set once an invocation ran, for the access log */
    /* authn.c: the namespace the request acts in ("default" unless named), and who asks */
    char ns[64];
    bool authed;           /* a principal was authenticated (principal_* valid) */
    bool principal_jwt;    /* …through a JWT (not an API key) */
    int principal_role;    /* auth_role_t */
    char principal_id[64]; /* API key id / JWT sub; "" = anonymous */
    char principal_ns[64];
    uint32_t perm; /* the permission the route needed (auth_perm_t) */
} http_req_t;

/* Header / query lookups (MHD-owned strings or NULL). */
const char *http_header(http_req_t *r, const char *name);
const char *http_query(http_req_t *r, const char *name);

/* Queues resp with X-Request-Id added; records the status; destroys resp (MHD keeps its
 * own reference). Returns 0, or -1 when MHD refused. */
int http_queue(http_req_t *r, int status, struct MHD_Response *resp);
/* body is malloc'ed and becomes MHD's (freed by it); ctype NULL = application/json. */
int http_send_owned(http_req_t *r, int status, const char *ctype, char *body, size_t len);
/* Static / persistent body, not copied. */
int http_send_static(http_req_t *r, int status, const char *ctype, const char *body, size_t len);
/* Serialises and consumes obj. */
int http_send_json(http_req_t *r, int status, json_t *obj);
/* The error shape with the status from err_http_status(code). */
int http_send_error(http_req_t *r, err_code_t code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int http_send_err(http_req_t *r, const err_t *e);
/* Any status/code, e.g. 502 "function_error"; details (object or NULL) consumed. */
int http_send_error_ex(http_req_t *r, int status, const char *code, const char *message,
                       json_t *details);

/* An error-shape response not yet queued, for callers that add headers (Allow, …);
 * details consumed. NULL when out of memory. */
struct MHD_Response *http_error_response(const char *code, const char *message, json_t *details);

/* 415 unless Content-Type is JSON; then parses the body as an object (400 with position
 * on failure). Returns the object (caller owns) or NULL after queueing the error. */
json_t *http_require_json_object(http_req_t *r);

#endif
