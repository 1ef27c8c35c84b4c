/* API keys against a real RocksDB store: format, hashed storage, constant-time verify,
 * revocation, expiry, listing, and the first-start admin key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "store_fixture.h"

#include "auth/apikey.h"
#include "core/util.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int setup(void **state) {
    return store_fixture_setup(state, "apikey");
}

static int teardown(void **state) {
    return store_fixture_teardown(state);
}

static void created_key_has_documented_shape_and_verifies(void **state) {
    fixture_t *fx = *state;
    err_t err;
    auth_apikey_t k;
    char key[AUTH_APIKEY_BUF];
    assert_int_equal(
        auth_apikey_create(fx->s, "ci deploy", AUTH_ROLE_DEVELOPER, "team-a", 0, &k, key, &err), 0);
    assert_int_equal(strlen(key), 69);
    assert_memory_equal(key, "r3e_", 4);
    assert_memory_equal(key + 4, k.id, 12);
    assert_int_equal(key[16], '_');
    assert_true(auth_apikey_looks_like(key));

    auth_principal_t p;
    auth_apikey_t rec;
    assert_int_equal(auth_apikey_verify(fx->s, key, util_wall_ms(), &p, &rec, &err), 0);
    assert_string_equal(p.id, k.id);
    assert_string_equal(p.ns, "team-a");
    assert_int_equal(p.role, AUTH_ROLE_DEVELOPER);
    assert_string_equal(rec.name, "ci deploy");
}

static void only_a_hash_is_stored(void **state) {
    fixture_t *fx = *state;
    err_t err;
    auth_apikey_t k;
    char key[AUTH_APIKEY_BUF];
    assert_int_equal(auth_apikey_create(fx->s, "", AUTH_ROLE_VIEWER, "default", 0, &k, key, &err),
                     0);
    char *raw;
    assert_int_equal(store_meta_get(fx->s, "apikey", k.id, &raw, NULL, &err), 0);
    assert_null(strstr(raw, key + 17)); /* the secret part is nowhere in the record */
    char hash[65];
    util_sha256_hex(key, strlen(key), hash);
    assert_non_null(strstr(raw, hash));
    free(raw);
}

static void wrong_secret_unknown_id_and_garbage_are_unauthenticated(void **state) {
    fixture_t *fx = *state;
    err_t err;
    auth_apikey_t k;
    char key[AUTH_APIKEY_BUF];
    assert_int_equal(auth_apikey_create(fx->s, "x", AUTH_ROLE_ADMIN, "*", 0, &k, key, &err), 0);
    auth_principal_t p;
    uint64_t now = util_wall_ms();

    char bad[AUTH_APIKEY_BUF];
    memcpy(bad, key, sizeof bad);
    bad[40] = bad[40] == 'a' ? 'b' : 'a'; /* one secret char flipped */
    assert_int_equal(auth_apikey_verify(fx->s, bad, now, &p, NULL, &err), -1);
    assert_int_equal(err.code, R3E_EUNAUTH);
    char msg_wrong[sizeof err.msg];
    snprintf(msg_wrong, sizeof msg_wrong, "%s", err.msg);

    memcpy(bad, key, sizeof bad);
    memcpy(bad + 4, "aaaaaaaaaaaa", 12); /* an id that does not exist */
    assert_int_equal(auth_apikey_verify(fx->s, bad, now, &p, NULL, &err), -1);
    assert_int_equal(err.code, R3E_EUNAUTH);
    assert_string_equal(err.msg, msg_wrong); /* no oracle for which ids exist */

    const char *garbage[] = {"", "r3e_", "Bearer x", "r3e_ABCDEFGHIJKL_", key + 1};
    for (size_t i = 0; i < sizeof garbage / sizeof garbage[0]; i++) {
        assert_int_equal(auth_apikey_verify(fx->s, garbage[i], now, &p, NULL, &err), -1);
        assert_int_equal(err.code, R3E_EUNAUTH);
    }
    assert_int_equal(auth_apikey_verify(fx->s, NULL, now, &p, NULL, &err), -1);
    assert_int_equal(err.code, R3E_EUNAUTH);
    char longer[AUTH_APIKEY_BUF + 1];
    snprintf(longer, sizeof longer, "%sa", key);
    assert_int_equal(auth_apikey_verify(fx->s, longer, now, &p, NULL, &err), -1);
}

static void revoked_key_stops_verifying(void **state) {
    fixture_t *fx = *state;
    err_t err;
    auth_apikey_t k;
    char key[AUTH_APIKEY_BUF];
    assert_int_equal(auth_apikey_create(fx->s, "x", AUTH_ROLE_INVOKER, "default", 0, &k, key, &err),
                     0);
    auth_principal_t p;
    assert_int_equal(auth_apikey_verify(fx->s, key, util_wall_ms(), &p, NULL, &err), 0);
    assert_int_equal(auth_apikey_revoke(fx->s, k.id, &err), 0);
    assert_int_equal(auth_apikey_revoke(fx->s, k.id, &err), 0); /* idempotent */
    assert_int_equal(auth_apikey_verify(fx->s, key, util_wall_ms(), &p, NULL, &err), -1);
    assert_int_equal(err.code, R3E_EUNAUTH);
    auth_apikey_t got;
    assert_int_equal(auth_apikey_get(fx->s, k.id, &got, &err), 0);
    assert_true(got.revoked);
    assert_int_equal(auth_apikey_revoke(fx->s, "bbbbbbbbbbbb", &err), -1);
    assert_int_equal(err.code, R3E_ENOTFOUND);
}

static void expired_key_stops_verifying_at_its_expiry(void **state) {
    fixture_t *fx = *state;
    err_t err;
    auth_apikey_t k;
    char key[AUTH_APIKEY_BUF];
    uint64_t exp = util_wall_ms() + 60000;
    assert_int_equal(
        auth_apikey_create(fx->s, "x", AUTH_ROLE_VIEWER, "default", exp, &k, key, &err), 0);
    auth_principal_t p;
    assert_int_equal(auth_apikey_verify(fx->s, key, exp - 1, &p, NULL, &err), 0);
    assert_int_equal(auth_apikey_verify(fx->s, key, exp, &p, NULL, &err), -1);
    assert_int_equal(err.code, R3E_EUNAUTH);
}

static void create_rejects_bad_arguments(void **state) {
    fixture_t *fx = *state;
    err_t err;
    char key[AUTH_APIKEY_BUF];
    assert_int_equal(auth_apikey_create(fx->s, "x", AUTH_ROLE_NONE, "default", 0, NULL, key, &err),
                     -1);
    assert_int_equal(err.code, R3E_EINVAL);
    /* only admins may be global */
    assert_int_equal(auth_apikey_create(fx->s, "x", AUTH_ROLE_DEVELOPER, "*", 0, NULL, key, &err),
                     -1);
    assert_int_equal(err.code, R3E_EINVAL);
    assert_int_equal(auth_apikey_create(fx->s, "x", AUTH_ROLE_VIEWER, "Bad NS", 0, NULL, key, &err),
                     -1);
    assert_int_equal(
        auth_apikey_create(fx->s, "x", AUTH_ROLE_VIEWER, "default", 1, NULL, key, &err),
        -1); /* expiry in the past */
    assert_int_equal(
        auth_apikey_create(fx->s, "tab\there", AUTH_ROLE_VIEWER, "default", 0, NULL, key, &err),
        -1);
}

static void list_filters_by_namespace_and_pages(void **state) {
    fixture_t *fx = *state;
    err_t err;
    char key[AUTH_APIKEY_BUF];
    for (int i = 0; i < 5; i++)
        assert_int_equal(auth_apikey_create(fx->s, "a", AUTH_ROLE_VIEWER, i % 2 ? "odd" : "even", 0,
                                            NULL, key, &err),
                         0);
    auth_apikey_t *v;
    size_t n;
    assert_int_equal(auth_apikey_list(fx->s, NULL, NULL, 0, &v, &n, &err), 0);
    assert_int_equal(n, 5);
    for (size_t i = 1; i < n; i++)
        assert_true(strcmp(v[i - 1].id, v[i].id) < 0);
    char third[16];
    snprintf(third, sizeof third, "%s", v[2].id);
    free(v);
    assert_int_equal(auth_apikey_list(fx->s, "odd", NULL, 0, &v, &n, &err), 0);
    assert_int_equal(n, 2);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(v[i].ns, "odd");
    free(v);
    /* a filtered page of 1 still finds matches beyond the first raw record */
    assert_int_equal(auth_apikey_list(fx->s, "odd", NULL, 1, &v, &n, &err), 0);
    assert_int_equal(n, 1);
    free(v);
    assert_int_equal(auth_apikey_list(fx->s, NULL, third, 0, &v, &n, &err), 0);
    assert_int_equal(n, 2);
    free(v);
}

static void bootstrap_creates_one_global_admin_key_once(void **state) {
    fixture_t *fx = *state;
    err_t err;
    bool created;
    char key[AUTH_APIKEY_BUF];
    assert_int_equal(auth_bootstrap_admin(fx->s, &created, key, &err), 0);
    assert_true(created);
    auth_principal_t p;
    assert_int_equal(auth_apikey_verify(fx->s, key, util_wall_ms(), &p, NULL, &err), 0);
    assert_int_equal(p.role, AUTH_ROLE_ADMIN);
    assert_string_equal(p.ns, "*");

    char again[AUTH_APIKEY_BUF];
    assert_int_equal(auth_bootstrap_admin(fx->s, &created, again, &err), 0);
    assert_false(created);
    assert_string_equal(again, "");
    /* still nothing after the admin key is revoked: recovery is an explicit operator act */
    assert_int_equal(auth_apikey_revoke(fx->s, p.id, &err), 0);
    assert_int_equal(auth_bootstrap_admin(fx->s, &created, again, &err), 0);
    assert_false(created);
}

static void every_key_is_different(void **state) {
    fixture_t *fx = *state;
    err_t err;
    char a[AUTH_APIKEY_BUF], b[AUTH_APIKEY_BUF];
    auth_apikey_t ka, kb;
    assert_int_equal(auth_apikey_create(fx->s, "", AUTH_ROLE_VIEWER, "default", 0, &ka, a, &err),
                     0);
    assert_int_equal(auth_apikey_create(fx->s, "", AUTH_ROLE_VIEWER, "default", 0, &kb, b, &err),
                     0);
    assert_string_not_equal(ka.id, kb.id);
    assert_string_not_equal(a + 17, b + 17);
    /* a's secret under b's id does not verify */
    char mix[AUTH_APIKEY_BUF];
    memcpy(mix, a, sizeof mix);
    memcpy(mix + 4, kb.id, 12);
    auth_principal_t p;
    assert_int_equal(auth_apikey_verify(fx->s, mix, util_wall_ms(), &p, NULL, &err), -1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(created_key_has_documented_shape_and_verifies, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(only_a_hash_is_stored, setup, teardown),
        cmocka_unit_test_setup_teardown(wrong_secret_unknown_id_and_garbage_are_unauthenticated,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(revoked_key_stops_verifying, setup, teardown),
        cmocka_unit_test_setup_teardown(expired_key_stops_verifying_at_its_expiry, setup, teardown),
        cmocka_unit_test_setup_teardown(create_rejects_bad_arguments, setup, teardown),
        cmocka_unit_test_setup_teardown(list_filters_by_namespace_and_pages, setup, teardown),
        cmocka_unit_test_setup_teardown(bootstrap_creates_one_global_admin_key_once, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(every_key_is_different, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
