/* The worker process (`r3e __worker --fd N`): one JavaScriptCore VM, a cache of parsed
 * code by hash, an LRU of warm contexts per function version, and the protocol loop of
 * ipc.h. The JavaScript side (globals, event loop, outcome) lives in sandbox.c.
 *
 * Crash containment: a native allocation can blow past any periodic memory check, so
 * RLIMIT_DATA bounds the process per invocation (not under AddressSanitizer, whose shadow
 * mappings count against it). Measured here: JavaScriptCore reserves its heaps and
 * Gigacage up front (VmData ≈ 70 GB after start), so most JS and ArrayBuffer memory never
 * meets that limit and the RSS check in sandbox.c is the main guard; allocations outside
 * those reservations that fail under the limit end in WTFCrash, i.e. SIGILL (ud2). A
 * signal handler on an alternate stack then writes a best-effort "fatal" frame so the
 * server can report memory_limit, and the default action ends the process. */
#include "runtime/worker.h"

#include "core/util.h"
#include "obs/log.h"
#include "runtime/ipc.h"
#include "runtime/jsc_private.h"
#include "runtime/module.h"
#include "runtime/runtime.h"
#include "runtime/sandbox.h"
#include "runtime/webapi.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define WORKER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define WORKER_ASAN 1
#endif
#endif

#define WORKER_CODE_CACHE 128
#define WORKER_CODE_WAIT_MS 30000
#define WORKER_DATA_SLACK (64u << 20)
#define WORKER_MAX_RSS_MB 2048 /* default for R3E_WORKER_MAX_RSS_MB */

/* A parsed function version, shared by every context made from it. */
typedef struct code {
    struct code *prev, *next;
    char hash[65];
    JSScriptRef script;
    size_t prefix_cols;
} code_t;

/* A warm context, keyed by hash + function + version. */
typedef struct warm {
    struct warm *prev, *next;
    char *key;
    sbx_ctx_t *ctx;
} warm_t;

typedef struct {
    void *head, *tail; /* code_t or warm_t; both start with prev/next */
    size_t n;
} lru_t;

typedef struct node {
    struct node *prev, *next;
} node_t;

static struct {
    int fd;
    JSContextGroupRef group;
    webapi_env_t *web;
    lru_t codes, warm;
    size_t warm_max;
    size_t max_rss; /* recycle once RSS passes this (bytes) */
    sbx_outcome_t out;
    volatile sig_atomic_t sending, invoking, rlimit_armed;
    struct sigaction old_act[32];
} W = {.fd = -1};

/* ---- LRU lists (most recent at head) ---- */

static void lru_unlink(lru_t *l, node_t *n) {
    if (n->prev)
        n->prev->next = n->next;
    else
        l->head = n->next;
    if (n->next)
        n->next->prev = n->prev;
    else
        l->tail = n->prev;
    n->prev = n->next = NULL;
    l->n--;
}

static void lru_push(lru_t *l, node_t *n) {
    n->prev = NULL;
    n->next = l->head;
    if (l->head) ((node_t *)l->head)->prev = n;
    l->head = n;
    if (!l->tail) l->tail = n;
    l->n++;
}

static void lru_touch(lru_t *l, node_t *n) {
    if (l->head == n) return;
    lru_unlink(l, n);
    lru_push(l, n);
}

/* ---- frames ---- */

static int send_raw(const char *h, size_t hl, const void *p, size_t pl) {
    W.sending = 1;
    int rc = ipc_send_raw(W.fd, h, hl, p, pl);
    W.sending = 0;
    if (rc < 0 && errno == EPIPE) _exit(0); /* server gone */
    return rc;
}

/* ---- fatal signals ---- */

static size_t fmt_uint(char *o, unsigned v) {
    char tmp[12];
    size_t n = 0;
    do
        tmp[n++] = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    for (size_t k = 0; k < n; k++)
        o[k] = tmp[n - 1 - k];
    return n;
}

/* Async-signal-safe: only write(2), sigaction(2), raise(3) and stack buffers. */
static void on_fatal(int sig, siginfo_t *si, void *uc) {
    (void)uc;
    int saved = errno;
    if (!W.sending && W.fd >= 0) {
        bool memory =
            saved == ENOMEM || (W.rlimit_armed && W.invoking && sig != SIGSEGV && sig != SIGBUS);
        char h[160];
        size_t n = 0;
        static const char a[] = "{\"t\":\"fatal\",\"signal\":";
        memcpy(h, a, sizeof a - 1);
        n = sizeof a - 1;
        n += fmt_uint(h + n, (unsigned)sig);
        const char *r = memory ? ",\"reason\":\"memory\"" : ",\"reason\":\"crash\"";
        size_t rl = strlen(r);
        memcpy(h + n, r, rl);
        n += rl;
        /* a syscall outside the seccomp allow-list: name it (table filled at install) */
        bool trapped = sig == SIGSYS && si->si_code == 1; /* SYS_SECCOMP, not a kill(2) */
        const char *sc = trapped ? sbx_lockdown_syscall_name(si->si_syscall) : NULL;
        if (trapped) {
            static const char k[] = ",\"syscall\":\"";
            memcpy(h + n, k, sizeof k - 1);
            n += sizeof k - 1;
            if (sc) {
                size_t sl = strlen(sc);
                memcpy(h + n, sc, sl);
                n += sl;
            } else {
                n += fmt_uint(h + n, (unsigned)si->si_syscall);
            }
            h[n++] = '"';
        }
        h[n++] = '}';
        unsigned char pre[8];
        unsigned total = (unsigned)(4 + n);
        for (int i = 0; i < 4; i++) {
            pre[i] = (unsigned char)(total >> (8 * i));
            pre[4 + i] = (unsigned char)(n >> (8 * i));
        }
        ssize_t w1 = write(W.fd, pre, 8);
        ssize_t w2 = write(W.fd, h, n);
        (void)w1, (void)w2;
    }
    /* hand the signal to whoever had it before (default action or the sanitizer) */
    sigaction(sig, &W.old_act[sig], NULL);
    /* sent (abort): re-raise; faults re-trigger; a trapped syscall would just return
     * ENOSYS, so the worker must die here (pending until this handler returns) */
    if (si->si_code <= 0 || sig == SIGSYS) {
        if (sig == SIGSYS) signal(SIGSYS, SIG_DFL);
        raise(sig);
    }
}

static void fatal_handlers_install(void) {
    static char altstack[64 * 1024];
    stack_t ss = {.ss_sp = altstack, .ss_size = sizeof altstack};
    sigaltstack(&ss, NULL);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fatal;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    const int sigs[] = {SIGABRT, SIGSEGV, SIGBUS, SIGILL, SIGTRAP, SIGSYS};
    for (size_t k = 0; k < sizeof sigs / sizeof *sigs; k++)
        sigaction(sigs[k], &sa, &W.old_act[sigs[k]]);
}

/* Bounds data-segment growth for this invocation (see the file comment). */
static void data_limit_arm(int memory_mb) {
#ifndef WORKER_ASAN
    static long page;
    static int statm = -1;
    if (!page) page = sysconf(_SC_PAGESIZE);
    if (statm < 0) statm = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    char buf[160];
    ssize_t len = statm >= 0 ? pread(statm, buf, sizeof buf - 1, 0) : -1;
    if (len <= 0) return;
    buf[len] = '\0';
    unsigned long size = 0, rss = 0, shared = 0, text = 0, lib = 0, data = 0;
    if (sscanf(buf, "%lu %lu %lu %lu %lu %lu", &size, &rss, &shared, &text, &lib, &data) != 6)
        return;
    static struct rlimit rl;
    if (!rl.rlim_max && getrlimit(RLIMIT_DATA, &rl) != 0) return;
    rlim_t want =
        (rlim_t)data * (rlim_t)page + (rlim_t)memory_mb * 2u * (1u << 20) + WORKER_DATA_SLACK;
    if (rl.rlim_max != RLIM_INFINITY && want > rl.rlim_max) want = rl.rlim_max;
    /* skip the syscall while the bound moved less than the slack's quarter */
    rlim_t diff = want > rl.rlim_cur ? want - rl.rlim_cur : rl.rlim_cur - want;
    if (W.rlimit_armed && diff < WORKER_DATA_SLACK / 4) return;
    rl.rlim_cur = want;
    if (setrlimit(RLIMIT_DATA, &rl) == 0) W.rlimit_armed = 1;
#else
    (void)memory_mb;
#endif
}

/* ---- code cache ---- */

static void code_free(code_t *c) {
    if (c->script) JSScriptRelease(c->script);
    free(c);
}

static code_t *code_find(const char *hash) {
    for (node_t *n = W.codes.head; n; n = n->next) {
        code_t *c = (code_t *)n;
        if (strcmp(c->hash, hash) == 0) {
            lru_touch(&W.codes, n);
            return c;
        }
    }
    return NULL;
}

/* SyntaxError JSON for code that does not parse, with the user's line and column. */
static void syntax_error_json(sbx_buf_t *b, const char *msg, int line, int column) {
    b->len = 0;
    sbx_buf_cstr(b, "{\"name\":\"SyntaxError\",\"message\":");
    sbx_buf_jstr(b, msg, strlen(msg));
    sbx_buf_printf(b, ",\"line\":%d,\"column\":%d", line, column);
    sbx_buf_cstr(b, ",\"stack\":");
    char st[400];
    int n = snprintf(st, sizeof st, "SyntaxError: %s\n    at %s:%d:%d", msg, SBX_USER_URL, line,
                     column);
    sbx_buf_jstr(b, st, n > 0 && (size_t)n < sizeof st ? (size_t)n : strlen(st));
    sbx_buf_put(b, "}", 1);
}

/* Transforms and syntax-checks user code. Returns 1 when valid (*m filled), else 0 with
 * the SyntaxError JSON in err (user coordinates). */
static int code_prepare(const char *src, size_t len, module_src_t *m, sbx_buf_t *err) {
    module_error_t me;
    if (module_transform(src, len, m, &me) < 0) {
        syntax_error_json(err, me.message, me.line, me.column);
        return 0;
    }
    char msg[256];
    int line = 0, column = 0;
    if (!sbx_check_syntax(m->code, m->len, m->prefix_cols, msg, sizeof msg, &line, &column)) {
        syntax_error_json(err, msg, line, module_user_column(m, line, column));
        module_src_free(m);
        return 0;
    }
    return 1;
}

/* Parses code into a new cache entry. NULL with err filled on a syntax error. */
static code_t *code_add(const char *hash, const char *src, size_t len, sbx_buf_t *err) {
    module_src_t m;
    module_error_t me;
    if (module_transform(src, len, &m, &me) < 0) {
        syntax_error_json(err, me.message, me.line, me.column);
        return NULL;
    }
    JSStringRef s = JSStringCreateWithUTF8CString(m.code);
    JSStringRef url = JSStringCreateWithUTF8CString(SBX_USER_URL);
    JSStringRef emsg = NULL;
    int eline = 0;
    JSScriptRef script = JSScriptCreateFromString(W.group, url, 1, s, &emsg, &eline);
    JSStringRelease(s);
    JSStringRelease(url);
    if (!script) {
        if (emsg) JSStringRelease(emsg);
        /* re-check to get the same message with a column */
        module_src_t again;
        if (code_prepare(src, len, &again, err)) {
            module_src_free(&again);
            syntax_error_json(err, "the code does not parse", eline, 1);
        }
        module_src_free(&m);
        return NULL;
    }
    code_t *c = calloc(1, sizeof *c);
    if (!c) abort();
    snprintf(c->hash, sizeof c->hash, "%s", hash);
    c->script = script;
    c->prefix_cols = m.prefix_cols;
    module_src_free(&m);
    lru_push(&W.codes, (node_t *)c);
    if (W.codes.n > WORKER_CODE_CACHE) {
        code_t *old = W.codes.tail;
        lru_unlink(&W.codes, (node_t *)old);
        code_free(old);
    }
    return c;
}

/* Returns the parsed code for hash, asking the server for it on a miss. NULL with err
 * filled (syntax error or protocol failure). */
static code_t *code_get(const char *hash, sbx_buf_t *err) {
    code_t *c = code_find(hash);
    if (c) return c;
    char h[128];
    int n = snprintf(h, sizeof h, "{\"t\":\"need_code\",\"hash\":\"%s\"}", hash);
    if (send_raw(h, (size_t)n, NULL, 0) < 0) return NULL;
    ipc_msg_t m;
    int r = ipc_recv(W.fd, &m, WORKER_CODE_WAIT_MS);
    if (r == 0) _exit(0);
    if (r < 0 || strcmp(ipc_type(&m), "code") != 0) {
        if (r > 0) ipc_msg_free(&m);
        sbx_buf_cstr(err, "{\"name\":\"Error\",\"message\":\"the function's code was not "
                          "delivered\",\"stack\":\"\"}");
        return NULL;
    }
    const char *got = json_string_value(json_object_get(m.header, "hash"));
    char sum[65];
    util_sha256_hex(m.payload ? m.payload : "", m.payload_len, sum);
    if (!got || strcmp(got, hash) != 0 || (strlen(hash) == 64 && strcmp(sum, hash) != 0)) {
        ipc_msg_free(&m);
        sbx_buf_cstr(err, "{\"name\":\"Error\",\"message\":\"the delivered code does not match "
                          "its hash\",\"stack\":\"\"}");
        return NULL;
    }
    c = code_add(hash, m.payload ? m.payload : "", m.payload_len, err);
    ipc_msg_free(&m);
    return c;
}

/* ---- warm contexts ---- */

static void warm_free(warm_t *w) {
    sbx_ctx_destroy(w->ctx);
    free(w->key);
    free(w);
}

static warm_t *warm_find(const char *key) {
    for (node_t *n = W.warm.head; n; n = n->next) {
        warm_t *w = (warm_t *)n;
        if (strcmp(w->key, key) == 0) {
            lru_touch(&W.warm, n);
            return w;
        }
    }
    return NULL;
}

static void warm_remove(warm_t *w) {
    lru_unlink(&W.warm, (node_t *)w);
    warm_free(w);
}

static warm_t *warm_add(const char *key, sbx_ctx_t *ctx) {
    warm_t *w = calloc(1, sizeof *w);
    if (!w) abort();
    w->key = strdup(key);
    if (!w->key) abort();
    w->ctx = ctx;
    lru_push(&W.warm, (node_t *)w);
    while (W.warm.n > W.warm_max)
        warm_remove(W.warm.tail);
    return w;
}

/* ---- invoke ---- */

typedef struct {
    const char *exec_id, *fn, *hash;
    char version[64]; /* JSON text */
    bool fresh;
    int timeout_ms, memory_mb;
    sbx_limits_t lim;
    json_t *env;
} invoke_t;

static size_t obj_size(json_t *o, const char *k, size_t dflt) {
    json_t *v = json_object_get(o, k);
    return json_is_integer(v) && json_integer_value(v) > 0 ? (size_t)json_integer_value(v) : dflt;
}

static void invoke_parse(json_t *h, invoke_t *iv) {
    memset(iv, 0, sizeof *iv);
    iv->exec_id = json_string_value(json_object_get(h, "exec_id"));
    iv->fn = json_string_value(json_object_get(h, "fn"));
    iv->hash = json_string_value(json_object_get(h, "hash"));
    if (!iv->exec_id) iv->exec_id = "";
    if (!iv->fn) iv->fn = "";
    if (!iv->hash) iv->hash = "";
    json_t *ver = json_object_get(h, "version");
    if (json_is_integer(ver))
        snprintf(iv->version, sizeof iv->version, "%lld", (long long)json_integer_value(ver));
    else if (json_is_string(ver) && strlen(json_string_value(ver)) < 40 &&
             !strpbrk(json_string_value(ver), "\"\\"))
        snprintf(iv->version, sizeof iv->version, "\"%s\"", json_string_value(ver));
    else
        snprintf(iv->version, sizeof iv->version, "null");
    const char *iso = json_string_value(json_object_get(h, "isolation"));
    iv->fresh = iso && strcmp(iso, "fresh") == 0;
    iv->timeout_ms = (int)obj_size(h, "timeout_ms", 10000);
    iv->memory_mb = (int)obj_size(h, "memory_mb", 128);
    iv->env = json_object_get(h, "env");        /* absent: {} (sbx_run takes NULL as empty) */
    json_t *lim = json_object_get(h, "limits"); /* absent: the server's defaults */
    runtime_limits_t dl;
    runtime_limits_default(&dl);
    iv->lim.max_log_bytes = obj_size(lim, "max_log_bytes", dl.max_log_bytes);
    iv->lim.max_result_bytes = obj_size(lim, "max_result_bytes", dl.max_result_bytes);
    iv->lim.max_fetches = (int)obj_size(lim, "max_fetches", (size_t)dl.max_fetches);
    iv->lim.max_fetch_bytes = obj_size(lim, "max_fetch_bytes", dl.max_fetch_bytes);
    iv->lim.timeout_ms = iv->timeout_ms;
    iv->lim.memory_mb = iv->memory_mb;
    iv->lim.memory_limit = (size_t)iv->memory_mb << 20;
}

static const char *status_name(sbx_status_t s) {
    switch (s) {
    case SBX_OK:
        return "ok";
    case SBX_TIMEOUT:
        return "timeout";
    case SBX_MEMORY:
        return "memory_limit";
    default:
        return "error";
    }
}

static void send_done(const invoke_t *iv, bool cold, uint64_t t0, bool recycle) {
    sbx_outcome_t *o = &W.out;
    static sbx_buf_t h;
    h.len = 0;
    sbx_buf_cstr(&h, "{\"t\":\"done\",\"exec_id\":");
    sbx_buf_jstr(&h, iv->exec_id, strlen(iv->exec_id));
    /* defaults (cold false, no logs) are left out: the server parses this on every call */
    sbx_buf_printf(&h, ",\"status\":\"%s\"%s,\"duration_us\":%llu", status_name(o->status),
                   cold ? ",\"cold\":true" : "", (unsigned long long)(util_now_us() - t0));
    if (o->status != SBX_OK && o->error.len) {
        sbx_buf_cstr(&h, ",\"error\":");
        sbx_buf_put(&h, o->error.p, o->error.len);
    }
    if (o->logs.len > 2) { /* "[]" when nothing was logged */
        sbx_buf_cstr(&h, ",\"logs\":");
        sbx_buf_put(&h, o->logs.p, o->logs.len);
    }
    if (o->logs_truncated) sbx_buf_cstr(&h, ",\"logs_truncated\":true");
    if (recycle) sbx_buf_cstr(&h, ",\"recycle\":true");
    sbx_buf_put(&h, "}", 1);
    bool ok = o->status == SBX_OK && o->result.len;
    send_raw(h.p, h.len, ok ? o->result.p : "null", ok ? o->result.len : 4);
}

/* Zeroes the secret values of an invoke frame before it is freed (the engine's own copies
 * are garbage once the invocation's ctx is unreachable). */
static void secrets_wipe(json_t *h) {
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(h, "secrets"), k, v) {
        if (json_is_string(v)) explicit_bzero((char *)json_string_value(v), json_string_length(v));
    }
}

#ifndef NDEBUG
/* Debug/test builds only: JavaScript cannot make a syscall, so the e2e test of the SIGSYS
 * path (a forbidden syscall kills only this worker, reported `crashed` with its name) asks
 * for one with R3E_TEST_WORKER_SYSCALL=1 and a function named test-sigsys-…. */
static void test_forbidden_syscall(const char *fn) {
    static int enabled = -1;
    if (enabled < 0) enabled = getenv("R3E_TEST_WORKER_SYSCALL") != NULL;
    if (!enabled || strncmp(fn, "test-sigsys-", 12) != 0) return;
    char *argv[] = {"/bin/true", NULL};
    execve("/bin/true", argv, NULL);
}
#endif

static void on_invoke(ipc_msg_t *m) {
    uint64_t t0 = util_now_us();
    invoke_t iv;
    invoke_parse(m->header, &iv);
#ifndef NDEBUG
    test_forbidden_syscall(iv.fn);
#endif
    W.invoking = 1;
    data_limit_arm(iv.memory_mb);
    static sbx_buf_t code_err;
    code_err.len = 0;
    code_t *code = code_get(iv.hash, &code_err);
    /* the time limit starts once the code is here (a miss costs a round trip) */
    iv.lim.deadline_us = util_now_us() + (uint64_t)iv.timeout_ms * 1000;
    sbx_begin(&iv.lim, &W.out);
    bool cold = false;
    warm_t *w = NULL;
    sbx_ctx_t *ctx = NULL;
    char key[512];
    snprintf(key, sizeof key, "%s\n%s\n%s", iv.hash, iv.fn, iv.version);
    if (!code) {
        W.out.status = SBX_ERROR;
        if (code_err.len)
            sbx_buf_put(&W.out.error, code_err.p, code_err.len);
        else
            sbx_buf_cstr(&W.out.error, "{\"name\":\"Error\",\"message\":\"code unavailable\","
                                       "\"stack\":\"\"}");
    } else {
        w = iv.fresh ? NULL : warm_find(key);
        ctx = w ? w->ctx : NULL;
        if (!ctx) {
            cold = true;
            ctx = sbx_ctx_create(code->script, code->prefix_cols);
        }
        sbx_set_secrets(json_object_get(m->header, "secrets"));
        if (ctx) sbx_run(ctx, m->payload, iv.fn, iv.version, iv.exec_id, iv.env);
    }
    sbx_end();
    secrets_wipe(m->header);
    W.invoking = 0;
    sbx_status_t st = W.out.status;
    /* A context whose run was cut short may hold half-updated state: start over. */
    bool keep = ctx && !iv.fresh && st != SBX_TIMEOUT && st != SBX_MEMORY;
    if (ctx && !keep) {
        if (w)
            warm_remove(w);
        else
            sbx_ctx_destroy(ctx);
    } else if (ctx && !w) {
        warm_add(key, ctx);
    }
    /* Warm contexts can grow the process a little on every run (caches in globals): past
     * the ceiling the worker asks to be replaced, between invocations, before it matters. */
    bool recycle = st == SBX_MEMORY || sbx_rss_bytes() > W.max_rss;
    send_done(&iv, cold, t0, recycle);
    if (recycle) _exit(0);   /* the server respawns us; no bloat carries over */
    if (cold) sbx_prewarm(); /* the spare was used: make the next one off the hot path */
}

/* ---- check ---- */

static void on_check(ipc_msg_t *m) {
    module_src_t src;
    sbx_buf_t err = {0};
    if (code_prepare(m->payload ? m->payload : "", m->payload_len, &src, &err)) {
        module_src_free(&src);
        send_raw("{\"t\":\"check_r\",\"ok\":true}", 25, NULL, 0);
    } else {
        sbx_buf_t h = {0};
        sbx_buf_cstr(&h, "{\"t\":\"check_r\",\"ok\":false,\"error\":");
        sbx_buf_put(&h, err.p, err.len);
        sbx_buf_put(&h, "}", 1);
        send_raw(h.p, h.len, NULL, 0);
        sbx_buf_free(&h);
    }
    sbx_buf_free(&err);
}

/* ---- main ---- */

static int parse_args(int argc, char **argv) {
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--fd") == 0 && i + 1 < argc) return atoi(argv[i + 1]);
    return -1;
}

int worker_main(int argc, char **argv) {
    log_init("worker");
    W.fd = parse_args(argc, argv);
    if (W.fd < 0) {
        log_error("usage: r3e __worker --fd N");
        return 2;
    }
    const char *wc = getenv("R3E_WARM_CONTEXTS");
    W.warm_max = wc && atol(wc) > 0 ? (size_t)atol(wc) : 256;
    const char *mr = getenv("R3E_WORKER_MAX_RSS_MB");
    W.max_rss = (size_t)(mr && atol(mr) > 0 ? atol(mr) : WORKER_MAX_RSS_MB) << 20;
    signal(SIGPIPE, SIG_IGN);
    fatal_handlers_install(); /* before the engine, so its own handlers chain to ours */
    char errbuf[256];
    W.web = webapi_env_create(getenv("R3E_EGRESS_ALLOW"), errbuf, sizeof errbuf);
    if (!W.web) {
        log_error("worker: bad egress allow-list: %s", errbuf);
        return 2;
    }
    W.group = JSContextGroupCreate();
    sbx_init(W.group, W.web, W.fd);
    char ready[64];
    int n = snprintf(ready, sizeof ready, "{\"t\":\"ready\",\"pid\":%d}", (int)getpid());
    sbx_prewarm(); /* also finishes the engine's lazy start-up before the lockdown */
    const char *lock = getenv("R3E_WORKER_SECCOMP");
    sbx_lockdown_mode(lock && strcmp(lock, "0") == 0     ? SBX_LOCK_OFF
                      : lock && strcmp(lock, "log") == 0 ? SBX_LOCK_LOG
                                                         : SBX_LOCK_ENFORCE);
    if (send_raw(ready, (size_t)n, NULL, 0) < 0) return 1;
    for (;;) {
        ipc_msg_t m;
        int r = ipc_recv(W.fd, &m, -1);
        if (r == 0) _exit(0);
        if (r < 0) {
            log_error("worker: bad frame from the server: %s", strerror(errno));
            _exit(1);
        }
        const char *t = ipc_type(&m);
        if (strcmp(t, "invoke") == 0)
            on_invoke(&m);
        else if (strcmp(t, "check") == 0)
            on_check(&m);
        else if (strcmp(t, "kv_r") == 0) /* answer to a fire-and-forget call of a past run */
            log_debug("worker: late kv_r after its invocation ended");
        else
            log_warn("worker: ignoring unexpected '%s' frame", t);
        ipc_msg_free(&m);
    }
}
