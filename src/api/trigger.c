/* HTTP trigger translations (see trigger.h). */
#include "api/trigger.h"

#include <ctype.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static json_t *trigger_string(const char *s, size_t n) {
    json_t *v = json_stringn(s ? s : "", s ? n : 0);
    return v ? v : json_string("\xef\xbf\xbd"); /* not UTF-8: U+FFFD rather than dropping */
}

static void trigger_add_header(json_t *h, const char *key, const char *value) {
    char name[256];
    size_t n = strlen(key);
    if (n >= sizeof name) return;
    for (size_t i = 0; i <= n; i++)
        name[i] = (char)tolower((unsigned char)key[i]);
    const char *v = value ? value : "";
    json_t *prev = json_object_get(h, name);
    if (prev && json_is_string(prev)) {
        size_t pl = json_string_length(prev), vl = strlen(v);
        char *joined = malloc(pl + vl + 3);
        if (!joined) return;
        memcpy(joined, json_string_value(prev), pl);
        memcpy(joined + pl, ", ", 2);
        memcpy(joined + pl + 2, v, vl + 1);
        json_object_set_new(h, name, trigger_string(joined, pl + vl + 2));
        free(joined);
    } else {
        json_t *s = trigger_string(v, strlen(v));
        if (json_object_set_new(h, name, s) < 0) return; /* key not UTF-8: skip it */
    }
}

static void trigger_set_body(json_t *ev, const char *body, size_t len) {
    json_t *s = json_stringn(body ? body : "", body ? len : 0);
    if (s) {
        json_object_set_new(ev, "body", s);
        json_error_t je;
        json_t *parsed = len ? json_loadb(body, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je) : NULL;
        if (parsed) json_object_set_new(ev, "json", parsed);
        return;
    }
    /* binary body: base64, flagged the way API gateways do it */
    size_t cap = 4 * ((len + 2) / 3) + 1;
    unsigned char *b64 = malloc(cap);
    if (!b64) return;
    int n = EVP_EncodeBlock(b64, (const unsigned char *)body, (int)len);
    json_object_set_new(ev, "body", json_stringn((const char *)b64, (size_t)n));
    json_object_set_new(ev, "isBase64Encoded", json_true());
    free(b64);
}

char *trigger_event_json(const char *method, const char *path, const trigger_kv_t *query,
                         size_t nquery, const trigger_kv_t *headers, size_t nheaders,
                         const char *body, size_t body_len, size_t *len) {
    json_t *ev = json_object();
    json_object_set_new(ev, "method", trigger_string(method, strlen(method)));
    if (!path || !*path) path = "/";
    json_object_set_new(ev, "path", trigger_string(path, strlen(path)));
    json_t *q = json_object();
    for (size_t i = 0; i < nquery; i++) {
        const char *v = query[i].value ? query[i].value : "";
        json_object_set_new(q, query[i].key, trigger_string(v, strlen(v)));
    }
    json_object_set_new(ev, "query", q);
    json_t *h = json_object();
    for (size_t i = 0; i < nheaders; i++)
        trigger_add_header(h, headers[i].key, headers[i].value);
    json_object_set_new(ev, "headers", h);
    trigger_set_body(ev, body, body_len);
    char *text = json_dumps(ev, JSON_COMPACT);
    json_decref(ev);
    *len = text ? strlen(text) : 0;
    return text;
}

int trigger_header_allowed(const char *name, const char *value) {
    static const char *banned[] = {"content-length", "transfer-encoding", "connection",
                                   "keep-alive",     "upgrade",           "x-request-id"};
    if (!*name || strpbrk(name, "\r\n:") || strpbrk(value, "\r\n")) return 0;
    for (size_t i = 0; i < sizeof banned / sizeof banned[0]; i++)
        if (strcasecmp(name, banned[i]) == 0) return 0;
    return 1;
}

static bool trigger_is_response(json_t *v) {
    json_t *st = json_object_get(v, "status");
    /* 1xx are protocol-level (101 would announce an upgrade that never happens) */
    return json_is_object(v) && json_is_integer(st) && json_integer_value(st) >= 200 &&
           json_integer_value(st) <= 599;
}

int trigger_response(const char *result_json, size_t len, trigger_resp_t *out) {
    memset(out, 0, sizeof *out);
    out->status = 200;
    out->content_type = "application/json";
    /* only an object can be a response: skip parsing for every other result */
    size_t i = 0;
    while (i < len && isspace((unsigned char)result_json[i]))
        i++;
    json_t *v = NULL;
    if (i < len && result_json[i] == '{') v = json_loadb(result_json, len, JSON_ALLOW_NUL, NULL);
    if (!v || !trigger_is_response(v)) {
        json_decref(v);
        out->body = malloc(len + 1);
        if (!out->body) return -1;
        memcpy(out->body, result_json, len);
        out->body[len] = '\0';
        out->body_len = len;
        return 0;
    }
    out->status = (int)json_integer_value(json_object_get(v, "status"));
    json_t *hdrs = json_object_get(v, "headers");
    if (json_is_object(hdrs)) out->headers = json_incref(hdrs);
    json_t *b = json_object_get(v, "body");
    if (out->status == 204 || out->status == 304) b = NULL; /* these never carry a body */
    if (json_is_string(b)) {
        out->content_type = "text/plain; charset=utf-8";
        out->body_len = json_string_length(b);
        out->body = malloc(out->body_len + 1);
        if (out->body) memcpy(out->body, json_string_value(b), out->body_len + 1);
    } else if (b && !json_is_null(b)) {
        out->body = json_dumps(b, JSON_COMPACT | JSON_ENCODE_ANY);
        out->body_len = out->body ? strlen(out->body) : 0;
    } else {
        out->content_type = NULL; /* no body, no content type unless the function sets one */
    }
    json_decref(v);
    if (out->body_len && !out->body) {
        trigger_resp_free(out);
        return -1;
    }
    return 0;
}

void trigger_resp_free(trigger_resp_t *t) {
    json_decref(t->headers);
    free(t->body);
    memset(t, 0, sizeof *t);
}
