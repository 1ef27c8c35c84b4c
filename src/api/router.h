/* Method + path -> handler. Patterns are literal segments, `{param}` (one non-empty
 * segment) and a final `*` (the rest of the path, possibly empty). The router knows nothing
 * about HTTP objects: handlers are opaque function pointers the caller casts back. */
#ifndef R3E_API_ROUTER_H
#define R3E_API_ROUTER_H

#include <stddef.h>

#define ROUTER_MAX_PARAMS 4

/* Generic function pointer (the one type C lets any function pointer round-trip through
 * without -Wcast-function-type complaints); the caller casts it back to its handler type. */
typedef void (*route_fn)(void);

typedef struct {
    const char *method;  /* "GET", "POST", …, or "*" for any method */
    const char *pattern; /* e.g. "/v1/functions/{name}/invoke"; last segment "*" = the rest */
    route_fn handler;
} route_t;

typedef enum {
    ROUTE_FOUND = 0,
    ROUTE_NOT_FOUND,  /* no pattern matches the path -> 404 */
    ROUTE_BAD_METHOD, /* the path matches, the method does not -> 405 with allow */
} route_status_t;

typedef struct {
    const route_t *route;
    int nparams;
    const char *params[ROUTER_MAX_PARAMS]; /* NUL-terminated copies inside buf */
    const char *rest; /* for `*` patterns: points into the matched path ("" when empty) */
    char allow[96];   /* for ROUTE_BAD_METHOD: "GET, PUT, DELETE" */
    char buf[512];    /* storage for params; paths whose params do not fit -> not found */
} route_match_t;

/* Matches `path` (no query string) against table[0..n). The first route whose pattern and
 * method match wins; HEAD matches GET routes. Fills *m (any previous content is lost). */
route_status_t router_match(const route_t *table, size_t n, const char *method, const char *path,
                            route_match_t *m);

#endif
