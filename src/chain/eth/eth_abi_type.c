/* ABI type and human-readable fragment parsing ("function transfer(address to, uint256
 * amount) returns (bool)"), canonical signatures, selectors and event topics. A small
 * recursive-descent parser over the text; everything lands in the caller's arena. */
#include "chain/eth/eth.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ABI_MAX_DEPTH 32
#define ABI_MAX_FIXED_LEN 65536
#define ABI_MAX_STATIC_SIZE (1u << 24)

typedef struct {
    arena_t *a;
    const char *s; /* cursor */
    const char *start;
    err_t *err;
    int depth;
} parser_t;

static void skip_ws(parser_t *p) {
    while (isspace((unsigned char)*p->s))
        p->s++;
}

static int fail(parser_t *p, const char *what) {
    return err_set(p->err, R3E_EINVAL, "abi: %s at offset %d in \"%.80s\"", what,
                   (int)(p->s - p->start), p->start);
}

static bool ident_char(char c) {
    return isalnum((unsigned char)c) || c == '_' || c == '$';
}

/* Reads an identifier into the arena; NULL if none at the cursor. */
static char *read_ident(parser_t *p) {
    skip_ws(p);
    const char *b = p->s;
    if (!ident_char(*b) || isdigit((unsigned char)*b)) return NULL;
    while (ident_char(*p->s))
        p->s++;
    return arena_strndup(p->a, b, (size_t)(p->s - b));
}

static bool peek_word(parser_t *p, const char *w) {
    skip_ws(p);
    size_t n = strlen(w);
    return strncmp(p->s, w, n) == 0 && !ident_char(p->s[n]);
}

/* Size in bytes of a static type's encoding (0 for dynamic types). */
size_t eth_abi_static_size(const eth_abi_type_t *t) {
    switch (t->kind) {
    case ETH_ABI_BYTES:
    case ETH_ABI_STRING:
    case ETH_ABI_ARRAY:
        return 0;
    case ETH_ABI_FIXED_ARRAY:
        return t->length * eth_abi_static_size(t->elem);
    case ETH_ABI_TUPLE: {
        size_t n = 0;
        for (size_t i = 0; i < t->ncomp; i++)
            n += eth_abi_static_size(t->comp[i]);
        return n;
    }
    default:
        return 32;
    }
}

bool eth_abi_is_dynamic(const eth_abi_type_t *t) {
    switch (t->kind) {
    case ETH_ABI_BYTES:
    case ETH_ABI_STRING:
    case ETH_ABI_ARRAY:
        return true;
    case ETH_ABI_FIXED_ARRAY:
        return eth_abi_is_dynamic(t->elem);
    case ETH_ABI_TUPLE:
        for (size_t i = 0; i < t->ncomp; i++)
            if (eth_abi_is_dynamic(t->comp[i])) return true;
        return false;
    default:
        return false;
    }
}

/* "uint256" -> 256 etc.; returns -1 if digits are malformed, 0 if absent. */
static int parse_width(const char *digits) {
    if (!*digits) return 0;
    if (digits[0] == '0' || strlen(digits) > 3) return -1;
    for (const char *d = digits; *d; d++)
        if (!isdigit((unsigned char)*d)) return -1;
    return atoi(digits);
}

static int parse_elementary(parser_t *p, const char *id, eth_abi_type_t *t) {
    int w;
    if (!strncmp(id, "uint", 4) || !strncmp(id, "int", 3)) {
        bool u = id[0] == 'u';
        w = parse_width(id + (u ? 4 : 3));
        if (w == 0) w = 256;
        if (w < 8 || w > 256 || w % 8) return fail(p, "invalid integer width");
        t->kind = u ? ETH_ABI_UINT : ETH_ABI_INT;
        t->size = w;
    } else if (!strcmp(id, "address")) {
        t->kind = ETH_ABI_ADDRESS;
    } else if (!strcmp(id, "bool")) {
        t->kind = ETH_ABI_BOOL;
    } else if (!strcmp(id, "string")) {
        t->kind = ETH_ABI_STRING;
    } else if (!strcmp(id, "bytes")) {
        t->kind = ETH_ABI_BYTES;
    } else if (!strncmp(id, "bytes", 5)) {
        w = parse_width(id + 5);
        if (w < 1 || w > 32) return fail(p, "invalid bytesN width");
        t->kind = ETH_ABI_FIXED_BYTES;
        t->size = w;
    } else {
        return err_set(p->err, R3E_EINVAL, "abi: unknown type \"%s\"", id);
    }
    return 0;
}

static int parse_params(parser_t *p, eth_abi_type_t ***out, size_t *n, bool allow_indexed);

/* type := ("tuple"? "(" params ")" | elementary) ("[" digits? "]")* */
static int parse_type(parser_t *p, eth_abi_type_t **out) {
    if (++p->depth > ABI_MAX_DEPTH) return fail(p, "type nested too deeply");
    eth_abi_type_t *t = arena_calloc(p->a, sizeof *t);
    skip_ws(p);
    if (peek_word(p, "tuple")) {
        p->s += 5;
        skip_ws(p);
        if (*p->s != '(') return fail(p, "expected ( after tuple");
    }
    if (*p->s == '(') {
        t->kind = ETH_ABI_TUPLE;
        if (parse_params(p, &t->comp, &t->ncomp, false) < 0) return -1;
    } else {
        char *id = read_ident(p);
        if (!id) return fail(p, "expected a type");
        if (parse_elementary(p, id, t) < 0) return -1;
    }
    while (*p->s == '[') {
        p->s++;
        eth_abi_type_t *arr = arena_calloc(p->a, sizeof *arr);
        arr->elem = t;
        if (*p->s == ']') {
            arr->kind = ETH_ABI_ARRAY;
        } else {
            size_t k = 0;
            if (!isdigit((unsigned char)*p->s) || *p->s == '0')
                return fail(p, "invalid array length");
            while (isdigit((unsigned char)*p->s)) {
                k = k * 10 + (size_t)(*p->s++ - '0');
                if (k > ABI_MAX_FIXED_LEN) return fail(p, "fixed array too long");
            }
            if (*p->s != ']') return fail(p, "expected ]");
            arr->kind = ETH_ABI_FIXED_ARRAY;
            arr->length = k;
            if (eth_abi_static_size(t) * k > ABI_MAX_STATIC_SIZE)
                return fail(p, "static type too large");
        }
        p->s++;
        t = arr;
    }
    if (t->kind == ETH_ABI_TUPLE && eth_abi_static_size(t) > ABI_MAX_STATIC_SIZE)
        return fail(p, "static type too large");
    p->depth--;
    *out = t;
    return 0;
}

/* param := type "indexed"? location? name? */
static int parse_param(parser_t *p, eth_abi_type_t **out, bool allow_indexed) {
    if (parse_type(p, out) < 0) return -1;
    for (;;) {
        if (peek_word(p, "indexed")) {
            if (!allow_indexed) return fail(p, "\"indexed\" only allowed in events");
            p->s += 7;
            (*out)->indexed = true;
        } else if (peek_word(p, "memory") || peek_word(p, "calldata") || peek_word(p, "storage")) {
            read_ident(p);
        } else {
            break;
        }
    }
    skip_ws(p);
    if (ident_char(*p->s)) (*out)->name = read_ident(p);
    if (ident_char(*p->s) ||
        (*p->s && *p->s != ',' && *p->s != ')' && !isspace((unsigned char)*p->s)))
        return fail(p, "unexpected text after parameter");
    return 0;
}

/* "(" param ("," param)* ")" */
static int parse_params(parser_t *p, eth_abi_type_t ***out, size_t *n, bool allow_indexed) {
    skip_ws(p);
    if (*p->s != '(') return fail(p, "expected (");
    p->s++;
    size_t cap = 4, count = 0;
    eth_abi_type_t **list = arena_alloc(p->a, cap * sizeof *list);
    skip_ws(p);
    if (*p->s == ')') {
        p->s++;
    } else {
        for (;;) {
            if (count == cap) {
                eth_abi_type_t **bigger = arena_alloc(p->a, 2 * cap * sizeof *list);
                memcpy(bigger, list, cap * sizeof *list);
                list = bigger;
                cap *= 2;
            }
            if (parse_param(p, &list[count++], allow_indexed) < 0) return -1;
            skip_ws(p);
            if (*p->s == ',') {
                p->s++;
                continue;
            }
            if (*p->s == ')') {
                p->s++;
                break;
            }
            return fail(p, "expected , or )");
        }
    }
    *out = list;
    *n = count;
    return 0;
}

int eth_abi_parse_type(arena_t *a, const char *text, eth_abi_type_t **out, err_t *err) {
    parser_t p = {.a = a, .s = text, .start = text, .err = err};
    if (!text) return err_set(err, R3E_EINVAL, "abi: missing type");
    if (parse_type(&p, out) < 0) return -1;
    skip_ws(&p);
    if (*p.s) return fail(&p, "unexpected text after type");
    return 0;
}

int eth_abi_parse_fragment(arena_t *a, const char *text, eth_abi_fragment_t *f, err_t *err) {
    parser_t p = {.a = a, .s = text, .start = text, .err = err};
    memset(f, 0, sizeof *f);
    if (!text) return err_set(err, R3E_EINVAL, "abi: missing fragment");
    char *word = read_ident(&p);
    if (!word) return fail(&p, "expected function, event, error or constructor");
    if (!strcmp(word, "constructor")) {
        f->kind = ETH_FRAG_CONSTRUCTOR;
        f->name = "constructor";
    } else {
        if (!strcmp(word, "event"))
            f->kind = ETH_FRAG_EVENT;
        else if (!strcmp(word, "error"))
            f->kind = ETH_FRAG_ERROR;
        else if (!strcmp(word, "function"))
            f->kind = ETH_FRAG_FUNCTION;
        else
            p.s -= strlen(word), f->kind = ETH_FRAG_FUNCTION; /* bare "name(...)" */
        f->name = read_ident(&p);
        if (!f->name) return fail(&p, "expected a name");
    }
    if (parse_params(&p, &f->inputs, &f->ninputs, f->kind == ETH_FRAG_EVENT) < 0) return -1;
    for (;;) {
        skip_ws(&p);
        if (!*p.s || *p.s == ';') break;
        char *mod = read_ident(&p);
        if (!mod) return fail(&p, "unexpected text");
        if (!strcmp(mod, "returns") && f->kind == ETH_FRAG_FUNCTION) {
            if (parse_params(&p, &f->outputs, &f->noutputs, false) < 0) return -1;
        } else if (!strcmp(mod, "anonymous") && f->kind == ETH_FRAG_EVENT) {
            f->anonymous = true;
        } else if (f->kind != ETH_FRAG_EVENT && f->kind != ETH_FRAG_ERROR &&
                   (!strcmp(mod, "view") || !strcmp(mod, "pure") || !strcmp(mod, "payable") ||
                    !strcmp(mod, "nonpayable") || !strcmp(mod, "external") ||
                    !strcmp(mod, "public"))) {
            continue;
        } else {
            return err_set(err, R3E_EINVAL, "abi: unexpected \"%s\" in \"%.80s\"", mod, text);
        }
    }
    skip_ws(&p);
    if (*p.s == ';') p.s++;
    skip_ws(&p);
    if (*p.s) return fail(&p, "unexpected text after fragment");
    return 0;
}

/* ---- canonical strings ---- */

static void type_string(eth_buf_t *b, const eth_abi_type_t *t) {
    char tmp[32];
    switch (t->kind) {
    case ETH_ABI_UINT:
    case ETH_ABI_INT:
        snprintf(tmp, sizeof tmp, "%s%d", t->kind == ETH_ABI_UINT ? "uint" : "int", t->size);
        eth_buf_put(b, tmp, strlen(tmp));
        break;
    case ETH_ABI_ADDRESS:
        eth_buf_put(b, "address", 7);
        break;
    case ETH_ABI_BOOL:
        eth_buf_put(b, "bool", 4);
        break;
    case ETH_ABI_FIXED_BYTES:
        snprintf(tmp, sizeof tmp, "bytes%d", t->size);
        eth_buf_put(b, tmp, strlen(tmp));
        break;
    case ETH_ABI_BYTES:
        eth_buf_put(b, "bytes", 5);
        break;
    case ETH_ABI_STRING:
        eth_buf_put(b, "string", 6);
        break;
    case ETH_ABI_ARRAY:
        type_string(b, t->elem);
        eth_buf_put(b, "[]", 2);
        break;
    case ETH_ABI_FIXED_ARRAY:
        type_string(b, t->elem);
        snprintf(tmp, sizeof tmp, "[%zu]", t->length);
        eth_buf_put(b, tmp, strlen(tmp));
        break;
    case ETH_ABI_TUPLE:
        eth_buf_byte(b, '(');
        for (size_t i = 0; i < t->ncomp; i++) {
            if (i) eth_buf_byte(b, ',');
            type_string(b, t->comp[i]);
        }
        eth_buf_byte(b, ')');
        break;
    }
}

static char *buf_to_arena(arena_t *a, eth_buf_t *b) {
    char *s = arena_strndup(a, (const char *)b->data, b->len);
    eth_buf_free(b);
    return s;
}

char *eth_abi_type_string(arena_t *a, const eth_abi_type_t *t) {
    eth_buf_t b = {0};
    type_string(&b, t);
    return buf_to_arena(a, &b);
}

char *eth_abi_fragment_signature(arena_t *a, const eth_abi_fragment_t *f) {
    eth_buf_t b = {0};
    eth_buf_put(&b, f->name, strlen(f->name));
    eth_abi_type_t tuple = {.kind = ETH_ABI_TUPLE, .comp = f->inputs, .ncomp = f->ninputs};
    type_string(&b, &tuple);
    return buf_to_arena(a, &b);
}

void eth_abi_selector(arena_t *a, const eth_abi_fragment_t *f, uint8_t out[4]) {
    uint8_t h[32];
    eth_id(eth_abi_fragment_signature(a, f), h);
    memcpy(out, h, 4);
}

void eth_abi_event_topic(arena_t *a, const eth_abi_fragment_t *f, uint8_t out[32]) {
    eth_id(eth_abi_fragment_signature(a, f), out);
}
