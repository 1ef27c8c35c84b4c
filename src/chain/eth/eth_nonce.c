/* Nonce reservations for function wallets (see eth_nonce.h). A flat array searched
 * linearly: a few thousand short keys, touched once per transaction sent. */
#include "chain/eth/eth_nonce.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char key[ETH_NONCE_KEY_MAX];
    uint64_t next;    /* the next nonce to hand out */
    uint64_t touched; /* ms of the last reserve/release */
} eth_nonce_entry_t;

struct eth_nonces {
    pthread_mutex_t mu;
    eth_nonce_entry_t *v;
    size_t n, max;
    uint64_t ttl_ms;
};

eth_nonces_t *eth_nonces_new(size_t max, uint64_t ttl_ms) {
    eth_nonces_t *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->max = max ? max : ETH_NONCE_DEFAULT_MAX;
    t->ttl_ms = ttl_ms ? ttl_ms : ETH_NONCE_DEFAULT_TTL_MS;
    if (!(t->v = calloc(t->max, sizeof *t->v))) {
        free(t);
        return NULL;
    }
    pthread_mutex_init(&t->mu, NULL);
    return t;
}

void eth_nonces_free(eth_nonces_t *t) {
    if (!t) return;
    pthread_mutex_destroy(&t->mu);
    free(t->v);
    free(t);
}

static bool expired(const eth_nonces_t *t, const eth_nonce_entry_t *e, uint64_t now) {
    return now > e->touched && now - e->touched > t->ttl_ms;
}

static void drop(eth_nonces_t *t, size_t i) {
    t->v[i] = t->v[--t->n];
}

/* The live entry of key (an expired one is dropped on the way), or NULL. */
static eth_nonce_entry_t *find(eth_nonces_t *t, const char *key, uint64_t now) {
    for (size_t i = 0; i < t->n; i++) {
        if (strcmp(t->v[i].key, key) != 0) continue;
        if (expired(t, &t->v[i], now)) {
            drop(t, i);
            return NULL;
        }
        return &t->v[i];
    }
    return NULL;
}

/* A slot for a new entry: a free one, else an expired one, else the least recently used. */
static eth_nonce_entry_t *slot(eth_nonces_t *t, uint64_t now) {
    if (t->n < t->max) return &t->v[t->n++];
    size_t lru = 0;
    for (size_t i = 0; i < t->n; i++) {
        if (expired(t, &t->v[i], now)) return &t->v[i];
        if (t->v[i].touched < t->v[lru].touched) lru = i;
    }
    return &t->v[lru];
}

uint64_t eth_nonces_reserve(eth_nonces_t *t, const char *key, uint64_t pending, uint64_t now_ms) {
    pthread_mutex_lock(&t->mu);
    eth_nonce_entry_t *e = find(t, key, now_ms);
    uint64_t n = pending;
    if (e && e->next > pending && e->next - pending <= ETH_NONCE_MAX_AHEAD) n = e->next;
    if (!e) {
        e = slot(t, now_ms);
        snprintf(e->key, sizeof e->key, "%s", key);
    }
    e->next = n + 1;
    e->touched = now_ms;
    pthread_mutex_unlock(&t->mu);
    return n;
}

void eth_nonces_release(eth_nonces_t *t, const char *key, uint64_t nonce, bool resync,
                        uint64_t now_ms) {
    pthread_mutex_lock(&t->mu);
    eth_nonce_entry_t *e = find(t, key, now_ms);
    if (e) {
        if (!resync && e->next == nonce + 1) {
            e->next = nonce; /* the newest reservation: simply given back */
            e->touched = now_ms;
        } else if (resync || nonce < e->next) {
            drop(t, (size_t)(e - t->v)); /* a gap or a nonce error: ask the node next time */
        }
    }
    pthread_mutex_unlock(&t->mu);
}

size_t eth_nonces_count(eth_nonces_t *t, uint64_t now_ms) {
    pthread_mutex_lock(&t->mu);
    size_t c = 0;
    for (size_t i = 0; i < t->n; i++)
        c += !expired(t, &t->v[i], now_ms);
    pthread_mutex_unlock(&t->mu);
    return c;
}
