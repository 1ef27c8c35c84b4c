/* Fuzzes what the API does with untrusted request bytes before any handler logic: the
 * route table, the body JSON check (with positions), the HTTP trigger's event builder
 * (method, path, query, headers, body from the input) and its result -> response decoder.
 *
 * Input layout: the first line is the path, the second the method; following lines
 * "k=v" are query pairs until an empty line, then "Header: value" lines until an empty
 * line; the rest is the body. The whole input is also fed to the JSON and response
 * decoders as is. */
#include "api/api.h"
#include "api/trigger.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_KV 64

static char *next_line(char **cur, char *end) {
    if (*cur >= end) return NULL;
    char *s = *cur, *nl = memchr(s, '\n', (size_t)(end - s));
    if (!nl) nl = end;
    *nl = '\0';
    *cur = nl + 1;
    return s;
}

static void fuzz_trigger_event(const uint8_t *data, size_t size) {
    char *copy = malloc(size + 1);
    memcpy(copy, data, size);
    copy[size] = '\0';
    char *cur = copy, *end = copy + size;
    char *path = next_line(&cur, end);
    char *method = next_line(&cur, end);
    if (!path) path = "";
    if (!method) method = "GET";

    size_t nr;
    const route_t *routes = api_route_table(&nr);
    route_match_t m;
    route_status_t st = router_match(routes, nr, method, path, &m);
    if (st == ROUTE_FOUND && m.nparams > 0 && strlen(m.params[0]) >= sizeof m.buf) abort();

    trigger_kv_t q[MAX_KV], h[MAX_KV];
    size_t nq = 0, nh = 0;
    char *line;
    while (nq < MAX_KV && (line = next_line(&cur, end)) && *line) {
        char *eq = strchr(line, '=');
        if (eq) *eq = '\0';
        q[nq++] = (trigger_kv_t){line, eq ? eq + 1 : NULL};
    }
    while (nh < MAX_KV && (line = next_line(&cur, end)) && *line) {
        char *colon = strchr(line, ':');
        if (colon) *colon = '\0';
        h[nh++] = (trigger_kv_t){line, colon ? colon + 1 : ""};
    }
    const char *body = cur < end ? cur : NULL;
    size_t body_len = cur < end ? (size_t)(end - cur) : 0;
    size_t len;
    char *ev = trigger_event_json(method, st == ROUTE_FOUND && m.rest ? m.rest : path, q, nq, h, nh,
                                  body, body_len, &len);
    if (ev) {
        /* the event must always be one valid JSON object */
        json_t *v = json_loadb(ev, len, JSON_ALLOW_NUL, NULL); /* bodies may hold NUL */
        if (!json_is_object(v)) abort();
        json_decref(v);
        free(ev);
    }
    free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    err_t e;
    int line, col;
    json_t *v = http_json_parse((const char *)data, size, false, &line, &col, &e);
    if (!v && e.code != R3E_EINVAL) abort();
    json_decref(v);
    v = http_json_parse((const char *)data, size, true, &line, &col, &e);
    json_decref(v);

    trigger_resp_t t;
    if (trigger_response((const char *)data, size, &t) == 0) {
        if (t.status < 200 || t.status > 599) abort();
        trigger_resp_free(&t);
    }
    char ct[64];
    size_t n = size < sizeof ct - 1 ? size : sizeof ct - 1;
    memcpy(ct, data, n);
    ct[n] = '\0';
    (void)http_is_json_content_type(ct);
    (void)http_request_id_ok(ct);

    fuzz_trigger_event(data, size);
    return 0;
}
