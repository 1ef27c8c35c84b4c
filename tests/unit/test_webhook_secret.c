/* Webhook secrets in the vault, against a real RocksDB store: a new record is sealed (the
 * record keeps only has_secret), an old-format record with a plain-text secret is migrated
 * (sealed secret first, then the record), a migration interrupted between the two steps is
 * finished by the next one, deletion, and the disabled vault (503 for a new secret, legacy
 * records left readable and counted). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "store_fixture.h"

#include "api/webhook_secret.h"

#include <jansson.h>
#include <string.h>

static const uint8_t key1[32] = {7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,
                                 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7};

#define ID_A "01HZZZZZZZZZZZZZZZZZZZZZ0A"
#define ID_B "01HZZZZZZZZZZZZZZZZZZZZZ0B"
#define ID_C "01HZZZZZZZZZZZZZZZZZZZZZ0C"

typedef struct {
    fixture_t *fx;
    vault_t *v;
} wfix_t;

static int setup(void **state) {
    if (store_fixture_setup(state, "whsec") != 0) return -1;
    wfix_t *w = calloc(1, sizeof *w);
    w->fx = *state;
    vault_keyring_t *kr = vault_keyring_new();
    err_t err;
    if (vault_keyring_add(kr, 1, key1, &err) != 0 || vault_open(w->fx->s, kr, &w->v, &err) != 0)
        return -1;
    *state = w;
    return 0;
}

static int teardown(void **state) {
    wfix_t *w = *state;
    vault_close(w->v);
    *state = w->fx;
    free(w);
    return store_fixture_teardown(state);
}

/* Writes an old-format record (plain-text secret) with the store API. */
static void put_old_record(store_t *s, const char *id, const char *secret) {
    json_t *rec = json_pack("{s:s,s:s,s:s,s:{s:s,s:s}}", "id", id, "ns", "default", "function",
                            "hello", "source", "type", "webhook", "secret", secret);
    char *text = json_dumps(rec, JSON_COMPACT);
    err_t err;
    assert_int_equal(store_meta_put(s, "trigger", id, text, strlen(text), &err), 0);
    free(text);
    json_decref(rec);
}

static json_t *get_record(store_t *s, const char *id) {
    char *val = NULL;
    size_t len;
    err_t err;
    assert_int_equal(store_meta_get(s, "trigger", id, &val, &len, &err), 0);
    json_t *rec = json_loads(val, 0, NULL);
    assert_non_null(rec);
    assert_null(strstr(val, "s3cr3t")); /* no secret text anywhere in the record */
    free(val);
    return rec;
}

static void assert_sealed(wfix_t *w, const char *id, const char *want) {
    json_t *rec = get_record(w->fx->s, id);
    json_t *src = json_object_get(rec, "source");
    assert_null(json_object_get(src, "secret"));
    assert_true(json_is_true(json_object_get(src, "has_secret")));
    assert_string_equal(json_string_value(json_object_get(src, "type")), "webhook");
    json_decref(rec);
    char *val = NULL;
    size_t len = 0;
    err_t err;
    assert_int_equal(webhook_secret_get(w->v, id, &val, &len, &err), 0);
    assert_int_equal(len, strlen(want));
    assert_string_equal(val, want);
    vault_plaintext_free(val);
}

static void sealing_a_new_record_moves_the_secret_into_the_vault(void **state) {
    wfix_t *w = *state;
    err_t err;
    json_t *rec = json_pack("{s:s,s:{s:s,s:s}}", "id", ID_A, "source", "type", "webhook", "secret",
                            "s3cr3t-new");
    assert_int_equal(webhook_secret_seal(w->v, rec, &err), 0);
    json_t *src = json_object_get(rec, "source");
    assert_null(json_object_get(src, "secret"));
    assert_true(json_is_true(json_object_get(src, "has_secret")));
    char *text = json_dumps(rec, JSON_COMPACT);
    assert_null(strstr(text, "s3cr3t"));
    assert_int_equal(store_meta_put(w->fx->s, "trigger", ID_A, text, strlen(text), &err), 0);
    free(text);
    json_decref(rec);
    assert_sealed(w, ID_A, "s3cr3t-new");
    /* a record without a secret stays as it is */
    rec = json_pack("{s:s,s:{s:s}}", "id", ID_B, "source", "type", "webhook");
    assert_int_equal(webhook_secret_seal(w->v, rec, &err), 0);
    assert_null(json_object_get(json_object_get(rec, "source"), "has_secret"));
    json_decref(rec);
    char *val = NULL;
    assert_int_equal(webhook_secret_get(w->v, ID_B, &val, NULL, &err), -1);
    assert_int_equal(err.code, R3E_ENOTFOUND);
}

static void old_records_are_migrated_and_migration_is_idempotent(void **state) {
    wfix_t *w = *state;
    err_t err;
    put_old_record(w->fx->s, ID_A, "s3cr3t-a");
    put_old_record(w->fx->s, ID_B, "s3cr3t-b");
    json_t *plain = json_pack("{s:s,s:{s:s}}", "id", ID_C, "source", "type", "custom");
    char *text = json_dumps(plain, JSON_COMPACT);
    assert_int_equal(store_meta_put(w->fx->s, "trigger", ID_C, text, strlen(text), &err), 0);
    free(text);
    json_decref(plain);
    size_t done = 99, left = 99;
    assert_int_equal(webhook_secret_migrate(w->fx->s, w->v, &done, &left, &err), 0);
    assert_int_equal(done, 2);
    assert_int_equal(left, 0);
    assert_sealed(w, ID_A, "s3cr3t-a");
    assert_sealed(w, ID_B, "s3cr3t-b");
    json_t *c = get_record(w->fx->s, ID_C);
    assert_null(json_object_get(json_object_get(c, "source"), "has_secret"));
    json_decref(c);
    /* a second start has nothing left to do */
    assert_int_equal(webhook_secret_migrate(w->fx->s, w->v, &done, &left, &err), 0);
    assert_int_equal(done, 0);
    assert_sealed(w, ID_A, "s3cr3t-a");
}

/* A crash after the sealed secret was written but before the record was rewritten leaves
 * the old record: the next start seals it again and nothing is lost. */
static void a_migration_interrupted_after_sealing_is_finished_by_the_next_start(void **state) {
    wfix_t *w = *state;
    err_t err;
    put_old_record(w->fx->s, ID_A, "s3cr3t-crash");
    assert_int_equal(vault_put_system(w->v, WEBHOOK_SECRET_OWNER, ID_A, "s3cr3t-crash", 12, &err),
                     0);
    size_t done = 0;
    assert_int_equal(webhook_secret_migrate(w->fx->s, w->v, &done, NULL, &err), 0);
    assert_int_equal(done, 1);
    assert_sealed(w, ID_A, "s3cr3t-crash");
}

static void deleting_removes_the_sealed_secret(void **state) {
    wfix_t *w = *state;
    err_t err;
    assert_int_equal(vault_put_system(w->v, WEBHOOK_SECRET_OWNER, ID_A, "s3cr3t-del", 10, &err), 0);
    assert_int_equal(webhook_secret_delete(w->v, ID_A, &err), 0);
    char *val = NULL;
    assert_int_equal(webhook_secret_get(w->v, ID_A, &val, NULL, &err), -1);
    assert_int_equal(err.code, R3E_ENOTFOUND);
    assert_int_equal(webhook_secret_delete(w->v, ID_A, &err), 0); /* absent: fine */
}

static void without_a_vault_new_secrets_are_refused_and_old_records_left_alone(void **state) {
    wfix_t *w = *state;
    err_t err;
    json_t *rec = json_pack("{s:s,s:{s:s,s:s}}", "id", ID_A, "source", "type", "webhook", "secret",
                            "s3cr3t-x");
    assert_int_equal(webhook_secret_seal(NULL, rec, &err), -1);
    assert_int_equal(err.code, R3E_EUNAVAIL);
    assert_non_null(strstr(err.msg, "master key"));
    /* the record is untouched, so the caller stores nothing */
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(rec, "source"), "secret")), "s3cr3t-x");
    json_decref(rec);
    put_old_record(w->fx->s, ID_B, "s3cr3t-legacy");
    size_t done = 9, left = 9;
    assert_int_equal(webhook_secret_migrate(w->fx->s, NULL, &done, &left, &err), 0);
    assert_int_equal(done, 0);
    assert_int_equal(left, 1);
    char *val = NULL;
    assert_int_equal(webhook_secret_get(NULL, ID_B, &val, NULL, &err), -1);
    assert_int_equal(err.code, R3E_EUNAVAIL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(sealing_a_new_record_moves_the_secret_into_the_vault, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(old_records_are_migrated_and_migration_is_idempotent, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            a_migration_interrupted_after_sealing_is_finished_by_the_next_start, setup, teardown),
        cmocka_unit_test_setup_teardown(deleting_removes_the_sealed_secret, setup, teardown),
        cmocka_unit_test_setup_teardown(
            without_a_vault_new_secrets_are_refused_and_old_records_left_alone, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
