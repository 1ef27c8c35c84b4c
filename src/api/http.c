/* HTTP glue: body accumulation, JSON parsing with positions, responses in one error shape. */
#include "api/http.h"

#include "obs/log.h"

#include <errno.h>
#include <microhttpd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int http_body_append(char **buf, size_t *len, size_t *cap, const void *data, size_t n, size_t max,
                     err_t *err) {
    if (n > max || *len > max - n)
        return err_set(err, R3E_ETOOBIG, "request body exceeds the limit of %zu bytes", max);
    if (*len + n + 1 > *cap) {
        size_t ncap = *cap ? *cap : 4096;
        while (ncap < *len + n + 1)
            ncap *= 2;
        if (ncap > max + 1) ncap = max + 1;
        char *nb = realloc(*buf, ncap);
        if (!nb) return err_set(err, R3E_EINTERNAL, "out of memory");
        *buf = nb;
        *cap = ncap;
    }
    memcpy(*buf + *len, data, n);
    *len += n;
    (*buf)[*len] = '\0';
    return 0;
}

bool http_is_json_content_type(const char *ct) {
    if (!ct) return false;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    static const char want[] = "application/json";
    if (strncasecmp(ct, want, sizeof want - 1) != 0) return false;
    const char *rest = ct + sizeof want - 1;
    while (*rest == ' ' || *rest == '\t')
        rest++;
    return *rest == '\0' || *rest == ';';
}

json_t *http_json_parse(const char *text, size_t len, bool any_value, int *line, int *column,
                        err_t *err) {
    json_error_t je;
    if (line) *line = 0;
    if (column) *column = 0;
    /* U+0000 is a valid JSON string character; events and code may carry it */
    json_t *v =
        json_loadb(text ? text : "", len, JSON_ALLOW_NUL | (any_value ? JSON_DECODE_ANY : 0), &je);
    if (!v) {
        if (line) *line = je.line;
        if (column) *column = je.column;
        err_set(err, R3E_EINVAL, "malformed JSON: %s (line %d, column %d)", je.text, je.line,
                je.column);
        return NULL;
    }
    if (!any_value && !json_is_object(v)) {
        json_decref(v);
        err_set(err, R3E_EINVAL, "request body must be a JSON object");
        return NULL;
    }
    return v;
}

bool http_request_id_ok(const char *s) {
    size_t n = 0;
    for (; s[n]; n++) {
        char c = s[n];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == ':' || c == '-';
        if (!ok || n >= 128) return false;
    }
    return n > 0;
}

char *http_error_body(const char *code, const char *message, json_t *details, size_t *len) {
    json_t *e = json_object();
    json_object_set_new(e, "code", json_string(code));
    /* messages may quote user input; jansson rejects invalid UTF-8, so fall back */
    json_t *m = json_string(message);
    json_object_set_new(e, "message", m ? m : json_string("(message not valid UTF-8)"));
    if (details) json_object_set_new(e, "details", details);
    json_t *o = json_pack("{s:o}", "error", e);
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    *len = text ? strlen(text) : 0;
    return text;
}

int http_query_int(const char *v, long lo, long hi, long def, long *out, err_t *err) {
    if (!v) {
        *out = def;
        return 0;
    }
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno || end == v || *end || n < lo || n > hi)
        return err_set(err, R3E_EINVAL, "expected an integer in %ld..%ld, got \"%.40s\"", lo, hi,
                       v);
    *out = n;
    return 0;
}

/* ---- MHD side ------------------------------------------------------------------------ */

const char *http_header(http_req_t *r, const char *name) {
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

const char *http_query(http_req_t *r, const char *name) {
    return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

int http_queue(http_req_t *r, int status, struct MHD_Response *resp) {
    if (!resp) return -1;
    MHD_add_response_header(resp, "X-Request-Id", r->request_id);
    enum MHD_Result ok = MHD_queue_response(r->conn, (unsigned)status, resp);
    MHD_destroy_response(resp);
    if (ok != MHD_YES) {
        log_msg(LOG_WARN, &(log_ctx_t){.request_id = r->request_id},
                "MHD refused the response (status %d)", status);
        return -1;
    }
    r->status = status;
    return 0;
}

static int http_send_mode(http_req_t *r, int status, const char *ctype, const char *body,
                          size_t len, enum MHD_ResponseMemoryMode mode) {
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, (void *)body, mode);
    if (!resp) {
        if (mode == MHD_RESPMEM_MUST_FREE) free((void *)body);
        return -1;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype ? ctype : "application/json");
    return http_queue(r, status, resp);
}

int http_send_owned(http_req_t *r, int status, const char *ctype, char *body, size_t len) {
    if (!body) return http_send_static(r, status, ctype, "", 0);
    return http_send_mode(r, status, ctype, body, len, MHD_RESPMEM_MUST_FREE);
}

int http_send_static(http_req_t *r, int status, const char *ctype, const char *body, size_t len) {
    return http_send_mode(r, status, ctype, body, len, MHD_RESPMEM_PERSISTENT);
}

int http_send_json(http_req_t *r, int status, json_t *obj) {
    char *text = json_dumps(obj, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(obj);
    if (!text) return http_send_error(r, R3E_EINTERNAL, "could not encode the response");
    return http_send_owned(r, status, NULL, text, strlen(text));
}

struct MHD_Response *http_error_response(const char *code, const char *message, json_t *details) {
    size_t len;
    char *body = http_error_body(code, message, details, &len);
    if (!body) return NULL;
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(body);
        return NULL;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    return resp;
}

int http_send_error_ex(http_req_t *r, int status, const char *code, const char *message,
                       json_t *details) {
    return http_queue(r, status, http_error_response(code, message, details));
}

int http_send_error(http_req_t *r, err_code_t code, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return http_send_error_ex(r, err_http_status(code), err_code_name(code), msg, NULL);
}

int http_send_err(http_req_t *r, const err_t *e) {
    err_code_t code = e->code == R3E_OK ? R3E_EINTERNAL : e->code;
    return http_send_error_ex(r, err_http_status(code), err_code_name(code),
                              e->msg[0] ? e->msg : "internal error", NULL);
}

json_t *http_require_json_object(http_req_t *r) {
    const char *ct = http_header(r, MHD_HTTP_HEADER_CONTENT_TYPE);
    if (!http_is_json_content_type(ct)) {
        http_send_error(r, R3E_EMEDIA, "Content-Type must be application/json (got %s)",
                        ct ? ct : "none");
        return NULL;
    }
    int line, col;
    err_t e;
    json_t *v = http_json_parse(r->body, r->body_len, false, &line, &col, &e);
    if (!v) {
        json_t *details = line ? json_pack("{s:i,s:i}", "line", line, "column", col) : NULL;
        http_send_error_ex(r, 400, err_code_name(R3E_EINVAL), e.msg, details);
    }
    return v;
}
