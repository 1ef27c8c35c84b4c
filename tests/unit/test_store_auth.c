/* The generic metadata family of the store (store_meta_*), used by API keys and the audit
 * log, exercised against a real RocksDB in a fresh temporary directory per test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "store_fixture.h"

#include "store/store.h"

#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int setup(void **state) {
    return store_fixture_setup(state, "smeta");
}

static int teardown(void **state) {
    return store_fixture_teardown(state);
}

static void meta_put_get_roundtrips_binary_values(void **state) {
    fixture_t *fx = *state;
    err_t err;
    const char val[] = {'a', 0, 'b'};
    assert_int_equal(store_meta_put(fx->s, "apikey", "k1", val, 3, &err), 0);
    char *got;
    size_t len;
    assert_int_equal(store_meta_get(fx->s, "apikey", "k1", &got, &len, &err), 0);
    assert_int_equal(len, 3);
    assert_memory_equal(got, val, 3);
    assert_int_equal(got[3], '\0');
    free(got);
    /* put replaces */
    assert_int_equal(store_meta_put(fx->s, "apikey", "k1", "new", 3, &err), 0);
    assert_int_equal(store_meta_get(fx->s, "apikey", "k1", &got, &len, &err), 0);
    assert_string_equal(got, "new");
    free(got);
}

static void meta_get_absent_is_not_found(void **state) {
    fixture_t *fx = *state;
    err_t err;
    char *got;
    size_t len;
    assert_int_equal(store_meta_get(fx->s, "apikey", "nope", &got, &len, &err), -1);
    assert_int_equal(err.code, R3E_ENOTFOUND);
}

static void meta_kinds_are_separate(void **state) {
    fixture_t *fx = *state;
    err_t err;
    assert_int_equal(store_meta_put(fx->s, "a", "x", "1", 1, &err), 0);
    assert_int_equal(store_meta_put(fx->s, "ab", "x", "2", 1, &err), 0);
    char **keys, **vals;
    size_t n;
    assert_int_equal(store_meta_list(fx->s, "a", NULL, 0, &keys, &vals, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_string_equal(vals[0], "1");
    store_strv_free(keys, n);
    store_strv_free(vals, n);
    char *got;
    assert_int_equal(store_meta_get(fx->s, "ab", "x", &got, NULL, &err), 0);
    assert_string_equal(got, "2");
    free(got);
}

static void meta_insert_refuses_existing_key(void **state) {
    fixture_t *fx = *state;
    err_t err;
    assert_int_equal(store_meta_insert(fx->s, "apikey", "id1", "v1", 2, &err), 0);
    assert_int_equal(store_meta_insert(fx->s, "apikey", "id1", "v2", 2, &err), -1);
    assert_int_equal(err.code, R3E_EEXIST);
    char *got;
    assert_int_equal(store_meta_get(fx->s, "apikey", "id1", &got, NULL, &err), 0);
    assert_string_equal(got, "v1");
    free(got);
}

static void meta_list_is_ascending_and_pages_with_start_after(void **state) {
    fixture_t *fx = *state;
    err_t err;
    const char *ks[] = {"c", "a", "b", "d", "e"};
    for (int i = 0; i < 5; i++)
        assert_int_equal(store_meta_put(fx->s, "audit", ks[i], ks[i], 1, &err), 0);
    char **keys, **vals;
    size_t n;
    assert_int_equal(store_meta_list(fx->s, "audit", NULL, 2, &keys, &vals, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_string_equal(keys[0], "a");
    assert_string_equal(keys[1], "b");
    store_strv_free(keys, n);
    store_strv_free(vals, n);
    assert_int_equal(store_meta_list(fx->s, "audit", "b", 10, &keys, NULL, &n, &err), 0);
    assert_int_equal(n, 3);
    assert_string_equal(keys[0], "c");
    assert_string_equal(keys[2], "e");
    store_strv_free(keys, n);
    /* a start_after that is not itself a key still works */
    assert_int_equal(store_meta_list(fx->s, "audit", "bb", 10, &keys, NULL, &n, &err), 0);
    assert_int_equal(n, 3);
    assert_string_equal(keys[0], "c");
    store_strv_free(keys, n);
    assert_int_equal(store_meta_list(fx->s, "audit", "e", 10, &keys, NULL, &n, &err), 0);
    assert_int_equal(n, 0);
    store_strv_free(keys, n);
}

static void meta_delete_removes_and_absent_is_ok(void **state) {
    fixture_t *fx = *state;
    err_t err;
    assert_int_equal(store_meta_put(fx->s, "apikey", "k", "v", 1, &err), 0);
    assert_int_equal(store_meta_delete(fx->s, "apikey", "k", &err), 0);
    assert_int_equal(store_meta_delete(fx->s, "apikey", "k", &err), 0);
    char *got;
    assert_int_equal(store_meta_get(fx->s, "apikey", "k", &got, NULL, &err), -1);
    assert_int_equal(err.code, R3E_ENOTFOUND);
}

static void meta_rejects_bad_kind_and_key(void **state) {
    fixture_t *fx = *state;
    err_t err;
    assert_int_equal(store_meta_put(fx->s, "Bad Kind", "k", "v", 1, &err), -1);
    assert_int_equal(err.code, R3E_EINVAL);
    assert_int_equal(store_meta_put(fx->s, "apikey", "", "v", 1, &err), -1);
    assert_int_equal(err.code, R3E_EINVAL);
    char big[1100];
    memset(big, 'k', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_int_equal(store_meta_put(fx->s, "apikey", big, "v", 1, &err), -1);
    assert_int_equal(err.code, R3E_EINVAL);
}

static void meta_survives_reopen(void **state) {
    fixture_t *fx = *state;
    err_t err;
    assert_int_equal(store_meta_put(fx->s, "apikey", "k", "durable", 7, &err), 0);
    store_close(fx->s);
    fx->s = store_open(fx->dir, &err);
    assert_non_null(fx->s);
    char *got;
    assert_int_equal(store_meta_get(fx->s, "apikey", "k", &got, NULL, &err), 0);
    assert_string_equal(got, "durable");
    free(got);
}

typedef struct {
    store_t *s;
    int wins;
} race_t;

static void *race_insert(void *arg) {
    race_t *r = arg;
    err_t err;
    if (store_meta_insert(r->s, "apikey", "same", "x", 1, &err) == 0) r->wins = 1;
    return NULL;
}

static void meta_insert_has_exactly_one_winner_under_concurrency(void **state) {
    fixture_t *fx = *state;
    pthread_t t[8];
    race_t r[8];
    for (int i = 0; i < 8; i++) {
        r[i] = (race_t){fx->s, 0};
        pthread_create(&t[i], NULL, race_insert, &r[i]);
    }
    int wins = 0;
    for (int i = 0; i < 8; i++) {
        pthread_join(t[i], NULL);
        wins += r[i].wins;
    }
    assert_int_equal(wins, 1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(meta_put_get_roundtrips_binary_values, setup, teardown),
        cmocka_unit_test_setup_teardown(meta_get_absent_is_not_found, setup, teardown),
        cmocka_unit_test_setup_teardown(meta_kinds_are_separate, setup, teardown),
        cmocka_unit_test_setup_teardown(meta_insert_refuses_existing_key, setup, teardown),
        cmocka_unit_test_setup_teardown(meta_list_is_ascending_and_pages_with_start_after, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(meta_delete_removes_and_absent_is_ok, setup, teardown),
        cmocka_unit_test_setup_teardown(meta_rejects_bad_kind_and_key, setup, teardown),
        cmocka_unit_test_setup_teardown(meta_survives_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(meta_insert_has_exactly_one_winner_under_concurrency, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
