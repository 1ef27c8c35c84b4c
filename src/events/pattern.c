/* EventBridge-style event patterns (see pattern.h for the language). Compilation turns the
 * JSON into a small tree of typed matchers so that matching never re-reads the pattern
 * JSON; all validation (and every error message) happens at compile time. */
#include "events/pattern.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef enum {
    M_STR,      /* exact string */
    M_NUM,      /* exact number */
    M_BOOL,     /* exact boolean */
    M_NULL,     /* exact null */
    M_PREFIX,   /* s: prefix; ic: ignore case */
    M_SUFFIX,   /* s: suffix; ic: ignore case */
    M_EQ_IC,    /* equals-ignore-case */
    M_WILDCARD, /* segs */
    M_NUMERIC,  /* lo/hi */
    M_EXISTS,   /* b */
    M_CIDR,     /* addr/bits */
    M_ANYBUT,   /* subs: matches when none matches */
} mkind_t;

typedef struct leaf {
    mkind_t kind;
    bool b, ic;
    char *s;
    size_t slen;
    double num;
    /* numeric range */
    bool has_lo, lo_incl, has_hi, hi_incl;
    double lo, hi;
    /* wildcard: literal segments between stars */
    char **segs;
    size_t *seglens;
    size_t nsegs;
    bool lead_star, trail_star;
    /* cidr */
    int family;
    unsigned char addr[16];
    int bits;
    /* anything-but */
    struct leaf *subs;
    size_t nsubs;
} leaf_t;

typedef struct node node_t;

typedef struct {
    char *key;
    size_t klen;
    unsigned skip_bit; /* top level: PATTERN_SKIP_SOURCE / _TYPE for "source" / "type" */
    leaf_t *leaves;    /* leaf field when child == NULL */
    size_t nleaves;
    node_t *child;
} field_t;

struct node {
    field_t *fields;
    size_t nfields;
    node_t **ors; /* $or alternatives */
    size_t nors;
};

struct pattern {
    node_t *root;
};

/* ------------------------------------------------------------------ freeing */

static void leaf_clear(leaf_t *l) {
    free(l->s);
    for (size_t i = 0; i < l->nsegs; i++)
        free(l->segs[i]);
    free(l->segs);
    free(l->seglens);
    for (size_t i = 0; i < l->nsubs; i++)
        leaf_clear(&l->subs[i]);
    free(l->subs);
}

static void node_free(node_t *n) {
    if (!n) return;
    for (size_t i = 0; i < n->nfields; i++) {
        field_t *f = &n->fields[i];
        free(f->key);
        for (size_t k = 0; k < f->nleaves; k++)
            leaf_clear(&f->leaves[k]);
        free(f->leaves);
        node_free(f->child);
    }
    free(n->fields);
    for (size_t i = 0; i < n->nors; i++)
        node_free(n->ors[i]);
    free(n->ors);
    free(n);
}

void pattern_free(pattern_t *p) {
    if (!p) return;
    node_free(p->root);
    free(p);
}

/* ------------------------------------------------------------------ compiling */

typedef struct {
    char path[384]; /* JSON path of the part being compiled, e.g. filter.data.amount[0] */
    size_t plen;
    size_t nmatchers;
    int depth;
    err_t *err;
} cctx_t;

static size_t path_push_key(cctx_t *c, const char *key) {
    size_t old = c->plen;
    int n = snprintf(c->path + old, sizeof c->path - old, ".%s", key);
    c->plen = n < 0                               ? old
              : old + (size_t)n >= sizeof c->path ? sizeof c->path - 1
                                                  : old + (size_t)n;
    return old;
}

static size_t path_push_index(cctx_t *c, size_t i) {
    size_t old = c->plen;
    int n = snprintf(c->path + old, sizeof c->path - old, "[%zu]", i);
    c->plen = n < 0                               ? old
              : old + (size_t)n >= sizeof c->path ? sizeof c->path - 1
                                                  : old + (size_t)n;
    return old;
}

static void path_pop(cctx_t *c, size_t old) {
    c->plen = old;
    c->path[old] = '\0';
}

static int cerr(cctx_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int cerr(cctx_t *c, const char *fmt, ...) {
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return err_set(c->err, R3E_EINVAL, "%s: %s", c->path, msg);
}

static char *dupn(const char *s, size_t n) {
    char *d = malloc(n + 1);
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

static const char *json_kind(const json_t *v) {
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
    case JSON_REAL:
        return "a number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    default:
        return "null";
    }
}

static int want_string(cctx_t *c, const char *op, const json_t *v, leaf_t *l) {
    if (!json_is_string(v)) return cerr(c, "'%s' expects a string, got %s", op, json_kind(v));
    l->slen = json_string_length(v);
    l->s = dupn(json_string_value(v), l->slen);
    return 0;
}

/* Splits a wildcard pattern into literal segments around unescaped stars. */
static int compile_wildcard(cctx_t *c, const json_t *v, leaf_t *l) {
    if (!json_is_string(v)) return cerr(c, "'wildcard' expects a string, got %s", json_kind(v));
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    l->kind = M_WILDCARD;
    l->segs = calloc(n + 1, sizeof *l->segs);
    l->seglens = calloc(n + 1, sizeof *l->seglens);
    char *cur = malloc(n + 1);
    size_t cl = 0;
    bool prev_star = false;
    l->lead_star = n > 0 && s[0] == '*';
    for (size_t i = 0; i <= n; i++) {
        if (i == n || s[i] == '*') {
            if (i < n && prev_star) {
                free(cur);
                return cerr(c, "'wildcard' does not allow consecutive '*'");
            }
            if (i == n) l->trail_star = prev_star;
            if (cl > 0 || (i == n && !prev_star && l->nsegs == 0)) {
                l->segs[l->nsegs] = dupn(cur, cl);
                l->seglens[l->nsegs++] = cl;
            }
            cl = 0;
            prev_star = i < n;
            continue;
        }
        prev_star = false;
        if (s[i] == '\\') {
            if (i + 1 == n || (s[i + 1] != '*' && s[i + 1] != '\\')) {
                free(cur);
                return cerr(c, "'wildcard': '\\' must escape '*' or '\\'");
            }
            i++;
        }
        cur[cl++] = s[i];
    }
    free(cur);
    return 0;
}

static int numeric_op(const char *op, int *kind) {
    static const char *const ops[] = {"=", "<", "<=", ">", ">="};
    for (int i = 0; i < 5; i++)
        if (strcmp(op, ops[i]) == 0) return *kind = i, 0;
    return -1;
}

static int compile_numeric(cctx_t *c, const json_t *v, leaf_t *l) {
    l->kind = M_NUMERIC;
    size_t n = json_is_array(v) ? json_array_size(v) : 0;
    if (n != 2 && n != 4)
        return cerr(c, "'numeric' expects [op, number] or [op, number, op, number]");
    for (size_t i = 0; i < n; i += 2) {
        const json_t *op = json_array_get(v, i), *num = json_array_get(v, i + 1);
        int k;
        if (!json_is_string(op) || numeric_op(json_string_value(op), &k) != 0)
            return cerr(c, "'numeric': unknown comparison %s%s%s (use = < <= > >=)",
                        json_is_string(op) ? "'" : "",
                        json_is_string(op) ? json_string_value(op) : json_kind(op),
                        json_is_string(op) ? "'" : "");
        if (!json_is_number(num))
            return cerr(c, "'numeric': '%s' needs a number, got %s", json_string_value(op),
                        json_kind(num));
        double x = json_number_value(num);
        if (k == 0) {
            if (n != 2) return cerr(c, "'numeric': '=' stands alone");
            l->has_lo = l->has_hi = l->lo_incl = l->hi_incl = true;
            l->lo = l->hi = x;
        } else if (k == 3 || k == 4) {
            if (l->has_lo) return cerr(c, "'numeric': two lower bounds");
            l->has_lo = true, l->lo = x, l->lo_incl = k == 4;
        } else {
            if (l->has_hi) return cerr(c, "'numeric': two upper bounds");
            l->has_hi = true, l->hi = x, l->hi_incl = k == 2;
        }
    }
    if (l->has_lo && l->has_hi &&
        (l->lo > l->hi || (l->lo == l->hi && !(l->lo_incl && l->hi_incl))))
        return cerr(c, "'numeric': the range is empty");
    return 0;
}

static int compile_cidr(cctx_t *c, const json_t *v, leaf_t *l) {
    l->kind = M_CIDR;
    if (!json_is_string(v)) return cerr(c, "'cidr' expects a string, got %s", json_kind(v));
    const char *s = json_string_value(v);
    const char *slash = strchr(s, '/');
    char ip[64];
    if (!slash || slash - s >= (long)sizeof ip) return cerr(c, "'cidr' expects address/bits");
    memcpy(ip, s, (size_t)(slash - s));
    ip[slash - s] = '\0';
    l->family = strchr(ip, ':') ? AF_INET6 : AF_INET;
    int maxbits = l->family == AF_INET6 ? 128 : 32;
    char *end;
    long bits = strtol(slash + 1, &end, 10);
    if (inet_pton(l->family, ip, l->addr) != 1 || !isdigit((unsigned char)slash[1]) || *end ||
        bits < 0 || bits > maxbits)
        return cerr(c, "'cidr': \"%.60s\" is not an address block like 10.0.0.0/24", s);
    l->bits = (int)bits;
    return 0;
}

static int compile_value(cctx_t *c, const json_t *v, leaf_t *l, bool in_anything_but);

/* "prefix"/"suffix" take a string or {"equals-ignore-case": string}. */
static int compile_affix(cctx_t *c, const char *op, const json_t *v, leaf_t *l) {
    l->kind = op[0] == 'p' ? M_PREFIX : M_SUFFIX;
    if (json_is_object(v)) {
        const json_t *ic = json_object_get(v, "equals-ignore-case");
        if (json_object_size(v) != 1 || !ic)
            return cerr(c, "'%s' takes a string or {\"equals-ignore-case\": string}", op);
        l->ic = true;
        return want_string(c, op, ic, l);
    }
    return want_string(c, op, v, l);
}

/* anything-but: a value, a list of values, or one string operator. */
static int compile_anything_but(cctx_t *c, const json_t *v, leaf_t *l) {
    l->kind = M_ANYBUT;
    if (json_is_object(v)) {
        const char *k = NULL;
        json_t *inner = NULL;
        if (json_object_size(v) == 1) {
            void *it = json_object_iter((json_t *)v);
            k = json_object_iter_key(it);
            inner = json_object_iter_value(it);
        }
        if (!k || !(strcmp(k, "prefix") == 0 || strcmp(k, "suffix") == 0 ||
                    strcmp(k, "equals-ignore-case") == 0 || strcmp(k, "wildcard") == 0))
            return cerr(c, "'anything-but' takes a value, a list of values, or one of prefix, "
                           "suffix, equals-ignore-case, wildcard");
        if (strcmp(k, "equals-ignore-case") == 0 && json_is_array(inner)) {
            size_t n = json_array_size(inner);
            if (n == 0) return cerr(c, "'anything-but': empty list");
            l->subs = calloc(n, sizeof *l->subs);
            for (size_t i = 0; i < n; i++) {
                l->nsubs++;
                l->subs[i].kind = M_EQ_IC;
                if (want_string(c, k, json_array_get(inner, i), &l->subs[i]) != 0) return -1;
            }
            return 0;
        }
        l->subs = calloc(1, sizeof *l->subs);
        l->nsubs = 1;
        return compile_value(c, v, &l->subs[0], true);
    }
    if (json_is_array(v)) {
        size_t n = json_array_size(v);
        if (n == 0) return cerr(c, "'anything-but': empty list");
        l->subs = calloc(n, sizeof *l->subs);
        for (size_t i = 0; i < n; i++) {
            const json_t *e = json_array_get(v, i);
            l->nsubs++;
            if (json_is_object(e) || json_is_array(e))
                return cerr(c, "'anything-but' lists hold plain values, got %s", json_kind(e));
            if (compile_value(c, e, &l->subs[i], true) != 0) return -1;
        }
        return 0;
    }
    l->subs = calloc(1, sizeof *l->subs);
    l->nsubs = 1;
    return compile_value(c, v, &l->subs[0], true);
}

/* One element of a value array: a literal or an operator object. */
static int compile_value(cctx_t *c, const json_t *v, leaf_t *l, bool in_anything_but) {
    if (++c->nmatchers > PATTERN_MAX_MATCHERS)
        return cerr(c, "more than %d matchers in one pattern", PATTERN_MAX_MATCHERS);
    switch (json_typeof(v)) {
    case JSON_STRING:
        l->kind = M_STR;
        return want_string(c, "value", v, l);
    case JSON_INTEGER:
    case JSON_REAL:
        l->kind = M_NUM;
        l->num = json_number_value(v);
        return 0;
    case JSON_TRUE:
    case JSON_FALSE:
        l->kind = M_BOOL;
        l->b = json_is_true(v);
        return 0;
    case JSON_NULL:
        l->kind = M_NULL;
        return 0;
    case JSON_ARRAY:
        return cerr(c, "value arrays cannot nest");
    case JSON_OBJECT:
        break;
    }
    if (json_object_size(v) != 1)
        return cerr(c, "an operator object has exactly one key, e.g. {\"prefix\":\"com.\"}");
    void *it = json_object_iter((json_t *)v);
    const char *op = json_object_iter_key(it);
    const json_t *arg = json_object_iter_value(it);
    if (strcmp(op, "prefix") == 0 || strcmp(op, "suffix") == 0) return compile_affix(c, op, arg, l);
    if (strcmp(op, "equals-ignore-case") == 0) {
        l->kind = M_EQ_IC;
        return want_string(c, op, arg, l);
    }
    if (strcmp(op, "wildcard") == 0) return compile_wildcard(c, arg, l);
    if (!in_anything_but) {
        if (strcmp(op, "anything-but") == 0) return compile_anything_but(c, arg, l);
        if (strcmp(op, "numeric") == 0) return compile_numeric(c, arg, l);
        if (strcmp(op, "cidr") == 0) return compile_cidr(c, arg, l);
        if (strcmp(op, "exists") == 0) {
            if (!json_is_boolean(arg)) return cerr(c, "'exists' expects true or false");
            l->kind = M_EXISTS;
            l->b = json_is_true(arg);
            return 0;
        }
    }
    return cerr(c, "unknown operator '%.60s'", op);
}

static node_t *compile_node(cctx_t *c, const json_t *obj);

static int compile_field(cctx_t *c, const char *key, const json_t *v, field_t *f) {
    f->key = strdup(key);
    f->klen = strlen(key);
    if (c->depth == 1)
        f->skip_bit = strcmp(key, "source") == 0 ? PATTERN_SKIP_SOURCE
                      : strcmp(key, "type") == 0 ? PATTERN_SKIP_TYPE
                                                 : 0;
    if (json_is_object(v)) {
        f->child = compile_node(c, v);
        return f->child ? 0 : -1;
    }
    if (!json_is_array(v))
        return cerr(c, "expected an array of values or a nested object, got %s", json_kind(v));
    size_t n = json_array_size(v);
    if (n == 0) return cerr(c, "an empty array matches nothing");
    f->leaves = calloc(n, sizeof *f->leaves);
    for (size_t i = 0; i < n; i++) {
        size_t old = path_push_index(c, i);
        f->nleaves++;
        if (compile_value(c, json_array_get(v, i), &f->leaves[i], false) != 0) return -1;
        path_pop(c, old);
    }
    return 0;
}

static int compile_or(cctx_t *c, const json_t *v, node_t *n) {
    if (!json_is_array(v) || json_array_size(v) == 0)
        return cerr(c, "'$or' expects a non-empty array of patterns");
    n->ors = calloc(json_array_size(v), sizeof *n->ors);
    for (size_t i = 0; i < json_array_size(v); i++) {
        size_t old = path_push_index(c, i);
        n->ors[i] = compile_node(c, json_array_get(v, i));
        if (!n->ors[i]) return -1;
        n->nors++;
        path_pop(c, old);
    }
    return 0;
}

static node_t *compile_node(cctx_t *c, const json_t *obj) {
    if (!json_is_object(obj)) return cerr(c, "expected an object, got %s", json_kind(obj)), NULL;
    if (++c->depth > PATTERN_MAX_DEPTH)
        return cerr(c, "nested deeper than %d levels", PATTERN_MAX_DEPTH), NULL;
    node_t *n = calloc(1, sizeof *n);
    n->fields = calloc(json_object_size(obj) + 1, sizeof *n->fields);
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)obj, key, v) {
        size_t old = path_push_key(c, key);
        int rc;
        if (strcmp(key, "$or") == 0) {
            if (n->ors)
                rc = cerr(c, "only one '$or' per object"); /* unreachable via JSON */
            else
                rc = compile_or(c, v, n);
        } else {
            rc = compile_field(c, key, v, &n->fields[n->nfields++]);
        }
        if (rc != 0) {
            node_free(n);
            return NULL;
        }
        path_pop(c, old);
    }
    c->depth--;
    return n;
}

int pattern_compile(const json_t *json, pattern_t **out, err_t *err) {
    *out = NULL;
    cctx_t c = {.err = err};
    strcpy(c.path, "filter");
    c.plen = 6;
    if (!json_is_object(json))
        return err_set(err, R3E_EINVAL, "filter: a pattern must be a JSON object");
    node_t *root = compile_node(&c, json);
    if (!root) return -1;
    pattern_t *p = calloc(1, sizeof *p);
    p->root = root;
    *out = p;
    return 0;
}

int pattern_compile_text(const char *text, size_t len, pattern_t **out, err_t *err) {
    *out = NULL;
    json_error_t je;
    json_t *j = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!j)
        return err_set(err, R3E_EINVAL, "filter: invalid JSON at position %d: %s", je.position,
                       je.text);
    int rc = pattern_compile(j, out, err);
    json_decref(j);
    return rc;
}

/* ------------------------------------------------------------------ matching */

static bool str_eq_ic(const char *a, size_t alen, const char *b, size_t blen) {
    return alen == blen && strncasecmp(a, b, alen) == 0 && memchr(a, 0, alen) == NULL;
}

static bool bytes_eq(const char *a, const char *b, size_t n, bool ic) {
    if (!ic) return memcmp(a, b, n) == 0;
    for (size_t i = 0; i < n; i++)
        if (tolower((unsigned char)a[i]) != tolower((unsigned char)b[i])) return false;
    return true;
}

static bool wildcard_match(const leaf_t *l, const char *s, size_t n) {
    if (l->nsegs == 0) return l->lead_star; /* "" matches only "", "*" matches anything */
    size_t pos = 0, first = 0, last = l->nsegs;
    if (!l->lead_star) {
        if (n < l->seglens[0] || memcmp(s, l->segs[0], l->seglens[0]) != 0) return false;
        pos = l->seglens[0];
        first = 1;
        if (l->nsegs == 1 && !l->trail_star) return pos == n;
    }
    if (!l->trail_star && last > first) {
        size_t sl = l->seglens[last - 1];
        if (n - pos < sl || memcmp(s + n - sl, l->segs[last - 1], sl) != 0) return false;
        n -= sl;
        last--;
    }
    for (size_t i = first; i < last; i++) { /* middle segments: leftmost match is optimal */
        const char *hit = memmem(s + pos, n - pos, l->segs[i], l->seglens[i]);
        if (!hit) return false;
        pos = (size_t)(hit - s) + l->seglens[i];
    }
    return true;
}

static bool cidr_match(const leaf_t *l, const char *s) {
    unsigned char a[16];
    int fam = strchr(s, ':') ? AF_INET6 : AF_INET;
    if (fam != l->family || inet_pton(fam, s, a) != 1) return false;
    int full = l->bits / 8, rest = l->bits % 8;
    if (memcmp(a, l->addr, (size_t)full) != 0) return false;
    if (rest == 0) return true;
    unsigned char mask = (unsigned char)(0xff << (8 - rest));
    return (a[full] & mask) == (l->addr[full] & mask);
}

/* One matcher against one scalar (or object) event value. */
static bool leaf_match(const leaf_t *l, const json_t *v) {
    const char *s = json_is_string(v) ? json_string_value(v) : NULL;
    size_t n = s ? json_string_length(v) : 0;
    switch (l->kind) {
    case M_STR:
        return s && n == l->slen && memcmp(s, l->s, n) == 0;
    case M_NUM:
        return json_is_number(v) && json_number_value(v) == l->num;
    case M_BOOL:
        return json_is_boolean(v) && json_is_true(v) == l->b;
    case M_NULL:
        return json_is_null(v);
    case M_PREFIX:
        return s && n >= l->slen && bytes_eq(s, l->s, l->slen, l->ic);
    case M_SUFFIX:
        return s && n >= l->slen && bytes_eq(s + n - l->slen, l->s, l->slen, l->ic);
    case M_EQ_IC:
        return s && str_eq_ic(s, n, l->s, l->slen);
    case M_WILDCARD:
        return s && wildcard_match(l, s, n);
    case M_NUMERIC: {
        if (!json_is_number(v)) return false;
        double x = json_number_value(v);
        if (l->has_lo && (l->lo_incl ? x < l->lo : x <= l->lo)) return false;
        if (l->has_hi && (l->hi_incl ? x > l->hi : x >= l->hi)) return false;
        return true;
    }
    case M_CIDR:
        return s && memchr(s, 0, n) == NULL && cidr_match(l, s);
    case M_ANYBUT:
        for (size_t i = 0; i < l->nsubs; i++)
            if (leaf_match(&l->subs[i], v)) return false;
        return true;
    case M_EXISTS:
        return false; /* handled by the caller: it is about presence */
    }
    return false;
}

static bool leaves_match(const field_t *f, const json_t *v) {
    for (size_t i = 0; i < f->nleaves; i++) {
        const leaf_t *l = &f->leaves[i];
        if (l->kind == M_EXISTS) {
            if ((v != NULL) == l->b) return true;
            continue;
        }
        if (!v) continue;
        if (json_is_array(v)) {
            size_t k;
            json_t *e;
            json_array_foreach(v, k, e) {
                if (leaf_match(l, e)) return true;
            }
        } else if (leaf_match(l, v)) {
            return true;
        }
    }
    return false;
}

static bool node_match(const node_t *n, const json_t *obj);

static bool field_match(const field_t *f, const json_t *obj) {
    const json_t *v = json_is_object(obj) ? json_object_getn(obj, f->key, f->klen) : NULL;
    if (!f->child) return leaves_match(f, v);
    if (json_is_array(v)) {
        size_t k;
        json_t *e;
        json_array_foreach(v, k, e) {
            if (json_is_object(e) && node_match(f->child, e)) return true;
        }
        return false;
    }
    return node_match(f->child, json_is_object(v) ? v : NULL);
}

static bool node_match(const node_t *n, const json_t *obj) {
    for (size_t i = 0; i < n->nfields; i++)
        if (!field_match(&n->fields[i], obj)) return false;
    if (n->nors == 0) return true;
    for (size_t i = 0; i < n->nors; i++)
        if (node_match(n->ors[i], obj)) return true;
    return false;
}

bool pattern_match(const pattern_t *p, const json_t *event) {
    return p && node_match(p->root, event);
}

bool pattern_match_skipping(const pattern_t *p, const json_t *event, unsigned skip) {
    const node_t *n = p->root;
    for (size_t i = 0; i < n->nfields; i++)
        if (!(n->fields[i].skip_bit & skip) && !field_match(&n->fields[i], event)) return false;
    if (n->nors == 0) return true;
    for (size_t i = 0; i < n->nors; i++)
        if (node_match(n->ors[i], event)) return true;
    return false;
}

size_t pattern_exact_strings(const pattern_t *p, const char *key, const char **out, size_t cap) {
    const field_t *f = NULL;
    for (size_t i = 0; i < p->root->nfields; i++)
        if (strcmp(p->root->fields[i].key, key) == 0) f = &p->root->fields[i];
    if (!f || f->child) return 0;
    size_t n = 0;
    for (size_t i = 0; i < f->nleaves; i++) {
        const leaf_t *l = &f->leaves[i];
        if (l->kind != M_STR || memchr(l->s, 0, l->slen)) return 0;
        bool dup = false;
        for (size_t k = 0; k < i && !dup; k++)
            dup = strcmp(f->leaves[k].s, l->s) == 0;
        if (dup) continue;
        if (n < cap) out[n] = l->s;
        n++;
    }
    return n;
}
