/* The HTTP trigger's two translations, kept free of MHD so they can be fuzzed:
 * request -> event JSON, and function result -> HTTP response. */
#ifndef R3E_API_TRIGGER_H
#define R3E_API_TRIGGER_H

#include <jansson.h>
#include <stddef.h>

typedef struct {
    const char *key;
    const char *value; /* NULL allowed (query "?flag") -> "" */
} trigger_kv_t;

/* Event: {method, path, query:{k:v}, headers:{lowercased k: v}, body:string, json?:any,
 * isBase64Encoded?:true}. path "" becomes "/". A body that parses as JSON is also given
 * parsed as `json`; a body that is not UTF-8 is passed base64-encoded. Repeated headers
 * are joined with ", "; for repeated query keys the last wins.
 * Returns malloc'ed JSON text (*len set) or NULL on allocation failure. */
char *trigger_event_json(const char *method, const char *path, const trigger_kv_t *query,
                         size_t nquery, const trigger_kv_t *headers, size_t nheaders,
                         const char *body, size_t body_len, size_t *len);

typedef struct {
    int status;
    json_t *headers;          /* object of string values to add, or NULL; owned */
    const char *content_type; /* default content type (a header may override it) */
    char *body;               /* malloc'ed, or NULL with body_len 0 */
    size_t body_len;
} trigger_resp_t;

/* A result object with an integer "status" in 200..599 is an HTTP response
 * ({status, headers?, body?}: string body as is, other bodies as JSON; none for 204 and
 * 304). Anything else is
 * a 200 JSON body with the result text unchanged. Returns 0 (out filled) or -1 when out of
 * memory. Release with trigger_resp_free. */
int trigger_response(const char *result_json, size_t len, trigger_resp_t *out);
void trigger_resp_free(trigger_resp_t *t);

/* Headers a function may not set (framing is the server's job). */
int trigger_header_allowed(const char *name, const char *value);

#endif
