/* A small cache of each function's active version for the invoke hot path, where two store
 * reads per call (function record, then version) cost more than the rest of the server's
 * own work. Coherent within this process: every handler that changes a function
 * invalidates it after the store write, and a fill that raced with an invalidation is
 * dropped (generation check). Entries also expire after a short TTL, the bound on
 * staleness should another process ever write the same store. Thread-safe. */
#ifndef R3E_API_FNCACHE_H
#define R3E_API_FNCACHE_H

#include "core/err.h"
#include "store/store.h"

#include <stdint.h>

typedef struct fncache fncache_t;

fncache_t *fncache_new(uint64_t ttl_ms);
void fncache_free(fncache_t *c); /* NULL is fine */

/* The active version of ns/name, from the cache or the store. Returns 0 with *v filled
 * (release with store_version_free), or -1 with err (R3E_ENOTFOUND when the function or
 * its active version is absent). */
int fncache_active(fncache_t *c, store_t *s, const char *ns, const char *name, store_version_t *v,
                   err_t *err);
/* Call after any store write that changes name's function record or versions. */
void fncache_invalidate(fncache_t *c, const char *name);

#endif
