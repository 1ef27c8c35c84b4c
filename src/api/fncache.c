/* Active-version cache (see fncache.h). One mutex, held only for lookups and inserts; the
 * store reads on a miss happen outside it. */
#include "api/fncache.h"

#include "core/util.h"

#include <pthread.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define FNCACHE_BUCKETS 256
#define FNCACHE_MAX 4096 /* beyond this the cache starts over: simpler than an LRU */

typedef struct fnc_entry {
    struct fnc_entry *next;
    uint64_t loaded_ms;
    store_version_t v; /* env_json owned */
} fnc_entry_t;

struct fncache {
    pthread_mutex_t mu;
    uint64_t ttl_ms;
    uint64_t gen; /* bumped by every invalidation */
    size_t n;
    fnc_entry_t *b[FNCACHE_BUCKETS];
};

fncache_t *fncache_new(uint64_t ttl_ms) {
    fncache_t *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    pthread_mutex_init(&c->mu, NULL);
    c->ttl_ms = ttl_ms;
    return c;
}

static void fnc_entry_free(fnc_entry_t *e) {
    free(e->v.env_json);
    free(e);
}

static void fnc_clear(fncache_t *c) {
    for (size_t i = 0; i < FNCACHE_BUCKETS; i++) {
        for (fnc_entry_t *e = c->b[i], *n; e; e = n) {
            n = e->next;
            fnc_entry_free(e);
        }
        c->b[i] = NULL;
    }
    c->n = 0;
}

void fncache_free(fncache_t *c) {
    if (!c) return;
    fnc_clear(c);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

static size_t fnc_hash(const char *name) {
    size_t h = 5381;
    for (; *name; name++)
        h = h * 33 + (unsigned char)*name;
    return h % FNCACHE_BUCKETS;
}

/* Copies v into *out, duplicating env_json. -1 when out of memory. */
static int fnc_copy(const store_version_t *v, store_version_t *out) {
    *out = *v;
    out->env_json = NULL;
    if (v->env_json && !(out->env_json = strdup(v->env_json))) return -1;
    return 0;
}

static void fnc_unlink(fncache_t *c, const char *name) {
    for (fnc_entry_t **pp = &c->b[fnc_hash(name)]; *pp; pp = &(*pp)->next) {
        if (strcmp((*pp)->v.name, name) != 0) continue;
        fnc_entry_t *e = *pp;
        *pp = e->next;
        fnc_entry_free(e);
        c->n--;
        return;
    }
}

int fncache_active(fncache_t *c, store_t *s, const char *ns, const char *name, store_version_t *v,
                   err_t *err) {
    uint64_t now = util_wall_ms();
    pthread_mutex_lock(&c->mu);
    for (fnc_entry_t *e = c->b[fnc_hash(name)]; e; e = e->next) {
        if (strcmp(e->v.name, name) != 0 || strcmp(e->v.ns, ns) != 0) continue;
        if (now - e->loaded_ms <= c->ttl_ms) {
            int rc = fnc_copy(&e->v, v);
            pthread_mutex_unlock(&c->mu);
            return rc < 0 ? err_set(err, R3E_EINTERNAL, "out of memory") : 0;
        }
        break;
    }
    uint64_t gen = c->gen;
    pthread_mutex_unlock(&c->mu);

    store_function_t f;
    if (store_get_function(s, ns, name, &f, err) < 0) return -1;
    if (store_get_version(s, ns, name, f.active_version, v, err) < 0) return -1;

    fnc_entry_t *e = calloc(1, sizeof *e);
    if (!e || fnc_copy(v, &e->v) < 0) {
        free(e);
        return 0; /* caching is optional */
    }
    snprintf(e->v.ns, sizeof e->v.ns, "%s", ns); /* the key, whatever the backend filled */
    snprintf(e->v.name, sizeof e->v.name, "%s", name);
    e->loaded_ms = now;
    pthread_mutex_lock(&c->mu);
    if (c->gen != gen) { /* a write happened meanwhile: what we read may be old */
        pthread_mutex_unlock(&c->mu);
        fnc_entry_free(e);
        return 0;
    }
    fnc_unlink(c, name); /* an expired entry */
    if (c->n >= FNCACHE_MAX) fnc_clear(c);
    size_t h = fnc_hash(name);
    e->next = c->b[h];
    c->b[h] = e;
    c->n++;
    pthread_mutex_unlock(&c->mu);
    return 0;
}

void fncache_invalidate(fncache_t *c, const char *name) {
    if (!c) return;
    pthread_mutex_lock(&c->mu);
    c->gen++;
    fnc_unlink(c, name);
    pthread_mutex_unlock(&c->mu);
}
