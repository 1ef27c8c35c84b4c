/* Prometheus metrics: process-wide counters kept in atomics and rendered on demand in the
 * text exposition format 0.0.4 (hand-written: there is no packaged C client library).
 *
 * Per-function series live in a fixed-size hash table whose chains are only ever
 * prepended to. Readers walk chains with acquire loads and no lock; the mutex is taken only
 * to add a new function or a new status under a function. Entries are never removed while
 * the process runs (counters must not go backwards), so the number of function label sets
 * is capped at METRICS_MAX_FUNCTIONS: past that, new names are counted under
 * function="_other" rather than growing memory without bound. Statuses per function are
 * capped the same way (status="_other"). */
#include "obs/metrics.h"

#include "core/util.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define METRICS_MAX_FUNCTIONS 10000
#define METRICS_MAX_STATUSES 16 /* per function: ok, error, timeout, memory_limit, ... */
#define METRICS_SLOTS 4096      /* hash slots (power of two) */
#define METRICS_OTHER "_other"

/* Histogram upper bounds in microseconds and as printed in le="…"; one more bucket for
 * +Inf. Counts are per bucket; render() accumulates them. */
#define METRICS_BUCKETS 14
static const uint64_t metrics_bucket_us[METRICS_BUCKETS] = {
    500,    1000,   2500,   5000,    10000,   25000,   50000,
    100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000,
};
static const char *const metrics_bucket_le[METRICS_BUCKETS] = {
    "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05",
    "0.1",    "0.25",  "0.5",    "1",     "2.5",  "5",     "10",
};

#define METRICS_HTTP_CODES 600 /* 100..599; slot 0 counts anything else */

typedef struct status_ctr {
    struct status_ctr *_Atomic next;
    char *status;
    atomic_uint_fast64_t count;
} status_ctr_t;

typedef struct fn_entry {
    struct fn_entry *_Atomic next; /* hash chain */
    uint64_t hash;
    char *name;
    status_ctr_t *_Atomic statuses;
    unsigned nstatuses; /* guarded by metrics_lock */
    atomic_uint_fast64_t buckets[METRICS_BUCKETS + 1];
    atomic_uint_fast64_t sum_us;
    atomic_uint_fast64_t cold_starts;
} fn_entry_t;

static pthread_mutex_t metrics_lock = PTHREAD_MUTEX_INITIALIZER;
static fn_entry_t *_Atomic metrics_slots[METRICS_SLOTS];
static unsigned metrics_nfunctions; /* guarded by metrics_lock */

static atomic_long metrics_inflight;
static atomic_uint_fast64_t metrics_restarts;
static atomic_uint_fast64_t metrics_http[METRICS_HTTP_CODES];
static atomic_uint_fast64_t metrics_start_ms;

void metrics_init(void) {
    uint_fast64_t zero = 0;
    atomic_compare_exchange_strong(&metrics_start_ms, &zero, util_wall_ms());
}

/* FNV-1a: short keys, no adversary that gains from collisions beyond a longer chain. */
static uint64_t metrics_hash(const char *s) {
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 1099511628211ull;
    return h;
}

static fn_entry_t *fn_find(const char *name, uint64_t h) {
    fn_entry_t *e =
        atomic_load_explicit(&metrics_slots[h & (METRICS_SLOTS - 1)], memory_order_acquire);
    for (; e; e = atomic_load_explicit(&e->next, memory_order_acquire))
        if (e->hash == h && strcmp(e->name, name) == 0) return e;
    return NULL;
}

/* Under metrics_lock. NULL only when out of memory. */
static fn_entry_t *fn_insert_locked(const char *name, uint64_t h) {
    fn_entry_t *e = calloc(1, sizeof *e);
    if (!e || !(e->name = strdup(name))) {
        free(e);
        return NULL;
    }
    e->hash = h;
    fn_entry_t *_Atomic *slot = &metrics_slots[h & (METRICS_SLOTS - 1)];
    atomic_store_explicit(&e->next, atomic_load_explicit(slot, memory_order_relaxed),
                          memory_order_relaxed);
    atomic_store_explicit(slot, e, memory_order_release); /* publish after init */
    metrics_nfunctions++;
    return e;
}

/* The entry for a function, created on first use; the shared "_other" entry once the
 * cap is reached. NULL only when out of memory (the sample is then dropped). */
static fn_entry_t *fn_get(const char *name) {
    if (!name || !*name) name = "unknown";
    uint64_t h = metrics_hash(name);
    fn_entry_t *e = fn_find(name, h);
    if (e) return e;
    pthread_mutex_lock(&metrics_lock);
    e = fn_find(name, h);
    if (!e && metrics_nfunctions >= METRICS_MAX_FUNCTIONS) {
        name = METRICS_OTHER;
        h = metrics_hash(name);
        e = fn_find(name, h);
    }
    if (!e) e = fn_insert_locked(name, h);
    pthread_mutex_unlock(&metrics_lock);
    return e;
}

static status_ctr_t *status_find(fn_entry_t *e, const char *status) {
    status_ctr_t *c = atomic_load_explicit(&e->statuses, memory_order_acquire);
    for (; c; c = atomic_load_explicit(&c->next, memory_order_acquire))
        if (strcmp(c->status, status) == 0) return c;
    return NULL;
}

/* Under metrics_lock. NULL only when out of memory. */
static status_ctr_t *status_insert_locked(fn_entry_t *e, const char *status) {
    status_ctr_t *c = calloc(1, sizeof *c);
    if (!c || !(c->status = strdup(status))) {
        free(c);
        return NULL;
    }
    atomic_store_explicit(&c->next, atomic_load_explicit(&e->statuses, memory_order_relaxed),
                          memory_order_relaxed);
    atomic_store_explicit(&e->statuses, c, memory_order_release);
    e->nstatuses++;
    return c;
}

/* Like fn_get, one level down: the function's counter for this status. */
static status_ctr_t *status_get(fn_entry_t *e, const char *status) {
    if (!status || !*status) status = "unknown";
    status_ctr_t *c = status_find(e, status);
    if (c) return c;
    pthread_mutex_lock(&metrics_lock);
    c = status_find(e, status);
    if (!c && e->nstatuses >= METRICS_MAX_STATUSES) {
        status = METRICS_OTHER;
        c = status_find(e, status);
    }
    if (!c) c = status_insert_locked(e, status);
    pthread_mutex_unlock(&metrics_lock);
    return c;
}

void metrics_invocation(const char *function, const char *status, uint64_t duration_us) {
    fn_entry_t *e = fn_get(function);
    if (!e) return;
    status_ctr_t *c = status_get(e, status);
    if (c) atomic_fetch_add_explicit(&c->count, 1, memory_order_relaxed);
    int b = 0;
    while (b < METRICS_BUCKETS && duration_us > metrics_bucket_us[b])
        b++;
    atomic_fetch_add_explicit(&e->buckets[b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&e->sum_us, duration_us, memory_order_relaxed);
}

void metrics_inflight_add(int delta) {
    atomic_fetch_add_explicit(&metrics_inflight, delta, memory_order_relaxed);
}

void metrics_cold_start(const char *function) {
    fn_entry_t *e = fn_get(function);
    if (e) atomic_fetch_add_explicit(&e->cold_starts, 1, memory_order_relaxed);
}

void metrics_worker_restart(void) {
    atomic_fetch_add_explicit(&metrics_restarts, 1, memory_order_relaxed);
}

void metrics_http_request(int status) {
    int slot = (status >= 100 && status < METRICS_HTTP_CODES) ? status : 0;
    atomic_fetch_add_explicit(&metrics_http[slot], 1, memory_order_relaxed);
}

/* --- rendering ------------------------------------------------------------------------ */

/* Label values escape backslash, double quote and newline (exposition format 0.0.4). */
static void put_label(FILE *f, const char *v) {
    for (; *v; v++) {
        if (*v == '\\')
            fputs("\\\\", f);
        else if (*v == '"')
            fputs("\\\"", f);
        else if (*v == '\n')
            fputs("\\n", f);
        else
            fputc(*v, f);
    }
}

static void put_header(FILE *f, const char *name, const char *type, const char *help) {
    fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static uint64_t ld(atomic_uint_fast64_t *a) {
    return atomic_load_explicit(a, memory_order_relaxed);
}

static int by_name(const void *a, const void *b) {
    return strcmp((*(fn_entry_t *const *)a)->name, (*(fn_entry_t *const *)b)->name);
}

static int by_status(const void *a, const void *b) {
    return strcmp((*(status_ctr_t *const *)a)->status, (*(status_ctr_t *const *)b)->status);
}

/* A snapshot of the entry list, sorted by name so the output is stable for humans and
 * diffs. *n may be smaller than the table if entries are added meanwhile; that is fine. */
static fn_entry_t **snapshot_functions(size_t *n) {
    pthread_mutex_lock(&metrics_lock);
    size_t cap = metrics_nfunctions, cnt = 0;
    fn_entry_t **v = malloc((cap ? cap : 1) * sizeof *v);
    for (size_t i = 0; v && i < METRICS_SLOTS; i++)
        for (fn_entry_t *e = atomic_load(&metrics_slots[i]); e && cnt < cap;
             e = atomic_load(&e->next))
            v[cnt++] = e;
    pthread_mutex_unlock(&metrics_lock);
    if (v) qsort(v, cnt, sizeof *v, by_name);
    *n = cnt;
    return v;
}

static void render_invocations(FILE *f, fn_entry_t **fns, size_t n) {
    put_header(f, "r3e_invocations_total", "counter", "Finished function invocations by outcome.");
    status_ctr_t *sv[METRICS_MAX_STATUSES + 1];
    for (size_t i = 0; i < n; i++) {
        size_t ns = 0;
        for (status_ctr_t *c = atomic_load(&fns[i]->statuses); c && ns < METRICS_MAX_STATUSES + 1;
             c = atomic_load(&c->next))
            sv[ns++] = c;
        qsort(sv, ns, sizeof sv[0], by_status);
        for (size_t j = 0; j < ns; j++) {
            fputs("r3e_invocations_total{function=\"", f);
            put_label(f, fns[i]->name);
            fputs("\",status=\"", f);
            put_label(f, sv[j]->status);
            fprintf(f, "\"} %llu\n", (unsigned long long)ld(&sv[j]->count));
        }
    }
}

static void render_durations(FILE *f, fn_entry_t **fns, size_t n) {
    put_header(f, "r3e_invocation_duration_seconds", "histogram",
               "Wall-clock duration of function invocations.");
    for (size_t i = 0; i < n; i++) {
        fn_entry_t *e = fns[i];
        uint64_t counts[METRICS_BUCKETS + 1], total = 0;
        for (int b = 0; b <= METRICS_BUCKETS; b++)
            total += counts[b] = ld(&e->buckets[b]);
        if (total == 0) continue; /* only cold-started so far */
        uint64_t cum = 0;
        for (int b = 0; b <= METRICS_BUCKETS; b++) {
            cum += counts[b];
            fputs("r3e_invocation_duration_seconds_bucket{function=\"", f);
            put_label(f, e->name);
            fprintf(f, "\",le=\"%s\"} %llu\n", b < METRICS_BUCKETS ? metrics_bucket_le[b] : "+Inf",
                    (unsigned long long)cum);
        }
        uint64_t sum = ld(&e->sum_us);
        fputs("r3e_invocation_duration_seconds_sum{function=\"", f);
        put_label(f, e->name);
        fprintf(f, "\"} %llu.%06llu\n", (unsigned long long)(sum / 1000000),
                (unsigned long long)(sum % 1000000));
        fputs("r3e_invocation_duration_seconds_count{function=\"", f);
        put_label(f, e->name);
        fprintf(f, "\"} %llu\n", (unsigned long long)total);
    }
}

static void render_cold_starts(FILE *f, fn_entry_t **fns, size_t n) {
    put_header(f, "r3e_cold_starts_total", "counter",
               "Invocations that had to create a fresh JS context.");
    for (size_t i = 0; i < n; i++) {
        uint64_t c = ld(&fns[i]->cold_starts);
        if (c == 0) continue;
        fputs("r3e_cold_starts_total{function=\"", f);
        put_label(f, fns[i]->name);
        fprintf(f, "\"} %llu\n", (unsigned long long)c);
    }
}

static void render_http(FILE *f) {
    put_header(f, "r3e_http_requests_total", "counter", "HTTP responses by status code.");
    for (int code = 100; code < METRICS_HTTP_CODES; code++) {
        uint64_t c = ld(&metrics_http[code]);
        if (c)
            fprintf(f, "r3e_http_requests_total{code=\"%d\"} %llu\n", code, (unsigned long long)c);
    }
    uint64_t other = ld(&metrics_http[0]);
    if (other)
        fprintf(f, "r3e_http_requests_total{code=\"other\"} %llu\n", (unsigned long long)other);
}

char *metrics_render(int workers_total, int workers_idle) {
    metrics_init(); /* start time, in case nobody called it */
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return NULL;
    size_t n;
    fn_entry_t **fns = snapshot_functions(&n);
    if (!fns) n = 0;

    render_invocations(f, fns, n);
    render_durations(f, fns, n);
    put_header(f, "r3e_invocations_in_flight", "gauge", "Invocations currently running.");
    fprintf(f, "r3e_invocations_in_flight %ld\n",
            atomic_load_explicit(&metrics_inflight, memory_order_relaxed));
    render_cold_starts(f, fns, n);
    put_header(f, "r3e_worker_restarts_total", "counter", "Worker processes replaced after dying.");
    fprintf(f, "r3e_worker_restarts_total %llu\n", (unsigned long long)ld(&metrics_restarts));
    render_http(f);
    put_header(f, "r3e_workers", "gauge", "Worker processes in the pool.");
    fprintf(f, "r3e_workers{state=\"total\"} %d\nr3e_workers{state=\"idle\"} %d\n", workers_total,
            workers_idle);
    put_header(f, "process_start_time_seconds", "gauge",
               "Start time of the process since unix epoch in seconds.");
    uint64_t ms = ld(&metrics_start_ms);
    fprintf(f, "process_start_time_seconds %llu.%03llu\n", (unsigned long long)(ms / 1000),
            (unsigned long long)(ms % 1000));
    free(fns);
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

/* Frees every label set and zeroes all counters. Callers must make sure no other thread
 * records metrics concurrently (it is meant for process exit and for tests). */
void metrics_shutdown(void) {
    pthread_mutex_lock(&metrics_lock);
    for (size_t i = 0; i < METRICS_SLOTS; i++) {
        fn_entry_t *e = atomic_exchange(&metrics_slots[i], NULL);
        while (e) {
            fn_entry_t *next = atomic_load(&e->next);
            for (status_ctr_t *c = atomic_load(&e->statuses), *cn; c; c = cn) {
                cn = atomic_load(&c->next);
                free(c->status);
                free(c);
            }
            free(e->name);
            free(e);
            e = next;
        }
    }
    metrics_nfunctions = 0;
    atomic_store(&metrics_inflight, 0);
    atomic_store(&metrics_restarts, 0);
    for (int i = 0; i < METRICS_HTTP_CODES; i++)
        atomic_store(&metrics_http[i], 0);
    atomic_store(&metrics_start_ms, 0);
    pthread_mutex_unlock(&metrics_lock);
}
