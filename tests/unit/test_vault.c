/* The secret vault against a real RocksDB store in a fresh temporary directory per test:
 * put/get/list/delete, versions, tamper and move detection, isolation between namespaces
 * and functions, the master key check, and online rotation (complete and interrupted). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tmpdir.h"
#include "store/store.h"
#include "vault/vault.h"
#include "vault/vault_record.h"

#include <ftw.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    char dir[64];
    store_t *s;
    vault_t *v;
} fixture_t;

static const uint8_t key1[32] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
                                 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
static const uint8_t key2[32] = {2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
                                 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2};

/* A keyring with key1 as version v1 (0 = absent) and key2 as version v2 (0 = absent). */
static vault_keyring_t *ring(uint32_t v1, uint32_t v2) {
    vault_keyring_t *kr = vault_keyring_new();
    err_t err;
    assert_non_null(kr);
    if (v1) assert_int_equal(vault_keyring_add(kr, v1, key1, &err), 0);
    if (v2) assert_int_equal(vault_keyring_add(kr, v2, key2, &err), 0);
    return kr;
}

static vault_t *reopen(fixture_t *fx, vault_keyring_t *kr) {
    err_t err;
    vault_close(fx->v);
    fx->v = NULL;
    if (vault_open(fx->s, kr, &fx->v, &err) != 0) fail_msg("vault_open: %s", err.msg);
    return fx->v;
}

static int setup(void **state) {
    fixture_t *fx = calloc(1, sizeof *fx);
    err_t err;
    if (tmpdir_make(fx->dir, sizeof fx->dir, "vault") < 0 || !(fx->s = store_open(fx->dir, &err)) ||
        vault_open(fx->s, ring(1, 0), &fx->v, &err) != 0) {
        store_close(fx->s);
        free(fx);
        return -1;
    }
    *state = fx;
    return 0;
}

static int teardown(void **state) {
    fixture_t *fx = *state;
    vault_close(fx->v);
    store_close(fx->s);
    tmpdir_remove(fx->dir);
    free(fx);
    return 0;
}

static void put(vault_t *v, const char *ns, const char *fn, const char *name, const char *val) {
    err_t err;
    if (vault_put(v, ns, fn, name, val, strlen(val), NULL, &err) != 0)
        fail_msg("vault_put %s: %s", name, err.msg);
}

static void expect_secret(vault_t *v, const char *ns, const char *fn, const char *name,
                          const char *want) {
    err_t err;
    char *got;
    size_t len;
    if (vault_get(v, ns, fn, name, &got, &len, NULL, &err) != 0)
        fail_msg("vault_get %s/%s/%s: %s", ns ? ns : "", fn, name, err.msg);
    assert_int_equal(len, strlen(want));
    assert_string_equal(got, want);
    vault_plaintext_free(got);
}

static void expect_get_fails(vault_t *v, const char *ns, const char *fn, const char *name,
                             err_code_t code) {
    err_t err;
    char *got = (char *)"untouched";
    assert_int_equal(vault_get(v, ns, fn, name, &got, NULL, NULL, &err), -1);
    assert_int_equal(err.code, code);
    assert_string_equal(got, "untouched");
}

static void put_get_list_delete_roundtrip(void **state) {
    fixture_t *fx = *state;
    err_t err;
    uint32_t ver = 0;
    assert_int_equal(vault_put(fx->v, NULL, "pay", "API_KEY", "s3cr3t-value", 12, &ver, &err), 0);
    assert_int_equal(ver, 1);
    put(fx->v, "default", "pay", "DB_URL", "postgres://u:p@h/db");
    put(fx->v, "default", "pay", "_x9", "");
    expect_secret(fx->v, "default", "pay", "API_KEY", "s3cr3t-value");
    expect_secret(fx->v, NULL, "pay", "DB_URL", "postgres://u:p@h/db");
    expect_secret(fx->v, "", "pay", "_x9", "");

    vault_entry_t *e;
    size_t n;
    assert_int_equal(vault_list(fx->v, NULL, "pay", &e, &n, &err), 0);
    assert_int_equal(n, 3);
    assert_string_equal(e[0].name, "API_KEY");
    assert_string_equal(e[1].name, "DB_URL");
    assert_string_equal(e[2].name, "_x9");
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(e[i].version, 1);
        assert_int_equal(e[i].master_version, 1);
        assert_true(e[i].created_ms > 0);
    }
    free(e);

    assert_int_equal(vault_delete(fx->v, NULL, "pay", "DB_URL", &err), 0);
    expect_get_fails(fx->v, NULL, "pay", "DB_URL", R3E_ENOTFOUND);
    assert_int_equal(vault_delete(fx->v, NULL, "pay", "DB_URL", &err), -1);
    assert_int_equal(err.code, R3E_ENOTFOUND);
    assert_int_equal(vault_list(fx->v, NULL, "pay", &e, &n, &err), 0);
    assert_int_equal(n, 2);
    free(e);

    assert_int_equal(vault_delete_all_for_function(fx->v, NULL, "pay", &err), 0);
    assert_int_equal(vault_list(fx->v, NULL, "pay", &e, &n, &err), 0);
    assert_int_equal(n, 0);
    free(e);
}

static void versions_increment_on_every_set(void **state) {
    fixture_t *fx = *state;
    err_t err;
    uint32_t ver;
    for (uint32_t i = 1; i <= 4; i++) {
        char val[16];
        snprintf(val, sizeof val, "value-%u", i);
        assert_int_equal(vault_put(fx->v, NULL, "f", "K", val, strlen(val), &ver, &err), 0);
        assert_int_equal(ver, i);
    }
    char *got;
    uint32_t gv;
    assert_int_equal(vault_get(fx->v, NULL, "f", "K", &got, NULL, &gv, &err), 0);
    assert_int_equal(gv, 4);
    assert_string_equal(got, "value-4");
    vault_plaintext_free(got);
    /* another secret has its own counter */
    assert_int_equal(vault_put(fx->v, NULL, "f", "L", "abcd", 4, &ver, &err), 0);
    assert_int_equal(ver, 1);
}

static void names_and_values_are_checked(void **state) {
    fixture_t *fx = *state;
    err_t err;
    const char *bad[] = {"", "1ABC", "A-B", "A B", "a/b", "ä", NULL};
    for (int i = 0; bad[i]; i++) {
        assert_int_equal(vault_put(fx->v, NULL, "f", bad[i], "v", 1, NULL, &err), -1);
        assert_int_equal(err.code, R3E_EINVAL);
    }
    char name[130];
    memset(name, 'A', 128);
    name[128] = '\0';
    assert_int_equal(vault_put(fx->v, NULL, "f", name, "v", 1, NULL, &err), 0);
    name[128] = 'A', name[129] = '\0';
    assert_int_equal(vault_put(fx->v, NULL, "f", name, "v", 1, NULL, &err), -1);
    assert_int_equal(vault_put(fx->v, "Bad NS", "f", "K", "v", 1, NULL, &err), -1);
    assert_int_equal(vault_put(fx->v, NULL, "F/x", "K", "v", 1, NULL, &err), -1);
    /* values: UTF-8 text without NUL, at most 64 KiB */
    assert_int_equal(vault_put(fx->v, NULL, "f", "K", "a\0b", 3, NULL, &err), -1);
    assert_int_equal(err.code, R3E_EINVAL);
    assert_int_equal(vault_put(fx->v, NULL, "f", "K", "\xff\xfe", 2, NULL, &err), -1);
    assert_int_equal(err.code, R3E_EINVAL);
    char *big = malloc(VAULT_SECRET_VALUE_MAX + 1);
    memset(big, 'x', VAULT_SECRET_VALUE_MAX + 1);
    assert_int_equal(vault_put(fx->v, NULL, "f", "K", big, VAULT_SECRET_VALUE_MAX + 1, NULL, &err),
                     -1);
    assert_int_equal(err.code, R3E_ETOOBIG);
    assert_int_equal(vault_put(fx->v, NULL, "f", "K", big, VAULT_SECRET_VALUE_MAX, NULL, &err), 0);
    char *got;
    size_t len;
    assert_int_equal(vault_get(fx->v, NULL, "f", "K", &got, &len, NULL, &err), 0);
    assert_int_equal(len, VAULT_SECRET_VALUE_MAX);
    assert_memory_equal(got, big, len);
    vault_plaintext_free(got);
    free(big);
}

static void tampering_with_any_byte_fails(void **state) {
    fixture_t *fx = *state;
    err_t err;
    put(fx->v, NULL, "f", "K", "the secret value");
    char *raw;
    size_t len;
    assert_int_equal(store_meta_get(fx->s, "secret", "default/f/K", &raw, &len, &err), 0);
    assert_int_equal(len, VAULT_RECORD_HEADER + 16 + VAULT_TAG_BYTES);
    for (size_t i = 0; i < len; i++) {
        for (int bit = 0; bit < 8; bit += 7) {
            raw[i] ^= (char)(1 << bit);
            assert_int_equal(store_meta_put(fx->s, "secret", "default/f/K", raw, len, &err), 0);
            char *got = NULL;
            if (vault_get(fx->v, NULL, "f", "K", &got, NULL, NULL, &err) == 0)
                fail_msg("flipping bit %d of byte %zu went unnoticed", bit, i);
            assert_null(got);
            assert_true(err.code == R3E_EIO || err.code == R3E_EUNAVAIL);
            raw[i] ^= (char)(1 << bit);
        }
    }
    /* truncation and extension too */
    assert_int_equal(store_meta_put(fx->s, "secret", "default/f/K", raw, len - 1, &err), 0);
    expect_get_fails(fx->v, NULL, "f", "K", R3E_EIO);
    assert_int_equal(store_meta_put(fx->s, "secret", "default/f/K", raw, len, &err), 0);
    expect_secret(fx->v, NULL, "f", "K", "the secret value");
    free(raw);
}

static void record_moved_to_another_id_fails(void **state) {
    fixture_t *fx = *state;
    err_t err;
    put(fx->v, "ns1", "fa", "K", "value of ns1/fa/K");
    put(fx->v, "ns1", "fa", "L", "value of ns1/fa/L");
    char *raw;
    size_t len;
    assert_int_equal(store_meta_get(fx->s, "secret", "ns1/fa/K", &raw, &len, &err), 0);
    const char *targets[] = {"ns1/fa/L", "ns1/fb/K", "ns2/fa/K", "default/fa/K", NULL};
    for (int i = 0; targets[i]; i++)
        assert_int_equal(store_meta_put(fx->s, "secret", targets[i], raw, len, &err), 0);
    expect_get_fails(fx->v, "ns1", "fa", "L", R3E_EIO);
    expect_get_fails(fx->v, "ns1", "fb", "K", R3E_EIO);
    expect_get_fails(fx->v, "ns2", "fa", "K", R3E_EIO);
    expect_get_fails(fx->v, NULL, "fa", "K", R3E_EIO);
    expect_secret(fx->v, "ns1", "fa", "K", "value of ns1/fa/K");
    /* the invocation bundle refuses the whole function rather than run without L */
    vault_bundle_t b;
    assert_int_equal(vault_get_all_for_function(fx->v, "ns1", "fa", &b, &err), -1);
    assert_int_equal(err.code, R3E_EIO);
    assert_null(b.json);
    free(raw);
}

static void a_corrupt_record_is_listed_skipped_by_rotation_and_replaceable(void **state) {
    fixture_t *fx = *state;
    err_t err;
    put(fx->v, NULL, "f", "GOOD", "good value");
    assert_int_equal(store_meta_put(fx->s, "secret", "default/f/BAD", "garbage", 7, &err), 0);
    expect_get_fails(fx->v, NULL, "f", "BAD", R3E_EIO);
    vault_entry_t *e;
    size_t n;
    assert_int_equal(vault_list(fx->v, NULL, "f", &e, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_string_equal(e[0].name, "BAD");
    assert_int_equal(e[0].version, 0);
    free(e);
    /* a bundle with an unreadable secret fails as a whole: never run with a missing secret */
    vault_bundle_t b;
    assert_int_equal(vault_get_all_for_function(fx->v, NULL, "f", &b, &err), -1);
    assert_int_equal(err.code, R3E_EIO);
    reopen(fx, ring(1, 2));
    vault_status_t st;
    assert_int_equal(vault_rotate_master(fx->v, 0, &st, &err), 0);
    assert_false(st.rotating);
    assert_int_equal(st.rewrapped, 1);
    reopen(fx, ring(0, 2));
    expect_secret(fx->v, NULL, "f", "GOOD", "good value");
    uint32_t ver;
    assert_int_equal(vault_put(fx->v, NULL, "f", "BAD", "fixed", 5, &ver, &err), 0);
    assert_int_equal(ver, 1);
    expect_secret(fx->v, NULL, "f", "BAD", "fixed");
}

static void secrets_are_invisible_from_other_namespaces_and_functions(void **state) {
    fixture_t *fx = *state;
    err_t err;
    put(fx->v, "team-a", "fn", "TOKEN", "team-a token");
    put(fx->v, "team-a", "fn-x", "OTHER", "other fn");
    expect_get_fails(fx->v, "team-b", "fn", "TOKEN", R3E_ENOTFOUND);
    expect_get_fails(fx->v, "team-a", "fn2", "TOKEN", R3E_ENOTFOUND);
    expect_get_fails(fx->v, NULL, "fn", "TOKEN", R3E_ENOTFOUND);
    vault_entry_t *e;
    size_t n;
    assert_int_equal(vault_list(fx->v, "team-b", "fn", &e, &n, &err), 0);
    assert_int_equal(n, 0);
    assert_int_equal(vault_list(fx->v, "team-a", "fn", &e, &n, &err), 0);
    assert_int_equal(n, 1); /* "fn-x" shares the prefix "fn" but is another function */
    assert_string_equal(e[0].name, "TOKEN");
    free(e);
    vault_bundle_t b;
    assert_int_equal(vault_get_all_for_function(fx->v, "team-b", "fn", &b, &err), 0);
    assert_int_equal(b.n, 0);
    assert_string_equal(b.json, "{}");
    vault_bundle_free(&b);
    assert_int_equal(vault_delete(fx->v, "team-b", "fn", "TOKEN", &err), -1);
    assert_int_equal(err.code, R3E_ENOTFOUND);
    expect_secret(fx->v, "team-a", "fn", "TOKEN", "team-a token");
}

/* The invoke path remembers "no secrets" per function: a secret set afterwards must show
 * in the very next bundle, for that function and for a function sharing its cache slot
 * history; deleting it makes the bundle empty again. */
static void empty_bundle_cache_sees_new_secrets(void **state) {
    fixture_t *fx = *state;
    err_t err;
    vault_bundle_t b;
    for (int round = 0; round < 3; round++) {
        for (int k = 0; k < 2; k++) { /* twice: the second is answered from the cache */
            assert_int_equal(vault_get_all_for_function(fx->v, "team-a", "fn", &b, &err), 0);
            assert_int_equal(b.n, 0);
            assert_string_equal(b.json, "{}");
            vault_bundle_free(&b);
        }
        put(fx->v, "team-a", "fn", "TOKEN", "fresh value");
        assert_int_equal(vault_get_all_for_function(fx->v, "team-a", "fn", &b, &err), 0);
        assert_int_equal(b.n, 1);
        assert_string_equal(b.json, "{\"TOKEN\":\"fresh value\"}");
        vault_bundle_free(&b);
        assert_int_equal(vault_delete(fx->v, "team-a", "fn", "TOKEN", &err), 0);
    }
    /* a put for another function also ends every remembered "empty" (no stale answer) */
    assert_int_equal(vault_get_all_for_function(fx->v, "team-a", "g", &b, &err), 0);
    assert_int_equal(b.n, 0);
    vault_bundle_free(&b);
    put(fx->v, "team-a", "other", "X", "x");
    put(fx->v, "team-a", "g", "Y", "y");
    assert_int_equal(vault_get_all_for_function(fx->v, "team-a", "g", &b, &err), 0);
    assert_int_equal(b.n, 1);
    vault_bundle_free(&b);
}

static void get_all_for_function_gives_json_for_the_worker(void **state) {
    fixture_t *fx = *state;
    err_t err;
    put(fx->v, NULL, "fn", "A", "plain");
    put(fx->v, NULL, "fn", "B", "quote\" back\\slash\nnewline\t\x01 ünï");
    put(fx->v, NULL, "fn-other", "C", "not mine");
    vault_bundle_t b;
    assert_int_equal(vault_get_all_for_function(fx->v, NULL, "fn", &b, &err), 0);
    assert_int_equal(b.n, 2);
    assert_int_equal(strlen(b.json), b.json_len);
    json_error_t je;
    json_t *j = json_loadb(b.json, b.json_len, 0, &je);
    assert_non_null(j);
    assert_int_equal(json_object_size(j), 2);
    assert_string_equal(json_string_value(json_object_get(j, "A")), "plain");
    assert_string_equal(json_string_value(json_object_get(j, "B")),
                        "quote\" back\\slash\nnewline\t\x01 ünï");
    json_decref(j);
    assert_string_equal(b.names[0], "A");
    assert_string_equal(b.values[0], "plain");
    assert_int_equal(b.lens[0], 5);
    vault_bundle_free(&b);
    assert_null(b.json);
}

static void wrong_master_key_fails_loudly_at_open(void **state) {
    fixture_t *fx = *state;
    err_t err;
    put(fx->v, NULL, "f", "K", "value");
    vault_close(fx->v);
    fx->v = NULL;
    /* key2 presented as version 1 */
    vault_keyring_t *kr = vault_keyring_new();
    assert_int_equal(vault_keyring_add(kr, 1, key2, &err), 0);
    vault_t *v = NULL;
    assert_int_equal(vault_open(fx->s, kr, &v, &err), -1);
    assert_null(v);
    assert_int_equal(err.code, R3E_EINVAL);
    assert_string_equal(err.msg,
                        "master key does not match the key this store was sealed with (version 1)");
    /* a keyring that lacks the version the records are sealed with also fails at open */
    assert_int_equal(vault_open(fx->s, ring(0, 2), &v, &err), -1);
    assert_non_null(strstr(err.msg, "master key version 1 is not loaded"));
    /* the right key still works */
    reopen(fx, ring(1, 0));
    expect_secret(fx->v, NULL, "f", "K", "value");
}

#define ROT_N 237 /* more than two store pages */

static void fill(vault_t *v) {
    for (int i = 0; i < ROT_N; i++) {
        char fn[16], name[16], val[32];
        snprintf(fn, sizeof fn, "fn%d", i % 7);
        snprintf(name, sizeof name, "S%03d", i);
        snprintf(val, sizeof val, "value number %d", i);
        put(v, i % 2 ? "ns-a" : NULL, fn, name, val);
    }
}

static void check_all(vault_t *v) {
    for (int i = 0; i < ROT_N; i++) {
        char fn[16], name[16], val[32];
        snprintf(fn, sizeof fn, "fn%d", i % 7);
        snprintf(name, sizeof name, "S%03d", i);
        snprintf(val, sizeof val, "value number %d", i);
        expect_secret(v, i % 2 ? "ns-a" : NULL, fn, name, val);
    }
}

static void rotation_rewraps_everything_and_the_old_key_is_no_longer_needed(void **state) {
    fixture_t *fx = *state;
    err_t err;
    fill(fx->v);
    char *before;
    size_t before_len;
    assert_int_equal(
        store_meta_get(fx->s, "secret", "default/fn0/S000", &before, &before_len, &err), 0);
    /* the operator restarts with the new key current and the old one as previous */
    reopen(fx, ring(1, 2));
    vault_status_t st;
    assert_int_equal(vault_status(fx->v, &st, &err), 0);
    assert_int_equal(st.current, 2);
    assert_int_equal(st.sealed, 1);
    assert_true(st.rotating);
    /* everything still readable before rotating; new writes use version 2 */
    check_all(fx->v);
    put(fx->v, NULL, "late", "NEW", "written during rotation");
    vault_entry_t *e;
    size_t n;
    assert_int_equal(vault_list(fx->v, NULL, "late", &e, &n, &err), 0);
    assert_int_equal(e[0].master_version, 2);
    free(e);

    assert_int_equal(vault_rotate_master(fx->v, 0, &st, &err), 0);
    assert_false(st.rotating);
    assert_int_equal(st.sealed, 2);
    assert_int_equal(st.scanned, ROT_N + 1);
    assert_int_equal(st.rewrapped, ROT_N);
    /* only the wrapped key changed: same secret version, same value ciphertext */
    char *after;
    size_t after_len;
    assert_int_equal(store_meta_get(fx->s, "secret", "default/fn0/S000", &after, &after_len, &err),
                     0);
    vault_record_t rb, ra;
    assert_int_equal(vault_record_decode((uint8_t *)before, before_len, &rb, &err), 0);
    assert_int_equal(vault_record_decode((uint8_t *)after, after_len, &ra, &err), 0);
    assert_int_equal(rb.master_version, 1);
    assert_int_equal(ra.master_version, 2);
    assert_int_equal(ra.secret_version, rb.secret_version);
    assert_int_equal(ra.created_ms, rb.created_ms);
    assert_memory_equal(ra.value_nonce, rb.value_nonce, VAULT_NONCE_BYTES);
    assert_int_equal(ra.ciphertext_len, rb.ciphertext_len);
    assert_memory_equal(ra.ciphertext, rb.ciphertext, ra.ciphertext_len);
    assert_memory_not_equal(ra.wrapped_key, rb.wrapped_key, VAULT_WRAPPED_BYTES);
    free(before);
    free(after);
    /* a second call has nothing to do */
    assert_int_equal(vault_rotate_master(fx->v, 0, &st, &err), 0);
    assert_int_equal(st.scanned, 0);

    reopen(fx, ring(0, 2)); /* old key gone */
    check_all(fx->v);
    expect_secret(fx->v, NULL, "late", "NEW", "written during rotation");
}

/* Platform-owned secrets (relayer keys): readable only through the system calls, invisible
 * to every function's listing and bundle, and re-wrapped by rotation like the rest. */
static void system_secrets_are_out_of_reach_of_functions_and_survive_rotation(void **state) {
    fixture_t *fx = *state;
    err_t err;
    assert_int_equal(vault_put_system(fx->v, "eth-relayer", "local", "0xabc123", 8, &err), 0);
    assert_int_equal(vault_put_system(fx->v, "eth-relayer", "bad/name", "x", 1, &err), -1);
    assert_int_equal(err.code, R3E_EINVAL);
    char *val = NULL;
    size_t len = 0;
    assert_int_equal(vault_get_system(fx->v, "eth-relayer", "absent", &val, &len, &err), -1);
    assert_int_equal(err.code, R3E_ENOTFOUND);
    /* no namespace/function pair names it */
    vault_bundle_t b;
    assert_int_equal(vault_get_all_for_function(fx->v, "sys", "eth-relayer", &b, &err), 0);
    assert_int_equal(b.n, 0);
    vault_bundle_free(&b);
    reopen(fx, ring(1, 2));
    vault_status_t st;
    assert_int_equal(vault_rotate_master(fx->v, 0, &st, &err), 0);
    assert_int_equal(st.rewrapped, 1);
    reopen(fx, ring(0, 2));
    assert_int_equal(vault_get_system(fx->v, "eth-relayer", "local", &val, &len, &err), 0);
    assert_int_equal(len, 8);
    assert_string_equal(val, "0xabc123");
    vault_plaintext_free(val);
}

static void interrupted_rotation_resumes_where_it_stopped(void **state) {
    fixture_t *fx = *state;
    err_t err;
    fill(fx->v);
    reopen(fx, ring(1, 2));
    vault_status_t st;
    /* stop after 150 records (past the first progress checkpoint), as a crash would */
    assert_int_equal(vault_rotate_master(fx->v, 150, &st, &err), 0);
    assert_true(st.rotating);
    assert_int_equal(st.rewrapped, 150);
    check_all(fx->v); /* mixed versions: each record opens with the version it names */
    vault_close(fx->v);
    fx->v = NULL;

    /* the old key is still needed while the rotation is incomplete: fail loudly */
    vault_t *v = NULL;
    assert_int_equal(vault_open(fx->s, ring(0, 2), &v, &err), -1);
    assert_non_null(strstr(err.msg, "master key version 1 is not loaded"));
    /* and a third key cannot be added before it finishes */
    vault_keyring_t *kr = ring(1, 2);
    const uint8_t key3[32] = {3};
    assert_int_equal(vault_keyring_add(kr, 3, key3, &err), 0);
    assert_int_equal(vault_open(fx->s, kr, &v, &err), -1);
    assert_non_null(strstr(err.msg, "has not finished"));
    /* that refused start did not pin version 3: another key 3 is accepted later */
    char *kcv;
    size_t kcv_len;
    assert_int_equal(store_meta_get(fx->s, "vault", "kcv/3", &kcv, &kcv_len, &err), -1);
    assert_int_equal(err.code, R3E_ENOTFOUND);

    reopen(fx, ring(1, 2));
    assert_int_equal(vault_rotate_master(fx->v, 0, &st, &err), 0);
    assert_false(st.rotating);
    /* resumed after the persisted cursor instead of scanning from the start */
    assert_int_equal(st.scanned, ROT_N - 150);
    assert_int_equal(st.rewrapped, ROT_N - 150);
    reopen(fx, ring(0, 2));
    check_all(fx->v);
}

static void new_key_on_an_empty_store_needs_no_rotation(void **state) {
    fixture_t *fx = *state;
    err_t err;
    reopen(fx, ring(0, 2)); /* nothing sealed with version 1 yet */
    vault_status_t st;
    assert_int_equal(vault_status(fx->v, &st, &err), 0);
    assert_int_equal(st.current, 2);
    assert_false(st.rotating);
    /* going back to an older key than the store uses is refused */
    vault_t *v = NULL;
    vault_close(fx->v);
    fx->v = NULL;
    assert_int_equal(vault_open(fx->s, ring(1, 0), &v, &err), -1);
    assert_non_null(strstr(err.msg, "uses master key version 2"));
    reopen(fx, ring(0, 2));
}

typedef struct {
    vault_t *v;
    int done;
} writer_arg_t;

static void *writer(void *p) {
    writer_arg_t *a = p;
    for (int i = 0; i < 200; i++) {
        char val[32];
        snprintf(val, sizeof val, "concurrent %d", i);
        err_t err;
        if (vault_put(a->v, "ns-a", "fn3", "S003", val, strlen(val), NULL, &err) != 0) return NULL;
        a->done++;
    }
    return NULL;
}

static void rotation_is_online_with_concurrent_writers(void **state) {
    fixture_t *fx = *state;
    err_t err;
    fill(fx->v);
    reopen(fx, ring(1, 2));
    writer_arg_t a = {.v = fx->v};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, writer, &a), 0);
    vault_status_t st;
    assert_int_equal(vault_rotate_master(fx->v, 0, &st, &err), 0);
    pthread_join(t, NULL);
    assert_int_equal(a.done, 200);
    assert_false(st.rotating);
    reopen(fx, ring(0, 2));
    expect_secret(fx->v, "ns-a", "fn3", "S003", "concurrent 199");
    uint32_t ver;
    char *got;
    assert_int_equal(vault_get(fx->v, "ns-a", "fn3", "S003", &got, NULL, &ver, &err), 0);
    assert_int_equal(ver, 201); /* the one from fill() plus 200 */
    vault_plaintext_free(got);
}

/* argv[0] rather than /proc/self/exe, which is valgrind itself when run under it. */
static const char *self_path = "/proc/self/exe";

/* The rotating half of the kill -9 test, in a fresh process (this binary re-executed, as a
 * real server would be): tells the parent on fd 3 that it starts, rotates, then waits. */
static int rotating_child(const char *dir) {
    err_t err;
    store_t *s = store_open(dir, &err);
    vault_t *v = NULL;
    char c = s && vault_open(s, ring(1, 2), &v, &err) == 0 ? 'y' : 'n';
    if (write(3, &c, 1) != 1 || c != 'y') return 1;
    vault_status_t st;
    vault_rotate_master(v, 0, &st, &err);
    for (;;)
        pause(); /* SIGKILL arrives here or earlier, mid-rotation */
}

/* Whenever the rotating process dies, the store stays consistent: every secret readable,
 * and the next rotation completes so that only the new key is needed. The kill lands at a
 * random point (before, during or after the walk); the assertions hold for all of them. */
static void rotation_killed_at_any_point_finishes_on_the_next_run(void **state) {
    fixture_t *fx = *state;
    err_t err;
    fill(fx->v);
    srand((unsigned)time(NULL) ^ (unsigned)getpid());
    vault_close(fx->v);
    fx->v = NULL;
    store_close(fx->s); /* the child opens the store: RocksDB allows one process */
    int pipefd[2];
    assert_int_equal(pipe(pipefd), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (dup2(pipefd[1], 3) < 0) _exit(1);
        char *argv[] = {"test_vault", "--rotating-child", fx->dir, NULL};
        execv(self_path, argv);
        _exit(127);
    }
    close(pipefd[1]);
    char c = 0;
    assert_int_equal(read(pipefd[0], &c, 1), 1);
    close(pipefd[0]);
    assert_int_equal(c, 'y');
    usleep((useconds_t)(rand() % 8000));
    kill(pid, SIGKILL);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));

    fx->s = store_open(fx->dir, &err);
    assert_non_null(fx->s);
    reopen(fx, ring(1, 2));
    check_all(fx->v);
    vault_status_t st;
    assert_int_equal(vault_rotate_master(fx->v, 0, &st, &err), 0);
    assert_false(st.rotating);
    reopen(fx, ring(0, 2));
    check_all(fx->v);
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "--rotating-child") == 0) return rotating_child(argv[2]);
    if (strchr(argv[0], '/')) self_path = argv[0];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(put_get_list_delete_roundtrip, setup, teardown),
        cmocka_unit_test_setup_teardown(empty_bundle_cache_sees_new_secrets, setup, teardown),
        cmocka_unit_test_setup_teardown(versions_increment_on_every_set, setup, teardown),
        cmocka_unit_test_setup_teardown(names_and_values_are_checked, setup, teardown),
        cmocka_unit_test_setup_teardown(tampering_with_any_byte_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(record_moved_to_another_id_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(
            a_corrupt_record_is_listed_skipped_by_rotation_and_replaceable, setup, teardown),
        cmocka_unit_test_setup_teardown(secrets_are_invisible_from_other_namespaces_and_functions,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(get_all_for_function_gives_json_for_the_worker, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(wrong_master_key_fails_loudly_at_open, setup, teardown),
        cmocka_unit_test_setup_teardown(
            rotation_rewraps_everything_and_the_old_key_is_no_longer_needed, setup, teardown),
        cmocka_unit_test_setup_teardown(
            system_secrets_are_out_of_reach_of_functions_and_survive_rotation, setup, teardown),
        cmocka_unit_test_setup_teardown(interrupted_rotation_resumes_where_it_stopped, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(new_key_on_an_empty_store_needs_no_rotation, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(rotation_is_online_with_concurrent_writers, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(rotation_killed_at_any_point_finishes_on_the_next_run,
                                        setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
