/* Prometheus metrics: what /metrics shows after the platform records events. Each test
 * starts from zero (metrics_shutdown resets every counter and label set). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "obs/metrics.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int reset(void **state) {
    (void)state;
    metrics_shutdown();
    metrics_init();
    return 0;
}

/* True when `line` is one whole line of text. */
static bool has_line(const char *text, const char *line) {
    size_t n = strlen(line);
    for (const char *p = text; (p = strstr(p, line)); p++)
        if ((p == text || p[-1] == '\n') && p[n] == '\n') return true;
    return false;
}

#define assert_line(text, line)                                                                    \
    do {                                                                                           \
        if (!has_line(text, line)) fail_msg("missing line: %s\n--- got:\n%s", line, text);         \
    } while (0)

static size_t count_prefix(const char *text, const char *prefix) {
    size_t n = 0, pl = strlen(prefix);
    for (const char *p = text; *p;) {
        if (strncmp(p, prefix, pl) == 0) n++;
        const char *nl = strchr(p, '\n');
        if (!nl) break;
        p = nl + 1;
    }
    return n;
}

static void test_render_counts_invocations_with_histogram(void **state) {
    (void)state;
    metrics_invocation("hello", "ok", 1500);          /* 1.5 ms  */
    metrics_invocation("hello", "ok", 200);           /* 0.2 ms  */
    metrics_invocation("hello", "error", 300000);     /* 300 ms  */
    metrics_invocation("hello", "timeout", 20000000); /* 20 s: only +Inf */
    char *t = metrics_render(4, 3);
    assert_non_null(t);
    assert_line(t, "# HELP r3e_invocations_total Finished function invocations by outcome.");
    assert_line(t, "# TYPE r3e_invocations_total counter");
    assert_line(t, "r3e_invocations_total{function=\"hello\",status=\"error\"} 1");
    assert_line(t, "r3e_invocations_total{function=\"hello\",status=\"ok\"} 2");
    assert_line(t, "r3e_invocations_total{function=\"hello\",status=\"timeout\"} 1");

    assert_line(t, "# TYPE r3e_invocation_duration_seconds histogram");
    assert_line(t, "r3e_invocation_duration_seconds_bucket{function=\"hello\",le=\"0.0005\"} 1");
    assert_line(t, "r3e_invocation_duration_seconds_bucket{function=\"hello\",le=\"0.001\"} 1");
    assert_line(t, "r3e_invocation_duration_seconds_bucket{function=\"hello\",le=\"0.0025\"} 2");
    assert_line(t, "r3e_invocation_duration_seconds_bucket{function=\"hello\",le=\"0.25\"} 2");
    assert_line(t, "r3e_invocation_duration_seconds_bucket{function=\"hello\",le=\"0.5\"} 3");
    assert_line(t, "r3e_invocation_duration_seconds_bucket{function=\"hello\",le=\"10\"} 3");
    assert_line(t, "r3e_invocation_duration_seconds_bucket{function=\"hello\",le=\"+Inf\"} 4");
    assert_line(t, "r3e_invocation_duration_seconds_sum{function=\"hello\"} 20.301700");
    assert_line(t, "r3e_invocation_duration_seconds_count{function=\"hello\"} 4");
    assert_int_equal(count_prefix(t, "r3e_invocation_duration_seconds_bucket{"), 15);

    assert_line(t, "# TYPE r3e_workers gauge");
    assert_line(t, "r3e_workers{state=\"total\"} 4");
    assert_line(t, "r3e_workers{state=\"idle\"} 3");
    assert_line(t, "# TYPE process_start_time_seconds gauge");
    assert_non_null(strstr(t, "\nprocess_start_time_seconds 1"));
    free(t);
}

static void test_bucket_bounds_are_inclusive(void **state) {
    (void)state;
    metrics_invocation("edge", "ok", 500); /* exactly 0.0005 s: le="0.0005" */
    char *t = metrics_render(0, 0);
    assert_line(t, "r3e_invocation_duration_seconds_bucket{function=\"edge\",le=\"0.0005\"} 1");
    assert_line(t, "r3e_invocation_duration_seconds_sum{function=\"edge\"} 0.000500");
    free(t);
}

static void test_render_gauges_and_plain_counters(void **state) {
    (void)state;
    metrics_inflight_add(3);
    metrics_inflight_add(-1);
    metrics_cold_start("fn-a");
    metrics_cold_start("fn-a");
    metrics_worker_restart();
    metrics_http_request(200);
    metrics_http_request(200);
    metrics_http_request(404);
    metrics_http_request(42); /* not an HTTP status */
    char *t = metrics_render(2, 1);
    assert_line(t, "# TYPE r3e_invocations_in_flight gauge");
    assert_line(t, "r3e_invocations_in_flight 2");
    assert_line(t, "# TYPE r3e_cold_starts_total counter");
    assert_line(t, "r3e_cold_starts_total{function=\"fn-a\"} 2");
    assert_line(t, "# TYPE r3e_worker_restarts_total counter");
    assert_line(t, "r3e_worker_restarts_total 1");
    assert_line(t, "# TYPE r3e_http_requests_total counter");
    assert_line(t, "r3e_http_requests_total{code=\"200\"} 2");
    assert_line(t, "r3e_http_requests_total{code=\"404\"} 1");
    assert_line(t, "r3e_http_requests_total{code=\"other\"} 1");
    /* A function that only cold-started has no invocation series yet. */
    assert_null(strstr(t, "function=\"fn-a\",status="));
    assert_null(strstr(t, "_bucket{function=\"fn-a\""));
    free(t);
}

static void test_every_metric_has_help_and_type(void **state) {
    (void)state;
    char *t = metrics_render(0, 0);
    const char *names[] = {
        "r3e_invocations_total", "r3e_invocation_duration_seconds", "r3e_invocations_in_flight",
        "r3e_cold_starts_total", "r3e_worker_restarts_total",       "r3e_http_requests_total",
        "r3e_workers",           "process_start_time_seconds"};
    char line[128];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(line, sizeof line, "# HELP %s ", names[i]);
        assert_non_null(strstr(t, line));
        snprintf(line, sizeof line, "# TYPE %s ", names[i]);
        assert_non_null(strstr(t, line));
    }
    assert_int_equal(t[strlen(t) - 1], '\n');
    free(t);
}

static void test_label_values_are_escaped(void **state) {
    (void)state;
    metrics_invocation("a\"b\\c\nd", "bad\"status", 1);
    char *t = metrics_render(0, 0);
    assert_line(t,
                "r3e_invocations_total{function=\"a\\\"b\\\\c\\nd\",status=\"bad\\\"status\"} 1");
    free(t);
}

static void test_function_label_sets_are_bounded(void **state) {
    (void)state;
    char name[32];
    for (int i = 0; i < 10050; i++) {
        snprintf(name, sizeof name, "f%05d", i);
        metrics_invocation(name, "ok", 1);
    }
    for (int i = 0; i < 20; i++) {
        snprintf(name, sizeof name, "s%d", i);
        metrics_invocation("f00000", name, 1);
    }
    char *t = metrics_render(0, 0);
    assert_line(t, "r3e_invocations_total{function=\"f09999\",status=\"ok\"} 1");
    assert_null(strstr(t, "function=\"f10000\""));
    assert_line(t, "r3e_invocations_total{function=\"_other\",status=\"ok\"} 50");
    /* Statuses are bounded per function too: ok + 15 named + _other for the rest. */
    assert_line(t, "r3e_invocations_total{function=\"f00000\",status=\"_other\"} 5");
    assert_int_equal(count_prefix(t, "r3e_invocations_total{function=\"f00000\","), 17);
    assert_int_equal(count_prefix(t, "r3e_invocations_total{"), 10001 + 16);
    free(t);
}

enum { THREADS = 8, PER_THREAD = 20000 };

static void *hammer(void *arg) {
    const char *fns[] = {"alpha", "beta", "gamma", "delta"};
    uintptr_t id = (uintptr_t)arg;
    for (int i = 0; i < PER_THREAD; i++) {
        metrics_invocation(fns[(id + (uintptr_t)i) % 4], (i % 2) ? "ok" : "error", 1000);
        metrics_inflight_add(1);
        metrics_http_request(200);
        metrics_inflight_add(-1);
        if (i % 100 == 0) metrics_cold_start(fns[id % 4]);
    }
    return NULL;
}

static void test_concurrent_updates_sum_exactly(void **state) {
    (void)state;
    pthread_t th[THREADS];
    for (uintptr_t i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, hammer, (void *)i), 0);
    /* Rendering while writers run must be safe, too. */
    for (int i = 0; i < 5; i++)
        free(metrics_render(0, 0));
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);

    char *t = metrics_render(0, 0);
    char line[160];
    const int per_fn = THREADS * PER_THREAD / 4;
    const char *fns[] = {"alpha", "beta", "gamma", "delta"};
    for (int f = 0; f < 4; f++) {
        snprintf(line, sizeof line, "r3e_invocations_total{function=\"%s\",status=\"ok\"} %d",
                 fns[f], per_fn / 2);
        assert_line(t, line);
        snprintf(line, sizeof line, "r3e_invocation_duration_seconds_count{function=\"%s\"} %d",
                 fns[f], per_fn);
        assert_line(t, line);
        snprintf(line, sizeof line,
                 "r3e_invocation_duration_seconds_sum{function=\"%s\"} %d.000000", fns[f],
                 per_fn / 1000);
        assert_line(t, line);
        snprintf(line, sizeof line, "r3e_cold_starts_total{function=\"%s\"} %d", fns[f],
                 2 * PER_THREAD / 100);
        assert_line(t, line);
    }
    snprintf(line, sizeof line, "r3e_http_requests_total{code=\"200\"} %d", THREADS * PER_THREAD);
    assert_line(t, line);
    assert_line(t, "r3e_invocations_in_flight 0");
    free(t);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_render_counts_invocations_with_histogram, reset),
        cmocka_unit_test_setup(test_bucket_bounds_are_inclusive, reset),
        cmocka_unit_test_setup(test_render_gauges_and_plain_counters, reset),
        cmocka_unit_test_setup(test_every_metric_has_help_and_type, reset),
        cmocka_unit_test_setup(test_label_values_are_escaped, reset),
        cmocka_unit_test_setup(test_function_label_sets_are_bounded, reset),
        cmocka_unit_test_setup(test_concurrent_updates_sum_exactly, reset),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    metrics_shutdown();
    return rc;
}
