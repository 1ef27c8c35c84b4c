/* Temporary directories for unit tests: made fresh under /tmp, removed with everything in
 * them. Header-only (each test is its own executable). */
#ifndef R3E_TESTS_TMPDIR_H
#define R3E_TESTS_TMPDIR_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>

static int tmpdir_rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

/* Creates /tmp/r3e-TAG-XXXXXX into dir (cap bytes). 0, or -1 when it cannot. */
static inline int tmpdir_make(char *dir, size_t cap, const char *tag) {
    snprintf(dir, cap, "/tmp/r3e-%s-XXXXXX", tag);
    return mkdtemp(dir) ? 0 : -1;
}

/* Removes dir and everything below it. */
static inline void tmpdir_remove(const char *dir) {
    nftw(dir, tmpdir_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

#endif
