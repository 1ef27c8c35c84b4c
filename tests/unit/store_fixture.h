/* Shared cmocka fixture: a real RocksDB store in a fresh temporary directory, removed
 * again after the test. Include after <cmocka.h>; use as
 *     static int setup(void **state) { return store_fixture_setup(state, "name"); }
 * with store_fixture_teardown as the teardown, and fixture_t *fx = *state in tests. */
#ifndef R3E_TESTS_STORE_FIXTURE_H
#define R3E_TESTS_STORE_FIXTURE_H

#include "store/store.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct {
    char dir[64];
    store_t *s;
} fixture_t;

static int store_fixture_rm_entry(const char *path, const struct stat *st, int flag,
                                  struct FTW *ftw) {
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static int store_fixture_setup(void **state, const char *tag) {
    fixture_t *fx = calloc(1, sizeof *fx);
    snprintf(fx->dir, sizeof fx->dir, "/tmp/r3e-%s-XXXXXX", tag);
    if (!mkdtemp(fx->dir)) return -1;
    err_t err;
    fx->s = store_open(fx->dir, &err);
    if (!fx->s) return -1;
    *state = fx;
    return 0;
}

static int store_fixture_teardown(void **state) {
    fixture_t *fx = *state;
    store_close(fx->s);
    nftw(fx->dir, store_fixture_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(fx);
    return 0;
}

#endif
