/* The trigger matcher: add/remove/duplicates, that the index evaluates only candidate
 * patterns, and that with 10,000 random patterns it finds exactly what a brute-force scan
 * of every pattern finds (also after removals and for events the index cannot key on). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "events/matcher.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static pattern_t *compile(const char *text) {
    pattern_t *p;
    err_t err;
    if (pattern_compile_text(text, strlen(text), &p, &err) != 0) fail_msg("%s: %s", text, err.msg);
    return p;
}

typedef struct {
    char ids[64][32];
    size_t n;
} hits_t;

static void collect(const char *id, void *ud) {
    hits_t *h = ud;
    if (h->n < 64) snprintf(h->ids[h->n++], 32, "%s", id);
}

static bool has(const hits_t *h, const char *id) {
    for (size_t i = 0; i < h->n; i++)
        if (strcmp(h->ids[i], id) == 0) return true;
    return false;
}

static void test_add_match_remove(void **state) {
    (void)state;
    matcher_t *m = matcher_new();
    err_t err;
    assert_int_equal(matcher_add(m, "t1", compile("{\"source\":[\"neo.block\"]}"), &err), 0);
    assert_int_equal(
        matcher_add(m, "t2", compile("{\"source\":[\"neo.block\"],\"type\":[\"a\",\"b\"]}"), &err),
        0);
    assert_int_equal(matcher_add(m, "t3", compile("{\"type\":[\"b\"]}"), &err), 0);
    assert_int_equal(matcher_add(m, "t4", compile("{\"type\":[{\"prefix\":\"b\"}]}"), &err), 0);
    assert_int_equal(matcher_add(m, "t5", compile("{\"source\":[\"eth.log\"]}"), &err), 0);
    assert_int_equal(matcher_add(m, "t1", compile("{}"), &err), -1); /* pattern is consumed */
    assert_int_equal(err.code, R3E_EEXIST);
    assert_int_equal(matcher_add(m, "", compile("{}"), &err), -1);
    assert_int_equal(err.code, R3E_EINVAL);
    assert_int_equal(matcher_count(m), 5);

    json_t *ev = json_pack("{ssss}", "source", "neo.block", "type", "b");
    hits_t h = {0};
    size_t evaluated;
    assert_int_equal(matcher_match(m, ev, collect, &h, &evaluated), 4);
    assert_true(has(&h, "t1") && has(&h, "t2") && has(&h, "t3") && has(&h, "t4"));
    assert_int_equal(evaluated, 4); /* t5 (another source) is never looked at */

    assert_int_equal(matcher_remove(m, "t2", &err), 0);
    assert_int_equal(matcher_remove(m, "t2", &err), -1);
    assert_int_equal(err.code, R3E_ENOTFOUND);
    h.n = 0;
    assert_int_equal(matcher_match(m, ev, collect, &h, NULL), 3);
    assert_false(has(&h, "t2"));
    /* the id can be reused after removal */
    assert_int_equal(matcher_add(m, "t2", compile("{\"type\":[\"b\"]}"), &err), 0);
    h.n = 0;
    assert_int_equal(matcher_match(m, ev, collect, &h, NULL), 4);
    assert_int_equal(matcher_count(m), 5);
    json_decref(ev);

    /* an event without source/type only meets patterns that do not need them */
    ev = json_pack("{s{si}}", "data", "x", 1);
    h.n = 0;
    assert_int_equal(matcher_match(m, ev, collect, &h, &evaluated), 0);
    assert_int_equal(evaluated, 1); /* t4, the fallback */
    json_decref(ev);
    matcher_free(m);
}

static void test_index_avoids_a_linear_scan(void **state) {
    (void)state;
    matcher_t *m = matcher_new();
    err_t err;
    for (int i = 0; i < 5000; i++) {
        char text[128], id[16];
        snprintf(text, sizeof text, "{\"source\":[\"src.%d\"],\"type\":[\"t.%d\"]}", i % 500, i);
        snprintf(id, sizeof id, "t%d", i);
        assert_int_equal(matcher_add(m, id, compile(text), &err), 0);
    }
    json_t *ev = json_pack("{ssss}", "source", "src.7", "type", "t.1007");
    size_t evaluated;
    hits_t h = {0};
    assert_int_equal(matcher_match(m, ev, collect, &h, &evaluated), 1);
    assert_string_equal(h.ids[0], "t1007");
    assert_int_equal(evaluated, 1); /* the (source, type) pair bucket holds exactly one */
    json_decref(ev);
    matcher_free(m);
}

/* ------------------------------------------------------------------ brute force */

static const char *pick(unsigned *seed, const char *const *a, size_t n) {
    return a[rand_r(seed) % n];
}

static const char *const SRC[] = {"neo.block", "eth.log", "app.1", "app.2", "app.3", "cron"};
static const char *const TYP[] = {"com.a", "com.b", "com.c", "org.x", "org.y"};

/* Random patterns over a small vocabulary so that many of them match. */
static json_t *random_pattern(unsigned *seed) {
    json_t *p = json_object();
    int shape = rand_r(seed) % 10;
    if (shape < 7) { /* source: exact values (1-3), a prefix, or absent */
        int k = rand_r(seed) % 5;
        if (k < 3) {
            json_t *a = json_array();
            for (int i = 0; i <= k; i++)
                json_array_append_new(a, json_string(pick(seed, SRC, 6)));
            json_object_set_new(p, "source", a);
        } else if (k == 3) {
            json_object_set_new(p, "source", json_pack("[{ss}]", "prefix", "app."));
        }
    }
    int tk = rand_r(seed) % 5;
    if (tk < 2) {
        json_t *a = json_array();
        for (int i = 0; i <= tk; i++)
            json_array_append_new(a, json_string(pick(seed, TYP, 5)));
        json_object_set_new(p, "type", a);
    } else if (tk == 2) {
        json_object_set_new(p, "type", json_pack("[{ss}]", "prefix", "com."));
    }
    int dk = rand_r(seed) % 4;
    if (dk == 0)
        json_object_set_new(p, "data",
                            json_pack("{s[{s[si]}]}", "n", "numeric", ">", rand_r(seed) % 10));
    else if (dk == 1)
        json_object_set_new(p, "data", json_pack("{s[{sb}]}", "tag", "exists", rand_r(seed) % 2));
    if (shape == 9)
        json_object_set_new(
            p, "$or", json_pack("[{s[s]}{s[s]}]", "subject", "x", "type", pick(seed, TYP, 5)));
    return p;
}

static json_t *random_event(unsigned *seed) {
    json_t *e = json_object();
    int sk = rand_r(seed) % 20;
    if (sk < 16)
        json_object_set_new(e, "source", json_string(pick(seed, SRC, 6)));
    else if (sk == 16) /* arrays defeat the index: the matcher must still be exact */
        json_object_set_new(e, "source", json_pack("[ss]", pick(seed, SRC, 6), pick(seed, SRC, 6)));
    else if (sk == 17)
        json_object_set_new(e, "source", json_integer(5));
    int tk = rand_r(seed) % 20;
    if (tk < 17)
        json_object_set_new(e, "type", json_string(pick(seed, TYP, 5)));
    else if (tk == 17)
        json_object_set_new(e, "type", json_pack("[s]", pick(seed, TYP, 5)));
    if (rand_r(seed) % 3) json_object_set_new(e, "subject", json_string("x"));
    json_t *d = json_object();
    json_object_set_new(d, "n", json_integer(rand_r(seed) % 12));
    if (rand_r(seed) % 2) json_object_set_new(d, "tag", json_string("t"));
    json_object_set_new(e, "data", d);
    return e;
}

#define NPAT 10000

typedef struct {
    unsigned char *hit;
} mark_t;

static void mark(const char *id, void *ud) {
    mark_t *m = ud;
    int i = atoi(id + 1);
    if (m->hit[i]) fail_msg("trigger %s reported twice", id);
    m->hit[i] = 1;
}

static void check_against_brute_force(matcher_t *m, pattern_t **pats, const bool *live,
                                      unsigned *seed, int nevents, size_t *total_eval) {
    unsigned char *hit = calloc(NPAT, 1);
    mark_t mk = {hit};
    for (int k = 0; k < nevents; k++) {
        json_t *ev = random_event(seed);
        memset(hit, 0, NPAT);
        size_t evaluated;
        size_t n = matcher_match(m, ev, mark, &mk, &evaluated);
        *total_eval += evaluated;
        size_t want = 0;
        for (int i = 0; i < NPAT; i++) {
            bool w = live[i] && pattern_match(pats[i], ev);
            want += w;
            if (w != (bool)hit[i]) {
                char *s = json_dumps(ev, JSON_COMPACT);
                fail_msg("pattern %d vs event %s: brute force %d, matcher %d", i, s, w, hit[i]);
            }
        }
        assert_int_equal(n, want);
        json_decref(ev);
    }
    free(hit);
}

static void test_ten_thousand_patterns_agree_with_brute_force(void **state) {
    (void)state;
    unsigned seed = 42;
    matcher_t *m = matcher_new();
    pattern_t **pats = calloc(NPAT, sizeof *pats);
    bool *live = calloc(NPAT, sizeof *live);
    err_t err;
    for (int i = 0; i < NPAT; i++) {
        json_t *pj = random_pattern(&seed);
        assert_int_equal(pattern_compile(pj, &pats[i], &err), 0);
        pattern_t *copy;
        assert_int_equal(pattern_compile(pj, &copy, &err), 0); /* the matcher owns its own */
        json_decref(pj);
        char id[16];
        snprintf(id, sizeof id, "p%d", i);
        assert_int_equal(matcher_add(m, id, copy, &err), 0);
        live[i] = true;
    }
    size_t evals = 0;
    check_against_brute_force(m, pats, live, &seed, 300, &evals);
    print_message("avg patterns evaluated per event: %.0f of %d\n", evals / 300.0, NPAT);
    /* this mix is adversarial (about a third of the patterns constrain neither source nor
     * type exactly, and one event in ten has an array source or type), yet it prunes */
    assert_true(evals / 300 < NPAT * 6 / 10);
    /* remove every third trigger and check again */
    for (int i = 0; i < NPAT; i += 3) {
        char id[16];
        snprintf(id, sizeof id, "p%d", i);
        assert_int_equal(matcher_remove(m, id, &err), 0);
        live[i] = false;
    }
    assert_int_equal(matcher_count(m), NPAT - (NPAT + 2) / 3);
    evals = 0;
    check_against_brute_force(m, pats, live, &seed, 200, &evals);
    for (int i = 0; i < NPAT; i++)
        pattern_free(pats[i]);
    free(pats);
    free(live);
    matcher_free(m);
}

static void test_bench_runs_and_agrees(void **state) {
    (void)state;
    matcher_bench_t b;
    err_t err;
    assert_int_equal(matcher_bench(10000, 500, 1, &b, &err), 0); /* rates: events_bench */
    print_message("10k triggers: %.0f events/s indexed, %.0f events/s linear, %.2f matches and "
                  "%.1f evaluated per event\n",
                  b.events_per_s, b.linear_events_per_s, b.matches_per_event,
                  b.evaluated_per_event);
    assert_int_equal(b.mismatches, 0);
    assert_true(b.matches_per_event > 0);
    assert_true(b.evaluated_per_event < 1000);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_add_match_remove),
        cmocka_unit_test(test_index_avoids_a_linear_scan),
        cmocka_unit_test(test_ten_thousand_patterns_agree_with_brute_force),
        cmocka_unit_test(test_bench_runs_and_agrees),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
