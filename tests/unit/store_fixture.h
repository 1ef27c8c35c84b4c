/* Shared cmocka fixture: a real RocksDB store in a fresh temporary directory, removed
 * again after the test. Include after <cmocka.h>; use as
 *     static int setup(void **state) { return store_fixture_setup(state, "name"); }
 * with store_fixture_teardown as the teardown, and fixture_t *fx = *state in tests. */
#ifndef R3E_TESTS_STORE_FIXTURE_H
#define R3E_TESTS_STORE_FIXTURE_H

#include "store/store.h"
#include "tmpdir.h"

#include <stdlib.h>

typedef struct {
    char dir[64];
    store_t *s;
} fixture_t;

static int store_fixture_setup(void **state, const char *tag) {
    fixture_t *fx = calloc(1, sizeof *fx);
    if (tmpdir_make(fx->dir, sizeof fx->dir, tag) < 0) return -1;
    err_t err;
    fx->s = store_open(fx->dir, &err);
    if (!fx->s) return -1;
    *state = fx;
    return 0;
}

static int store_fixture_teardown(void **state) {
    fixture_t *fx = *state;
    store_close(fx->s);
    tmpdir_remove(fx->dir);
    free(fx);
    return 0;
}

#endif
