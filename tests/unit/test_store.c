/* The store contract, exercised against a real RocksDB in a fresh temporary directory per
 * test. Each test name states the behaviour callers may rely on. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tmpdir.h"
#include "core/util.h"
#include "store/store.h"

#include <ftw.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    char dir[64];
    store_t *s;
} fixture_t;

static int setup(void **state) {
    fixture_t *fx = calloc(1, sizeof *fx);
    if (tmpdir_make(fx->dir, sizeof fx->dir, "store") < 0) return -1;
    err_t err;
    fx->s = store_open(fx->dir, &err);
    if (!fx->s) {
        fprintf(stderr, "store_open: %s\n", err.msg);
        return -1;
    }
    *state = fx;
    return 0;
}

static int teardown(void **state) {
    fixture_t *fx = *state;
    store_close(fx->s);
    tmpdir_remove(fx->dir);
    free(fx);
    return 0;
}

static store_version_t spec_of(const char *ns, const char *name) {
    store_version_t spec;
    memset(&spec, 0, sizeof spec);
    snprintf(spec.ns, sizeof spec.ns, "%s", ns);
    snprintf(spec.name, sizeof spec.name, "%s", name);
    return spec;
}

/* Deploys code and returns the assigned version number. */
static uint32_t deploy(store_t *s, const char *ns, const char *name, const char *code) {
    store_version_t spec = spec_of(ns, name), out;
    err_t err;
    int rc = store_deploy(s, &spec, code, strlen(code), &out, &err);
    if (rc != 0) fprintf(stderr, "deploy: %s\n", err.msg);
    assert_int_equal(rc, 0);
    uint32_t v = out.version;
    store_version_free(&out);
    return v;
}

static void test_deploy_creates_v1_active_with_defaults(void **state) {
    fixture_t *fx = *state;
    const char *code = "export default () => 1";
    store_version_t spec = spec_of("default", "hello"), out;
    err_t err;
    assert_int_equal(store_deploy(fx->s, &spec, code, strlen(code), &out, &err), 0);
    assert_int_equal(out.version, 1);
    assert_int_equal(out.timeout_ms, 10000);
    assert_int_equal(out.memory_mb, 128);
    assert_string_equal(out.isolation, "warm");
    assert_string_equal(out.env_json, "{}");
    assert_int_equal(out.code_size, strlen(code));
    char hash[65];
    util_sha256_hex(code, strlen(code), hash);
    assert_string_equal(out.code_hash, hash);
    store_version_free(&out);

    store_function_t f;
    assert_int_equal(store_get_function(fx->s, "default", "hello", &f, &err), 0);
    assert_int_equal(f.active_version, 1);
    assert_int_equal(f.latest_version, 1);
    assert_string_equal(f.ns, "default");
    assert_string_equal(f.name, "hello");
    assert_true(f.created_ms > 0 && f.updated_ms >= f.created_ms);

    char *got;
    size_t len;
    assert_int_equal(store_get_code(fx->s, hash, &got, &len, &err), 0);
    assert_int_equal(len, strlen(code));
    assert_string_equal(got, code);
    free(got);
}

static void test_deploy_keeps_given_limits_and_env(void **state) {
    fixture_t *fx = *state;
    store_version_t spec = spec_of("default", "limited"), out, got;
    spec.timeout_ms = 2500;
    spec.memory_mb = 64;
    spec.concurrency = 3;
    snprintf(spec.isolation, sizeof spec.isolation, "fresh");
    spec.env_json = "{\"A\": \"1\", \"B\": \"x\\\"y\"}";
    err_t err;
    assert_int_equal(store_deploy(fx->s, &spec, "x", 1, &out, &err), 0);
    store_version_free(&out);
    assert_int_equal(store_get_version(fx->s, "default", "limited", 1, &got, &err), 0);
    assert_int_equal(got.timeout_ms, 2500);
    assert_int_equal(got.memory_mb, 64);
    assert_int_equal(got.concurrency, 3);
    assert_string_equal(got.isolation, "fresh");
    assert_string_equal(got.env_json, "{\"A\":\"1\",\"B\":\"x\\\"y\"}");
    store_version_free(&got);
}

static void test_deploy_rejects_bad_input(void **state) {
    fixture_t *fx = *state;
    store_version_t spec = spec_of("default", "Bad_Name"), out;
    err_t err;
    assert_int_equal(store_deploy(fx->s, &spec, "x", 1, &out, &err), -1);
    assert_int_equal(err.code, R3E_EINVAL);
    spec = spec_of("default", "ok");
    spec.env_json = "[1,2]";
    assert_int_equal(store_deploy(fx->s, &spec, "x", 1, &out, &err), -1);
    assert_int_equal(err.code, R3E_EINVAL);
    spec.env_json = NULL;
    snprintf(spec.isolation, sizeof spec.isolation, "cold");
    assert_int_equal(store_deploy(fx->s, &spec, "x", 1, &out, &err), -1);
    assert_int_equal(err.code, R3E_EINVAL);
    store_function_t f;
    assert_int_equal(store_get_function(fx->s, "default", "ok", &f, &err), -1);
    assert_int_equal(err.code, R3E_ENOTFOUND);
}

static void test_redeploy_makes_v2_active_and_keeps_v1(void **state) {
    fixture_t *fx = *state;
    assert_int_equal(deploy(fx->s, "default", "fn", "one"), 1);
    assert_int_equal(deploy(fx->s, "default", "fn", "two"), 2);
    err_t err;
    store_function_t f;
    assert_int_equal(store_get_function(fx->s, "default", "fn", &f, &err), 0);
    assert_int_equal(f.active_version, 2);
    assert_int_equal(f.latest_version, 2);

    store_version_t v1;
    assert_int_equal(store_get_version(fx->s, "default", "fn", 1, &v1, &err), 0);
    char *code;
    size_t len;
    assert_int_equal(store_get_code(fx->s, v1.code_hash, &code, &len, &err), 0);
    assert_string_equal(code, "one");
    free(code);
    store_version_free(&v1);
}

static void test_identical_code_shares_one_blob(void **state) {
    fixture_t *fx = *state;
    const char *code = "module.exports = () => 42";
    deploy(fx->s, "default", "a", code);
    deploy(fx->s, "default", "b", code);
    err_t err;
    store_version_t va, vb;
    assert_int_equal(store_get_version(fx->s, "default", "a", 1, &va, &err), 0);
    assert_int_equal(store_get_version(fx->s, "default", "b", 1, &vb, &err), 0);
    assert_string_equal(va.code_hash, vb.code_hash);
    /* Deleting one user of the blob leaves it readable for the other. */
    assert_int_equal(store_delete_function(fx->s, "default", "a", &err), 0);
    char *got;
    size_t len;
    assert_int_equal(store_get_code(fx->s, vb.code_hash, &got, &len, &err), 0);
    assert_string_equal(got, code);
    free(got);
    store_version_free(&va);
    store_version_free(&vb);
}

static void test_code_blob_is_binary_safe(void **state) {
    fixture_t *fx = *state;
    const char code[] = {'a', '\0', 'b', (char)0xff};
    store_version_t spec = spec_of("default", "bin"), out;
    err_t err;
    assert_int_equal(store_deploy(fx->s, &spec, code, sizeof code, &out, &err), 0);
    char *got;
    size_t len;
    assert_int_equal(store_get_code(fx->s, out.code_hash, &got, &len, &err), 0);
    assert_int_equal(len, sizeof code);
    assert_memory_equal(got, code, sizeof code);
    assert_int_equal(got[len], '\0');
    free(got);
    store_version_free(&out);
    char zero[65];
    memset(zero, '0', 64);
    zero[64] = '\0';
    assert_int_equal(store_get_code(fx->s, zero, &got, &len, &err), -1);
    assert_int_equal(err.code, R3E_ENOTFOUND);
}

static void test_list_functions_sorted_by_name_within_namespace(void **state) {
    fixture_t *fx = *state;
    deploy(fx->s, "default", "zeta", "z");
    deploy(fx->s, "default", "alpha", "a");
    deploy(fx->s, "default", "alpha-2", "a2");
    deploy(fx->s, "default", "mid", "m");
    deploy(fx->s, "defaults", "other-ns", "o"); /* a namespace that extends "default" */
    deploy(fx->s, "default", "alpha", "a-v2");
    store_function_t *fs;
    size_t n;
    err_t err;
    assert_int_equal(store_list_functions(fx->s, "default", &fs, &n, &err), 0);
    assert_int_equal(n, 4);
    assert_string_equal(fs[0].name, "alpha");
    assert_int_equal(fs[0].latest_version, 2);
    assert_string_equal(fs[1].name, "alpha-2");
    assert_string_equal(fs[2].name, "mid");
    assert_string_equal(fs[3].name, "zeta");
    for (size_t i = 0; i < n; i++)
        assert_string_equal(fs[i].ns, "default");
    free(fs);

    assert_int_equal(store_list_functions(fx->s, NULL, &fs, &n, &err), 0); /* NULL = default */
    assert_int_equal(n, 4);
    free(fs);
    assert_int_equal(store_list_functions(fx->s, "empty", &fs, &n, &err), 0);
    assert_int_equal(n, 0);
    free(fs);
}

static void test_list_versions_ascending(void **state) {
    fixture_t *fx = *state;
    /* 300 crosses a byte boundary of the big-endian version key (255 -> 256). */
    char code[32];
    for (int i = 1; i <= 300; i++) {
        snprintf(code, sizeof code, "v%d", i);
        assert_int_equal(deploy(fx->s, "default", "many", code), (uint32_t)i);
    }
    deploy(fx->s, "default", "many-more", "other function, same prefix");
    store_version_t *vs;
    size_t n;
    err_t err;
    assert_int_equal(store_list_versions(fx->s, "default", "many", &vs, &n, &err), 0);
    assert_int_equal(n, 300);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(vs[i].version, i + 1);
        assert_string_equal(vs[i].name, "many");
        assert_non_null(vs[i].env_json);
    }
    store_versions_free(vs, n);
}

static void test_set_active_rolls_back_and_forward(void **state) {
    fixture_t *fx = *state;
    deploy(fx->s, "default", "fn", "1");
    deploy(fx->s, "default", "fn", "2");
    deploy(fx->s, "default", "fn", "3");
    err_t err;
    store_function_t f;
    assert_int_equal(store_set_active(fx->s, "default", "fn", 1, &err), 0);
    assert_int_equal(store_get_function(fx->s, "default", "fn", &f, &err), 0);
    assert_int_equal(f.active_version, 1);
    assert_int_equal(f.latest_version, 3);
    assert_int_equal(store_set_active(fx->s, "default", "fn", 3, &err), 0);
    assert_int_equal(store_get_function(fx->s, "default", "fn", &f, &err), 0);
    assert_int_equal(f.active_version, 3);
    /* A deploy after a rollback still takes latest+1. */
    assert_int_equal(store_set_active(fx->s, "default", "fn", 2, &err), 0);
    assert_int_equal(deploy(fx->s, "default", "fn", "4"), 4);
}

static void test_set_active_to_missing_version_is_not_found(void **state) {
    fixture_t *fx = *state;
    deploy(fx->s, "default", "fn", "1");
    err_t err;
    assert_int_equal(store_set_active(fx->s, "default", "fn", 7, &err), -1);
    assert_int_equal(err.code, R3E_ENOTFOUND);
    assert_int_equal(store_set_active(fx->s, "default", "nope", 1, &err), -1);
    assert_int_equal(err.code, R3E_ENOTFOUND);
    store_function_t f;
    assert_int_equal(store_get_function(fx->s, "default", "fn", &f, &err), 0);
    assert_int_equal(f.active_version, 1);
    store_version_t v;
    assert_int_equal(store_get_version(fx->s, "default", "fn", 2, &v, &err), -1);
    assert_int_equal(err.code, R3E_ENOTFOUND);
}

static void test_delete_removes_function_versions_and_kv_keeps_executions(void **state) {
    fixture_t *fx = *state;
    err_t err;
    deploy(fx->s, "default", "doomed", "1");
    deploy(fx->s, "default", "doomed", "2");
    deploy(fx->s, "default", "doomed-not", "neighbour with a longer name");
    assert_int_equal(store_kv_put(fx->s, "default", "doomed", "k1", "v1", 2, &err), 0);
    assert_int_equal(store_kv_put(fx->s, "default", "doomed", "k2", "v2", 2, &err), 0);
    assert_int_equal(store_kv_put(fx->s, "default", "doomed-not", "k1", "keep", 4, &err), 0);
    char id[27];
    util_ulid(id);
    assert_int_equal(store_put_execution(fx->s, "default", "doomed", id, "{\"ok\":true}", &err), 0);

    assert_int_equal(store_delete_function(fx->s, "default", "doomed", &err), 0);

    store_function_t f;
    assert_int_equal(store_get_function(fx->s, "default", "doomed", &f, &err), -1);
    assert_int_equal(err.code, R3E_ENOTFOUND);
    store_version_t *vs;
    size_t n;
    assert_int_equal(store_list_versions(fx->s, "default", "doomed", &vs, &n, &err), 0);
    assert_int_equal(n, 0);
    free(vs);
    char **keys;
    assert_int_equal(store_kv_list(fx->s, "default", "doomed", NULL, NULL, 0, &keys, &n, &err), 0);
    assert_int_equal(n, 0);
    store_strv_free(keys, n);
    char *val;
    size_t len;
    assert_int_equal(store_kv_get(fx->s, "default", "doomed", "k1", &val, &len, &err), -1);
    assert_int_equal(err.code, R3E_ENOTFOUND);

    /* The neighbour whose name extends the deleted one is untouched. */
    assert_int_equal(store_get_function(fx->s, "default", "doomed-not", &f, &err), 0);
    assert_int_equal(store_kv_get(fx->s, "default", "doomed-not", "k1", &val, &len, &err), 0);
    assert_string_equal(val, "keep");
    free(val);

    /* Executions are the audit trail. */
    assert_int_equal(store_get_execution(fx->s, "default", id, &val, &err), 0);
    assert_string_equal(val, "{\"ok\":true}");
    free(val);
    char **recs;
    assert_int_equal(store_list_executions(fx->s, "default", "doomed", NULL, 10, &recs, &n, &err),
                     0);
    assert_int_equal(n, 1);
    store_strv_free(recs, n);

    /* Deleting again is not found; deploying again starts over at v1. */
    assert_int_equal(store_delete_function(fx->s, "default", "doomed", &err), -1);
    assert_int_equal(err.code, R3E_ENOTFOUND);
    assert_int_equal(deploy(fx->s, "default", "doomed", "again"), 1);
}

static void test_executions_list_newest_first_with_paging(void **state) {
    fixture_t *fx = *state;
    err_t err;
    enum { N = 25 };
    char ids[N][27], json[64];
    for (int i = 0; i < N; i++) {
        util_ulid(ids[i]);
        snprintf(json, sizeof json, "{\"i\":%d}", i);
        assert_int_equal(store_put_execution(fx->s, "default", "fn", ids[i], json, &err), 0);
    }
    /* Another function's executions never show up in fn's list. */
    char other[27];
    util_ulid(other);
    assert_int_equal(store_put_execution(fx->s, "default", "fn2", other, "{}", &err), 0);

    char **recs;
    size_t n;
    assert_int_equal(store_list_executions(fx->s, "default", "fn", NULL, 10, &recs, &n, &err), 0);
    assert_int_equal(n, 10);
    for (size_t i = 0; i < n; i++) {
        snprintf(json, sizeof json, "{\"i\":%d}", (int)(N - 1 - i));
        assert_string_equal(recs[i], json);
    }
    store_strv_free(recs, n);

    /* Page from before the 10th newest: items 14..5. */
    assert_int_equal(store_list_executions(fx->s, "default", "fn", ids[15], 10, &recs, &n, &err),
                     0);
    assert_int_equal(n, 10);
    assert_string_equal(recs[0], "{\"i\":14}");
    assert_string_equal(recs[9], "{\"i\":5}");
    store_strv_free(recs, n);

    /* The last page is short; before the oldest is empty. */
    assert_int_equal(store_list_executions(fx->s, "default", "fn", ids[3], 10, &recs, &n, &err), 0);
    assert_int_equal(n, 3);
    assert_string_equal(recs[2], "{\"i\":0}");
    store_strv_free(recs, n);
    assert_int_equal(store_list_executions(fx->s, "default", "fn", ids[0], 10, &recs, &n, &err), 0);
    assert_int_equal(n, 0);
    store_strv_free(recs, n);

    /* `before` need not exist: a later id pages from the newest. */
    assert_int_equal(store_list_executions(fx->s, "default", "fn", "ZZZZZZZZZZZZZZZZZZZZZZZZZZ", 1,
                                           &recs, &n, &err),
                     0);
    assert_int_equal(n, 1);
    snprintf(json, sizeof json, "{\"i\":%d}", N - 1);
    assert_string_equal(recs[0], json);
    store_strv_free(recs, n);

    /* limit 0 means the default page size. */
    assert_int_equal(store_list_executions(fx->s, "default", "fn", NULL, 0, &recs, &n, &err), 0);
    assert_int_equal(n, N);
    store_strv_free(recs, n);
}

static void test_execution_put_replaces_record(void **state) {
    fixture_t *fx = *state;
    err_t err;
    char id[27], *rec;
    util_ulid(id);
    assert_int_equal(store_put_execution(fx->s, "default", "fn", id, "{\"s\":\"running\"}", &err),
                     0);
    assert_int_equal(store_put_execution(fx->s, "default", "fn", id, "{\"s\":\"done\"}", &err), 0);
    assert_int_equal(store_get_execution(fx->s, "default", id, &rec, &err), 0);
    assert_string_equal(rec, "{\"s\":\"done\"}");
    free(rec);
    char **recs;
    size_t n;
    assert_int_equal(store_list_executions(fx->s, "default", "fn", NULL, 10, &recs, &n, &err), 0);
    assert_int_equal(n, 1);
    store_strv_free(recs, n);
    assert_int_equal(
        store_get_execution(fx->s, "default", "01NOSUCHEXECUTION000000000", &rec, &err), -1);
    assert_int_equal(err.code, R3E_ENOTFOUND);
}

static void test_executions_are_separated_by_namespace(void **state) {
    fixture_t *fx = *state;
    err_t err;
    char id[27], *rec;
    util_ulid(id);
    assert_int_equal(store_put_execution(fx->s, "b", "fn", id, "{\"ns\":\"b\"}", &err), 0);
    assert_int_equal(store_get_execution(fx->s, "a", id, &rec, &err), -1);
    assert_int_equal(err.code, R3E_ENOTFOUND);
    char **recs;
    size_t n;
    assert_int_equal(store_list_executions(fx->s, "a", "fn", NULL, 10, &recs, &n, &err), 0);
    assert_int_equal(n, 0);
    store_strv_free(recs, n);
    assert_int_equal(store_get_execution(fx->s, "b", id, &rec, &err), 0);
    assert_string_equal(rec, "{\"ns\":\"b\"}");
    free(rec);
}

/* An execution record can ride in an atomic metadata write (a queue job and its "queued"
 * record): readable and listed like a store_put_execution record; a bad op writes nothing. */
static void test_meta_write_carries_execution_records(void **state) {
    fixture_t *fx = *state;
    err_t err;
    char id[27], *rec, *val;
    size_t len;
    util_ulid(id);
    const char *json = "{\"status\":\"queued\"}";
    store_meta_op_t op = {"qjob", id, "job", 3};
    store_exec_put_t ex = {"ns1", "fn", id, json};
    assert_int_equal(store_meta_write_execs(fx->s, &op, 1, &ex, 1, &err), 0);
    assert_int_equal(store_get_execution(fx->s, "ns1", id, &rec, &err), 0);
    assert_string_equal(rec, json);
    free(rec);
    char **recs;
    size_t n;
    assert_int_equal(store_list_executions(fx->s, "ns1", "fn", NULL, 10, &recs, &n, &err), 0);
    assert_int_equal(n, 1);
    store_strv_free(recs, n);
    assert_int_equal(store_meta_get(fx->s, "qjob", id, &val, &len, &err), 0);
    free(val);
    char id2[27];
    util_ulid(id2);
    store_meta_op_t op2 = {"qjob", id2, "job", 3};
    store_exec_put_t bad = {"ns1", "Bad Name", id2, json};
    assert_int_equal(store_meta_write_execs(fx->s, &op2, 1, &bad, 1, &err), -1);
    assert_int_equal(err.code, R3E_EINVAL);
    assert_int_equal(store_meta_get(fx->s, "qjob", id2, &val, &len, &err), -1);
    assert_int_equal(store_get_execution(fx->s, "ns1", id2, &rec, &err), -1);
}

static void test_kv_get_put_delete(void **state) {
    fixture_t *fx = *state;
    err_t err;
    char *val;
    size_t len;
    assert_int_equal(store_kv_get(fx->s, "default", "fn", "missing", &val, &len, &err), -1);
    assert_int_equal(err.code, R3E_ENOTFOUND);
    const char bin[] = {'x', '\0', 'y'};
    assert_int_equal(store_kv_put(fx->s, "default", "fn", "k", bin, sizeof bin, &err), 0);
    assert_int_equal(store_kv_get(fx->s, "default", "fn", "k", &val, &len, &err), 0);
    assert_int_equal(len, sizeof bin);
    assert_memory_equal(val, bin, sizeof bin);
    assert_int_equal(val[len], '\0');
    free(val);
    assert_int_equal(store_kv_put(fx->s, "default", "fn", "k", "new", 3, &err), 0);
    assert_int_equal(store_kv_get(fx->s, "default", "fn", "k", &val, &len, &err), 0);
    assert_string_equal(val, "new");
    free(val);
    assert_int_equal(store_kv_put(fx->s, "default", "fn", "empty", "", 0, &err), 0);
    assert_int_equal(store_kv_get(fx->s, "default", "fn", "empty", &val, &len, &err), 0);
    assert_int_equal(len, 0);
    free(val);
    /* Other functions and namespaces do not see it. */
    assert_int_equal(store_kv_get(fx->s, "default", "fn2", "k", &val, &len, &err), -1);
    assert_int_equal(store_kv_get(fx->s, "other", "fn", "k", &val, &len, &err), -1);

    assert_int_equal(store_kv_delete(fx->s, "default", "fn", "k", &err), 0);
    assert_int_equal(store_kv_get(fx->s, "default", "fn", "k", &val, &len, &err), -1);
    assert_int_equal(err.code, R3E_ENOTFOUND);
    assert_int_equal(store_kv_delete(fx->s, "default", "fn", "k", &err), 0); /* absent: fine */
    assert_int_equal(store_kv_put(fx->s, "default", "fn", "", "v", 1, &err), -1);
    assert_int_equal(err.code, R3E_EINVAL);
}

static void test_kv_list_prefix_start_after_limit(void **state) {
    fixture_t *fx = *state;
    err_t err;
    const char *names[] = {"user:3", "user:1", "order:1", "user:2", "user", "users", "zz"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        assert_int_equal(store_kv_put(fx->s, "default", "fn", names[i], "v", 1, &err), 0);
    assert_int_equal(store_kv_put(fx->s, "default", "fn-x", "user:9", "v", 1, &err), 0);

    char **keys;
    size_t n;
    assert_int_equal(store_kv_list(fx->s, "default", "fn", NULL, NULL, 0, &keys, &n, &err), 0);
    const char *all[] = {"order:1", "user", "user:1", "user:2", "user:3", "users", "zz"};
    assert_int_equal(n, 7);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(keys[i], all[i]);
    store_strv_free(keys, n);

    assert_int_equal(store_kv_list(fx->s, "default", "fn", "user:", NULL, 0, &keys, &n, &err), 0);
    assert_int_equal(n, 3);
    assert_string_equal(keys[0], "user:1");
    assert_string_equal(keys[2], "user:3");
    store_strv_free(keys, n);

    assert_int_equal(store_kv_list(fx->s, "default", "fn", "user:", "user:1", 1, &keys, &n, &err),
                     0);
    assert_int_equal(n, 1);
    assert_string_equal(keys[0], "user:2");
    store_strv_free(keys, n);

    /* start_after before the prefix range starts at the prefix; after it, nothing. */
    assert_int_equal(store_kv_list(fx->s, "default", "fn", "user:", "a", 0, &keys, &n, &err), 0);
    assert_int_equal(n, 3);
    store_strv_free(keys, n);
    assert_int_equal(store_kv_list(fx->s, "default", "fn", "user:", "v", 0, &keys, &n, &err), 0);
    assert_int_equal(n, 0);
    store_strv_free(keys, n);

    /* start_after alone pages through everything. */
    assert_int_equal(store_kv_list(fx->s, "default", "fn", NULL, "user:3", 10, &keys, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_string_equal(keys[0], "users");
    assert_string_equal(keys[1], "zz");
    store_strv_free(keys, n);
}

static void test_reopen_keeps_everything(void **state) {
    fixture_t *fx = *state;
    err_t err;
    deploy(fx->s, "default", "persist", "one");
    deploy(fx->s, "default", "persist", "two");
    assert_int_equal(store_set_active(fx->s, "default", "persist", 1, &err), 0);
    assert_int_equal(store_kv_put(fx->s, "default", "persist", "k", "v", 1, &err), 0);
    char id[27];
    util_ulid(id);
    assert_int_equal(store_put_execution(fx->s, "default", "persist", id, "{}", &err), 0);

    store_close(fx->s);
    char url[96];
    snprintf(url, sizeof url, "rocksdb:%s", fx->dir);
    fx->s = store_open(url, &err);
    assert_non_null(fx->s);

    store_function_t f;
    assert_int_equal(store_get_function(fx->s, "default", "persist", &f, &err), 0);
    assert_int_equal(f.active_version, 1);
    assert_int_equal(f.latest_version, 2);
    store_version_t v;
    assert_int_equal(store_get_version(fx->s, "default", "persist", 2, &v, &err), 0);
    char *code, *val, *rec;
    size_t len;
    assert_int_equal(store_get_code(fx->s, v.code_hash, &code, &len, &err), 0);
    assert_string_equal(code, "two");
    free(code);
    store_version_free(&v);
    assert_int_equal(store_kv_get(fx->s, "default", "persist", "k", &val, &len, &err), 0);
    assert_string_equal(val, "v");
    free(val);
    assert_int_equal(store_get_execution(fx->s, "default", id, &rec, &err), 0);
    assert_string_equal(rec, "{}");
    free(rec);
    assert_int_equal(deploy(fx->s, "default", "persist", "three"), 3);
}

static void test_open_rejects_unknown_url_and_second_open(void **state) {
    fixture_t *fx = *state;
    err_t err;
    assert_null(store_open("postgres://localhost/r3e", &err));
    assert_int_equal(err.code, R3E_EINVAL);
    assert_null(store_open("", &err));
    /* RocksDB's LOCK file keeps a second handle off the same directory. */
    assert_null(store_open(fx->dir, &err));
    assert_int_equal(err.code, R3E_EIO);
    store_close(NULL);
}

static void test_open_creates_missing_directories(void **state) {
    fixture_t *fx = *state;
    char sub[128];
    snprintf(sub, sizeof sub, "%s/nested/deeper/db", fx->dir);
    err_t err;
    store_t *s = store_open(sub, &err);
    assert_non_null(s);
    assert_int_equal(deploy(s, "default", "x", "y"), 1);
    store_close(s);
}

/* argv[0] rather than /proc/self/exe, which is valgrind itself when run under it. */
static const char *self_path = "/proc/self/exe";

/* The writer half of the kill -9 test, run in a fresh process (this binary re-executed:
 * forking after RocksDB started its threads would not be a faithful server). Writes, tells
 * the parent on fd 3 that the writes were acknowledged, then waits to be killed. */
static int killed_writer(const char *dir) {
    err_t err;
    store_t *s = store_open(dir, &err);
    int ok = s != NULL;
    store_version_t spec = spec_of("default", "survivor"), out;
    ok = ok && store_deploy(s, &spec, "code", 4, &out, &err) == 0;
    ok = ok && store_kv_put(s, "default", "survivor", "k", "v", 1, &err) == 0;
    ok = ok && store_put_execution(s, "default", "survivor", "01KILLED000000000000000000", "{}",
                                   &err) == 0;
    char c = ok ? 'y' : 'n';
    if (write(3, &c, 1) != 1) return 1;
    for (;;)
        pause(); /* SIGKILL arrives here, store still open */
}

/* A child process writes, reports the writes acknowledged and is killed with SIGKILL
 * before it can close anything: the WAL must bring every acknowledged write back. */
static void test_acknowledged_writes_survive_kill_9(void **state) {
    fixture_t *fx = *state;
    char dir[128];
    snprintf(dir, sizeof dir, "%s/killed", fx->dir);
    int pipefd[2];
    assert_int_equal(pipe(pipefd), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (dup2(pipefd[1], 3) < 0) _exit(1);
        char *argv[] = {"test_store", "--killed-writer", dir, NULL};
        execv(self_path, argv);
        _exit(127);
    }
    close(pipefd[1]);
    char c = 0;
    assert_int_equal(read(pipefd[0], &c, 1), 1);
    close(pipefd[0]);
    assert_int_equal(c, 'y');
    kill(pid, SIGKILL);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));

    err_t err;
    store_t *s = store_open(dir, &err);
    assert_non_null(s);
    store_function_t f;
    assert_int_equal(store_get_function(s, "default", "survivor", &f, &err), 0);
    assert_int_equal(f.active_version, 1);
    char *val;
    size_t len;
    assert_int_equal(store_kv_get(s, "default", "survivor", "k", &val, &len, &err), 0);
    assert_string_equal(val, "v");
    free(val);
    assert_int_equal(store_get_execution(s, "default", "01KILLED000000000000000000", &val, &err),
                     0);
    free(val);
    store_close(s);
}

enum { DEPLOY_THREADS = 8 };

typedef struct {
    store_t *s;
    uint32_t version;
    int rc;
} deployer_t;

static void *deployer(void *arg) {
    deployer_t *d = arg;
    char code[64];
    snprintf(code, sizeof code, "code from %p", arg);
    store_version_t spec = spec_of("default", "race"), out;
    err_t err;
    d->rc = store_deploy(d->s, &spec, code, strlen(code), &out, &err);
    if (d->rc == 0) {
        d->version = out.version;
        store_version_free(&out);
    }
    return NULL;
}

static void test_concurrent_deploys_get_distinct_consecutive_versions(void **state) {
    fixture_t *fx = *state;
    pthread_t th[DEPLOY_THREADS];
    deployer_t d[DEPLOY_THREADS];
    for (int i = 0; i < DEPLOY_THREADS; i++) {
        d[i] = (deployer_t){.s = fx->s};
        assert_int_equal(pthread_create(&th[i], NULL, deployer, &d[i]), 0);
    }
    bool seen[DEPLOY_THREADS + 1] = {false};
    for (int i = 0; i < DEPLOY_THREADS; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(d[i].rc, 0);
        assert_in_range(d[i].version, 1, DEPLOY_THREADS);
        assert_false(seen[d[i].version]);
        seen[d[i].version] = true;
    }
    store_function_t f;
    err_t err;
    assert_int_equal(store_get_function(fx->s, "default", "race", &f, &err), 0);
    assert_int_equal(f.latest_version, DEPLOY_THREADS);
    assert_int_equal(f.active_version, DEPLOY_THREADS);
    store_version_t *vs;
    size_t n;
    assert_int_equal(store_list_versions(fx->s, "default", "race", &vs, &n, &err), 0);
    assert_int_equal(n, DEPLOY_THREADS);
    store_versions_free(vs, n);
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "--killed-writer") == 0) return killed_writer(argv[2]);
    if (strchr(argv[0], '/')) self_path = argv[0];
    const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
        T(test_deploy_creates_v1_active_with_defaults),
        T(test_deploy_keeps_given_limits_and_env),
        T(test_deploy_rejects_bad_input),
        T(test_redeploy_makes_v2_active_and_keeps_v1),
        T(test_identical_code_shares_one_blob),
        T(test_code_blob_is_binary_safe),
        T(test_list_functions_sorted_by_name_within_namespace),
        T(test_list_versions_ascending),
        T(test_set_active_rolls_back_and_forward),
        T(test_set_active_to_missing_version_is_not_found),
        T(test_delete_removes_function_versions_and_kv_keeps_executions),
        T(test_executions_list_newest_first_with_paging),
        T(test_execution_put_replaces_record),
        T(test_executions_are_separated_by_namespace),
        T(test_meta_write_carries_execution_records),
        T(test_kv_get_put_delete),
        T(test_kv_list_prefix_start_after_limit),
        T(test_reopen_keeps_everything),
        T(test_open_rejects_unknown_url_and_second_open),
        T(test_open_creates_missing_directories),
        T(test_acknowledged_writes_survive_kill_9),
        T(test_concurrent_deploys_get_distinct_consecutive_versions),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
