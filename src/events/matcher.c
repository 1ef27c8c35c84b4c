/* Trigger matcher: patterns filed by exact source/type values so that an event evaluates
 * only the few patterns that could match (see matcher.h). */
#include "events/matcher.h"

#include "core/util.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { WHERE_FALLBACK, WHERE_SOURCE, WHERE_TYPE, WHERE_PAIR };

typedef struct {
    uint32_t *v;
    size_t n, cap;
} ivec_t;

static void ivec_push(ivec_t *a, uint32_t x) {
    if (a->n == a->cap) {
        a->cap = a->cap ? a->cap * 2 : 4;
        a->v = realloc(a->v, a->cap * sizeof *a->v);
    }
    a->v[a->n++] = x;
}

/* Order inside a bucket does not matter: swap with the last. */
static void ivec_remove(ivec_t *a, uint32_t x) {
    for (size_t i = 0; i < a->n; i++)
        if (a->v[i] == x) {
            a->v[i] = a->v[--a->n];
            return;
        }
}

/* Open-addressing map from byte strings to a bucket (index maps) or an entry index (the id
 * map). Keys are never deleted: an emptied bucket or a removed id just stays behind. */
typedef struct {
    char *key; /* NULL: empty slot */
    size_t klen;
    uint64_t hash;
    size_t idx; /* id map: entry index or SIZE_MAX when removed */
    ivec_t vec; /* index maps: entry indexes */
} slot_t;

typedef struct {
    slot_t *slots;
    size_t cap, n;
} smap_t;

static uint64_t hash_bytes(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
    return h ^ (h >> 29);
}

static slot_t *smap_find(const smap_t *m, const char *k, size_t klen) {
    if (!m->cap) return NULL;
    uint64_t h = hash_bytes(k, klen);
    for (size_t i = h & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        slot_t *s = &m->slots[i];
        if (!s->key) return NULL;
        if (s->hash == h && s->klen == klen && memcmp(s->key, k, klen) == 0) return s;
    }
}

static void smap_grow(smap_t *m) {
    size_t ncap = m->cap ? m->cap * 2 : 16;
    slot_t *ns = calloc(ncap, sizeof *ns);
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->slots[i].key) continue;
        size_t j = m->slots[i].hash & (ncap - 1);
        while (ns[j].key)
            j = (j + 1) & (ncap - 1);
        ns[j] = m->slots[i];
    }
    free(m->slots);
    m->slots = ns;
    m->cap = ncap;
}

static slot_t *smap_upsert(smap_t *m, const char *k, size_t klen) {
    slot_t *s = smap_find(m, k, klen);
    if (s) return s;
    if ((m->n + 1) * 10 > m->cap * 7) smap_grow(m);
    uint64_t h = hash_bytes(k, klen);
    size_t i = h & (m->cap - 1);
    while (m->slots[i].key)
        i = (i + 1) & (m->cap - 1);
    s = &m->slots[i];
    s->key = malloc(klen + 1);
    memcpy(s->key, k, klen);
    s->key[klen] = '\0';
    s->klen = klen;
    s->hash = h;
    s->idx = SIZE_MAX;
    m->n++;
    return s;
}

static void smap_free(smap_t *m) {
    for (size_t i = 0; i < m->cap; i++) {
        free(m->slots[i].key);
        free(m->slots[i].vec.v);
    }
    free(m->slots);
}

typedef struct {
    char *id; /* NULL: free entry */
    pattern_t *pat;
    int where;
    char **keys; /* bucket keys this entry is filed under (pair keys hold a NUL inside) */
    size_t *klens;
    size_t nkeys;
} entry_t;

struct matcher {
    entry_t *e;
    size_t ne, cap_e, live;
    ivec_t free_list;
    smap_t ids, by_source, by_type, by_pair;
    ivec_t fallback;
};

matcher_t *matcher_new(void) {
    return calloc(1, sizeof(matcher_t));
}

static void entry_clear(entry_t *e) {
    free(e->id);
    pattern_free(e->pat);
    for (size_t i = 0; i < e->nkeys; i++)
        free(e->keys[i]);
    free(e->keys);
    free(e->klens);
    memset(e, 0, sizeof *e);
}

void matcher_free(matcher_t *m) {
    if (!m) return;
    for (size_t i = 0; i < m->ne; i++)
        entry_clear(&m->e[i]);
    free(m->e);
    free(m->free_list.v);
    smap_free(&m->ids);
    smap_free(&m->by_source);
    smap_free(&m->by_type);
    smap_free(&m->by_pair);
    free(m->fallback.v);
    free(m);
}

size_t matcher_count(const matcher_t *m) {
    return m->live;
}

static smap_t *where_map(matcher_t *m, int where) {
    return where == WHERE_SOURCE ? &m->by_source : where == WHERE_TYPE ? &m->by_type : &m->by_pair;
}

static void entry_add_key(entry_t *e, const char *a, const char *b) {
    size_t la = strlen(a), lb = b ? strlen(b) : 0;
    size_t klen = b ? la + 1 + lb : la;
    char *k = malloc(klen + 1);
    memcpy(k, a, la);
    if (b) {
        k[la] = '\0';
        memcpy(k + la + 1, b, lb);
    }
    k[klen] = '\0';
    e->keys = realloc(e->keys, (e->nkeys + 1) * sizeof *e->keys);
    e->klens = realloc(e->klens, (e->nkeys + 1) * sizeof *e->klens);
    e->keys[e->nkeys] = k;
    e->klens[e->nkeys++] = klen;
}

/* Chooses the most selective index for a pattern and records its keys in the entry. */
static void entry_plan(entry_t *e) {
    const char *src[MATCHER_MAX_KEYS], *typ[MATCHER_MAX_KEYS];
    size_t ns = pattern_exact_strings(e->pat, "source", src, MATCHER_MAX_KEYS);
    size_t nt = pattern_exact_strings(e->pat, "type", typ, MATCHER_MAX_KEYS);
    if (ns > MATCHER_MAX_KEYS) ns = 0;
    if (nt > MATCHER_MAX_KEYS) nt = 0;
    if (ns && nt && ns * nt <= MATCHER_MAX_KEYS) {
        e->where = WHERE_PAIR;
        for (size_t i = 0; i < ns; i++)
            for (size_t k = 0; k < nt; k++)
                entry_add_key(e, src[i], typ[k]);
    } else if (ns) {
        e->where = WHERE_SOURCE;
        for (size_t i = 0; i < ns; i++)
            entry_add_key(e, src[i], NULL);
    } else if (nt) {
        e->where = WHERE_TYPE;
        for (size_t k = 0; k < nt; k++)
            entry_add_key(e, typ[k], NULL);
    } else {
        e->where = WHERE_FALLBACK;
    }
}

int matcher_add(matcher_t *m, const char *trigger_id, pattern_t *pat, err_t *err) {
    if (!trigger_id || !*trigger_id || !pat) {
        pattern_free(pat);
        return err_set(err, R3E_EINVAL, "matcher: a trigger needs an id and a pattern");
    }
    size_t idlen = strlen(trigger_id);
    slot_t *ids = smap_find(&m->ids, trigger_id, idlen);
    if (ids && ids->idx != SIZE_MAX) {
        pattern_free(pat);
        return err_set(err, R3E_EEXIST, "matcher: trigger '%.64s' is already present", trigger_id);
    }
    if (m->live >= UINT32_MAX - 1) {
        pattern_free(pat);
        return err_set(err, R3E_ELIMIT, "matcher: too many triggers");
    }
    size_t idx;
    if (m->free_list.n) {
        idx = m->free_list.v[--m->free_list.n];
    } else {
        if (m->ne == m->cap_e) {
            m->cap_e = m->cap_e ? m->cap_e * 2 : 64;
            m->e = realloc(m->e, m->cap_e * sizeof *m->e);
        }
        idx = m->ne++;
    }
    entry_t *e = &m->e[idx];
    memset(e, 0, sizeof *e);
    e->id = strdup(trigger_id);
    e->pat = pat;
    entry_plan(e);
    if (e->where == WHERE_FALLBACK) ivec_push(&m->fallback, (uint32_t)idx);
    for (size_t i = 0; i < e->nkeys; i++)
        ivec_push(&smap_upsert(where_map(m, e->where), e->keys[i], e->klens[i])->vec,
                  (uint32_t)idx);
    smap_upsert(&m->ids, trigger_id, idlen)->idx = idx; /* after: upsert may move slots */
    m->live++;
    return 0;
}

int matcher_remove(matcher_t *m, const char *trigger_id, err_t *err) {
    slot_t *ids = trigger_id ? smap_find(&m->ids, trigger_id, strlen(trigger_id)) : NULL;
    if (!ids || ids->idx == SIZE_MAX)
        return err_set(err, R3E_ENOTFOUND, "matcher: no trigger '%.64s'",
                       trigger_id ? trigger_id : "");
    size_t idx = ids->idx;
    ids->idx = SIZE_MAX;
    entry_t *e = &m->e[idx];
    if (e->where == WHERE_FALLBACK) ivec_remove(&m->fallback, (uint32_t)idx);
    for (size_t i = 0; i < e->nkeys; i++) {
        slot_t *b = smap_find(where_map(m, e->where), e->keys[i], e->klens[i]);
        if (b) ivec_remove(&b->vec, (uint32_t)idx);
    }
    entry_clear(e);
    ivec_push(&m->free_list, (uint32_t)idx);
    m->live--;
    return 0;
}

typedef struct {
    const matcher_t *m;
    const json_t *ev;
    matcher_cb cb;
    void *ud;
    size_t matched, evaluated;
} run_t;

/* Evaluates a bucket's patterns. Being in the bucket already proves the indexed fields (the
 * event's source/type equals one of the pattern's exact values), so those are skipped. */
static void run_bucket(run_t *r, const ivec_t *v, unsigned skip) {
    for (size_t i = 0; i < v->n; i++) {
        const entry_t *e = &r->m->e[v->v[i]];
        r->evaluated++;
        if (pattern_match_skipping(e->pat, r->ev, skip)) {
            r->matched++;
            if (r->cb) r->cb(e->id, r->ud);
        }
    }
}

static void run_lookup(run_t *r, const smap_t *map, const char *k, size_t klen, unsigned skip) {
    const slot_t *s = smap_find(map, k, klen);
    if (s) run_bucket(r, &s->vec, skip);
}

/* A usable index key: a string without NUL bytes (pattern values never hold one). */
static const char *key_string(const json_t *v, size_t *len) {
    if (!json_is_string(v)) return NULL;
    *len = json_string_length(v);
    const char *s = json_string_value(v);
    return memchr(s, 0, *len) ? NULL : s;
}

size_t matcher_match(const matcher_t *m, const json_t *event, matcher_cb cb, void *ud,
                     size_t *evaluated) {
    run_t r = {m, event, cb, ud, 0, 0};
    const json_t *sv = json_object_get(event, "source"), *tv = json_object_get(event, "type");
    if (json_is_array(sv) || json_is_array(tv)) { /* any element may match: scan everything */
        for (size_t i = 0; i < m->ne; i++) {
            if (!m->e[i].id) continue;
            r.evaluated++;
            if (pattern_match(m->e[i].pat, event)) {
                r.matched++;
                if (cb) cb(m->e[i].id, ud);
            }
        }
    } else {
        size_t sl = 0, tl = 0;
        const char *s = key_string(sv, &sl), *t = key_string(tv, &tl);
        if (s && t) {
            char stack[512];
            size_t kl = sl + 1 + tl;
            char *k = kl <= sizeof stack ? stack : malloc(kl);
            memcpy(k, s, sl);
            k[sl] = '\0';
            memcpy(k + sl + 1, t, tl);
            run_lookup(&r, &m->by_pair, k, kl, PATTERN_SKIP_SOURCE | PATTERN_SKIP_TYPE);
            if (k != stack) free(k);
        }
        if (s) run_lookup(&r, &m->by_source, s, sl, PATTERN_SKIP_SOURCE);
        if (t) run_lookup(&r, &m->by_type, t, tl, PATTERN_SKIP_TYPE);
        run_bucket(&r, &m->fallback, 0);
    }
    if (evaluated) *evaluated = r.evaluated;
    return r.matched;
}

/* ------------------------------------------------------------------ micro-benchmark */

#define BENCH_SOURCES 60
#define BENCH_TYPES 200

/* A realistic trigger mix: mostly exact source+type with a data condition. */
static json_t *bench_pattern(unsigned *seed) {
    char s1[32], s2[32], t1[40];
    snprintf(s1, sizeof s1, "app.%d", rand_r(seed) % BENCH_SOURCES);
    snprintf(s2, sizeof s2, "app.%d", rand_r(seed) % BENCH_SOURCES);
    snprintf(t1, sizeof t1, "com.example.t%d", rand_r(seed) % BENCH_TYPES);
    int kind = rand_r(seed) % 100, x = rand_r(seed) % 1000;
    if (kind < 60)
        return json_pack("{s[s]s[s]s{s[{s[sisi]}]}}", "source", s1, "type", t1, "data", "amount",
                         "numeric", ">", x, "<=", x + 200);
    if (kind < 80) /* a type family: com.example.t7 covers t7, t70-t79, t700… */
        return json_pack("{s[s]s[{ss}]}", "source", s1, "type", "prefix", t1);
    if (kind < 90) return json_pack("{s[s]s{s[b]}}", "type", t1, "data", "flag", 1);
    if (kind < 99) return json_pack("{s[ss]}", "source", s1, s2);
    return json_pack("{s{s[{s[si]}]}}", "data", "amount", "numeric", ">", 990 + x % 10);
}

static json_t *bench_event(unsigned *seed) {
    char s[32], t[40];
    snprintf(s, sizeof s, "app.%d", rand_r(seed) % BENCH_SOURCES);
    snprintf(t, sizeof t, "com.example.t%d", rand_r(seed) % BENCH_TYPES);
    return json_pack("{sssssssssss{sisb}}", "specversion", "1.0", "id", "01J", "source", s, "type",
                     t, "time", "2026-01-01T00:00:00Z", "data", "amount", rand_r(seed) % 1000,
                     "flag", rand_r(seed) % 2);
}

int matcher_bench(size_t ntriggers, size_t nevents, unsigned seed, matcher_bench_t *out,
                  err_t *err) {
    memset(out, 0, sizeof *out);
    matcher_t *m = matcher_new();
    for (size_t i = 0; i < ntriggers; i++) {
        json_t *pj = bench_pattern(&seed);
        pattern_t *p;
        char id[32];
        snprintf(id, sizeof id, "trg-%zu", i);
        int rc = pattern_compile(pj, &p, err);
        json_decref(pj);
        if (rc != 0 || matcher_add(m, id, p, err) != 0) {
            matcher_free(m);
            return -1;
        }
    }
    json_t **evs = malloc((nevents ? nevents : 1) * sizeof *evs);
    for (size_t i = 0; i < nevents; i++)
        evs[i] = bench_event(&seed);
    size_t *counts = calloc(nevents ? nevents : 1, sizeof *counts);
    size_t matched = 0, evaluated = 0;
    uint64_t t0 = util_now_us();
    for (size_t i = 0; i < nevents; i++) {
        size_t ev_n;
        counts[i] = matcher_match(m, evs[i], NULL, NULL, &ev_n);
        matched += counts[i];
        evaluated += ev_n;
    }
    uint64_t t1 = util_now_us();
    /* the linear scan is slow: time it over at most 2,000 events */
    size_t nlin = nevents < 2000 ? nevents : 2000;
    for (size_t i = 0; i < nlin; i++) {
        size_t c = 0;
        for (size_t k = 0; k < m->ne; k++)
            if (m->e[k].id && pattern_match(m->e[k].pat, evs[i])) c++;
        if (c != counts[i]) out->mismatches++;
    }
    uint64_t t2 = util_now_us();
    out->triggers = ntriggers;
    out->events = nevents;
    out->events_per_s = nevents ? (double)nevents * 1e6 / (double)(t1 - t0 + 1) : 0;
    out->linear_events_per_s = nlin ? (double)nlin * 1e6 / (double)(t2 - t1 + 1) : 0;
    out->matches_per_event = nevents ? (double)matched / (double)nevents : 0;
    out->evaluated_per_event = nevents ? (double)evaluated / (double)nevents : 0;
    for (size_t i = 0; i < nevents; i++)
        json_decref(evs[i]);
    free(evs);
    free(counts);
    matcher_free(m);
    return 0;
}
