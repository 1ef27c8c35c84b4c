/* The JavaScript side of the worker (see sandbox.h): r3e globals, the invocation state,
 * the event loop, and turning JS outcomes into the JSON text of the "done" frame.
 *
 * Time and memory limits: the context group's execution time limit is a 10 ms periodic
 * check (the callback re-arms itself) that terminates running JS once the wall deadline
 * passes or RSS has grown past the invocation's budget; the event loop enforces the same
 * two limits while no JS runs. */
#include "runtime/sandbox.h"

#include "core/util.h"
#include "obs/log.h"
#include "chain/eth/eth_js.h"
#include "chain/neo/neo_js.h"
#include "runtime/ipc.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SBX_INTERNAL_URL "r3e:internal"
#define SBX_WATCHDOG_S 0.01
#define SBX_MAX_TIMERS 10000
#define SBX_KV_MAX_KEY 512
#define SBX_KV_MAX_VALUE (256 * 1024)
#define SBX_KV_MAX_LIST 1000

/* ---- text buffer ---- */

static void buf_reserve(sbx_buf_t *b, size_t more) {
    if (b->len + more + 1 <= b->cap) return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + more + 1)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) abort();
    b->p = p;
    b->cap = cap;
}

void sbx_buf_put(sbx_buf_t *b, const char *s, size_t n) {
    buf_reserve(b, n);
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void sbx_buf_cstr(sbx_buf_t *b, const char *s) {
    sbx_buf_put(b, s, strlen(s));
}

void sbx_buf_printf(sbx_buf_t *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char tmp[256];
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n < sizeof tmp) {
        sbx_buf_put(b, tmp, (size_t)n);
        return;
    }
    buf_reserve(b, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

/* Length of a valid UTF-8 sequence at s (1..4), or 0 when invalid (overlong forms and
 * surrogates included, as jansson on the other side rejects them). */
static size_t utf8_seq(const unsigned char *s, size_t n) {
    unsigned char c = s[0];
    size_t len;
    unsigned min;
    unsigned cp;
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF)
        len = 2, min = 0x80, cp = c & 0x1F;
    else if (c >= 0xE0 && c <= 0xEF)
        len = 3, min = 0x800, cp = c & 0x0F;
    else if (c >= 0xF0 && c <= 0xF4)
        len = 4, min = 0x10000, cp = c & 0x07;
    else
        return 0;
    if (n < len) return 0;
    for (size_t k = 1; k < len; k++) {
        if ((s[k] & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (s[k] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    return len;
}

void sbx_buf_jstr(sbx_buf_t *b, const char *s, size_t n) {
    static const char hex[] = "0123456789abcdef";
    buf_reserve(b, n + 2);
    b->p[b->len++] = '"';
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        size_t run = i; /* copy plain ASCII runs at once */
        while (run < n && u[run] >= 0x20 && u[run] < 0x80 && u[run] != '"' && u[run] != '\\')
            run++;
        if (run > i) {
            sbx_buf_put(b, s + i, run - i);
            i = run;
            continue;
        }
        unsigned char c = u[i];
        char esc[8];
        if (c == '"' || c == '\\') {
            esc[0] = '\\', esc[1] = (char)c;
            sbx_buf_put(b, esc, 2);
            i++;
        } else if (c < 0x20) {
            const char *named = c == '\n' ? "\\n" : c == '\r' ? "\\r" : c == '\t' ? "\\t" : NULL;
            if (named)
                sbx_buf_put(b, named, 2);
            else {
                memcpy(esc, "\\u00", 4);
                esc[4] = hex[c >> 4], esc[5] = hex[c & 15];
                sbx_buf_put(b, esc, 6);
            }
            i++;
        } else {
            size_t l = utf8_seq(u + i, n - i);
            if (l)
                sbx_buf_put(b, s + i, l), i += l;
            else
                sbx_buf_put(b, "\\ufffd", 6), i++;
        }
    }
    sbx_buf_put(b, "\"", 1);
}

void sbx_buf_free(sbx_buf_t *b) {
    free(b->p);
    memset(b, 0, sizeof *b);
}

/* ---- process state ---- */

typedef struct {
    uint32_t id;
    bool repeat;
    uint64_t when_us, seq;
    uint32_t interval_ms;
    JSObjectRef fn;   /* protected */
    JSValueRef *args; /* each protected; malloc'ed */
    size_t nargs;
} sbx_timer_t;

typedef struct {
    uint32_t rid;
    char op;                     /* g p d l */
    JSObjectRef resolve, reject; /* protected */
} sbx_kvreq_t;

struct sbx_ctx {
    JSGlobalContextRef ctx;
    JSObjectRef run, freeze, load, handler, kv; /* protected */
    JSValueRef env;                             /* protected; frozen env object for env_src */
    json_t *env_src;
    size_t prefix_cols;
};

typedef enum { KILL_NONE, KILL_TIMEOUT, KILL_MEMORY } kill_t;

/* The current invocation. */
typedef struct {
    bool active;
    sbx_limits_t lim;
    sbx_outcome_t *out;
    JSGlobalContextRef ctx; /* context running now (NULL while none) */
    size_t prefix_cols;
    size_t rss_base;
    volatile kill_t kill;
    bool settled, ok;
    JSValueRef value; /* protected when settled */
    size_t log_bytes;
    int nlogs;
    sbx_timer_t *timers;
    size_t ntimers, cap_timers;
    uint32_t next_timer_id;
    uint64_t timer_seq;
    sbx_kvreq_t *kv; /* pending KV and host requests (op 'h') */
    size_t nkv, cap_kv;
    unsigned nhost; /* host calls made in this invocation */
    uint32_t next_rid;
    sbx_buf_t scratch;
    JSGlobalContextRef web_ctx; /* context of the open webapi bracket */
} sbx_inv_t;

static struct {
    JSContextGroupRef group;
    webapi_env_t *web;
    int fd;
    int statm_fd;
    long page;
    JSScriptRef bootstrap;
    sbx_ctx_t *spare;        /* blank context ready for the next cold start */
    JSGlobalContextRef home; /* long-lived context owning detached_cb */
    JSObjectRef detached_cb; /* no-op rejection callback for contexts being released */
    JSStringRef user_url;
    JSGlobalContextRef check_ctx;
    sbx_inv_t inv;
} S = {.fd = -1, .statm_fd = -1};

/* ---- small JS helpers ---- */

static JSValueRef js_str(JSContextRef c, const char *s) {
    JSStringRef js = JSStringCreateWithUTF8CString(s ? s : "");
    JSValueRef v = JSValueMakeString(c, js);
    JSStringRelease(js);
    return v;
}

static JSValueRef js_strn(JSContextRef c, const char *s, size_t n) {
    char stack[256];
    char *tmp = n < sizeof stack ? stack : malloc(n + 1);
    if (!tmp) abort();
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    JSValueRef v = js_str(c, tmp);
    if (tmp != stack) free(tmp);
    return v;
}

/* Appends a JSString as UTF-8 to b (no quoting). */
static void buf_jsstring(sbx_buf_t *b, JSStringRef s) {
    size_t max = JSStringGetMaximumUTF8CStringSize(s);
    buf_reserve(b, max);
    size_t w = JSStringGetUTF8CString(s, b->p + b->len, max);
    if (w > 0) b->len += w - 1; /* w counts the NUL */
    b->p[b->len] = '\0';
}

static JSValueRef js_get(JSContextRef c, JSObjectRef o, const char *name) {
    JSStringRef n = JSStringCreateWithUTF8CString(name);
    JSValueRef v = JSObjectGetProperty(c, o, n, NULL);
    JSStringRelease(n);
    return v;
}

static void js_set(JSContextRef c, JSObjectRef o, const char *name, JSValueRef v,
                   JSPropertyAttributes attrs) {
    JSStringRef n = JSStringCreateWithUTF8CString(name);
    JSObjectSetProperty(c, o, n, v, attrs, NULL);
    JSStringRelease(n);
}

static JSObjectRef js_fn(JSContextRef c, const char *name, JSObjectCallAsFunctionCallback cb) {
    JSStringRef n = JSStringCreateWithUTF8CString(name);
    JSObjectRef f = JSObjectMakeFunctionWithCallback(c, n, cb);
    JSStringRelease(n);
    return f;
}

/* Appends String(v) as UTF-8; false when conversion threw. */
static bool buf_value_string(sbx_buf_t *b, JSContextRef c, JSValueRef v) {
    JSValueRef exc = NULL;
    JSStringRef s = JSValueToStringCopy(c, v, &exc);
    if (!s) return false;
    buf_jsstring(b, s);
    JSStringRelease(s);
    return true;
}

/* Builds a `new <ctor>(msg)` error object (TypeError, RangeError, …). */
static JSValueRef js_error(JSContextRef c, const char *ctor, const char *msg) {
    JSValueRef arg = js_str(c, msg);
    JSValueRef k = js_get(c, JSContextGetGlobalObject(c), ctor);
    if (k && JSValueIsObject(c, k)) {
        JSObjectRef e = JSObjectCallAsConstructor(c, (JSObjectRef)k, 1, &arg, NULL);
        if (e) return e;
    }
    return JSObjectMakeError(c, 1, &arg, NULL);
}

static JSValueRef js_throw(JSContextRef c, JSValueRef *exc, const char *ctor, const char *msg) {
    if (exc) *exc = js_error(c, ctor, msg);
    return JSValueMakeUndefined(c);
}

/* ---- memory accounting ---- */

size_t sbx_rss_bytes(void) {
    char buf[128];
    if (S.statm_fd < 0) return 0;
    ssize_t n = pread(S.statm_fd, buf, sizeof buf - 1, 0);
    if (n <= 0) return 0;
    buf[n] = '\0';
    char *p = buf;
    while (*p && *p != ' ')
        p++; /* skip size */
    unsigned long rss = strtoul(p, NULL, 10);
    return (size_t)rss * (size_t)S.page;
}

static bool over_memory(sbx_inv_t *inv) {
    size_t rss = sbx_rss_bytes();
    return rss > inv->rss_base && rss - inv->rss_base > inv->lim.memory_limit;
}

/* The periodic check; see the file comment. Runs on the JS thread inside JSC. */
static bool watchdog(JSContextRef c, void *unused) {
    (void)c, (void)unused;
    sbx_inv_t *inv = &S.inv;
    if (inv->active && inv->kill == KILL_NONE) {
        if (util_now_us() >= inv->lim.deadline_us)
            inv->kill = KILL_TIMEOUT;
        else if (over_memory(inv))
            inv->kill = KILL_MEMORY;
    }
    if (inv->active && inv->kill != KILL_NONE) return true;
    JSContextGroupSetExecutionTimeLimit(S.group, SBX_WATCHDOG_S, watchdog, NULL);
    return false;
}

/* ---- logs ---- */

static void log_append(sbx_inv_t *inv, const char *level, const char *msg, size_t len) {
    sbx_buf_t *l = &inv->out->logs;
    if (inv->out->logs_truncated) return;
    size_t room =
        inv->lim.max_log_bytes > inv->log_bytes ? inv->lim.max_log_bytes - inv->log_bytes : 0;
    bool cut = len > room;
    if (cut) {
        len = room;
        while (len > 0 && ((unsigned char)msg[len] & 0xC0) == 0x80)
            len--; /* char boundary */
    }
    if (!cut || len > 0) {
        sbx_buf_printf(l, "%s{\"t\":%llu,\"level\":\"%s\",\"msg\":", inv->nlogs ? "," : "",
                       (unsigned long long)util_wall_ms(), level);
        sbx_buf_jstr(l, msg, len);
        sbx_buf_put(l, "}", 1);
        inv->nlogs++;
        inv->log_bytes += len;
    }
    if (cut) {
        inv->out->logs_truncated = true;
        sbx_buf_printf(l,
                       "%s{\"t\":%llu,\"level\":\"warn\",\"msg\":\"[r3e] log output truncated: "
                       "over the limit of %zu bytes\"}",
                       inv->nlogs ? "," : "", (unsigned long long)util_wall_ms(),
                       inv->lim.max_log_bytes);
        inv->nlogs++;
    }
}

/* Rewrites a JSC stack ("fn@url:line:col" lines) into node's shape, keeping only frames
 * of user code and mapping line-1 columns back through the wrapper. */
static void stack_clean(sbx_buf_t *out, const char *raw, size_t prefix_cols) {
    const char *p = raw;
    const size_t ul = strlen(SBX_USER_URL);
    while (*p) {
        const char *e = strchr(p, '\n');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        const char *at = NULL;
        for (size_t k = 0; k < n; k++)
            if (p[k] == '@') at = p + k;
        const char *loc = at ? at + 1 : p;
        size_t loclen = n - (size_t)(loc - p);
        if (loclen > ul + 1 && memcmp(loc, SBX_USER_URL, ul) == 0 && loc[ul] == ':') {
            int line = 0, col = 0;
            if (sscanf(loc + ul, ":%d:%d", &line, &col) == 2) {
                if (line == 1) col = col > (int)prefix_cols ? col - (int)prefix_cols : 1;
                size_t fl = at ? (size_t)(at - p) : 0;
                if (fl == 11 && memcmp(p, "global code", 11) == 0) fl = 0;
                if (fl)
                    sbx_buf_printf(out, "\n    at %.*s (%s:%d:%d)", (int)fl, p, SBX_USER_URL, line,
                                   col);
                else
                    sbx_buf_printf(out, "\n    at %s:%d:%d", SBX_USER_URL, line, col);
            }
        }
        p += n;
        if (*p) p++;
    }
}

/* Errors and error-like objects (a string stack). Errors made from native code before
 * any JS ran have no stack, hence the instanceof check too. */
static bool is_error_like(JSContextRef c, JSObjectRef o) {
    JSValueRef st = js_get(c, o, "stack");
    if (st && JSValueIsString(c, st)) return true;
    JSValueRef k = js_get(c, JSContextGetGlobalObject(c), "Error");
    return k && JSValueIsObject(c, k) && JSValueIsInstanceOfConstructor(c, o, (JSObjectRef)k, NULL);
}

/* name and message of an Error-like object into b (as "Name: message"). */
static void error_head(sbx_buf_t *b, JSContextRef c, JSObjectRef o) {
    JSValueRef name = js_get(c, o, "name"), msg = js_get(c, o, "message");
    if (!name || JSValueIsUndefined(c, name) || !buf_value_string(b, c, name))
        sbx_buf_cstr(b, "Error");
    if (msg && !JSValueIsUndefined(c, msg)) {
        size_t mark = b->len;
        sbx_buf_put(b, ": ", 2);
        if (!buf_value_string(b, c, msg))
            b->len = mark;
        else if (b->len == mark + 2)
            b->len = mark; /* empty message: like node */
        b->p[b->len] = '\0';
    }
}

/* Appends a node-like rendering of one console argument. */
static void format_value(sbx_buf_t *b, JSContextRef c, JSValueRef v, size_t prefix_cols) {
    if (JSValueIsString(c, v)) {
        buf_value_string(b, c, v);
        return;
    }
    if (!JSValueIsObject(c, v)) {
        if (JSValueGetType(c, v) == kJSTypeSymbol) {
            sbx_buf_cstr(b, "Symbol()");
            return;
        }
        if (!buf_value_string(b, c, v)) sbx_buf_cstr(b, "[value]");
        if (JSValueGetType(c, v) == kJSTypeBigInt) sbx_buf_put(b, "n", 1);
        return;
    }
    JSObjectRef o = (JSObjectRef)v;
    if (JSObjectIsFunction(c, o)) {
        JSValueRef name = js_get(c, o, "name");
        sbx_buf_cstr(b, "[Function: ");
        size_t mark = b->len;
        if (!name || !JSValueIsString(c, name) || !buf_value_string(b, c, name) || b->len == mark)
            sbx_buf_cstr(b, "(anonymous)");
        sbx_buf_put(b, "]", 1);
        return;
    }
    if (is_error_like(c, o)) {
        error_head(b, c, o);
        sbx_buf_t raw = {0};
        if (buf_value_string(&raw, c, js_get(c, o, "stack")) && raw.p)
            stack_clean(b, raw.p, prefix_cols);
        sbx_buf_free(&raw);
        return;
    }
    JSValueRef exc = NULL;
    JSStringRef json = JSValueCreateJSONString(c, v, 0, &exc);
    if (json) {
        buf_jsstring(b, json);
        JSStringRelease(json);
    } else if (!buf_value_string(b, c, v)) {
        sbx_buf_cstr(b, "[object]");
    }
}

/* Appends a number rendering of v for %d/%i (integer part) and %f. */
static void format_number(sbx_buf_t *b, JSContextRef c, JSValueRef v, bool integer) {
    if (JSValueGetType(c, v) == kJSTypeBigInt) {
        format_value(b, c, v, 0);
        return;
    }
    double d = JSValueToNumber(c, v, NULL);
    if (integer && isfinite(d)) d = trunc(d);
    format_value(b, c, JSValueMakeNumber(c, d), 0);
}

/* Node's printf-like first argument: %s %d %i %f %j %o %O %c %%. Returns how many of the
 * following arguments were consumed. */
static size_t format_directives(sbx_buf_t *b, JSContextRef c, const char *f, size_t n, size_t argc,
                                const JSValueRef argv[], size_t prefix_cols) {
    size_t used = 0;
    for (size_t i = 0; i < n; i++) {
        char d = i + 1 < n ? f[i + 1] : 0;
        if (f[i] != '%' || !strchr("sdifjoOc%", d) || d == 0) {
            sbx_buf_put(b, f + i, 1);
            continue;
        }
        i++;
        if (d == '%') {
            sbx_buf_put(b, "%", 1);
            continue;
        }
        if (used >= argc) { /* nothing left to substitute: keep the directive */
            sbx_buf_put(b, f + i - 1, 2);
            continue;
        }
        JSValueRef v = argv[used++];
        if (d == 'd' || d == 'i')
            format_number(b, c, v, true);
        else if (d == 'f')
            format_number(b, c, v, false);
        else if (d != 'c')
            format_value(b, c, v, prefix_cols); /* %c: CSS, ignored */
    }
    return used;
}

static JSValueRef console_emit(JSContextRef c, const char *level, size_t argc,
                               const JSValueRef argv[], JSValueRef *exc) {
    sbx_inv_t *inv = &S.inv;
    if (!inv->active) return JSValueMakeUndefined(c);
    /* formatting can run user code (getters, toJSON) that logs too: nested calls get
     * their own buffer */
    static int depth;
    sbx_buf_t nested = {0};
    sbx_buf_t *m = depth ? &nested : &inv->scratch;
    m->len = 0;
    depth++;
    size_t k = 0;
    if (argc > 0 && JSValueIsString(c, argv[0])) {
        sbx_buf_t f = {0};
        buf_value_string(&f, c, argv[0]);
        if (f.p && memchr(f.p, '%', f.len))
            k = 1 + format_directives(m, c, f.p, f.len, argc - 1, argv + 1, inv->prefix_cols);
        sbx_buf_free(&f);
    }
    for (; k < argc; k++) {
        if (k) sbx_buf_put(m, " ", 1);
        format_value(m, c, argv[k], inv->prefix_cols);
        if (m->len > inv->lim.max_log_bytes + 1) break; /* it will be cut anyway */
    }
    depth--;
    log_append(inv, level, m->p ? m->p : "", m->len);
    sbx_buf_free(&nested);
    (void)exc;
    return JSValueMakeUndefined(c);
}

#define CONSOLE_FN(lvl, name)                                                                      \
    static JSValueRef console_##name(JSContextRef c, JSObjectRef f, JSObjectRef t, size_t argc,    \
                                     const JSValueRef argv[], JSValueRef *exc) {                   \
        (void)f, (void)t;                                                                          \
        return console_emit(c, lvl, argc, argv, exc);                                              \
    }
CONSOLE_FN("info", log)
CONSOLE_FN("info", info)
CONSOLE_FN("warn", warn)
CONSOLE_FN("error", error)
CONSOLE_FN("debug", debug)

/* ---- timers ---- */

static void timer_release(JSContextRef c, sbx_timer_t *t) {
    JSValueUnprotect(c, t->fn);
    for (size_t k = 0; k < t->nargs; k++)
        JSValueUnprotect(c, t->args[k]);
    free(t->args);
    t->args = NULL;
    t->nargs = 0;
}

static JSValueRef timer_add(JSContextRef c, bool repeat, size_t argc, const JSValueRef argv[],
                            JSValueRef *exc) {
    sbx_inv_t *inv = &S.inv;
    if (!inv->active) return js_throw(c, exc, "Error", "timers are only available while running");
    if (argc < 1 || !JSValueIsObject(c, argv[0]) || !JSObjectIsFunction(c, (JSObjectRef)argv[0]))
        return js_throw(c, exc, "TypeError", "the callback must be a function");
    if (inv->ntimers >= SBX_MAX_TIMERS)
        return js_throw(c, exc, "RangeError", "too many pending timers (limit 10000)");
    double ms = argc > 1 ? JSValueToNumber(c, argv[1], NULL) : 0;
    if (!(ms >= 0)) ms = 0;        /* NaN too */
    if (ms > 2147483647.0) ms = 1; /* like node: out-of-range delays become 1 ms */
    if (repeat && ms < 1) ms = 1;
    if (inv->ntimers == inv->cap_timers) {
        size_t cap = inv->cap_timers ? inv->cap_timers * 2 : 16;
        sbx_timer_t *t = realloc(inv->timers, cap * sizeof *t);
        if (!t) abort();
        inv->timers = t;
        inv->cap_timers = cap;
    }
    sbx_timer_t *t = &inv->timers[inv->ntimers++];
    memset(t, 0, sizeof *t);
    t->id = ++inv->next_timer_id;
    t->repeat = repeat;
    t->interval_ms = (uint32_t)ms;
    t->when_us = util_now_us() + (uint64_t)(ms * 1000);
    t->seq = ++inv->timer_seq;
    t->fn = (JSObjectRef)argv[0];
    JSValueProtect(c, t->fn);
    if (argc > 2) {
        t->nargs = argc - 2;
        t->args = malloc(t->nargs * sizeof *t->args);
        if (!t->args) abort();
        for (size_t k = 0; k < t->nargs; k++) {
            t->args[k] = argv[k + 2];
            JSValueProtect(c, t->args[k]);
        }
    }
    return JSValueMakeNumber(c, t->id);
}

static JSValueRef timer_clear(JSContextRef c, size_t argc, const JSValueRef argv[]) {
    sbx_inv_t *inv = &S.inv;
    if (argc < 1 || !JSValueIsNumber(c, argv[0])) return JSValueMakeUndefined(c);
    double id = JSValueToNumber(c, argv[0], NULL);
    for (size_t k = 0; k < inv->ntimers; k++) {
        if ((double)inv->timers[k].id == id) {
            timer_release(c, &inv->timers[k]);
            inv->timers[k] = inv->timers[--inv->ntimers];
            break;
        }
    }
    return JSValueMakeUndefined(c);
}

static JSValueRef js_set_timeout(JSContextRef c, JSObjectRef f, JSObjectRef t, size_t argc,
                                 const JSValueRef argv[], JSValueRef *exc) {
    (void)f, (void)t;
    return timer_add(c, false, argc, argv, exc);
}

static JSValueRef js_set_interval(JSContextRef c, JSObjectRef f, JSObjectRef t, size_t argc,
                                  const JSValueRef argv[], JSValueRef *exc) {
    (void)f, (void)t;
    return timer_add(c, true, argc, argv, exc);
}

static JSValueRef js_clear_timer(JSContextRef c, JSObjectRef f, JSObjectRef t, size_t argc,
                                 const JSValueRef argv[], JSValueRef *exc) {
    (void)f, (void)t, (void)exc;
    return timer_clear(c, argc, argv);
}

/* Index of the earliest timer, or -1. */
static long timer_next(sbx_inv_t *inv) {
    long best = -1;
    for (size_t k = 0; k < inv->ntimers; k++) {
        sbx_timer_t *t = &inv->timers[k];
        if (best < 0 || t->when_us < inv->timers[best].when_us ||
            (t->when_us == inv->timers[best].when_us && t->seq < inv->timers[best].seq))
            best = (long)k;
    }
    return best;
}

static void settle_error(sbx_inv_t *inv, JSContextRef c, JSValueRef err);

/* Fires the earliest timer when due. Returns true when one ran. */
static bool timer_fire_due(sbx_inv_t *inv) {
    long k = timer_next(inv);
    if (k < 0 || inv->timers[k].when_us > util_now_us()) return false;
    JSContextRef c = inv->ctx;
    sbx_timer_t t = inv->timers[k];
    if (t.repeat) {
        inv->timers[k].when_us = util_now_us() + (uint64_t)t.interval_ms * 1000;
        inv->timers[k].seq = ++inv->timer_seq;
        JSValueProtect(c, t.fn); /* the copy may outlive a clearInterval inside the call */
        for (size_t a = 0; a < t.nargs; a++)
            JSValueProtect(c, t.args[a]);
        JSValueRef *args = t.args;
        t.args = malloc((t.nargs ? t.nargs : 1) * sizeof *t.args);
        if (!t.args) abort();
        if (t.nargs) memcpy(t.args, args, t.nargs * sizeof *t.args);
    } else {
        inv->timers[k] = inv->timers[--inv->ntimers];
    }
    JSValueRef exc = NULL;
    JSObjectCallAsFunction(c, t.fn, NULL, t.nargs, t.args, &exc);
    if (exc && inv->kill == KILL_NONE) settle_error(inv, c, exc);
    timer_release(c, &t);
    return true;
}

static void timers_drop(sbx_inv_t *inv) {
    for (size_t k = 0; k < inv->ntimers; k++)
        timer_release(inv->ctx, &inv->timers[k]);
    inv->ntimers = 0;
}

/* ---- settle ---- */

static void settle(sbx_inv_t *inv, JSContextRef c, bool ok, JSValueRef v) {
    if (inv->settled) return;
    inv->settled = true;
    /* past the deadline the outcome is a timeout, whatever settled it (e.g. a fetch the
     * web API aborted at the same deadline) */
    if (inv->kill == KILL_NONE && util_now_us() >= inv->lim.deadline_us) inv->kill = KILL_TIMEOUT;
    inv->ok = ok;
    inv->value = v;
    JSValueProtect(c, v);
}

static void settle_error(sbx_inv_t *inv, JSContextRef c, JSValueRef err) {
    settle(inv, c, false, err);
}

static JSValueRef js_settle(JSContextRef c, JSObjectRef f, JSObjectRef t, size_t argc,
                            const JSValueRef argv[], JSValueRef *exc) {
    (void)f, (void)t, (void)exc;
    sbx_inv_t *inv = &S.inv;
    if (inv->active && argc >= 2) settle(inv, c, JSValueToBoolean(c, argv[0]), argv[1]);
    return JSValueMakeUndefined(c);
}

/* ---- ctx.kv ---- */

/* Validates a key: a string of 1..512 UTF-8 bytes without NUL. Appends it to b. */
static const char *kv_key(JSContextRef c, JSValueRef v, sbx_buf_t *b, const char *what) {
    if (!JSValueIsString(c, v)) return "must be a string";
    JSStringRef s = JSValueToStringCopy(c, v, NULL);
    const JSChar *ch = JSStringGetCharactersPtr(s);
    size_t n = JSStringGetLength(s);
    for (size_t k = 0; k < n; k++) {
        if (ch[k] == 0) {
            JSStringRelease(s);
            return "must not contain NUL characters";
        }
    }
    size_t mark = b->len;
    buf_jsstring(b, s);
    JSStringRelease(s);
    size_t len = b->len - mark;
    if (len == 0 && strcmp(what, "key") == 0) return "must not be empty";
    if (len > SBX_KV_MAX_KEY) return "is longer than 512 bytes";
    return NULL;
}

static JSValueRef kv_reject(JSContextRef c, JSObjectRef reject, JSObjectRef promise,
                            const char *ctor, const char *msg) {
    JSValueRef e = js_error(c, ctor, msg);
    JSObjectCallAsFunction(c, reject, NULL, 1, &e, NULL);
    return promise;
}

static void req_push(sbx_inv_t *inv, JSContextRef c, uint32_t rid, char op, JSObjectRef res,
                     JSObjectRef rej) {
    if (inv->nkv == inv->cap_kv) {
        size_t cap = inv->cap_kv ? inv->cap_kv * 2 : 8;
        sbx_kvreq_t *k = realloc(inv->kv, cap * sizeof *k);
        if (!k) abort();
        inv->kv = k;
        inv->cap_kv = cap;
    }
    sbx_kvreq_t *r = &inv->kv[inv->nkv++];
    r->rid = rid;
    r->op = op;
    r->resolve = res;
    r->reject = rej;
    JSValueProtect(c, res);
    JSValueProtect(c, rej);
}

/* Sends a kv frame and records the promise's resolvers under a new rid. */
static JSValueRef kv_send(JSContextRef c, char op, const char *opname, const char *key,
                          size_t keylen, const char *extra, const char *payload, size_t plen,
                          JSValueRef *exc) {
    sbx_inv_t *inv = &S.inv;
    JSObjectRef res, rej;
    JSObjectRef p = JSObjectMakeDeferredPromise(c, &res, &rej, exc);
    if (!p) return JSValueMakeUndefined(c);
    uint32_t rid = ++inv->next_rid;
    sbx_buf_t h = {0};
    sbx_buf_printf(&h, "{\"t\":\"kv\",\"rid\":%u,\"op\":\"%s\"", rid, opname);
    if (key) {
        sbx_buf_cstr(&h, ",\"key\":");
        sbx_buf_jstr(&h, key, keylen);
    }
    if (extra) sbx_buf_cstr(&h, extra);
    sbx_buf_put(&h, "}", 1);
    int rc = ipc_send_raw(S.fd, h.p, h.len, payload, plen);
    sbx_buf_free(&h);
    if (rc < 0) return kv_reject(c, rej, p, "Error", "kv: the platform connection is gone");
    req_push(inv, c, rid, op, res, rej);
    return p;
}

/* Common front half of the kv methods: promise for validation errors, key extraction. */
static JSValueRef kv_call(JSContextRef c, char op, size_t argc, const JSValueRef argv[],
                          JSValueRef *exc) {
    static const char *const names[] = {
        ['g'] = "get", ['p'] = "put", ['d'] = "delete", ['l'] = "list"};
    sbx_inv_t *inv = &S.inv;
    const char *opname = names[(unsigned char)op];
    char msg[160];
    if (!inv->active) return js_throw(c, exc, "Error", "kv is only available while running");
    sbx_buf_t key = {0}, val = {0}, extra = {0};
    JSValueRef out;
    const char *why = NULL, *ctor = "TypeError";
    if (op != 'l') {
        why = argc < 1 ? "is required" : kv_key(c, argv[0], &key, "key");
        if (why) {
            ctor = key.len > SBX_KV_MAX_KEY || (why && strstr(why, "longer")) ? "RangeError"
                                                                              : "TypeError";
            snprintf(msg, sizeof msg, "kv.%s: key %s", opname, why);
        }
    }
    if (!why && op == 'p') {
        if (argc < 2 || !JSValueIsString(c, argv[1])) {
            why = "x";
            snprintf(msg, sizeof msg,
                     "kv.put: value must be a string (use JSON.stringify for objects)");
        } else {
            buf_value_string(&val, c, argv[1]);
            if (val.len > SBX_KV_MAX_VALUE) {
                why = "x", ctor = "RangeError";
                snprintf(msg, sizeof msg, "kv.put: value is %zu bytes, over the limit of %d",
                         val.len, SBX_KV_MAX_VALUE);
            }
        }
    }
    if (!why && op == 'l' && argc > 0 && JSValueIsObject(c, argv[0])) {
        JSValueRef pre = js_get(c, (JSObjectRef)argv[0], "prefix");
        JSValueRef lim = js_get(c, (JSObjectRef)argv[0], "limit");
        if (pre && !JSValueIsUndefined(c, pre)) {
            sbx_buf_t pb = {0};
            const char *pw = kv_key(c, pre, &pb, "prefix");
            if (pw) {
                why = "x";
                ctor = strstr(pw, "longer") ? "RangeError" : "TypeError";
                snprintf(msg, sizeof msg, "kv.list: prefix %s", pw);
            } else {
                sbx_buf_cstr(&extra, ",\"prefix\":");
                sbx_buf_jstr(&extra, pb.p ? pb.p : "", pb.len);
            }
            sbx_buf_free(&pb);
        }
        if (!why && lim && !JSValueIsUndefined(c, lim)) {
            double l = JSValueToNumber(c, lim, NULL);
            if (!(l >= 1 && l <= SBX_KV_MAX_LIST) || l != (double)(long)l) {
                why = "x", ctor = "RangeError";
                snprintf(msg, sizeof msg, "kv.list: limit must be an integer from 1 to %d",
                         SBX_KV_MAX_LIST);
            } else {
                sbx_buf_printf(&extra, ",\"limit\":%ld", (long)l);
            }
        }
    }
    if (why) {
        JSObjectRef res, rej;
        JSObjectRef p = JSObjectMakeDeferredPromise(c, &res, &rej, exc);
        out = p ? kv_reject(c, rej, p, ctor, msg) : JSValueMakeUndefined(c);
    } else {
        out = kv_send(c, op, opname, op == 'l' ? NULL : (key.p ? key.p : ""), key.len, extra.p,
                      val.p, val.len, exc);
    }
    sbx_buf_free(&key);
    sbx_buf_free(&val);
    sbx_buf_free(&extra);
    return out;
}

#define KV_FN(name, op)                                                                            \
    static JSValueRef kv_##name(JSContextRef c, JSObjectRef f, JSObjectRef t, size_t argc,         \
                                const JSValueRef argv[], JSValueRef *exc) {                        \
        (void)f, (void)t;                                                                          \
        return kv_call(c, op, argc, argv, exc);                                                    \
    }
KV_FN(get, 'g')
KV_FN(put, 'p')
KV_FN(delete, 'd')
KV_FN(list, 'l')

/* ---- host services (ctx.eth, ctx.neo): host(svc, args) -> Promise ---- */

static JSValueRef host_send(JSContextRef c, JSObjectRef p, JSObjectRef res, JSObjectRef rej,
                            const char *extra, const char *payload, size_t plen) {
    sbx_inv_t *inv = &S.inv;
    uint32_t rid = ++inv->next_rid;
    sbx_buf_t h = {0};
    sbx_buf_printf(&h, "{\"t\":\"host\",\"rid\":%u", rid);
    sbx_buf_cstr(&h, extra);
    sbx_buf_put(&h, "}", 1);
    int rc = ipc_send_raw(S.fd, h.p, h.len, payload, plen);
    sbx_buf_free(&h);
    if (rc < 0) return kv_reject(c, rej, p, "Error", "the platform connection is gone");
    req_push(inv, c, rid, 'h', res, rej);
    return p;
}

/* The value a host_r frame settles its promise with: the parsed result, or an Error with
 * .code (machine name) and .rpcCode (a node's JSON-RPC error code) when it failed. */
static JSValueRef host_settle(JSContextRef c, ipc_msg_t *m, JSObjectRef *target,
                              const sbx_kvreq_t *r) {
    if (json_is_true(json_object_get(m->header, "ok"))) {
        *target = r->resolve;
        JSStringRef s = JSStringCreateWithUTF8CString(m->payload ? m->payload : "null");
        JSValueRef v = JSValueMakeFromJSONString(c, s);
        JSStringRelease(s);
        return v ? v : JSValueMakeNull(c);
    }
    *target = r->reject;
    json_t *e = json_object_get(m->header, "error");
    const char *msg = json_string_value(json_object_get(e, "message"));
    const char *code = json_string_value(json_object_get(e, "code"));
    JSValueRef err = js_error(c, "Error", msg ? msg : "platform call failed");
    if (JSValueIsObject(c, err)) {
        js_set(c, (JSObjectRef)err, "code", js_str(c, code ? code : "internal"), 0);
        json_t *rc = json_object_get(e, "rpc_code"), *data = json_object_get(e, "rpc_data");
        if (json_is_integer(rc))
            js_set(c, (JSObjectRef)err, "rpcCode",
                   JSValueMakeNumber(c, (double)json_integer_value(rc)), 0);
        char *dtext = data ? json_dumps(data, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
        if (dtext) {
            JSStringRef ds = JSStringCreateWithUTF8CString(dtext);
            JSValueRef dv = JSValueMakeFromJSONString(c, ds);
            JSStringRelease(ds);
            if (dv) js_set(c, (JSObjectRef)err, "data", dv, 0);
            free(dtext);
        }
    }
    return err;
}

#define SBX_HOST_MAX_ARGS (1024 * 1024)
#define SBX_HOST_MAX_CALLS 1000 /* per invocation */

static JSValueRef js_host(JSContextRef c, JSObjectRef f, JSObjectRef t, size_t argc,
                          const JSValueRef argv[], JSValueRef *exc) {
    (void)f, (void)t;
    sbx_inv_t *inv = &S.inv;
    if (!inv->active)
        return js_throw(c, exc, "Error", "platform services are only available while running");
    JSObjectRef res, rej;
    JSObjectRef p = JSObjectMakeDeferredPromise(c, &res, &rej, exc);
    if (!p) return JSValueMakeUndefined(c);
    if (argc < 1 || !JSValueIsString(c, argv[0]))
        return kv_reject(c, rej, p, "TypeError", "host: service name must be a string");
    sbx_buf_t svc = {0}, args = {0};
    buf_value_string(&svc, c, argv[0]);
    JSValueRef out;
    if (++inv->nhost > SBX_HOST_MAX_CALLS) {
        char msg[120];
        snprintf(msg, sizeof msg, "%.40s: more than %d platform calls in one invocation",
                 svc.p ? svc.p : "", SBX_HOST_MAX_CALLS);
        out = kv_reject(c, rej, p, "RangeError", msg);
    } else {
        JSValueRef jexc = NULL;
        JSStringRef js =
            JSValueCreateJSONString(c, argc > 1 ? argv[1] : JSValueMakeNull(c), 0, &jexc);
        if (js) {
            buf_jsstring(&args, js);
            JSStringRelease(js);
        }
        if (jexc || !js) {
            out = kv_reject(c, rej, p, "TypeError",
                            "host: arguments must be JSON-serialisable (encode BigInt as strings)");
        } else if (args.len > SBX_HOST_MAX_ARGS) {
            out = kv_reject(c, rej, p, "RangeError", "host: arguments exceed 1 MiB");
        } else {
            sbx_buf_t extra = {0};
            sbx_buf_cstr(&extra, ",\"svc\":");
            sbx_buf_jstr(&extra, svc.p ? svc.p : "", svc.len);
            /* kv_send with op 'h' frames {t:"kv"}; host frames need their own type */
            out = host_send(c, p, res, rej, extra.p, args.p, args.len);
            sbx_buf_free(&extra);
        }
    }
    sbx_buf_free(&svc);
    sbx_buf_free(&args);
    return out;
}

/* Settles the KV request a kv_r frame answers. */
static void kv_reply(sbx_inv_t *inv, ipc_msg_t *m) {
    json_int_t rid = json_integer_value(json_object_get(m->header, "rid"));
    size_t k = 0;
    while (k < inv->nkv && inv->kv[k].rid != (uint32_t)rid)
        k++;
    if (k == inv->nkv) {
        log_warn("kv_r for unknown rid %lld", (long long)rid);
        return;
    }
    sbx_kvreq_t r = inv->kv[k];
    inv->kv[k] = inv->kv[--inv->nkv];
    JSContextRef c = inv->ctx;
    JSValueRef v;
    JSObjectRef target = r.resolve;
    if (r.op == 'h') {
        v = host_settle(c, m, &target, &r);
    } else if (!json_is_true(json_object_get(m->header, "ok"))) {
        const char *e = json_string_value(json_object_get(m->header, "error"));
        char msg[600];
        snprintf(msg, sizeof msg, "kv: %s", e ? e : "request failed");
        v = js_error(c, "Error", msg);
        target = r.reject;
    } else if (r.op == 'g') {
        bool found = json_is_true(json_object_get(m->header, "found"));
        v = found ? js_strn(c, m->payload ? m->payload : "", m->payload_len) : JSValueMakeNull(c);
    } else if (r.op == 'l') {
        JSStringRef s = JSStringCreateWithUTF8CString(m->payload ? m->payload : "[]");
        v = JSValueMakeFromJSONString(c, s);
        JSStringRelease(s);
        if (!v) v = JSObjectMakeArray(c, 0, NULL, NULL);
    } else {
        v = JSValueMakeUndefined(c);
    }
    JSValueRef exc = NULL;
    JSObjectCallAsFunction(c, target, NULL, 1, &v, &exc);
    JSValueUnprotect(c, r.resolve);
    JSValueUnprotect(c, r.reject);
}

static void kv_drop(sbx_inv_t *inv) {
    for (size_t k = 0; k < inv->nkv; k++) {
        JSValueUnprotect(inv->ctx, inv->kv[k].resolve);
        JSValueUnprotect(inv->ctx, inv->kv[k].reject);
    }
    inv->nkv = 0;
}

/* ---- contexts ---- */

/* Evaluated once per context (parsed once per process). Returns the internal helpers;
 * primordials are captured so user code replacing Promise or Object cannot redirect
 * the platform's own calls. */
static const char bootstrap_src[] =
    "(function (settle, chainLoad, host) {\n"
    "  'use strict';\n"
    "  const defineProperty = Object.defineProperty, facs = {};\n"
    "  const chainApi = (kind, secrets) => {\n"
    "    let f = facs[kind];\n"
    "    if (f === undefined) f = facs[kind] = chainLoad(kind);\n"
    "    return f.make(host, secrets, f.prims);\n"
    "  };\n"
    "  const P = Promise, then = P.prototype.then, presolve = P.resolve;\n"
    "  const freeze = Object.freeze, TE = TypeError;\n"
    "  if (typeof globalThis.queueMicrotask !== 'function') {\n"
    "    Object.defineProperty(globalThis, 'queueMicrotask', { writable: true, configurable: "
    "true,\n"
    "      value: function queueMicrotask(cb) {\n"
    "        if (typeof cb !== 'function') throw new TE('queueMicrotask: callback must be a "
    "function');\n"
    "        then.call(presolve.call(P), () => { cb(); });\n"
    "      } });\n"
    "  }\n"
    "  return {\n"
    "    run(h, ev, name, ver, id, env, kv, secrets) {\n"
    "      const ctx = { functionName: name, version: ver, executionId: id, env: env, kv: kv,\n"
    "                    secrets: secrets };\n"
    "      for (const kind of ['eth', 'neo']) {\n"
    "        let api;\n"
    "        defineProperty(ctx, kind, { enumerable: true, configurable: true,\n"
    "          get() { return api === undefined ? (api = chainApi(kind, secrets)) : api; } });\n"
    "      }\n"
    "      let r;\n"
    "      try { r = h(ev, ctx); } catch (e) { settle(false, e); return; }\n"
    "      if (r !== null && (typeof r === 'object' || typeof r === 'function')) {\n"
    "        let t;\n"
    "        try { t = r.then; } catch (e) { settle(false, e); return; }\n"
    "        if (typeof t === 'function') {\n"
    "          then.call(presolve.call(P, r), (v) => settle(true, v), (e) => settle(false, e));\n"
    "          return;\n"
    "        }\n"
    "      }\n"
    "      settle(true, r);\n"
    "    },\n"
    "    load(wrapper) {\n"
    "      const module = { exports: {} }, holder = {};\n"
    "      const pick = () => {\n"
    "        const m = module.exports;\n"
    "        let h = holder.v;\n"
    "        if (h === undefined) {\n"
    "          if (typeof m === 'function') h = m;\n"
    "          else if (m && typeof m.default === 'function') h = m.default;\n"
    "          else if (m && typeof m.handler === 'function') h = m.handler;\n"
    "        }\n"
    "        if (typeof h !== 'function') throw new TE('the module must export a function: "
    "`export default async function (event, ctx) {…}` or `module.exports = async (event, ctx) "
    "=> {…}`');\n"
    "        settle(true, h);\n"
    "      };\n"
    "      let p;\n"
    "      try { p = wrapper.call(module.exports, module, module.exports, holder); }\n"
    "      catch (e) { settle(false, e); return; }\n"
    "      then.call(p, () => { try { pick(); } catch (e) { settle(false, e); } },\n"
    "                (e) => settle(false, e));\n"
    "    },\n"
    "    freeze(o) { return freeze(o); },\n"
    "  };\n"
    "})";

static void install_natives(JSContextRef c, JSObjectRef global) {
    const JSPropertyAttributes hidden = kJSPropertyAttributeDontEnum;
    JSObjectRef con = JSObjectMake(c, NULL, NULL);
    js_set(c, con, "log", js_fn(c, "log", console_log), hidden);
    js_set(c, con, "info", js_fn(c, "info", console_info), hidden);
    js_set(c, con, "warn", js_fn(c, "warn", console_warn), hidden);
    js_set(c, con, "error", js_fn(c, "error", console_error), hidden);
    js_set(c, con, "debug", js_fn(c, "debug", console_debug), hidden);
    js_set(c, con, "trace", js_fn(c, "trace", console_debug), hidden);
    js_set(c, global, "console", con, hidden);
    js_set(c, global, "setTimeout", js_fn(c, "setTimeout", js_set_timeout), hidden);
    js_set(c, global, "setInterval", js_fn(c, "setInterval", js_set_interval), hidden);
    js_set(c, global, "clearTimeout", js_fn(c, "clearTimeout", js_clear_timer), hidden);
    js_set(c, global, "clearInterval", js_fn(c, "clearInterval", js_clear_timer), hidden);
}

static JSObjectRef make_kv(JSContextRef c) {
    const JSPropertyAttributes ro = kJSPropertyAttributeReadOnly | kJSPropertyAttributeDontDelete;
    JSObjectRef kv = JSObjectMake(c, NULL, NULL);
    js_set(c, kv, "get", js_fn(c, "get", kv_get), ro);
    js_set(c, kv, "put", js_fn(c, "put", kv_put), ro);
    js_set(c, kv, "delete", js_fn(c, "delete", kv_delete), ro);
    js_set(c, kv, "list", js_fn(c, "list", kv_list), ro);
    return kv;
}

static void outcome_fill(sbx_inv_t *inv);
static void event_loop(sbx_inv_t *inv);
static void timers_drop(sbx_inv_t *inv);
static void kv_drop(sbx_inv_t *inv);

/* Records an exception as the invocation's outcome (unless a limit killed it). */
static void fail_with(sbx_inv_t *inv, JSContextRef c, JSValueRef exc) {
    if (inv->kill == KILL_NONE) settle_error(inv, c, exc);
}

static void protect(JSContextRef c, JSObjectRef *slot, JSValueRef v) {
    *slot = (JSObjectRef)v;
    JSValueProtect(c, v);
}

static JSValueRef js_noop(JSContextRef c, JSObjectRef f, JSObjectRef t, size_t argc,
                          const JSValueRef argv[], JSValueRef *exc) {
    (void)f, (void)t, (void)argc, (void)argv, (void)exc;
    return JSValueMakeUndefined(c);
}

/* Unhandled rejections of promises other than the handler's own (fire-and-forget work)
 * do not fail the invocation; they are logged like node's warning. */
static JSValueRef js_unhandled(JSContextRef c, JSObjectRef f, JSObjectRef t, size_t argc,
                               const JSValueRef argv[], JSValueRef *exc) {
    (void)f, (void)t, (void)exc;
    sbx_inv_t *inv = &S.inv;
    if (!inv->active || argc < 2) return JSValueMakeUndefined(c);
    sbx_buf_t m = {0};
    sbx_buf_cstr(&m, "Unhandled promise rejection: ");
    format_value(&m, c, argv[1], inv->prefix_cols);
    log_append(inv, "error", m.p, m.len);
    sbx_buf_free(&m);
    return JSValueMakeUndefined(c);
}

/* `r3e` (the chain helpers r3e.eth and r3e.neo) is installed on first use: most functions
 * never touch it, and evaluating both JS layers eagerly would tax every cold start and
 * every warm instance's memory. The global starts as a configurable accessor whose getter
 * replaces itself with the real object. */
static JSValueRef js_r3e_install(JSContextRef c, JSObjectRef f, JSObjectRef t, size_t argc,
                                 const JSValueRef argv[], JSValueRef *exc) {
    (void)f, (void)t, (void)argc, (void)argv, (void)exc;
    JSGlobalContextRef g = JSContextGetGlobalContext(c);
    eth_js_install(g);
    neo_js_install(g);
    return JSValueMakeUndefined(c);
}

/* chainLoad(kind) -> {make, prims}: evaluates the ctx.eth / ctx.neo layer
 * (src/runtime/chain_<kind>.js) once per context, with a private copy of the r3e.eth /
 * r3e.neo primitives that user code cannot replace. */
extern const char r3e_js_chain_eth[], r3e_js_chain_neo[];
static JSValueRef js_chain_load(JSContextRef c, JSObjectRef f, JSObjectRef t, size_t argc,
                                const JSValueRef argv[], JSValueRef *exc) {
    (void)f, (void)t;
    sbx_buf_t kind = {0};
    if (argc > 0) buf_value_string(&kind, c, argv[0]);
    bool eth = kind.p && strcmp(kind.p, "eth") == 0;
    sbx_buf_free(&kind);
    JSGlobalContextRef g = JSContextGetGlobalContext(c);
    JSValueRef prims = eth ? eth_js_make(g) : neo_js_make(g);
    JSStringRef src = JSStringCreateWithUTF8CString(eth ? r3e_js_chain_eth : r3e_js_chain_neo);
    JSStringRef url = JSStringCreateWithUTF8CString(eth ? "r3e:chain_eth.js" : "r3e:chain_neo.js");
    JSValueRef make = JSEvaluateScript(c, src, NULL, url, 1, exc);
    JSStringRelease(src);
    JSStringRelease(url);
    if (!make || !prims || !JSValueIsObject(c, make))
        return *exc ? NULL : js_throw(c, exc, "Error", "the chain API failed to load");
    JSObjectRef o = JSObjectMake(c, NULL, NULL);
    js_set(c, o, "make", make, 0);
    js_set(c, o, "prims", prims, 0);
    return o;
}

static void install_chain_lazy(JSContextRef c) {
    static const char src[] =
        "(function (install) {\n"
        "  const G = globalThis;\n"
        "  Object.defineProperty(G, 'r3e', { configurable: true, enumerable: false,\n"
        "    get() { delete G.r3e; install(); return G.r3e; },\n"
        "    set(v) { Object.defineProperty(G, 'r3e', { value: v, writable: true,\n"
        "      configurable: true, enumerable: false }); } });\n"
        "})";
    JSStringRef s = JSStringCreateWithUTF8CString(src);
    JSValueRef exc = NULL;
    JSValueRef fn = JSEvaluateScript(c, s, NULL, NULL, 1, &exc);
    JSStringRelease(s);
    JSValueRef installer = js_fn(c, "install", js_r3e_install);
    if (!fn || !JSValueIsObject(c, fn) ||
        !JSObjectCallAsFunction(c, (JSObjectRef)fn, NULL, 1, &installer, &exc))
        abort(); /* a bug in the snippet above */
}

/* A context with every global installed but no user code yet: the expensive part of a
 * cold start, so the worker prepares one ahead of time (sbx_prewarm). */
static sbx_ctx_t *ctx_blank(void) {
    sbx_ctx_t *x = calloc(1, sizeof *x);
    if (!x) abort();
    x->ctx = JSGlobalContextCreateInGroup(S.group, NULL);
    JSContextRef c = x->ctx;
    webapi_install(S.web, x->ctx);
    install_chain_lazy(c);
    install_natives(c, JSContextGetGlobalObject(c));
    JSGlobalContextSetUnhandledRejectionCallback(x->ctx, js_fn(c, "onrejection", js_unhandled),
                                                 NULL);
    JSValueRef exc = NULL;
    JSValueRef boot = JSScriptEvaluate(c, S.bootstrap, NULL, &exc);
    JSValueRef bargs[3] = {js_fn(c, "settle", js_settle), js_fn(c, "chainLoad", js_chain_load),
                           js_fn(c, "host", js_host)};
    JSValueRef helpers =
        boot ? JSObjectCallAsFunction(c, (JSObjectRef)boot, NULL, 3, bargs, &exc) : NULL;
    if (!helpers || !JSValueIsObject(c, helpers)) abort(); /* a bug in bootstrap_src */
    protect(c, &x->run, js_get(c, (JSObjectRef)helpers, "run"));
    protect(c, &x->freeze, js_get(c, (JSObjectRef)helpers, "freeze"));
    protect(c, &x->load, js_get(c, (JSObjectRef)helpers, "load"));
    protect(c, &x->kv, make_kv(c));
    return x;
}

void sbx_prewarm(void) {
    if (!S.spare) S.spare = ctx_blank();
}

/* Opens the web-API bracket once per invocation, before any user code runs in ctx. */
static void web_begin(sbx_inv_t *inv, JSGlobalContextRef ctx) {
    if (inv->web_ctx == ctx) return;
    if (inv->web_ctx) webapi_end(S.web);
    /* rounded up: fetches must not be cut before the invocation's own deadline */
    long left_ms = (long)(((int64_t)inv->lim.deadline_us - (int64_t)util_now_us() + 999) / 1000);
    webapi_begin(S.web, ctx, inv->lim.max_fetches, inv->lim.max_fetch_bytes,
                 left_ms > 0 ? left_ms : 1);
    inv->web_ctx = ctx;
}

static void web_end(sbx_inv_t *inv) {
    if (!inv->web_ctx) return;
    webapi_end(S.web);
    inv->web_ctx = NULL;
}

sbx_ctx_t *sbx_ctx_create(JSScriptRef script, size_t prefix_cols) {
    sbx_inv_t *inv = &S.inv;
    sbx_ctx_t *x = S.spare ? S.spare : ctx_blank();
    S.spare = NULL;
    JSContextRef c = x->ctx;
    x->prefix_cols = prefix_cols;
    inv->ctx = x->ctx;
    inv->prefix_cols = prefix_cols;
    web_begin(inv, x->ctx); /* module top-level code may fetch too */
    /* The wrapper is an async function (top-level await): load settles with the handler
     * once the module body finished, driven by the event loop like an invocation. */
    JSValueRef exc = NULL;
    JSValueRef wrapper = JSScriptEvaluate(c, script, NULL, &exc);
    if (wrapper) JSObjectCallAsFunction(c, x->load, NULL, 1, &wrapper, &exc);
    if (exc) fail_with(inv, c, exc);
    if (!exc) event_loop(inv);
    if (inv->kill != KILL_NONE || !inv->settled || !inv->ok) {
        if (!inv->settled && inv->kill == KILL_NONE)
            fail_with(inv, c, js_error(c, "Error", "loading the module failed"));
        outcome_fill(inv); /* needs the context alive to read the exception */
        timers_drop(inv);
        kv_drop(inv);
        web_end(inv);
        if (inv->value) JSValueUnprotect(c, inv->value);
        inv->value = NULL;
        inv->ctx = NULL;
        sbx_ctx_destroy(x);
        return NULL;
    }
    x->handler = (JSObjectRef)inv->value; /* keeps settle's protection */
    inv->value = NULL;
    inv->settled = inv->ok = false;
    return x;
}

void sbx_ctx_destroy(sbx_ctx_t *x) {
    if (!x) return;
    JSContextRef c = x->ctx;
    JSObjectRef *slots[] = {&x->run, &x->freeze, &x->load, &x->handler, &x->kv};
    for (size_t k = 0; k < sizeof slots / sizeof *slots; k++)
        if (*slots[k]) JSValueUnprotect(c, *slots[k]);
    if (x->env) JSValueUnprotect(c, x->env);
    json_decref(x->env_src);
    if (S.inv.ctx == x->ctx && !S.inv.active) S.inv.ctx = NULL;
    /* The engine roots the rejection callback, and the callback roots its own global
     * object: swap in a function of a long-lived context or the context never dies. */
    JSGlobalContextSetUnhandledRejectionCallback(x->ctx, S.detached_cb, NULL);
    JSGlobalContextRelease(x->ctx);
    free(x);
}

/* The frozen env object for this context; rebuilt only when the env changed. */
static JSValueRef ctx_env(sbx_ctx_t *x, json_t *env) {
    JSContextRef c = x->ctx;
    if (x->env && (env == x->env_src || json_equal(env, x->env_src))) return x->env;
    if (x->env) JSValueUnprotect(c, x->env);
    json_decref(x->env_src);
    x->env = NULL;
    x->env_src = NULL;
    JSValueRef obj = NULL;
    char *text = env && json_is_object(env) ? json_dumps(env, JSON_COMPACT) : NULL;
    if (text) {
        JSStringRef s = JSStringCreateWithUTF8CString(text);
        obj = JSValueMakeFromJSONString(c, s);
        JSStringRelease(s);
        free(text);
    }
    if (!obj) obj = JSObjectMake(c, NULL, NULL);
    JSValueRef frozen = JSObjectCallAsFunction(c, x->freeze, NULL, 1, &obj, NULL);
    x->env = frozen ? frozen : obj;
    JSValueProtect(c, x->env);
    x->env_src = json_incref(env);
    return x->env;
}

/* ---- invocation ---- */

void sbx_init(JSContextGroupRef group, webapi_env_t *web, int fd) {
    S.group = group;
    S.web = web;
    S.fd = fd;
    S.page = sysconf(_SC_PAGESIZE);
    S.statm_fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    S.user_url = JSStringCreateWithUTF8CString(SBX_USER_URL);
    JSStringRef src = JSStringCreateWithUTF8CString(bootstrap_src);
    JSStringRef url = JSStringCreateWithUTF8CString(SBX_INTERNAL_URL);
    S.bootstrap = JSScriptCreateFromString(group, url, 1, src, NULL, NULL);
    JSStringRelease(src);
    JSStringRelease(url);
    if (!S.bootstrap) abort(); /* a bug in bootstrap_src */
    JSContextGroupSetExecutionTimeLimit(group, SBX_WATCHDOG_S, watchdog, NULL);
    S.home = JSGlobalContextCreateInGroup(group, NULL);
    S.detached_cb = js_fn(S.home, "detached", js_noop);
    JSValueProtect(S.home, S.detached_cb);
}

void sbx_begin(const sbx_limits_t *lim, sbx_outcome_t *out) {
    sbx_inv_t *inv = &S.inv;
    inv->lim = *lim;
    inv->out = out;
    out->status = SBX_OK;
    out->error.len = out->result.len = out->logs.len = 0;
    out->logs_truncated = false;
    sbx_buf_put(&out->logs, "[", 1);
    inv->kill = KILL_NONE;
    inv->settled = inv->ok = false;
    inv->value = NULL;
    inv->log_bytes = 0;
    inv->nlogs = 0;
    inv->next_timer_id = 0;
    inv->nhost = 0;
    inv->rss_base = sbx_rss_bytes();
    inv->active = true;
}

/* Reads and dispatches one frame from the server during an invocation. */
static void on_frame(sbx_inv_t *inv) {
    ipc_msg_t m;
    int r = ipc_recv(S.fd, &m, 5000);
    if (r == 0) _exit(0); /* the server is gone: nothing to report to */
    if (r < 0) {
        log_error("worker: reading from the server failed: %s", strerror(errno));
        _exit(1);
    }
    if (strcmp(ipc_type(&m), "kv_r") == 0 || strcmp(ipc_type(&m), "host_r") == 0)
        kv_reply(inv, &m);
    else
        log_warn("worker: unexpected '%s' frame during an invocation", ipc_type(&m));
    ipc_msg_free(&m);
}

/* Drives timers, fetches and KV replies until the result settles or a limit hits. */
static void event_loop(sbx_inv_t *inv) {
    while (!inv->settled && inv->kill == KILL_NONE) {
        uint64_t now = util_now_us();
        if (now >= inv->lim.deadline_us) {
            inv->kill = KILL_TIMEOUT;
            break;
        }
        if (over_memory(inv)) {
            inv->kill = KILL_MEMORY;
            break;
        }
        if (timer_fire_due(inv)) continue;
        long k = timer_next(inv);
        if (k < 0 && inv->nkv == 0 && webapi_pending(S.web) == 0) {
            JSValueRef e = js_error(inv->ctx, "Error",
                                    "the function's promise never settled (nothing was "
                                    "pending: no timers, fetches or KV requests)");
            settle_error(inv, inv->ctx, e);
            break;
        }
        uint64_t until = inv->lim.deadline_us;
        if (k >= 0 && inv->timers[k].when_us < until) until = inv->timers[k].when_us;
        int wait_ms = until > now ? (int)((until - now + 999) / 1000) : 0;
        if (webapi_wait(S.web, S.fd, wait_ms) == 1) on_frame(inv);
    }
}

/* Error JSON {name,message,stack} for an exception value. */
static void error_json(sbx_buf_t *b, JSContextRef c, JSValueRef exc, size_t prefix_cols) {
    sbx_buf_t name = {0}, msg = {0}, stack = {0};
    if (JSValueIsObject(c, exc) && is_error_like(c, (JSObjectRef)exc)) {
        JSObjectRef o = (JSObjectRef)exc;
        JSValueRef nv = js_get(c, o, "name"), mv = js_get(c, o, "message");
        if (!nv || JSValueIsUndefined(c, nv) || !buf_value_string(&name, c, nv))
            sbx_buf_cstr(&name, "Error");
        if (mv && !JSValueIsUndefined(c, mv)) buf_value_string(&msg, c, mv);
        error_head(&stack, c, o);
        sbx_buf_t raw = {0};
        if (buf_value_string(&raw, c, js_get(c, o, "stack")) && raw.p)
            stack_clean(&stack, raw.p, prefix_cols);
        sbx_buf_free(&raw);
    } else {
        /* throw "x", throw {code: 1}: report the value itself, there is no stack */
        sbx_buf_cstr(&name, "Error");
        format_value(&msg, c, exc, prefix_cols);
        sbx_buf_cstr(&stack, "Uncaught ");
        if (msg.p) sbx_buf_put(&stack, msg.p, msg.len);
    }
    sbx_buf_cstr(b, "{\"name\":");
    sbx_buf_jstr(b, name.p ? name.p : "", name.len);
    sbx_buf_cstr(b, ",\"message\":");
    sbx_buf_jstr(b, msg.p ? msg.p : "", msg.len);
    sbx_buf_cstr(b, ",\"stack\":");
    sbx_buf_jstr(b, stack.p ? stack.p : "", stack.len);
    sbx_buf_put(b, "}", 1);
    sbx_buf_free(&name);
    sbx_buf_free(&msg);
    sbx_buf_free(&stack);
}

static void error_plain(sbx_buf_t *b, const char *name, const char *msg) {
    b->len = 0;
    sbx_buf_cstr(b, "{\"name\":");
    sbx_buf_jstr(b, name, strlen(name));
    sbx_buf_cstr(b, ",\"message\":");
    sbx_buf_jstr(b, msg, strlen(msg));
    sbx_buf_cstr(b, ",\"stack\":\"\"}");
}

/* Serialises the settled value, enforcing max_result_bytes. */
static void outcome_result(sbx_inv_t *inv, JSContextRef c) {
    sbx_outcome_t *out = inv->out;
    JSValueRef exc = NULL;
    JSStringRef json = JSValueCreateJSONString(c, inv->value, 0, &exc);
    if (exc) {
        out->status = SBX_ERROR;
        sbx_buf_t m = {0};
        sbx_buf_cstr(&m, "the result is not JSON-serialisable: ");
        format_value(&m, c, exc, inv->prefix_cols);
        error_plain(&out->error, "TypeError", m.p);
        sbx_buf_free(&m);
        return;
    }
    if (!json) {
        sbx_buf_put(&out->result, "null", 4); /* undefined, functions, symbols */
        return;
    }
    buf_jsstring(&out->result, json);
    JSStringRelease(json);
    if (out->result.len > inv->lim.max_result_bytes) {
        char m[200];
        snprintf(m, sizeof m, "the result is %zu bytes, over the limit of %zu bytes",
                 out->result.len, inv->lim.max_result_bytes);
        out->status = SBX_ERROR;
        out->result.len = 0;
        error_plain(&out->error, "RangeError", m);
    }
}

/* Maps the invocation's end state into the outcome. */
static void outcome_fill(sbx_inv_t *inv) {
    sbx_outcome_t *out = inv->out;
    char m[200];
    if (inv->kill == KILL_TIMEOUT) {
        out->status = SBX_TIMEOUT;
        snprintf(m, sizeof m, "the function exceeded its time limit of %d ms", inv->lim.timeout_ms);
        error_plain(&out->error, "TimeoutError", m);
    } else if (inv->kill == KILL_MEMORY) {
        out->status = SBX_MEMORY;
        snprintf(m, sizeof m, "the function exceeded its memory limit of %d MB",
                 inv->lim.memory_mb);
        error_plain(&out->error, "MemoryLimitError", m);
    } else if (!inv->settled) {
        out->status = SBX_ERROR;
        error_plain(&out->error, "Error", "the function did not complete");
    } else if (!inv->ok) {
        out->status = SBX_ERROR;
        error_json(&out->error, inv->ctx, inv->value, inv->prefix_cols);
    } else {
        outcome_result(inv, inv->ctx);
    }
}

/* This invocation's secrets (worker.c sets them from the invoke frame, sbx_end forgets
 * them): never kept in a context beyond the invocation. */
static json_t *sbx_secrets;

void sbx_set_secrets(json_t *secrets) {
    sbx_secrets = secrets;
}

/* A frozen object of the invocation's secrets; the JSON text is wiped after parsing. */
static JSValueRef secrets_object(sbx_ctx_t *x) {
    JSContextRef c = x->ctx;
    JSValueRef obj = NULL;
    if (json_is_object(sbx_secrets) && json_object_size(sbx_secrets) > 0) {
        char *text = json_dumps(sbx_secrets, JSON_COMPACT);
        if (text) {
            JSStringRef s = JSStringCreateWithUTF8CString(text);
            obj = JSValueMakeFromJSONString(c, s);
            JSStringRelease(s);
            explicit_bzero(text, strlen(text));
            free(text);
        }
    }
    if (!obj) obj = JSObjectMake(c, NULL, NULL);
    JSValueRef frozen = JSObjectCallAsFunction(c, x->freeze, NULL, 1, &obj, NULL);
    return frozen ? frozen : obj;
}

void sbx_run(sbx_ctx_t *x, const char *event_json, const char *fn, const char *version_json,
             const char *exec_id, json_t *env) {
    sbx_inv_t *inv = &S.inv;
    JSContextRef c = x->ctx;
    inv->ctx = x->ctx;
    inv->prefix_cols = x->prefix_cols;
    web_begin(inv, x->ctx);
    JSValueRef args[8];
    args[0] = x->handler;
    JSStringRef ev = JSStringCreateWithUTF8CString(event_json && *event_json ? event_json : "null");
    args[1] = JSValueMakeFromJSONString(c, ev);
    JSStringRelease(ev);
    if (!args[1]) args[1] = JSValueMakeNull(c);
    args[2] = js_str(c, fn);
    JSStringRef vs = JSStringCreateWithUTF8CString(version_json);
    args[3] = JSValueMakeFromJSONString(c, vs);
    JSStringRelease(vs);
    if (!args[3]) args[3] = JSValueMakeNull(c);
    args[4] = js_str(c, exec_id);
    args[5] = ctx_env(x, env);
    args[6] = x->kv;
    args[7] = secrets_object(x);
    JSValueRef exc = NULL;
    JSObjectCallAsFunction(c, x->run, NULL, 8, args, &exc);
    if (exc) fail_with(inv, c, exc);
    event_loop(inv);
    web_end(inv);
    outcome_fill(inv);
}

void sbx_end(void) {
    sbx_inv_t *inv = &S.inv;
    web_end(inv);
    if (inv->ctx) {
        timers_drop(inv);
        kv_drop(inv);
        if (inv->value) JSValueUnprotect(inv->ctx, inv->value);
    }
    inv->value = NULL;
    sbx_secrets = NULL;
    sbx_buf_put(&inv->out->logs, "]", 1);
    inv->active = false;
    inv->ctx = NULL;
}

/* ---- syntax check ---- */

static bool eof_like(const char *msg) {
    return strstr(msg, "end of script") || strstr(msg, "EOF") || strstr(msg, "not closed") ||
           strstr(msg, "Unterminated") || strstr(msg, "nterminated");
}

/* Parses code[0..len) and returns 1 when valid, else 0 with message and line. */
static int check_once(const char *code, char *msg, size_t msglen, int *line) {
    JSStringRef s = JSStringCreateWithUTF8CString(code);
    JSValueRef exc = NULL;
    bool ok = JSCheckScriptSyntax(S.check_ctx, s, S.user_url, 1, &exc);
    JSStringRelease(s);
    if (ok) return 1;
    *line = 0;
    msg[0] = '\0';
    if (exc && JSValueIsObject(S.check_ctx, exc)) {
        JSValueRef l = js_get(S.check_ctx, (JSObjectRef)exc, "line");
        if (l && JSValueIsNumber(S.check_ctx, l))
            *line = (int)JSValueToNumber(S.check_ctx, l, NULL);
        sbx_buf_t b = {0};
        JSValueRef mv = js_get(S.check_ctx, (JSObjectRef)exc, "message");
        if (mv) buf_value_string(&b, S.check_ctx, mv);
        snprintf(msg, msglen, "%s", b.p ? b.p : "syntax error");
        sbx_buf_free(&b);
    }
    return 0;
}

/* JSC reports a syntax error's line but not its column. The column is recovered by
 * bisecting the error line: the shortest prefix of the program that already fails on that
 * line with a non-end-of-input error ends at the offending token. Bounded (a few dozen
 * parses of at most the program). Falls back to the line's first non-blank column. */
static int syntax_column(char *code, size_t len, size_t skip, int line) {
    size_t ls = 0;
    int cur = 1;
    for (size_t k = 0; k < len && cur < line; k++)
        if (code[k] == '\n') cur++, ls = k + 1;
    size_t le = ls;
    while (le < len && code[le] != '\n')
        le++;
    size_t lo = ls < skip && skip <= le ? skip : ls; /* never cut inside the wrapper */
    size_t first = lo;
    while (first < le && (code[first] == ' ' || code[first] == '\t'))
        first++;
    int fallback = (int)(first - ls) + 1;
    if (len > (8u << 20)) return fallback;
    char msg[256];
    int l;
    size_t hi = le;
    char saved = code[hi];
    code[hi] = '\0';
    int ok = check_once(code, msg, sizeof msg, &l);
    code[hi] = saved;
    if (ok || l != line || eof_like(msg)) return fallback;
    /* invariant: the prefix ending at hi fails on the line, the one ending at lo does not */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        saved = code[mid];
        code[mid] = '\0';
        ok = check_once(code, msg, sizeof msg, &l);
        code[mid] = saved;
        if (!ok && l == line && !eof_like(msg))
            hi = mid;
        else
            lo = mid;
    }
    return (int)(hi - ls); /* 1-based column of the last char of the failing prefix */
}

/* The wrapped source parses as a script even when user code closes the wrapper function
 * early ("}); evil(); (function(){"), which would run code outside the module scope. The
 * body is therefore parsed once more on its own, as an async function body (the dynamic
 * function constructor parses the body separately, so it cannot escape). Nothing runs:
 * constructing the function only parses it. Returns 1 when the body stands on its own. */
static int check_body_alone(const char *code, size_t len, size_t skip, char *msg, size_t msglen,
                            int *line, int *column) {
    JSContextRef c = S.check_ctx;
    if (len < skip + 2) return 1;
    static const char getctor[] = "Object.getPrototypeOf(async function () {}).constructor";
    JSStringRef gs = JSStringCreateWithUTF8CString(getctor);
    JSValueRef ctor = JSEvaluateScript(c, gs, NULL, NULL, 1, NULL);
    JSStringRelease(gs);
    if (!ctor || !JSValueIsObject(c, ctor)) return 1;
    /* body = everything between the wrapper's "{" and its closing "})" */
    size_t blen = len - skip - 2;
    char *body = malloc(blen + 1);
    if (!body) return 1;
    memcpy(body, code + skip, blen);
    body[blen] = '\0';
    const char *names[4] = {"module", "exports", "__r3e_d", body};
    JSValueRef args[4];
    for (int i = 0; i < 4; i++) {
        JSStringRef a = JSStringCreateWithUTF8CString(names[i]);
        args[i] = JSValueMakeString(c, a);
        JSStringRelease(a);
    }
    free(body);
    JSValueRef exc = NULL;
    JSObjectCallAsConstructor(c, (JSObjectRef)ctor, 4, args, &exc);
    if (!exc) return 1;
    int l = 0;
    if (JSValueIsObject(c, exc)) {
        JSValueRef lv = js_get(c, (JSObjectRef)exc, "line");
        if (lv && JSValueIsNumber(c, lv)) l = (int)JSValueToNumber(c, lv, NULL) - 2;
    }
    /* the dynamic-function prologue adds two lines; report in wrapped-source lines */
    *line = l > 0 ? l : 1;
    *column = 1;
    snprintf(msg, msglen, "Unexpected token '}': the code closes its module scope early");
    return 0;
}

int sbx_check_syntax(char *code, size_t len, size_t skip, char *msg, size_t msglen, int *line,
                     int *column) {
    if (!S.check_ctx) S.check_ctx = JSGlobalContextCreateInGroup(S.group, NULL);
    if (check_once(code, msg, msglen, line))
        return check_body_alone(code, len, skip, msg, msglen, line, column);
    *column = *line > 0 ? syntax_column(code, len, skip, *line) : 0;
    return 0;
}
