/* Master key loading (files, environment, a Kubernetes-style directory mount) and the secret
 * record codec (strict decoding, seal/open/rewrap). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tmpdir.h"
#include "vault/vault.h"
#include "vault/vault_record.h"

#include <ftw.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char key_hex[] = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
static const char key_b64[] = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

static void write_file(const char *path, const void *data, size_t len) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    fclose(f);
}

static void clear_env(void) {
    const char *vars[] = {"R3E_MASTER_KEY_DIR",
                          "R3E_MASTER_KEY_FILE",
                          "R3E_MASTER_KEY",
                          "R3E_MASTER_KEY_VERSION",
                          "R3E_MASTER_KEY_OLD_FILE",
                          "R3E_MASTER_KEY_OLD",
                          "R3E_MASTER_KEY_OLD_VERSION",
                          NULL};
    for (int i = 0; vars[i]; i++)
        unsetenv(vars[i]);
}

static void keys_parse_from_raw_hex_and_base64(void **state) {
    (void)state;
    err_t err;
    uint8_t raw[32];
    for (int i = 0; i < 32; i++)
        raw[i] = (uint8_t)i;
    vault_keyring_t *kr = vault_keyring_new();
    assert_int_equal(vault_keyring_add_encoded(kr, 1, (const char *)raw, 32, &err), 0);
    assert_int_equal(vault_keyring_add_encoded(kr, 2, key_hex, strlen(key_hex), &err), 0);
    assert_int_equal(vault_keyring_add_encoded(kr, 3,
                                               "  "
                                               "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n",
                                               47, &err),
                     0);
    assert_int_equal(vault_keyring_add_encoded(kr, 4, key_b64, strlen(key_b64) - 1, &err), 0);
    assert_int_equal(vault_keyring_current(kr), 4);
    /* wrong lengths and alphabets */
    assert_int_equal(vault_keyring_add_encoded(kr, 5, key_hex, 62, &err), -1);
    assert_int_equal(err.code, R3E_EINVAL);
    assert_int_equal(vault_keyring_add_encoded(kr, 5, "zz", 2, &err), -1);
    assert_int_equal(vault_keyring_add_encoded(
                         kr, 5, "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8fHw==", 48, &err),
                     -1);
    char bad_hex[65];
    memcpy(bad_hex, key_hex, 65);
    bad_hex[10] = 'g';
    assert_int_equal(vault_keyring_add_encoded(kr, 5, bad_hex, 64, &err), -1);
    /* versions are unique and >= 1 */
    assert_int_equal(vault_keyring_add(kr, 2, raw, &err), -1);
    assert_int_equal(err.code, R3E_EEXIST);
    assert_int_equal(vault_keyring_add(kr, 0, raw, &err), -1);
    vault_keyring_free(kr);
}

static void env_file_and_old_file_give_two_versions(void **state) {
    (void)state;
    err_t err;
    char dir[] = "/tmp/r3e-vkeys-XXXXXX", cur[64], old[64];
    assert_non_null(mkdtemp(dir));
    snprintf(cur, sizeof cur, "%s/current", dir);
    snprintf(old, sizeof old, "%s/previous", dir);
    write_file(cur, key_hex, strlen(key_hex));
    write_file(old, key_b64, strlen(key_b64));
    clear_env();
    vault_keyring_t *kr;
    assert_int_equal(vault_keyring_from_env(&kr, &err), -1);
    assert_int_equal(err.code, R3E_ENOTFOUND);

    setenv("R3E_MASTER_KEY_FILE", cur, 1);
    setenv("R3E_MASTER_KEY_VERSION", "7", 1);
    setenv("R3E_MASTER_KEY_OLD_FILE", old, 1);
    assert_int_equal(vault_keyring_from_env(&kr, &err), 0);
    assert_int_equal(vault_keyring_current(kr), 7);
    assert_true(vault_keyring_has(kr, 6)); /* old defaults to current - 1 */
    vault_keyring_free(kr);

    setenv("R3E_MASTER_KEY", key_hex, 1); /* two sources for one slot is ambiguous */
    assert_int_equal(vault_keyring_from_env(&kr, &err), -1);
    assert_int_equal(err.code, R3E_EINVAL);
    unsetenv("R3E_MASTER_KEY_FILE");
    unsetenv("R3E_MASTER_KEY_OLD_FILE");
    assert_int_equal(vault_keyring_from_env(&kr, &err), 0);
    assert_int_equal(vault_keyring_current(kr), 7);
    assert_false(vault_keyring_has(kr, 6));
    vault_keyring_free(kr);
    /* an inline key is gone from the environment once read: workers cannot inherit it */
    assert_null(getenv("R3E_MASTER_KEY"));
    setenv("R3E_MASTER_KEY", key_hex, 1);

    setenv("R3E_MASTER_KEY_OLD", key_b64, 1);
    setenv("R3E_MASTER_KEY_OLD_VERSION", "9", 1); /* old must be below current */
    assert_int_equal(vault_keyring_from_env(&kr, &err), -1);
    clear_env();
    setenv("R3E_MASTER_KEY_OLD", key_b64, 1); /* an old key alone is a mistake, not "no key" */
    assert_int_equal(vault_keyring_from_env(&kr, &err), -1);
    assert_int_equal(err.code, R3E_EINVAL);
    clear_env();
    setenv("R3E_MASTER_KEY_FILE", "/nonexistent/r3e-key", 1);
    assert_int_equal(vault_keyring_from_env(&kr, &err), -1);
    assert_int_equal(err.code, R3E_EIO);
    clear_env();
    tmpdir_remove(dir);
}

/* A Kubernetes Secret mounted as a directory: one file per data key plus ..data links. */
static void directory_mount_gives_versioned_keys(void **state) {
    (void)state;
    err_t err;
    char dir[] = "/tmp/r3e-vkdir-XXXXXX", p[96];
    assert_non_null(mkdtemp(dir));
    snprintf(p, sizeof p, "%s/1", dir);
    write_file(p, key_hex, strlen(key_hex));
    snprintf(p, sizeof p, "%s/2", dir);
    write_file(p, key_b64, strlen(key_b64));
    snprintf(p, sizeof p, "%s/..data", dir);
    assert_int_equal(mkdir(p, 0700), 0);
    snprintf(p, sizeof p, "%s/README", dir);
    write_file(p, "x", 1);
    clear_env();
    setenv("R3E_MASTER_KEY_DIR", dir, 1);
    vault_keyring_t *kr;
    assert_int_equal(vault_keyring_from_env(&kr, &err), 0);
    assert_int_equal(vault_keyring_current(kr), 2);
    assert_true(vault_keyring_has(kr, 1));
    vault_keyring_free(kr);
    setenv("R3E_MASTER_KEY", key_hex, 1); /* dir and single key together: ambiguous */
    assert_int_equal(vault_keyring_from_env(&kr, &err), -1);
    clear_env();
    setenv("R3E_MASTER_KEY_FILE", dir, 1); /* a directory given as a file: say what to use */
    assert_int_equal(vault_keyring_from_env(&kr, &err), -1);
    assert_non_null(strstr(err.msg, "R3E_MASTER_KEY_DIR"));
    clear_env();
    tmpdir_remove(dir);
    kr = vault_keyring_new();
    assert_int_equal(vault_keyring_add_dir(kr, dir, &err), -1);
    vault_keyring_free(kr);
}

static void record_roundtrips_and_decoder_is_strict(void **state) {
    (void)state;
    err_t err;
    uint8_t mk[32] = {9}, mk2[32] = {8}, *buf;
    size_t len;
    assert_int_equal(vault_record_seal(mk, 3, "ns/fn/K", 5, 1234, "hello", 5, &buf, &len, &err), 0);
    assert_int_equal(len, VAULT_RECORD_HEADER + 5 + VAULT_TAG_BYTES);
    vault_record_t rec;
    assert_int_equal(vault_record_decode(buf, len, &rec, &err), 0);
    assert_int_equal(rec.master_version, 3);
    assert_int_equal(rec.secret_version, 5);
    assert_int_equal(rec.created_ms, 1234);
    uint8_t *again = malloc(len);
    vault_record_encode(&rec, again);
    assert_memory_equal(again, buf, len);
    uint8_t plain[16];
    size_t pl;
    assert_int_equal(vault_record_open(&rec, mk, "ns/fn/K", plain, &pl, &err), 0);
    assert_int_equal(pl, 5);
    assert_memory_equal(plain, "hello", 5);
    assert_int_equal(vault_record_open(&rec, mk2, "ns/fn/K", plain, &pl, &err), -1);
    assert_int_equal(err.code, R3E_EFORBIDDEN);
    assert_int_equal(vault_record_open(&rec, mk, "ns/fn/L", plain, &pl, &err), -1);
    /* rewrap: the new key opens it, the old one no longer does */
    assert_int_equal(vault_record_rewrap(&rec, mk2, mk2, 4, "ns/fn/K", &err), -1);
    assert_int_equal(vault_record_rewrap(&rec, mk, mk2, 4, "ns/fn/K", &err), 0);
    assert_int_equal(rec.master_version, 4);
    assert_int_equal(vault_record_open(&rec, mk2, "ns/fn/K", plain, &pl, &err), 0);
    assert_int_equal(vault_record_open(&rec, mk, "ns/fn/K", plain, &pl, &err), -1);

    /* strictness */
    assert_int_equal(vault_record_decode(buf, len - 1, &rec, &err), -1);
    uint8_t *longer = calloc(1, len + 1);
    memcpy(longer, buf, len);
    assert_int_equal(vault_record_decode(longer, len + 1, &rec, &err), -1);
    free(longer);
    assert_int_equal(vault_record_decode(buf, 10, &rec, &err), -1);
    const size_t offsets[] = {0, 4, 5, 118, 121};
    for (size_t i = 0; i < sizeof offsets / sizeof *offsets; i++) {
        uint8_t save = buf[offsets[i]];
        buf[offsets[i]] ^= 0x40;
        assert_int_equal(vault_record_decode(buf, len, &rec, &err), -1);
        assert_int_equal(err.code, R3E_EINVAL);
        buf[offsets[i]] = save;
    }
    memset(buf + 6, 0, 4); /* master version 0 */
    assert_int_equal(vault_record_decode(buf, len, &rec, &err), -1);
    free(again);
    free(buf);
    /* value limit */
    char *big = calloc(1, VAULT_VALUE_MAX + 1);
    assert_int_equal(
        vault_record_seal(mk, 1, "a/b/C", 1, 0, big, VAULT_VALUE_MAX + 1, &buf, &len, &err), -1);
    assert_int_equal(err.code, R3E_ETOOBIG);
    free(big);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(keys_parse_from_raw_hex_and_base64),
        cmocka_unit_test(env_file_and_old_file_give_two_versions),
        cmocka_unit_test(directory_mount_gives_versioned_keys),
        cmocka_unit_test(record_roundtrips_and_decoder_is_strict),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
