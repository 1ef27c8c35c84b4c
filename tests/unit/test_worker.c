/* The worker process end to end: each test starts the real binary (`$R3E_BIN __worker
 * --fd 3`, fork+exec with a socketpair) and plays the server side of ipc.h — answering
 * need_code and kv requests like runtime.c does. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/util.h"
#include "runtime/ipc.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct {
    pid_t pid;
    int fd;
    int ready_pid;
    /* a tiny KV store the "server" keeps for this worker */
    char *keys[32], *vals[32];
    int nkv;
    int kv_requests;
} wk_t;

typedef struct {
    const char *fn;
    const char *isolation;
    int timeout_ms, memory_mb;
    size_t max_log_bytes, max_result_bytes;
} inv_opts_t;

static void wk_start(wk_t *w) {
    memset(w, 0, sizeof *w);
    const char *bin = getenv("R3E_BIN");
    if (!bin) fail_msg("R3E_BIN is not set (run through ctest)");
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(sv[1], 3); /* dup2 clears CLOEXEC on the new descriptor */
        execl(bin, "r3e", "__worker", "--fd", "3", (char *)NULL);
        _exit(127);
    }
    close(sv[1]);
    w->pid = pid;
    w->fd = sv[0];
    ipc_msg_t m;
    assert_int_equal(ipc_recv(w->fd, &m, 30000), 1);
    assert_string_equal(ipc_type(&m), "ready");
    w->ready_pid = (int)json_integer_value(json_object_get(m.header, "pid"));
    ipc_msg_free(&m);
}

/* Closes the socket (the worker exits on EOF) and reaps it; returns the wait status. */
static int wk_stop(wk_t *w) {
    close(w->fd);
    int st = 0;
    for (int i = 0; i < 500; i++) {
        if (waitpid(w->pid, &st, WNOHANG) == w->pid) goto done;
        usleep(10000);
    }
    kill(w->pid, SIGKILL);
    waitpid(w->pid, &st, 0);
done:
    for (int k = 0; k < w->nkv; k++)
        free(w->keys[k]), free(w->vals[k]);
    return st;
}

static int kv_find(wk_t *w, const char *key) {
    for (int k = 0; k < w->nkv; k++)
        if (strcmp(w->keys[k], key) == 0) return k;
    return -1;
}

/* Answers one kv frame like the server: get/put/delete/list over the little store. */
static void serve_kv(wk_t *w, ipc_msg_t *m) {
    w->kv_requests++;
    json_t *h = m->header;
    const char *op = json_string_value(json_object_get(h, "op"));
    const char *key = json_string_value(json_object_get(h, "key"));
    assert_null(json_object_get(h, "fn")); /* the worker never names the function */
    json_t *r =
        json_pack("{s:s, s:O, s:b}", "t", "kv_r", "rid", json_object_get(h, "rid"), "ok", 1);
    const char *payload = NULL;
    char *list = NULL;
    int k = key ? kv_find(w, key) : -1;
    if (strcmp(op, "get") == 0) {
        json_object_set_new(r, "found", json_boolean(k >= 0));
        if (k >= 0) payload = w->vals[k];
    } else if (strcmp(op, "put") == 0) {
        if (k < 0) {
            k = w->nkv++;
            w->keys[k] = strdup(key);
        } else {
            free(w->vals[k]);
        }
        w->vals[k] = strdup(m->payload ? m->payload : "");
    } else if (strcmp(op, "delete") == 0) {
        if (k >= 0) {
            free(w->keys[k]), free(w->vals[k]);
            w->keys[k] = w->keys[--w->nkv];
            w->vals[k] = w->vals[w->nkv];
        }
    } else if (strcmp(op, "list") == 0) {
        const char *prefix = json_string_value(json_object_get(h, "prefix"));
        json_t *arr = json_array();
        for (int i = 0; i < w->nkv; i++)
            if (!prefix || strncmp(w->keys[i], prefix, strlen(prefix)) == 0)
                json_array_append_new(arr, json_string(w->keys[i]));
        list = json_dumps(arr, JSON_COMPACT);
        json_decref(arr);
        payload = list;
    }
    assert_int_equal(ipc_send(w->fd, r, payload, payload ? strlen(payload) : 0), 0);
    json_decref(r);
    free(list);
}

/* Sends an invocation and serves need_code/kv until "done"; returns the done header
 * (caller decrefs) and the result payload in *result (caller frees; may be NULL). */
static json_t *wk_invoke(wk_t *w, const char *code, const char *event, const inv_opts_t *o,
                         char **result) {
    char hash[65];
    util_sha256_hex(code, strlen(code), hash);
    json_t *h = json_pack(
        "{s:s, s:s, s:s, s:i, s:s, s:s, s:i, s:i, s:{s:s}, s:{s:i, s:i, s:i, "
        "s:i}}",
        "t", "invoke", "exec_id", "01TESTEXEC", "fn", o && o->fn ? o->fn : "hello", "version", 3,
        "hash", hash, "isolation", o && o->isolation ? o->isolation : "warm", "timeout_ms",
        o && o->timeout_ms ? o->timeout_ms : 5000, "memory_mb",
        o && o->memory_mb ? o->memory_mb : 128, "env", "GREETING", "hi", "limits", "max_log_bytes",
        (int)(o && o->max_log_bytes ? o->max_log_bytes : 65536), "max_result_bytes",
        (int)(o && o->max_result_bytes ? o->max_result_bytes : 1 << 20), "max_fetches", 5,
        "max_fetch_bytes", 1 << 20);
    assert_non_null(h);
    const char *ev = event ? event : "{}";
    assert_int_equal(ipc_send(w->fd, h, ev, strlen(ev)), 0);
    json_decref(h);
    for (;;) {
        ipc_msg_t m;
        int r = ipc_recv(w->fd, &m, 60000);
        if (r != 1) fail_msg("worker went away (recv %d)", r);
        const char *t = ipc_type(&m);
        if (strcmp(t, "need_code") == 0) {
            assert_string_equal(json_string_value(json_object_get(m.header, "hash")), hash);
            json_t *c = json_pack("{s:s, s:s}", "t", "code", "hash", hash);
            assert_int_equal(ipc_send(w->fd, c, code, strlen(code)), 0);
            json_decref(c);
        } else if (strcmp(t, "kv") == 0) {
            serve_kv(w, &m);
        } else {
            assert_string_equal(t, "done");
            json_t *done = json_incref(m.header);
            if (result) *result = m.payload ? strdup(m.payload) : NULL;
            ipc_msg_free(&m);
            return done;
        }
        ipc_msg_free(&m);
    }
}

static const char *status_of(json_t *done) {
    return json_string_value(json_object_get(done, "status"));
}

static const char *error_field(json_t *done, const char *k) {
    return json_string_value(json_object_get(json_object_get(done, "error"), k));
}

/* Runs code once in a new worker and checks the status and result. */
static void expect_result(wk_t *w, const char *code, const char *event, const char *status,
                          const char *want) {
    char *res = NULL;
    json_t *d = wk_invoke(w, code, event, NULL, &res);
    if (strcmp(status_of(d), status) != 0)
        fail_msg("status %s (want %s): %s", status_of(d), status,
                 error_field(d, "message") ? error_field(d, "message") : "");
    if (want) assert_string_equal(res, want);
    free(res);
    json_decref(d);
}

static void test_worker_reports_ready_with_its_pid(void **state) {
    (void)state;
    wk_t w;
    wk_start(&w);
    assert_int_equal(w.ready_pid, w.pid);
    int st = wk_stop(&w);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0); /* EOF on the socket is a clean exit */
}

static json_t *check(wk_t *w, const char *code) {
    json_t *h = json_pack("{s:s}", "t", "check");
    assert_int_equal(ipc_send(w->fd, h, code, strlen(code)), 0);
    json_decref(h);
    ipc_msg_t m;
    assert_int_equal(ipc_recv(w->fd, &m, 30000), 1);
    assert_string_equal(ipc_type(&m), "check_r");
    json_t *r = json_incref(m.header);
    ipc_msg_free(&m);
    return r;
}

static void test_check_reports_syntax_errors_at_the_users_line_and_column(void **state) {
    (void)state;
    wk_t w;
    wk_start(&w);
    json_t *r = check(&w, "export default async function (event) {\n  return event.x;\n}\n");
    assert_true(json_is_true(json_object_get(r, "ok")));
    json_decref(r);

    r = check(&w, "export default async function (event) {\n  const a = 1 2;\n}\n");
    assert_true(json_is_false(json_object_get(r, "ok")));
    json_t *e = json_object_get(r, "error");
    assert_string_equal(json_string_value(json_object_get(e, "name")), "SyntaxError");
    assert_int_equal(json_integer_value(json_object_get(e, "line")), 2);
    assert_int_equal(json_integer_value(json_object_get(e, "column")), 15);
    assert_non_null(strstr(json_string_value(json_object_get(e, "message")), "'2'"));
    json_decref(r);

    r = check(&w, "let x = 1 2"); /* line 1: the wrapper prefix must not shift the column */
    e = json_object_get(r, "error");
    assert_int_equal(json_integer_value(json_object_get(e, "line")), 1);
    assert_int_equal(json_integer_value(json_object_get(e, "column")), 11);
    json_decref(r);

    r = check(&w, "const a = 1;\nimport x from 'y';\n");
    e = json_object_get(r, "error");
    assert_string_equal(json_string_value(json_object_get(e, "name")), "SyntaxError");
    assert_int_equal(json_integer_value(json_object_get(e, "line")), 2);
    assert_int_equal(json_integer_value(json_object_get(e, "column")), 1);
    json_decref(r);
    wk_stop(&w);
}

static void test_both_export_styles_receive_event_and_ctx(void **state) {
    (void)state;
    wk_t w;
    wk_start(&w);
    expect_result(&w,
                  "export default async function (event, ctx) {\n"
                  "  return { n: event.n + 1, fn: ctx.functionName, v: ctx.version,\n"
                  "           id: ctx.executionId, g: ctx.env.GREETING,\n"
                  "           frozen: Object.isFrozen(ctx.env) };\n"
                  "}\n",
                  "{\"n\":41}", "ok",
                  "{\"n\":42,\"fn\":\"hello\",\"v\":3,\"id\":\"01TESTEXEC\",\"g\":\"hi\","
                  "\"frozen\":true}");
    expect_result(&w, "module.exports = async (event) => event.n * 2;", "{\"n\":21}", "ok", "42");
    expect_result(&w, "exports.handler = function (e) { return 'h' };", NULL, "ok", "\"h\"");
    expect_result(&w, "module.exports.default = () => [1, 'two'];", NULL, "ok", "[1,\"two\"]");
    expect_result(&w, "export default function named() { return named.name }", NULL, "ok",
                  "\"named\"");
    expect_result(&w, "module.exports = () => {};", NULL, "ok", "null"); /* undefined */
    expect_result(&w, "module.exports = 42;", NULL, "error", NULL);      /* not a function */
    /* top-level await, as in an ES module; a failing module body is the invocation's error */
    expect_result(&w,
                  "const cfg = await new Promise((r) => setTimeout(() => r({ k: 5 }), 10));\n"
                  "export default async () => cfg.k;\n",
                  NULL, "ok", "5");
    json_t *d0 =
        wk_invoke(&w, "await null;\nthrow new Error('init failed');\nexport default () => 1;", NULL,
                  NULL, NULL);
    assert_string_equal(status_of(d0), "error");
    assert_string_equal(error_field(d0, "message"), "init failed");
    assert_non_null(strstr(error_field(d0, "stack"), "index.js:2:"));
    json_decref(d0);
    /* code that does not parse ends as a SyntaxError with the user's position */
    json_t *d = wk_invoke(&w, "module.exports = () => {\n  return (;\n};", NULL, NULL, NULL);
    assert_string_equal(status_of(d), "error");
    assert_string_equal(error_field(d, "name"), "SyntaxError");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(d, "error"), "line")), 2);
    json_decref(d);
    wk_stop(&w);
}

static void test_thrown_errors_carry_user_frames_only(void **state) {
    (void)state;
    wk_t w;
    wk_start(&w);
    json_t *d = wk_invoke(&w,
                          "function inner() {\n"
                          "  throw new TypeError('bad input');\n"
                          "}\n"
                          "export default async function (event) {\n"
                          "  await null;\n"
                          "  inner();\n"
                          "}\n",
                          NULL, NULL, NULL);
    assert_string_equal(status_of(d), "error");
    assert_string_equal(error_field(d, "name"), "TypeError");
    assert_string_equal(error_field(d, "message"), "bad input");
    const char *stack = error_field(d, "stack");
    assert_non_null(strstr(stack, "TypeError: bad input\n    at inner (index.js:2:"));
    assert_non_null(strstr(stack, "\n    at index.js:6:"));
    assert_null(strstr(stack, "r3e:internal"));
    assert_null(strstr(stack, "[native code]"));
    json_decref(d);

    /* an error on line 1 reports the user's column, not the wrapper's */
    d = wk_invoke(&w, "module.exports = () => { null.x }", NULL, NULL, NULL);
    assert_string_equal(error_field(d, "name"), "TypeError");
    assert_non_null(strstr(error_field(d, "stack"), "index.js:1:"));
    int col = atoi(strrchr(error_field(d, "stack"), ':') + 1);
    assert_true(col > 20 && col < 34);
    json_decref(d);

    d = wk_invoke(&w, "module.exports = async () => { throw 'plain string' }", NULL, NULL, NULL);
    assert_string_equal(status_of(d), "error");
    assert_string_equal(error_field(d, "message"), "plain string");
    json_decref(d);

    d = wk_invoke(&w, "module.exports = () => Promise.reject(new RangeError('nope'))", NULL, NULL,
                  NULL);
    assert_string_equal(status_of(d), "error");
    assert_string_equal(error_field(d, "name"), "RangeError");
    json_decref(d);
    wk_stop(&w);
}

static void test_console_output_is_captured_and_capped(void **state) {
    (void)state;
    wk_t w;
    wk_start(&w);
    json_t *d =
        wk_invoke(&w,
                  "module.exports = () => {\n"
                  "  console.log('hello', 42, { a: [1, 'x'] }, null, undefined);\n"
                  "  console.warn('careful');\n"
                  "  console.error(new Error('shown'));\n"
                  "  console.debug('%s=%d (%i%%)', 'n', 42.5, 7.9, 'rest');\n"
                  "  console.info('outer', { get x() { console.info('inner'); return 1; } });\n"
                  "}\n",
                  NULL, NULL, NULL);
    assert_string_equal(status_of(d), "ok");
    json_t *logs = json_object_get(d, "logs");
    assert_int_equal(json_array_size(logs), 6);
    assert_string_equal(json_string_value(json_object_get(json_array_get(logs, 4), "msg")),
                        "inner");
    assert_string_equal(json_string_value(json_object_get(json_array_get(logs, 5), "msg")),
                        "outer {\"x\":1}");
    assert_string_equal(json_string_value(json_object_get(json_array_get(logs, 3), "msg")),
                        "n=42 (7%) rest");
    json_t *l0 = json_array_get(logs, 0);
    assert_string_equal(json_string_value(json_object_get(l0, "level")), "info");
    assert_string_equal(json_string_value(json_object_get(l0, "msg")),
                        "hello 42 {\"a\":[1,\"x\"]} null undefined");
    assert_true(json_integer_value(json_object_get(l0, "t")) > 1700000000000LL);
    assert_string_equal(json_string_value(json_object_get(json_array_get(logs, 1), "level")),
                        "warn");
    const char *err = json_string_value(json_object_get(json_array_get(logs, 2), "msg"));
    assert_non_null(strstr(err, "Error: shown\n    at index.js:4:"));
    assert_null(json_object_get(d, "logs_truncated"));
    json_decref(d);

    /* fire-and-forget rejections are logged, the invocation still succeeds */
    d = wk_invoke(
        &w,
        "module.exports = async () => { Promise.reject(new Error('lost')); await null; return 1; }",
        NULL, NULL, NULL);
    assert_string_equal(status_of(d), "ok");
    l0 = json_array_get(json_object_get(d, "logs"), 0);
    assert_string_equal(json_string_value(json_object_get(l0, "level")), "error");
    assert_non_null(strstr(json_string_value(json_object_get(l0, "msg")),
                           "Unhandled promise rejection: Error: lost"));
    json_decref(d);

    inv_opts_t o = {.max_log_bytes = 100};
    d = wk_invoke(
        &w, "module.exports = () => { for (let i = 0; i < 50; i++) console.log('x'.repeat(10)) }",
        NULL, &o, NULL);
    assert_string_equal(status_of(d), "ok");
    assert_true(json_is_true(json_object_get(d, "logs_truncated")));
    logs = json_object_get(d, "logs");
    size_t total = 0, n = json_array_size(logs);
    for (size_t k = 0; k + 1 < n; k++)
        total += strlen(json_string_value(json_object_get(json_array_get(logs, k), "msg")));
    assert_int_equal(total, 100);
    assert_non_null(strstr(json_string_value(json_object_get(json_array_get(logs, n - 1), "msg")),
                           "truncated"));
    json_decref(d);
    wk_stop(&w);
}

static void test_timers_and_awaited_promises(void **state) {
    (void)state;
    wk_t w;
    wk_start(&w);
    expect_result(&w,
                  "export default async () => {\n"
                  "  const order = [];\n"
                  "  const t0 = Date.now();\n"
                  "  setTimeout((a, b) => order.push(a + b), 30, 'la', 'te');\n"
                  "  setTimeout(() => order.push('early'), 5);\n"
                  "  const never = setTimeout(() => order.push('cancelled'), 10);\n"
                  "  clearTimeout(never);\n"
                  "  queueMicrotask(() => order.push('micro'));\n"
                  "  let n = 0;\n"
                  "  await new Promise((resolve) => {\n"
                  "    const iv = setInterval(() => { if (++n === 3) { clearInterval(iv); "
                  "resolve(); } }, 5);\n"
                  "  });\n"
                  "  await new Promise((r) => setTimeout(r, 40));\n"
                  "  return { order, n, waited: Date.now() - t0 >= 40 };\n"
                  "};\n",
                  NULL, "ok", "{\"order\":[\"micro\",\"early\",\"late\"],\"n\":3,\"waited\":true}");
    /* too many pending timers is a RangeError, and leftovers do not leak into the next run */
    expect_result(&w,
                  "module.exports = () => {\n"
                  "  try { for (let i = 0; i < 10001; i++) setTimeout(() => {}, 100000); }\n"
                  "  catch (e) { return e.name + ': ' + e.message; }\n"
                  "};\n",
                  NULL, "ok", "\"RangeError: too many pending timers (limit 10000)\"");
    /* a promise that can never settle ends instead of hanging */
    json_t *d = wk_invoke(&w, "module.exports = () => new Promise(() => {});", NULL, NULL, NULL);
    assert_string_equal(status_of(d), "error");
    assert_non_null(strstr(error_field(d, "message"), "never settled"));
    json_decref(d);
    wk_stop(&w);
}

static void test_kv_round_trips_through_the_server(void **state) {
    (void)state;
    wk_t w;
    wk_start(&w);
    expect_result(&w,
                  "export default async (event, ctx) => {\n"
                  "  const before = await ctx.kv.get('count');\n"
                  "  await ctx.kv.put('count', String(Number(before || 0) + 1));\n"
                  "  await ctx.kv.put('other', 'x');\n"
                  "  const keys = await ctx.kv.list({ prefix: 'c', limit: 10 });\n"
                  "  const after = await ctx.kv.get('count');\n"
                  "  await ctx.kv.delete('other');\n"
                  "  return { before, after, keys, gone: await ctx.kv.get('other') };\n"
                  "};\n",
                  NULL, "ok",
                  "{\"before\":null,\"after\":\"1\",\"keys\":[\"count\"],\"gone\":null}");
    assert_int_equal(w.kv_requests, 7);
    /* validation happens in the worker too: nothing reaches the server */
    expect_result(
        &w,
        "export default async (event, ctx) => {\n"
        "  const out = [];\n"
        "  for (const f of [() => ctx.kv.put('k', { a: 1 }), () => ctx.kv.get(''),\n"
        "                   () => ctx.kv.get('a\\u0000b'), () => ctx.kv.get('k'.repeat(513)),\n"
        "                   () => ctx.kv.put('k', 'v'.repeat(256 * 1024 + 1))])\n"
        "    try { await f(); out.push('ok'); } catch (e) { out.push(e.name); }\n"
        "  return out;\n"
        "};\n",
        NULL, "ok", "[\"TypeError\",\"TypeError\",\"TypeError\",\"RangeError\",\"RangeError\"]");
    assert_int_equal(w.kv_requests, 7);
    wk_stop(&w);
}

static void test_infinite_loop_times_out_and_worker_stays_healthy(void **state) {
    (void)state;
    wk_t w;
    wk_start(&w);
    inv_opts_t o = {.timeout_ms = 200};
    uint64_t t0 = util_now_us();
    json_t *d = wk_invoke(&w, "module.exports = () => { while (true) {} };", NULL, &o, NULL);
    uint64_t took = util_now_us() - t0;
    assert_string_equal(status_of(d), "timeout");
    assert_string_equal(error_field(d, "name"), "TimeoutError");
    assert_true(took < 2000000);
    json_decref(d);
    /* the same process serves the next invocation, also for the timed-out function */
    expect_result(&w, "module.exports = () => 'still here';", NULL, "ok", "\"still here\"");
    d = wk_invoke(&w, "module.exports = () => { while (true) {} };", NULL, &o, NULL);
    assert_string_equal(status_of(d), "timeout");
    json_decref(d);
    /* a timer chain that outlives the deadline also ends as a timeout */
    d = wk_invoke(&w, "module.exports = () => new Promise(() => setInterval(() => {}, 5));", NULL,
                  &o, NULL);
    assert_string_equal(status_of(d), "timeout");
    json_decref(d);
    expect_result(&w, "module.exports = () => 1 + 1;", NULL, "ok", "2");
    wk_stop(&w);
}

static void test_heap_bomb_ends_as_memory_limit_and_recycles(void **state) {
    (void)state;
    wk_t w;
    wk_start(&w);
    inv_opts_t o = {.memory_mb = 64, .timeout_ms = 20000};
    json_t *d = wk_invoke(
        &w, "module.exports = () => { const a = []; for (;;) a.push(new Array(1e6).fill(1)); };",
        NULL, &o, NULL);
    assert_string_equal(status_of(d), "memory_limit");
    assert_true(json_is_true(json_object_get(d, "recycle")));
    json_decref(d);
    int st = wk_stop(&w); /* it exits by itself after a recycle */
    assert_true(WIFEXITED(st));
}

static void test_fatal_signal_is_reported_before_the_worker_dies(void **state) {
    (void)state;
    wk_t w;
    wk_start(&w);
    const char *code = "module.exports = () => { while (true) {} };";
    char hash[65];
    util_sha256_hex(code, strlen(code), hash);
    json_t *h =
        json_pack("{s:s, s:s, s:s, s:i, s:s, s:s, s:i, s:i, s:{}, s:{}}", "t", "invoke", "exec_id",
                  "01FATAL", "fn", "spin", "version", 1, "hash", hash, "isolation", "warm",
                  "timeout_ms", 20000, "memory_mb", 128, "env", "limits");
    assert_int_equal(ipc_send(w.fd, h, "{}", 2), 0);
    json_decref(h);
    ipc_msg_t m;
    assert_int_equal(ipc_recv(w.fd, &m, 30000), 1);
    assert_string_equal(ipc_type(&m), "need_code");
    ipc_msg_free(&m);
    h = json_pack("{s:s, s:s}", "t", "code", "hash", hash);
    assert_int_equal(ipc_send(w.fd, h, code, strlen(code)), 0);
    json_decref(h);
    usleep(200000); /* let it spin inside the engine */
    kill(w.pid, SIGILL);
    assert_int_equal(ipc_recv(w.fd, &m, 30000), 1);
    assert_string_equal(ipc_type(&m), "fatal");
    assert_int_equal(json_integer_value(json_object_get(m.header, "signal")), SIGILL);
    const char *reason = json_string_value(json_object_get(m.header, "reason"));
    assert_true(strcmp(reason, "memory") == 0 || strcmp(reason, "crash") == 0);
    ipc_msg_free(&m);
    int st = wk_stop(&w);
    assert_true(WIFSIGNALED(st));
    assert_int_equal(WTERMSIG(st), SIGILL); /* the default action still ends it */
}

static void test_fresh_isolation_shares_nothing_warm_keeps_state(void **state) {
    (void)state;
    wk_t w;
    wk_start(&w);
    const char *code = "globalThis.n = 0;\nmodule.exports = () => ++globalThis.n;";
    char *res = NULL;
    json_t *d = wk_invoke(&w, code, NULL, NULL, &res);
    assert_true(json_is_true(json_object_get(d, "cold")));
    assert_string_equal(res, "1");
    free(res);
    json_decref(d);
    d = wk_invoke(&w, code, NULL, NULL, &res);
    assert_false(json_is_true(json_object_get(d, "cold"))); /* warm: "cold" is left out */
    assert_string_equal(res, "2");
    free(res);
    json_decref(d);
    inv_opts_t fresh = {.isolation = "fresh"};
    for (int i = 0; i < 2; i++) {
        d = wk_invoke(&w, code, NULL, &fresh, &res);
        assert_true(json_is_true(json_object_get(d, "cold")));
        assert_string_equal(res, "1");
        free(res);
        json_decref(d);
    }
    /* another function name with the same code gets its own context */
    inv_opts_t other = {.fn = "other"};
    d = wk_invoke(&w, code, NULL, &other, &res);
    assert_true(json_is_true(json_object_get(d, "cold")));
    assert_string_equal(res, "1");
    free(res);
    json_decref(d);
    wk_stop(&w);
}

static void test_warm_contexts_are_bounded_by_an_lru(void **state) {
    (void)state;
    setenv("R3E_WARM_CONTEXTS", "2", 1);
    wk_t w;
    wk_start(&w);
    unsetenv("R3E_WARM_CONTEXTS");
    const char *code = "module.exports = () => 1;";
    const char *fns[] = {"a", "b", "a", "c", "b"};
    const bool cold[] = {true, true, false, true, true}; /* c evicts b (least recent) */
    for (size_t k = 0; k < sizeof fns / sizeof *fns; k++) {
        inv_opts_t o = {.fn = fns[k]};
        json_t *d = wk_invoke(&w, code, NULL, &o, NULL);
        assert_int_equal(json_is_true(json_object_get(d, "cold")), cold[k]);
        json_decref(d);
    }
    wk_stop(&w);
}

static void test_worker_over_its_rss_ceiling_asks_to_be_recycled(void **state) {
    (void)state;
    setenv("R3E_WORKER_MAX_RSS_MB", "1", 1); /* any real process is above 1 MB */
    wk_t w;
    wk_start(&w);
    unsetenv("R3E_WORKER_MAX_RSS_MB");
    char *res = NULL;
    json_t *d = wk_invoke(&w, "module.exports = () => 'fine';", NULL, NULL, &res);
    assert_string_equal(status_of(d), "ok"); /* the run itself is unaffected */
    assert_string_equal(res, "\"fine\"");
    assert_true(json_is_true(json_object_get(d, "recycle")));
    free(res);
    json_decref(d);
    int st = wk_stop(&w);
    assert_true(WIFEXITED(st));
}

static void test_result_limits(void **state) {
    (void)state;
    wk_t w;
    wk_start(&w);
    inv_opts_t o = {.max_result_bytes = 1000};
    json_t *d = wk_invoke(&w, "module.exports = () => 'x'.repeat(2000);", NULL, &o, NULL);
    assert_string_equal(status_of(d), "error");
    assert_non_null(strstr(error_field(d, "message"), "over the limit of 1000 bytes"));
    json_decref(d);
    d = wk_invoke(&w, "module.exports = () => { const a = {}; a.self = a; return a; };", NULL, NULL,
                  NULL);
    assert_string_equal(status_of(d), "error");
    json_decref(d);
    wk_stop(&w);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_worker_reports_ready_with_its_pid),
        cmocka_unit_test(test_check_reports_syntax_errors_at_the_users_line_and_column),
        cmocka_unit_test(test_both_export_styles_receive_event_and_ctx),
        cmocka_unit_test(test_thrown_errors_carry_user_frames_only),
        cmocka_unit_test(test_console_output_is_captured_and_capped),
        cmocka_unit_test(test_timers_and_awaited_promises),
        cmocka_unit_test(test_kv_round_trips_through_the_server),
        cmocka_unit_test(test_infinite_loop_times_out_and_worker_stays_healthy),
        cmocka_unit_test(test_heap_bomb_ends_as_memory_limit_and_recycles),
        cmocka_unit_test(test_fatal_signal_is_reported_before_the_worker_dies),
        cmocka_unit_test(test_fresh_isolation_shares_nothing_warm_keeps_state),
        cmocka_unit_test(test_warm_contexts_are_bounded_by_an_lru),
        cmocka_unit_test(test_worker_over_its_rss_ceiling_asks_to_be_recycled),
        cmocka_unit_test(test_result_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
