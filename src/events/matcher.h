/* The trigger matcher: many (trigger id, compiled pattern) entries, and for an event the ids
 * whose pattern matches — without evaluating every pattern.
 *
 * Index: a pattern whose top-level `source` and/or `type` are constrained only by exact
 * strings (pattern_exact_strings) is filed under those values — by (source, type) pair when
 * both are exact, else by source, else by type; everything else (prefix matches, $or, no
 * source/type at all) goes to a fallback list. An event with a string `source` and `type`
 * evaluates only the pair bucket, the source bucket, the type bucket and the fallback list.
 * (An event whose source or type is an array is rare and handled by a full scan, so results
 * never depend on the index.) Patterns listing more than MATCHER_MAX_KEYS exact values (or
 * value pairs) are indexed by the other attribute or fall back.
 *
 * Concurrency: matcher_match only reads; any number of threads may match at once as long as
 * no thread adds or removes (callers guard with a rwlock). Ownership: matcher_add takes the
 * pattern (freed by matcher_remove / matcher_free, also when matcher_add fails); ids are
 * copied. */
#ifndef R3E_EVENTS_MATCHER_H
#define R3E_EVENTS_MATCHER_H

#include "core/err.h"
#include "events/pattern.h"

#include <jansson.h>
#include <stddef.h>

typedef struct matcher matcher_t;

#define MATCHER_MAX_KEYS 64

typedef void (*matcher_cb)(const char *trigger_id, void *ud);

matcher_t *matcher_new(void);
void matcher_free(matcher_t *m);

/* R3E_EEXIST when the id is already present; R3E_EINVAL for an empty id. */
int matcher_add(matcher_t *m, const char *trigger_id, pattern_t *pat, err_t *err);
/* 0, or -1 (R3E_ENOTFOUND) when the id is not present. */
int matcher_remove(matcher_t *m, const char *trigger_id, err_t *err);
size_t matcher_count(const matcher_t *m);

/* Calls cb once per matching trigger (in no particular order) and returns how many matched.
 * *evaluated (optional) receives how many patterns were evaluated. */
size_t matcher_match(const matcher_t *m, const json_t *event, matcher_cb cb, void *ud,
                     size_t *evaluated);

/* Micro-benchmark (tests/tools/events_bench.c, docs/benchmarks.md): `ntriggers` synthetic
 * triggers over a realistic mix of patterns, `nevents` synthetic events; reports the indexed
 * rate and, for comparison, a linear scan over the same patterns. */
typedef struct {
    size_t triggers, events;
    double events_per_s;        /* indexed matcher */
    double linear_events_per_s; /* evaluating every pattern */
    double matches_per_event, evaluated_per_event;
    size_t mismatches; /* index vs linear disagreements (must be 0) */
} matcher_bench_t;

int matcher_bench(size_t ntriggers, size_t nevents, unsigned seed, matcher_bench_t *out,
                  err_t *err);

#endif
