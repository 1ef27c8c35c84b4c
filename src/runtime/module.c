/* The function-source transform (see module.h). A small lexical scanner that knows just
 * enough JavaScript to find top-level `export`/`import` keywords: it skips strings,
 * template literals (with nested ${…}), comments and regular-expression literals (the
 * usual "is a value expected here?" heuristic), and tracks bracket depth. Everything it
 * does not rewrite is copied byte for byte; the engine reports all other syntax errors. */
#include "runtime/module.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MOD_PREFIX "(async function(module,exports,__r3e_d){"
#define MOD_ASSIGN "__r3e_d.v="
#define MOD_STACK 256

/* What the previous significant token was: decides whether '/' starts a regex. */
enum { TOK_PUNCT, TOK_VALUE };

typedef struct {
    const char *s;
    size_t n, i;
    int line;
    size_t line_start;
    char stack[MOD_STACK]; /* '(', '[', '{' or '$' (inside a template's ${…}) */
    int depth;
    int last;
    bool after_dot; /* previous token was '.' or '?.': a keyword here is a property name */
    bool after_incdec_value;
    /* findings */
    bool has_default, named;
    size_t def_start, def_end; /* the `export … default` span */
    char name[128];
    bool hashbang;
    module_error_t *err;
} scan_t;

static bool is_id_start(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '$' || c >= 0x80 ||
           c == '\\';
}

static bool is_id_char(unsigned char c) {
    return is_id_start(c) || (c >= '0' && c <= '9');
}

static void newline_at(scan_t *sc, size_t i) {
    sc->line++;
    sc->line_start = i + 1;
}

static int scan_fail(scan_t *sc, size_t at, const char *msg) {
    snprintf(sc->err->message, sizeof sc->err->message, "%s", msg);
    sc->err->line = sc->line;
    sc->err->column = (int)(at - sc->line_start) + 1;
    return -1;
}

/* Reads an identifier at j (no escapes interpreted); returns its end. */
static size_t word_end(const scan_t *sc, size_t j) {
    while (j < sc->n && is_id_char((unsigned char)sc->s[j]))
        j++;
    return j;
}

/* Skips spaces, tabs and newlines (not comments) for look-ahead; newlines are not
 * counted because the main loop rescans the same bytes. */
static size_t skip_ws(const scan_t *sc, size_t j) {
    while (j < sc->n &&
           (sc->s[j] == ' ' || sc->s[j] == '\t' || sc->s[j] == '\n' || sc->s[j] == '\r'))
        j++;
    return j;
}

static bool word_is(const scan_t *sc, size_t a, size_t b, const char *w) {
    size_t wl = strlen(w);
    return b - a == wl && memcmp(sc->s + a, w, wl) == 0;
}

/* Keywords after which an expression (so possibly a regex) starts. */
static bool word_expects_value(const scan_t *sc, size_t a, size_t b) {
    static const char *const kw[] = {"return", "typeof", "instanceof", "in",    "of",
                                     "new",    "delete", "void",       "throw", "case",
                                     "do",     "else",   "yield",      "await", NULL};
    for (int k = 0; kw[k]; k++)
        if (word_is(sc, a, b, kw[k])) return true;
    return false;
}

/* Skips a quoted string starting at sc->i (the quote). Stops at an unescaped newline and
 * leaves the error to the engine. */
static void skip_string(scan_t *sc) {
    char q = sc->s[sc->i++];
    while (sc->i < sc->n) {
        char c = sc->s[sc->i];
        if (c == '\\') {
            if (sc->i + 1 < sc->n && sc->s[sc->i + 1] == '\n') newline_at(sc, sc->i + 1);
            sc->i += 2;
            continue;
        }
        if (c == '\n') return;
        sc->i++;
        if (c == q) return;
    }
}

/* Scans template text from sc->i up to the closing backtick or a `${`. */
static void scan_template(scan_t *sc) {
    while (sc->i < sc->n) {
        char c = sc->s[sc->i];
        if (c == '\\') {
            if (sc->i + 1 < sc->n && sc->s[sc->i + 1] == '\n') newline_at(sc, sc->i + 1);
            sc->i += 2;
            continue;
        }
        if (c == '\n') newline_at(sc, sc->i);
        if (c == '`') {
            sc->i++;
            sc->last = TOK_VALUE;
            return;
        }
        if (c == '$' && sc->i + 1 < sc->n && sc->s[sc->i + 1] == '{') {
            if (sc->depth < MOD_STACK) sc->stack[sc->depth] = '$';
            sc->depth++;
            sc->i += 2;
            sc->last = TOK_PUNCT;
            return;
        }
        sc->i++;
    }
}

static void skip_block_comment(scan_t *sc) {
    sc->i += 2;
    while (sc->i < sc->n) {
        if (sc->s[sc->i] == '*' && sc->i + 1 < sc->n && sc->s[sc->i + 1] == '/') {
            sc->i += 2;
            return;
        }
        if (sc->s[sc->i] == '\n') newline_at(sc, sc->i);
        sc->i++;
    }
}

static void skip_regex(scan_t *sc) {
    bool in_class = false;
    sc->i++;
    while (sc->i < sc->n) {
        char c = sc->s[sc->i];
        if (c == '\n') return; /* unterminated: the engine reports it */
        if (c == '\\') {
            sc->i += 2;
            continue;
        }
        sc->i++;
        if (c == '[')
            in_class = true;
        else if (c == ']')
            in_class = false;
        else if (c == '/' && !in_class)
            break;
    }
    sc->i = word_end(sc, sc->i); /* flags */
    sc->last = TOK_VALUE;
}

/* `export` at top level: only `export default` is supported. Records whether the default
 * is a named function/class declaration (which must stay a declaration so its name is
 * bound, and is exported by the suffix) or an expression (rewritten into an assignment). */
static int on_export(scan_t *sc, size_t start, size_t end) {
    size_t a = skip_ws(sc, end), b = word_end(sc, a);
    if (!word_is(sc, a, b, "default"))
        return scan_fail(sc, start,
                         "Unsupported module syntax: only `export default …` is supported "
                         "(or assign module.exports)");
    if (sc->has_default) return scan_fail(sc, start, "Duplicate export of 'default'");
    sc->has_default = true;
    sc->def_start = start;
    sc->def_end = b;
    size_t p = skip_ws(sc, b), q = word_end(sc, p);
    if (word_is(sc, p, q, "async")) {
        p = skip_ws(sc, q);
        q = word_end(sc, p);
        if (!word_is(sc, p, q, "function")) return 0;
    }
    if (word_is(sc, p, q, "function")) {
        p = skip_ws(sc, q);
        if (p < sc->n && sc->s[p] == '*') p = skip_ws(sc, p + 1);
    } else if (word_is(sc, p, q, "class")) {
        p = skip_ws(sc, q);
    } else {
        return 0;
    }
    q = word_end(sc, p);
    if (q > p && !word_is(sc, p, q, "extends") && q - p < sizeof sc->name &&
        (unsigned char)sc->s[p] < 0x80 && sc->s[p] != '\\') {
        memcpy(sc->name, sc->s + p, q - p);
        sc->name[q - p] = '\0';
        sc->named = true;
    }
    return 0;
}

static int on_word(scan_t *sc, size_t a, size_t b) {
    bool top = sc->depth == 0 && !sc->after_dot;
    if (top && word_is(sc, a, b, "export")) {
        if (on_export(sc, a, b) < 0) return -1;
    } else if (top && word_is(sc, a, b, "import")) {
        size_t p = skip_ws(sc, b);
        if (p >= sc->n || (sc->s[p] != '(' && sc->s[p] != '.'))
            return scan_fail(sc, a,
                             "Unsupported module syntax: import declarations are not "
                             "supported; bundle dependencies into one file");
    }
    sc->last = word_expects_value(sc, a, b) ? TOK_PUNCT : TOK_VALUE;
    return 0;
}

static void on_close(scan_t *sc) {
    if (sc->depth > 0) sc->depth--;
    sc->last = TOK_VALUE;
}

/* One token (or skipped region) at sc->i. */
static int scan_step(scan_t *sc) {
    unsigned char c = (unsigned char)sc->s[sc->i];
    bool dot = false;
    switch (c) {
    case '\n':
        newline_at(sc, sc->i);
        sc->i++;
        return 0;
    case ' ':
    case '\t':
    case '\r':
    case '\f':
    case '\v':
        sc->i++;
        return 0;
    case '/':
        if (sc->i + 1 < sc->n && sc->s[sc->i + 1] == '/') {
            while (sc->i < sc->n && sc->s[sc->i] != '\n')
                sc->i++;
            return 0;
        }
        if (sc->i + 1 < sc->n && sc->s[sc->i + 1] == '*') {
            skip_block_comment(sc);
            return 0;
        }
        if (sc->last == TOK_PUNCT)
            skip_regex(sc);
        else {
            sc->i++;
            sc->last = TOK_PUNCT;
        }
        break;
    case '\'':
    case '"':
        skip_string(sc);
        sc->last = TOK_VALUE;
        break;
    case '`':
        sc->i++;
        scan_template(sc);
        break;
    case '(':
    case '[':
    case '{':
        if (sc->depth < MOD_STACK) sc->stack[sc->depth] = (char)c;
        sc->depth++;
        sc->i++;
        sc->last = TOK_PUNCT;
        break;
    case ')':
    case ']':
        sc->i++;
        on_close(sc);
        break;
    case '}':
        sc->i++;
        if (sc->depth > 0 && sc->depth <= MOD_STACK && sc->stack[sc->depth - 1] == '$') {
            sc->depth--;
            scan_template(sc);
        } else {
            on_close(sc);
        }
        break;
    case '.':
        if (sc->i + 1 < sc->n && sc->s[sc->i + 1] >= '0' && sc->s[sc->i + 1] <= '9') {
            sc->i = word_end(sc, sc->i + 1);
            sc->last = TOK_VALUE;
        } else {
            sc->i++;
            sc->last = TOK_PUNCT;
            dot = true;
        }
        break;
    case '?':
        dot = sc->i + 1 < sc->n && sc->s[sc->i + 1] == '.';
        sc->i += dot ? 2 : 1;
        sc->last = TOK_PUNCT;
        break;
    case '+':
    case '-':
        /* a++ / 2: a postfix ++/-- keeps a value on the left */
        if (sc->i + 1 < sc->n && sc->s[sc->i + 1] == (char)c) {
            sc->i += 2;
            if (sc->last != TOK_VALUE) sc->last = TOK_PUNCT;
        } else {
            sc->i++;
            sc->last = TOK_PUNCT;
        }
        break;
    default:
        if (c >= '0' && c <= '9') {
            sc->i = word_end(sc, sc->i);
            sc->last = TOK_VALUE;
        } else if (is_id_start(c)) {
            size_t a = sc->i, b = word_end(sc, a + 1);
            sc->i = b;
            if (on_word(sc, a, b) < 0) return -1;
        } else {
            sc->i++;
            sc->last = TOK_PUNCT;
        }
    }
    sc->after_dot = dot;
    return 0;
}

/* Writes the rewritten `export default` span: the assignment (or blanks for a named
 * declaration), keeping the span's newlines and, when it has none, its length. */
static char *emit_default(const scan_t *sc, char *o) {
    size_t span = sc->def_end - sc->def_start, nl = 0;
    for (size_t k = sc->def_start; k < sc->def_end; k++)
        nl += sc->s[k] == '\n';
    size_t used = 0;
    if (!sc->named) {
        memcpy(o, MOD_ASSIGN, strlen(MOD_ASSIGN));
        o += strlen(MOD_ASSIGN);
        used = strlen(MOD_ASSIGN);
    }
    for (size_t k = 0; k < nl; k++)
        *o++ = '\n';
    for (; used + nl < span; used++)
        *o++ = ' ';
    return o;
}

/* The engine takes the source as a C string of UTF-8: a NUL would silently cut it and
 * invalid UTF-8 would silently empty it, so both are reported at their position. */
static int check_text(scan_t *sc) {
    const unsigned char *u = (const unsigned char *)sc->s;
    for (size_t i = 0; i < sc->n;) {
        unsigned char c = u[i];
        size_t l = c < 0x80                 ? 1
                   : c >= 0xC2 && c <= 0xDF ? 2
                   : c >= 0xE0 && c <= 0xEF ? 3
                   : c >= 0xF0 && c <= 0xF4 ? 4
                                            : 0;
        bool ok = l > 0 && i + l <= sc->n;
        for (size_t k = 1; ok && k < l; k++)
            ok = (u[i + k] & 0xC0) == 0x80;
        if (ok && l == 3) ok = !(c == 0xE0 && u[i + 1] < 0xA0) && !(c == 0xED && u[i + 1] >= 0xA0);
        if (ok && l == 4) ok = !(c == 0xF0 && u[i + 1] < 0x90) && !(c == 0xF4 && u[i + 1] >= 0x90);
        if (c == 0) return scan_fail(sc, i, "Invalid character: the source contains a NUL byte");
        if (!ok) return scan_fail(sc, i, "Invalid character: the source is not valid UTF-8");
        if (c == '\n') newline_at(sc, i);
        i += l;
    }
    sc->line = 1;
    sc->line_start = 0;
    return 0;
}

int module_transform(const char *src, size_t len, module_src_t *out, module_error_t *e) {
    memset(out, 0, sizeof *out);
    memset(e, 0, sizeof *e);
    scan_t sc = {.s = src, .n = len, .line = 1, .last = TOK_PUNCT, .err = e};
    if (check_text(&sc) < 0) return -1;
    if (len >= 2 && src[0] == '#' && src[1] == '!') {
        sc.hashbang = true;
        while (sc.i < len && src[sc.i] != '\n')
            sc.i++;
    }
    while (sc.i < sc.n)
        if (scan_step(&sc) < 0) return -1;

    char suffix[200];
    int sl = sc.named ? snprintf(suffix, sizeof suffix, "\n;__r3e_d.v=%s;})", sc.name)
                      : snprintf(suffix, sizeof suffix, "\n;})");
    size_t pl = strlen(MOD_PREFIX);
    size_t cap = pl + len + strlen(MOD_ASSIGN) + (size_t)sl + 1;
    char *buf = malloc(cap), *o = buf;
    if (!buf) {
        snprintf(e->message, sizeof e->message, "out of memory");
        return -1;
    }
    memcpy(o, MOD_PREFIX, pl);
    o += pl;
    size_t from = 0;
    if (sc.hashbang) { /* a hashbang is only legal at the very start: make it a comment */
        memcpy(o, "//", 2);
        o += 2;
        from = 2;
    }
    if (sc.has_default) {
        memcpy(o, src + from, sc.def_start - from);
        o += sc.def_start - from;
        o = emit_default(&sc, o);
        from = sc.def_end;
    }
    memcpy(o, src + from, len - from);
    o += len - from;
    memcpy(o, suffix, (size_t)sl);
    o += sl;
    *o = '\0';
    out->code = buf;
    out->len = (size_t)(o - buf);
    out->prefix_cols = pl;
    return 0;
}

void module_src_free(module_src_t *m) {
    if (!m) return;
    free(m->code);
    memset(m, 0, sizeof *m);
}

int module_user_column(const module_src_t *m, int line, int column) {
    if (line != 1) return column;
    int c = column - (int)m->prefix_cols;
    return c < 1 ? 1 : c;
}
