/* Route table matching. Linear over a small static table: with ~20 routes this costs less
 * than one allocation, and keeps the table readable as the API's index. */
#include "api/router.h"

#include <stdbool.h>
#include <string.h>

static bool router_method_ok(const char *route_method, const char *method) {
    if (strcmp(route_method, "*") == 0 || strcmp(route_method, method) == 0) return true;
    return strcmp(method, "HEAD") == 0 && strcmp(route_method, "GET") == 0;
}

/* Walks pattern and path segment by segment. Params are copied into m->buf. */
static bool router_path_match(const char *pattern, const char *path, route_match_t *m) {
    size_t used = 0;
    m->nparams = 0;
    m->rest = NULL;
    const char *p = pattern, *s = path;
    while (*p) {
        if (strcmp(p, "/*") == 0 && (*s == '\0' || *s == '/')) {
            m->rest = s; /* "" or "/a/b": everything after the last matched segment */
            return true;
        }
        if (*p != '/' || *s != '/') return false;
        p++;
        s++;
        const char *pend = strchr(p, '/');
        size_t plen = pend ? (size_t)(pend - p) : strlen(p);
        const char *send = strchr(s, '/');
        size_t slen = send ? (size_t)(send - s) : strlen(s);
        if (plen >= 2 && p[0] == '{' && p[plen - 1] == '}') {
            if (slen == 0 || m->nparams >= ROUTER_MAX_PARAMS || used + slen + 1 > sizeof m->buf)
                return false;
            memcpy(m->buf + used, s, slen);
            m->buf[used + slen] = '\0';
            m->params[m->nparams++] = m->buf + used;
            used += slen + 1;
        } else if (plen != slen || memcmp(p, s, plen) != 0) {
            return false;
        }
        p += plen;
        s += slen;
    }
    return *s == '\0';
}

static void router_allow_add(route_match_t *m, const char *method) {
    if (strcmp(method, "*") == 0) method = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS";
    size_t mlen = strlen(method), have = strlen(m->allow);
    /* de-duplicate: methods are short, the list is tiny */
    const char *hit = strstr(m->allow, method);
    if (hit && (hit[mlen] == '\0' || hit[mlen] == ',')) return;
    if (have + mlen + 3 > sizeof m->allow) return;
    if (have) memcpy(m->allow + have, ", ", 2), have += 2;
    memcpy(m->allow + have, method, mlen + 1);
}

route_status_t router_match(const route_t *table, size_t n, const char *method, const char *path,
                            route_match_t *m) {
    memset(m, 0, offsetof(route_match_t, buf));
    m->buf[0] = '\0';
    bool path_seen = false;
    for (size_t i = 0; i < n; i++) {
        if (!router_path_match(table[i].pattern, path, m)) continue;
        if (router_method_ok(table[i].method, method)) {
            m->route = &table[i];
            m->allow[0] = '\0';
            return ROUTE_FOUND;
        }
        path_seen = true;
        router_allow_add(m, table[i].method);
        if (strcmp(table[i].method, "GET") == 0) router_allow_add(m, "HEAD");
    }
    m->nparams = 0;
    m->rest = NULL;
    return path_seen ? ROUTE_BAD_METHOD : ROUTE_NOT_FOUND;
}
