/* Token buckets in a chained hash table plus an intrusive LRU list (most recent at the
 * head), so lookup, touch and eviction are all O(1). */
#include "auth/ratelimit.h"

#include "core/util.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define RL_DEFAULT_MAX 65536
#define RL_KEY_MAX 256

typedef struct rl_bucket {
    struct rl_bucket *hnext;       /* hash chain */
    struct rl_bucket *prev, *next; /* LRU list */
    uint64_t hash;
    double tokens;
    uint64_t last_us; /* time tokens was last brought up to date */
    char key[];
} rl_bucket_t;

struct auth_ratelimit {
    auth_ratelimit_config_t cfg;
    pthread_mutex_t mu;
    rl_bucket_t **table;
    size_t nslots, count;
    rl_bucket_t *head, *tail;
};

static uint64_t rl_default_clock(void *ctx) {
    (void)ctx;
    return util_now_us();
}

/* FNV-1a: keys come from authenticated principals and namespaces, and the table is
 * bounded by max_buckets, so a keyed hash is not needed against flooding. */
static uint64_t rl_hash(const char *s) {
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) {
        h ^= (uint8_t)*s;
        h *= 1099511628211ull;
    }
    return h;
}

auth_ratelimit_t *auth_ratelimit_new(const auth_ratelimit_config_t *cfg, err_t *err) {
    if (!cfg || !(cfg->rate > 0) || !(cfg->burst >= 1) || !isfinite(cfg->rate) ||
        !isfinite(cfg->burst)) {
        err_set(err, R3E_EINVAL, "rate limit: rate must be > 0 and burst >= 1");
        return NULL;
    }
    auth_ratelimit_t *rl = calloc(1, sizeof *rl);
    if (!rl) {
        err_set(err, R3E_EINTERNAL, "out of memory");
        return NULL;
    }
    rl->cfg = *cfg;
    if (!rl->cfg.max_buckets) rl->cfg.max_buckets = RL_DEFAULT_MAX;
    if (!rl->cfg.clock) rl->cfg.clock = rl_default_clock;
    /* a power of two >= max_buckets keeps chains short without ever resizing */
    rl->nslots = 16;
    while (rl->nslots < rl->cfg.max_buckets)
        rl->nslots *= 2;
    rl->table = calloc(rl->nslots, sizeof *rl->table);
    if (!rl->table) {
        free(rl);
        err_set(err, R3E_EINTERNAL, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&rl->mu, NULL);
    return rl;
}

void auth_ratelimit_free(auth_ratelimit_t *rl) {
    if (!rl) return;
    for (rl_bucket_t *b = rl->head, *next; b; b = next) {
        next = b->next;
        free(b);
    }
    free(rl->table);
    pthread_mutex_destroy(&rl->mu);
    free(rl);
}

static void rl_lru_unlink(auth_ratelimit_t *rl, rl_bucket_t *b) {
    if (b->prev)
        b->prev->next = b->next;
    else
        rl->head = b->next;
    if (b->next)
        b->next->prev = b->prev;
    else
        rl->tail = b->prev;
    b->prev = b->next = NULL;
}

static void rl_lru_push_front(auth_ratelimit_t *rl, rl_bucket_t *b) {
    b->prev = NULL;
    b->next = rl->head;
    if (rl->head) rl->head->prev = b;
    rl->head = b;
    if (!rl->tail) rl->tail = b;
}

static void rl_table_remove(auth_ratelimit_t *rl, rl_bucket_t *b) {
    rl_bucket_t **pp = &rl->table[b->hash & (rl->nslots - 1)];
    while (*pp != b)
        pp = &(*pp)->hnext;
    *pp = b->hnext;
}

static void rl_evict_lru(auth_ratelimit_t *rl) {
    rl_bucket_t *victim = rl->tail;
    rl_lru_unlink(rl, victim);
    rl_table_remove(rl, victim);
    free(victim);
    rl->count--;
}

/* Finds key's bucket or creates a full one; NULL only when out of memory. */
static rl_bucket_t *rl_lookup(auth_ratelimit_t *rl, const char *key, uint64_t now) {
    uint64_t h = rl_hash(key);
    size_t slot = h & (rl->nslots - 1);
    for (rl_bucket_t *b = rl->table[slot]; b; b = b->hnext)
        if (b->hash == h && strcmp(b->key, key) == 0) return b;
    if (rl->count >= rl->cfg.max_buckets) rl_evict_lru(rl);
    size_t kl = strlen(key);
    rl_bucket_t *b = calloc(1, sizeof *b + kl + 1);
    if (!b) return NULL;
    memcpy(b->key, key, kl + 1);
    b->hash = h;
    b->tokens = rl->cfg.burst;
    b->last_us = now;
    b->hnext = rl->table[slot];
    rl->table[slot] = b;
    rl_lru_push_front(rl, b);
    rl->count++;
    return b;
}

bool auth_ratelimit_take(auth_ratelimit_t *rl, const char *key, uint32_t *retry_after_s) {
    char hashed[65];
    if (!key) key = "";
    if (strlen(key) > RL_KEY_MAX) {
        util_sha256_hex(key, strlen(key), hashed);
        key = hashed;
    }
    uint64_t now = rl->cfg.clock(rl->cfg.clock_ctx);
    pthread_mutex_lock(&rl->mu);
    rl_bucket_t *b = rl_lookup(rl, key, now);
    if (!b) { /* out of memory: failing open beats failing every request */
        pthread_mutex_unlock(&rl->mu);
        return true;
    }
    if (now > b->last_us) {
        b->tokens =
            fmin(rl->cfg.burst, b->tokens + (double)(now - b->last_us) / 1e6 * rl->cfg.rate);
        b->last_us = now;
    }
    if (b != rl->head) {
        rl_lru_unlink(rl, b);
        rl_lru_push_front(rl, b);
    }
    bool ok = b->tokens >= 1.0;
    double wait_s = 0;
    if (ok)
        b->tokens -= 1.0;
    else
        wait_s = (1.0 - b->tokens) / rl->cfg.rate;
    pthread_mutex_unlock(&rl->mu);
    if (!ok && retry_after_s) {
        double c = ceil(wait_s);
        *retry_after_s = c < 1 ? 1 : c > 86400 ? 86400 : (uint32_t)c;
    }
    return ok;
}

size_t auth_ratelimit_size(auth_ratelimit_t *rl) {
    pthread_mutex_lock(&rl->mu);
    size_t n = rl->count;
    pthread_mutex_unlock(&rl->mu);
    return n;
}
