/* The invoke path's active-version cache against a real (RocksDB) store: hits after the
 * first read, invalidation by deploys, rollbacks and deletes made through this process,
 * and the TTL as the bound on staleness for writes it did not see. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/fncache.h"

typedef struct {
    char dir[64];
    store_t *s;
} fx_t;

static int fx_setup(void **state) {
    fx_t *fx = calloc(1, sizeof *fx);
    strcpy(fx->dir, "/tmp/r3e-fncache-XXXXXX");
    if (!mkdtemp(fx->dir)) return -1;
    err_t err;
    fx->s = store_open(fx->dir, &err);
    if (!fx->s) return -1;
    *state = fx;
    return 0;
}

static int fx_teardown(void **state) {
    fx_t *fx = *state;
    store_close(fx->s);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", fx->dir);
    if (system(cmd) != 0) return -1;
    free(fx);
    return 0;
}

static uint32_t deploy(store_t *s, const char *name, const char *code, uint32_t timeout_ms) {
    store_version_t spec = {.timeout_ms = timeout_ms, .memory_mb = 128};
    strcpy(spec.ns, "default");
    strcpy(spec.name, name);
    strcpy(spec.isolation, "warm");
    store_version_t out;
    err_t err;
    assert_int_equal(store_deploy(s, &spec, code, strlen(code), &out, &err), 0);
    uint32_t v = out.version;
    store_version_free(&out);
    return v;
}

static uint32_t active(fncache_t *c, store_t *s, const char *name, uint32_t *timeout_ms) {
    store_version_t v;
    err_t err;
    assert_int_equal(fncache_active(c, s, "default", name, &v, &err), 0);
    if (timeout_ms) *timeout_ms = v.timeout_ms;
    uint32_t ver = v.version;
    store_version_free(&v);
    return ver;
}

static void test_unknown_function_is_not_found(void **state) {
    fx_t *fx = *state;
    fncache_t *c = fncache_new(1000);
    store_version_t v;
    err_t err;
    assert_int_equal(fncache_active(c, fx->s, "default", "ghost", &v, &err), -1);
    assert_int_equal(err.code, R3E_ENOTFOUND);
    fncache_free(c);
}

static void test_invalidation_shows_new_versions_and_rollbacks(void **state) {
    fx_t *fx = *state;
    fncache_t *c = fncache_new(60000); /* long TTL: only invalidation can refresh */
    deploy(fx->s, "f", "export default () => 1", 1000);
    uint32_t t;
    assert_int_equal(active(c, fx->s, "f", &t), 1);
    assert_int_equal(t, 1000);
    deploy(fx->s, "f", "export default () => 2", 2000);
    assert_int_equal(active(c, fx->s, "f", NULL), 1); /* cached: the write was not announced */
    fncache_invalidate(c, "f");
    assert_int_equal(active(c, fx->s, "f", &t), 2);
    assert_int_equal(t, 2000);
    err_t err;
    assert_int_equal(store_set_active(fx->s, "default", "f", 1, &err), 0);
    fncache_invalidate(c, "f");
    assert_int_equal(active(c, fx->s, "f", NULL), 1);
    assert_int_equal(store_delete_function(fx->s, "default", "f", &err), 0);
    fncache_invalidate(c, "f");
    store_version_t v;
    assert_int_equal(fncache_active(c, fx->s, "default", "f", &v, &err), -1);
    assert_int_equal(err.code, R3E_ENOTFOUND);
    fncache_free(c);
}

static void test_entries_expire_after_the_ttl(void **state) {
    fx_t *fx = *state;
    fncache_t *c = fncache_new(50);
    deploy(fx->s, "g", "export default () => 1", 1000);
    assert_int_equal(active(c, fx->s, "g", NULL), 1);
    deploy(fx->s, "g", "export default () => 2", 1000);
    usleep(120 * 1000);
    assert_int_equal(active(c, fx->s, "g", NULL), 2);
    fncache_free(c);
}

static void test_env_is_copied_out(void **state) {
    fx_t *fx = *state;
    fncache_t *c = fncache_new(60000);
    store_version_t spec = {.timeout_ms = 10, .memory_mb = 128};
    strcpy(spec.ns, "default");
    strcpy(spec.name, "e");
    strcpy(spec.isolation, "warm");
    spec.env_json = "{\"A\":\"1\"}";
    store_version_t out;
    err_t err;
    assert_int_equal(store_deploy(fx->s, &spec, "x", 1, &out, &err), 0);
    store_version_free(&out);
    for (int i = 0; i < 3; i++) { /* miss, then hits: each caller owns its copy */
        store_version_t v;
        assert_int_equal(fncache_active(c, fx->s, "default", "e", &v, &err), 0);
        assert_string_equal(v.env_json, "{\"A\":\"1\"}");
        store_version_free(&v);
    }
    fncache_free(c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_unknown_function_is_not_found, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_invalidation_shows_new_versions_and_rollbacks,
                                        fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_entries_expire_after_the_ttl, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_env_is_copied_out, fx_setup, fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
