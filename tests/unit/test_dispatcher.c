/* The dispatcher against the embedded queue on a real store: outcomes settle jobs (done,
 * retried, dead-lettered, released on a busy runtime), idle threads wake on enqueue, and
 * stop finishes what is in flight. The run callback stands in for the server's (which
 * calls runtime_invoke); its behaviour is chosen by the job's payload. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tmpdir.h"
#include "core/util.h"
#include "queue/dispatcher.h"
#include "queue/queue.h"
#include "store/store.h"

#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
    char dir[64];
    store_t *s;
    queue_t *q;
    pthread_mutex_t mu;
    int calls;
    int busy_left, fail_left;
    uint64_t ran_at_ms;
    uint32_t last_attempt;
} fixture_t;

static int setup(void **state) {
    fixture_t *fx = calloc(1, sizeof *fx);
    if (tmpdir_make(fx->dir, sizeof fx->dir, "disp") < 0) return -1;
    err_t err;
    fx->s = store_open(fx->dir, &err);
    fx->q = fx->s ? queue_open_store(fx->s, NULL, &err) : NULL;
    if (!fx->q) return -1;
    pthread_mutex_init(&fx->mu, NULL);
    *state = fx;
    return 0;
}

static int teardown(void **state) {
    fixture_t *fx = *state;
    queue_close(fx->q);
    store_close(fx->s);
    tmpdir_remove(fx->dir);
    pthread_mutex_destroy(&fx->mu);
    free(fx);
    return 0;
}

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* payload "ok" | "fail" (always) | "flaky" (fails fail_left times) | "busy" (R3E_ELIMIT
 * busy_left times) | "slow" (300 ms) */
static int run(void *arg, const queue_job_t *job, char exec_id[129], err_t *err) {
    fixture_t *fx = arg;
    pthread_mutex_lock(&fx->mu);
    fx->calls++;
    fx->ran_at_ms = util_wall_ms();
    fx->last_attempt = job->attempt;
    bool busy = strcmp(job->payload, "busy") == 0 && fx->busy_left > 0 && fx->busy_left--;
    bool flaky = strcmp(job->payload, "flaky") == 0 && fx->fail_left > 0 && fx->fail_left--;
    pthread_mutex_unlock(&fx->mu);
    util_ulid(exec_id);
    if (strcmp(job->payload, "slow") == 0) sleep_ms(300);
    if (busy) return err_set(err, R3E_ELIMIT, "function at its concurrency limit");
    if (flaky || strcmp(job->payload, "fail") == 0) return err_set(err, R3E_EINTERNAL, "boom");
    return 0;
}

static dispatcher_t *start(fixture_t *fx, uint32_t idle_ms) {
    dispatcher_config_t cfg = {.queue = fx->q,
                               .run = run,
                               .arg = fx,
                               .threads = 3,
                               .lease_ms = 60000,
                               .busy_delay_ms = 20,
                               .idle_ms = idle_ms};
    err_t err;
    dispatcher_t *d = dispatcher_start(&cfg, &err);
    assert_non_null(d);
    return d;
}

static void enqueue(fixture_t *fx, const char *payload, uint32_t max_attempts) {
    queue_job_t j;
    memset(&j, 0, sizeof j);
    snprintf(j.function, sizeof j.function, "fn");
    j.payload = (char *)payload;
    j.max_attempts = max_attempts;
    j.backoff_ms = 10;
    err_t err;
    assert_int_equal(queue_enqueue(fx->q, NULL, &j, 1, NULL, NULL, &err), 0);
}

/* Waits (bounded) until the queue holds nothing but dead letters. */
static void wait_settled(fixture_t *fx, dispatcher_t *d, uint64_t done, uint64_t dead) {
    for (int i = 0; i < 500; i++) {
        dispatcher_counts_t c;
        dispatcher_counts(d, &c);
        if (c.done == done && c.dead == dead) return;
        sleep_ms(10);
    }
    fail_msg("jobs did not settle in 5 s");
}

static void test_outcomes_settle_jobs(void **state) {
    fixture_t *fx = *state;
    fx->fail_left = 2;
    fx->busy_left = 3;
    dispatcher_t *d = start(fx, 50);
    enqueue(fx, "ok", 3);
    enqueue(fx, "flaky", 3); /* fails twice, then done on attempt 3 */
    enqueue(fx, "busy", 1);  /* released 3 times without using its one attempt */
    enqueue(fx, "fail", 2);  /* dead after 2 attempts */
    wait_settled(fx, d, 3, 1);
    dispatcher_counts_t c;
    dispatcher_counts(d, &c);
    dispatcher_stop(d);
    assert_int_equal(c.failed, 3); /* flaky x2 + fail's first attempt */
    assert_int_equal(c.busy, 3);
    assert_int_equal(c.lost, 0);
    assert_int_equal(fx->calls, 1 + 3 + 4 + 2);
    queue_stats_t st;
    err_t err;
    assert_int_equal(queue_stats(fx->q, &st, &err), 0);
    assert_int_equal(st.ready + st.leased + st.waiting, 0);
    assert_int_equal(st.dead, 1);
    queue_job_t *dl;
    size_t n;
    assert_int_equal(queue_dlq_list(fx->q, NULL, NULL, 10, &dl, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_string_equal(dl[0].payload, "fail");
    assert_string_equal(dl[0].last_error, "boom");
    queue_jobs_free(dl, n);
}

static void test_idle_threads_wake_on_enqueue(void **state) {
    fixture_t *fx = *state;
    dispatcher_t *d = start(fx, 10000); /* without a wake-up they would sleep 10 s */
    sleep_ms(100);                      /* let every thread go idle */
    uint64_t t0 = util_wall_ms();
    enqueue(fx, "ok", 1);
    wait_settled(fx, d, 1, 0);
    uint64_t latency = fx->ran_at_ms - t0;
    dispatcher_stop(d);
    assert_true(latency < 1000);
}

static void test_stop_finishes_in_flight_runs(void **state) {
    fixture_t *fx = *state;
    dispatcher_t *d = start(fx, 50);
    enqueue(fx, "slow", 1);
    for (int i = 0; i < 200 && fx->calls == 0; i++)
        sleep_ms(5);
    assert_int_equal(fx->calls, 1);
    dispatcher_stop(d); /* returns after the 300 ms run, with the job settled */
    queue_stats_t st;
    err_t err;
    assert_int_equal(queue_stats(fx->q, &st, &err), 0);
    assert_int_equal(st.ready + st.leased + st.dead, 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_outcomes_settle_jobs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_idle_threads_wake_on_enqueue, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_finishes_in_flight_runs, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
