/* The queue contract (embedded backend on a real RocksDB store in a fresh directory per
 * test): delivery, leases, retries with backoff, dead letters, sequential keys, atomic
 * enqueue with the event log, idempotency keys, durability across kill -9. Time is
 * injected (fake_now) wherever the behaviour depends on it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tmpdir.h"
#include "core/util.h"
#include "queue/queue.h"
#include "store/store.h"

#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static uint64_t fake_now = 1700000000000ull;

static uint64_t clock_fn(void *arg) {
    (void)arg;
    return fake_now;
}

static const queue_config_t fake_clock = {.now_ms = clock_fn};

typedef struct {
    char dir[64];
    store_t *s;
    queue_t *q;
} fixture_t;

static void reopen(fixture_t *fx) {
    queue_close(fx->q);
    store_close(fx->s);
    err_t err;
    fx->s = store_open(fx->dir, &err);
    assert_non_null(fx->s);
    fx->q = queue_open_store(fx->s, &fake_clock, &err);
    assert_non_null(fx->q);
}

static int setup(void **state) {
    fixture_t *fx = calloc(1, sizeof *fx);
    if (tmpdir_make(fx->dir, sizeof fx->dir, "queue") < 0) return -1;
    err_t err;
    fx->s = store_open(fx->dir, &err);
    fx->q = fx->s ? queue_open_store(fx->s, &fake_clock, &err) : NULL;
    if (!fx->q) {
        fprintf(stderr, "open: %s\n", err.msg);
        return -1;
    }
    fake_now = 1700000000000ull;
    *state = fx;
    return 0;
}

static int teardown(void **state) {
    fixture_t *fx = *state;
    queue_close(fx->q);
    store_close(fx->s);
    tmpdir_remove(fx->dir);
    free(fx);
    return 0;
}

static queue_job_t job_of(const char *fn, const char *payload) {
    queue_job_t j;
    memset(&j, 0, sizeof j);
    snprintf(j.function, sizeof j.function, "%s", fn);
    j.payload = (char *)payload;
    return j;
}

static void enqueue1(queue_t *q, queue_job_t *j) {
    err_t err;
    assert_int_equal(queue_enqueue(q, NULL, j, 1, NULL, NULL, &err), 0);
}

/* Claims at most max with a 60 s lease. */
static size_t claim(queue_t *q, size_t max, queue_job_t **jobs) {
    err_t err;
    size_t n = 0;
    assert_int_equal(queue_claim(q, "w1", max, 60000, jobs, &n, &err), 0);
    return n;
}

static void assert_stats(queue_t *q, uint64_t ready, uint64_t waiting, uint64_t leased,
                         uint64_t dead) {
    queue_stats_t st;
    err_t err;
    assert_int_equal(queue_stats(q, &st, &err), 0);
    assert_int_equal(st.ready, ready);
    assert_int_equal(st.waiting, waiting);
    assert_int_equal(st.leased, leased);
    assert_int_equal(st.dead, dead);
}

static void test_enqueue_claim_ack_delivers_each_job_once(void **state) {
    fixture_t *fx = *state;
    queue_job_t js[3] = {job_of("a", "{\"n\":1}"), job_of("b", "{\"n\":2}"), job_of("c", "{}")};
    err_t err;
    assert_int_equal(queue_enqueue(fx->q, NULL, js, 3, NULL, NULL, &err), 0);
    assert_int_equal(strlen(js[0].id), 26);
    assert_int_equal(js[0].max_attempts, QUEUE_DEFAULT_MAX_ATTEMPTS);
    assert_stats(fx->q, 3, 0, 0, 0);

    queue_job_t *got;
    assert_int_equal(claim(fx->q, 10, &got), 3);
    assert_string_equal(got[0].id, js[0].id); /* FIFO for equal due times */
    assert_string_equal(got[0].function, "a");
    assert_string_equal(got[0].payload, "{\"n\":1}");
    assert_int_equal(got[0].attempt, 1);
    assert_int_equal(got[0].state, QUEUE_LEASED);
    assert_int_equal(got[0].lease_until_ms, fake_now + 60000);
    assert_stats(fx->q, 0, 0, 3, 0);

    queue_job_t *none;
    assert_int_equal(claim(fx->q, 10, &none), 0); /* leased jobs are not claimable */
    queue_jobs_free(none, 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(queue_ack(fx->q, &got[i], NULL, &err), 0);
    assert_int_equal(queue_ack(fx->q, &got[0], NULL, &err), -1); /* already done */
    assert_int_equal(err.code, R3E_EEXIST);
    assert_stats(fx->q, 0, 0, 0, 0);
    queue_jobs_free(got, 3);
}

static void test_not_before_delays_a_job(void **state) {
    fixture_t *fx = *state;
    queue_job_t j = job_of("later", "{}");
    j.not_before_ms = fake_now + 5000;
    enqueue1(fx->q, &j);
    assert_int_equal(queue_next_due(fx->q), fake_now + 5000);
    queue_job_t *got;
    assert_int_equal(claim(fx->q, 1, &got), 0);
    queue_jobs_free(got, 0);
    fake_now += 5000;
    assert_int_equal(claim(fx->q, 1, &got), 1);
    queue_jobs_free(got, 1);
}

static void test_expired_lease_is_redelivered_and_old_lease_cannot_settle(void **state) {
    fixture_t *fx = *state;
    queue_job_t j = job_of("slow", "{}");
    enqueue1(fx->q, &j);
    queue_job_t *first, *second;
    assert_int_equal(claim(fx->q, 1, &first), 1);
    fake_now += 59999;
    assert_int_equal(claim(fx->q, 1, &second), 0);
    queue_jobs_free(second, 0);
    fake_now += 1; /* lease_until reached */
    assert_int_equal(claim(fx->q, 1, &second), 1);
    assert_string_equal(second[0].id, first[0].id);
    assert_int_equal(second[0].attempt, 2);
    assert_string_equal(second[0].last_error, "lease expired");
    err_t err;
    assert_int_equal(queue_ack(fx->q, &first[0], NULL, &err), -1);
    assert_int_equal(err.code, R3E_EEXIST);
    assert_int_equal(queue_ack(fx->q, &second[0], NULL, &err), 0);
    assert_stats(fx->q, 0, 0, 0, 0);
    queue_jobs_free(first, 1);
    queue_jobs_free(second, 1);
}

static void test_fail_backs_off_exponentially_then_retry_succeeds(void **state) {
    fixture_t *fx = *state;
    queue_job_t j = job_of("flaky", "{}");
    j.backoff_ms = 1000;
    j.max_attempts = 3;
    enqueue1(fx->q, &j);
    err_t err;
    for (uint32_t attempt = 1; attempt <= 2; attempt++) {
        queue_job_t *got;
        assert_int_equal(claim(fx->q, 1, &got), 1);
        assert_int_equal(got[0].attempt, attempt);
        bool dead = true;
        assert_int_equal(queue_fail(fx->q, &got[0], NULL, "boom", &dead, &err), 0);
        assert_false(dead);
        assert_stats(fx->q, 1, 0, 0, 0);
        /* full jitter: due in [now, now + 1000 * 2^(attempt-1)] */
        uint64_t due = queue_next_due(fx->q), cap = 1000ull << (attempt - 1);
        assert_in_range(due, fake_now, fake_now + cap);
        fake_now += cap;
        queue_jobs_free(got, 1);
    }
    queue_job_t *got;
    assert_int_equal(claim(fx->q, 1, &got), 1);
    assert_int_equal(got[0].attempt, 3);
    assert_string_equal(got[0].last_error, "boom");
    assert_int_equal(queue_ack(fx->q, &got[0], NULL, &err), 0);
    assert_stats(fx->q, 0, 0, 0, 0);
    queue_jobs_free(got, 1);
}

static void test_backoff_is_capped(void **state) {
    fixture_t *fx = *state;
    queue_job_t j = job_of("capped", "{}");
    j.backoff_ms = 600000; /* 10 min, doubled would pass the 15 min cap */
    j.max_attempts = 10;
    enqueue1(fx->q, &j);
    err_t err;
    for (int i = 0; i < 4; i++) {
        queue_job_t *got;
        assert_int_equal(claim(fx->q, 1, &got), 1);
        assert_int_equal(queue_fail(fx->q, &got[0], NULL, "x", NULL, &err), 0);
        assert_true(queue_next_due(fx->q) <= fake_now + QUEUE_DEFAULT_BACKOFF_CAP_MS);
        fake_now += QUEUE_DEFAULT_BACKOFF_CAP_MS;
        queue_jobs_free(got, 1);
    }
}

static void test_release_does_not_use_an_attempt(void **state) {
    fixture_t *fx = *state;
    queue_job_t j = job_of("busy", "{}");
    j.max_attempts = 1;
    enqueue1(fx->q, &j);
    err_t err;
    for (int i = 0; i < 5; i++) { /* more releases than attempts: never dead-lettered */
        queue_job_t *got;
        assert_int_equal(claim(fx->q, 1, &got), 1);
        assert_int_equal(got[0].attempt, 1);
        assert_int_equal(queue_release(fx->q, &got[0], 250, &err), 0);
        assert_int_equal(queue_next_due(fx->q), fake_now + 250);
        fake_now += 250;
        queue_jobs_free(got, 1);
    }
    assert_stats(fx->q, 1, 0, 0, 0);
}

static void test_exhausted_job_is_dead_lettered_and_replay_runs_it_again(void **state) {
    fixture_t *fx = *state;
    queue_job_t j = job_of("doomed", "{\"x\":1}");
    j.max_attempts = 2;
    j.backoff_ms = 1;
    enqueue1(fx->q, &j);
    err_t err;
    bool dead = false;
    for (int i = 0; i < 2; i++) {
        queue_job_t *got;
        fake_now += 10;
        assert_int_equal(claim(fx->q, 1, &got), 1);
        char msg[32];
        snprintf(msg, sizeof msg, "error %d", i + 1);
        assert_int_equal(queue_fail(fx->q, &got[0], NULL, msg, &dead, &err), 0);
        assert_int_equal(dead, i == 1);
        queue_jobs_free(got, 1);
    }
    assert_stats(fx->q, 0, 0, 0, 1);
    queue_job_t *got;
    fake_now += 10000;
    assert_int_equal(claim(fx->q, 1, &got), 0);
    queue_jobs_free(got, 0);

    queue_job_t *dl;
    size_t n;
    assert_int_equal(queue_dlq_list(fx->q, "default", NULL, 10, &dl, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_string_equal(dl[0].id, j.id);
    assert_string_equal(dl[0].last_error, "error 2");
    assert_int_equal(dl[0].attempt, 2);
    assert_int_equal(dl[0].state, QUEUE_DEAD);
    queue_jobs_free(dl, n);
    assert_int_equal(queue_dlq_list(fx->q, "other", NULL, 10, &dl, &n, &err), 0);
    assert_int_equal(n, 0); /* dead letters are per namespace */
    queue_jobs_free(dl, n);
    queue_job_t one;
    assert_int_equal(queue_dlq_get(fx->q, "default", j.id, &one, &err), 0);
    assert_string_equal(one.payload, "{\"x\":1}");
    queue_job_free(&one);

    assert_int_equal(queue_dlq_replay(fx->q, "default", j.id, &err), 0);
    assert_stats(fx->q, 1, 0, 0, 0);
    assert_int_equal(queue_dlq_get(fx->q, "default", j.id, &one, &err), -1);
    assert_int_equal(err.code, R3E_ENOTFOUND);
    assert_int_equal(claim(fx->q, 1, &got), 1);
    assert_int_equal(got[0].attempt, 1); /* attempts start over */
    assert_int_equal(queue_ack(fx->q, &got[0], NULL, &err), 0);
    queue_jobs_free(got, 1);
    assert_stats(fx->q, 0, 0, 0, 0);
}

static void test_dlq_pages_with_a_cursor_and_delete_removes(void **state) {
    fixture_t *fx = *state;
    err_t err;
    char ids[5][27];
    for (int i = 0; i < 5; i++) {
        queue_job_t j = job_of("d", "{}");
        j.max_attempts = 1;
        enqueue1(fx->q, &j);
        memcpy(ids[i], j.id, 27);
        queue_job_t *got;
        assert_int_equal(claim(fx->q, 1, &got), 1);
        assert_int_equal(queue_fail(fx->q, &got[0], NULL, "no", NULL, &err), 0);
        queue_jobs_free(got, 1);
    }
    queue_job_t *dl;
    size_t n;
    assert_int_equal(queue_dlq_list(fx->q, NULL, NULL, 2, &dl, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_string_equal(dl[1].id, ids[1]);
    queue_jobs_free(dl, n);
    assert_int_equal(queue_dlq_list(fx->q, NULL, ids[1], 10, &dl, &n, &err), 0);
    assert_int_equal(n, 3);
    assert_string_equal(dl[0].id, ids[2]);
    queue_jobs_free(dl, n);
    assert_int_equal(queue_dlq_delete(fx->q, NULL, ids[3], &err), 0);
    assert_int_equal(queue_dlq_delete(fx->q, NULL, ids[3], &err), -1);
    assert_int_equal(err.code, R3E_ENOTFOUND);
    assert_stats(fx->q, 0, 0, 0, 4);
}

static void test_event_older_than_max_age_is_dead_lettered_on_failure(void **state) {
    fixture_t *fx = *state;
    queue_job_t j = job_of("old", "{}");
    j.max_event_age_s = 10;
    j.max_attempts = 5;
    enqueue1(fx->q, &j);
    err_t err;
    queue_job_t *got;
    assert_int_equal(claim(fx->q, 1, &got), 1);
    fake_now += 10001;
    bool dead = false;
    assert_int_equal(queue_fail(fx->q, &got[0], NULL, "timeout", &dead, &err), 0);
    assert_true(dead);
    queue_jobs_free(got, 1);
    queue_job_t one;
    assert_int_equal(queue_dlq_get(fx->q, NULL, j.id, &one, &err), 0);
    assert_non_null(strstr(one.last_error, "max_event_age_s"));
    queue_job_free(&one);
}

/* The settle hook of the next tests: records each call, adds a record and one follow-up. */
typedef struct {
    int calls;
    char reason[32]; /* "" = ack */
    char job[27];
} settle_log_t;

static void settle_hook(void *arg, const queue_job_t *job, const char *dead_reason,
                        queue_settle_t *out) {
    settle_log_t *l = arg;
    l->calls++;
    snprintf(l->reason, sizeof l->reason, "%s", dead_reason ? dead_reason : "");
    snprintf(l->job, sizeof l->job, "%s", job->id);
    if (strcmp(job->function, "settle") != 0) return; /* follow-ups settle without more */
    out->record_json = strdup(dead_reason ? "{\"status\":\"dead\"}" : "{\"status\":\"ok\"}");
    out->jobs = calloc(1, sizeof *out->jobs);
    out->n_jobs = 1;
    snprintf(out->jobs[0].ns, sizeof out->jobs[0].ns, "%s", job->ns);
    snprintf(out->jobs[0].function, sizeof out->jobs[0].function, "follow");
    out->jobs[0].payload = strdup("{\"f\":1}");
    out->jobs[0].url = strdup("http://127.0.0.1:9/x");
    snprintf(out->jobs[0].parent_id, sizeof out->jobs[0].parent_id, "%s", job->id);
    snprintf(out->jobs[0].delivery, sizeof out->jobs[0].delivery, "callback");
    out->jobs[0].record_json = strdup("{\"status\":\"queued\"}");
}

static void reopen_with_hook(fixture_t *fx, settle_log_t *l) {
    queue_close(fx->q);
    queue_config_t cfg = fake_clock;
    cfg.settled = settle_hook;
    cfg.settled_arg = l;
    err_t err;
    fx->q = queue_open_store(fx->s, &cfg, &err);
    assert_non_null(fx->q);
}

static void assert_record(fixture_t *fx, const char *id, const char *want) {
    char *rec;
    err_t err;
    assert_int_equal(store_get_execution(fx->s, "default", id, &rec, &err), 0);
    assert_string_equal(rec, want);
    free(rec);
}

/* A settled job's follow-ups (record, jobs) are in the write that settles it: on ack, and
 * on every path to the dead letters with its reason. A follow-up job keeps its delivery
 * fields across the store. */
static void test_settle_hook_adds_follow_ups_to_ack_and_every_dead_letter(void **state) {
    fixture_t *fx = *state;
    settle_log_t l = {0};
    reopen_with_hook(fx, &l);
    err_t err;
    queue_job_t *got;
    /* ack */
    queue_job_t a = job_of("settle", "{}");
    enqueue1(fx->q, &a);
    assert_int_equal(claim(fx->q, 1, &got), 1);
    assert_int_equal(queue_ack(fx->q, &got[0], NULL, &err), 0);
    queue_jobs_free(got, 1);
    assert_int_equal(l.calls, 1);
    assert_string_equal(l.reason, "");
    assert_record(fx, a.id, "{\"status\":\"ok\"}");
    assert_int_equal(claim(fx->q, 1, &got), 1); /* the follow-up */
    assert_string_equal(got[0].function, "follow");
    assert_string_equal(got[0].url, "http://127.0.0.1:9/x");
    assert_string_equal(got[0].parent_id, a.id);
    assert_string_equal(got[0].delivery, "callback");
    assert_record(fx, got[0].id, "{\"status\":\"queued\"}");
    assert_int_equal(queue_ack(fx->q, &got[0], NULL, &err), 0);
    queue_jobs_free(got, 1);
    /* too old, attempts left */
    queue_job_t b = job_of("settle", "{}");
    b.max_event_age_s = 10;
    b.max_attempts = 5;
    enqueue1(fx->q, &b);
    assert_int_equal(claim(fx->q, 1, &got), 1);
    fake_now += 10001;
    bool dead = false;
    assert_int_equal(queue_fail(fx->q, &got[0], NULL, "boom", &dead, &err), 0);
    queue_jobs_free(got, 1);
    assert_true(dead);
    assert_string_equal(l.reason, "max_event_age");
    assert_string_equal(l.job, b.id);
    assert_record(fx, b.id, "{\"status\":\"dead\"}");
    assert_int_equal(claim(fx->q, 1, &got), 1);
    assert_int_equal(queue_ack(fx->q, &got[0], NULL, &err), 0);
    queue_jobs_free(got, 1);
    /* last attempt lost with its lease at a restart */
    queue_job_t c = job_of("settle", "{}");
    c.max_attempts = 1;
    enqueue1(fx->q, &c);
    assert_int_equal(claim(fx->q, 1, &got), 1);
    queue_jobs_free(got, 1);
    l.calls = 0;
    reopen_with_hook(fx, &l);
    assert_int_equal(l.calls, 1);
    assert_string_equal(l.reason, "max_attempts");
    assert_string_equal(l.job, c.id);
    assert_record(fx, c.id, "{\"status\":\"dead\"}");
    assert_stats(fx->q, 1, 0, 0, 2);
}

/* An enqueue's record hook writes each new job's first execution record in the same write,
 * with the event id already set; a duplicate event's jobs get none. */
static char *record_hook(void *arg, const queue_job_t *job) {
    (*(int *)arg)++;
    char *t = NULL;
    if (asprintf(&t, "{\"status\":\"queued\",\"event_id\":\"%s\"}", job->event_id) < 0) return NULL;
    return t;
}

static void test_enqueue_writes_each_jobs_first_record_with_it(void **state) {
    fixture_t *fx = *state;
    eventlog_event_t ev = {.source = "s", .ce_id = "e1", .type = "t", .json = "{}"};
    queue_job_t j = job_of("fn", NULL);
    int calls = 0;
    queue_item_t it = {
        .event = &ev, .jobs = &j, .n_jobs = 1, .record = record_hook, .record_arg = &calls};
    err_t err;
    assert_int_equal(queue_enqueue_batch(fx->q, &it, 1, &err), 0);
    assert_int_equal(calls, 1);
    char want[128];
    snprintf(want, sizeof want, "{\"status\":\"queued\",\"event_id\":\"%s\"}", it.event_id);
    assert_string_equal(j.record_json, want);
    assert_record(fx, j.id, want);
    free(j.record_json);
    queue_job_t k = job_of("fn", NULL);
    queue_item_t again = {
        .event = &ev, .jobs = &k, .n_jobs = 1, .record = record_hook, .record_arg = &calls};
    assert_int_equal(queue_enqueue_batch(fx->q, &again, 1, &err), 0);
    assert_true(again.duplicate);
    assert_int_equal(calls, 1);
    assert_null(k.record_json);
}

static queue_job_t seq_job(const char *key, const char *payload) {
    queue_job_t j = job_of("seq", payload);
    j.mode = QUEUE_SEQUENTIAL;
    snprintf(j.trigger_id, sizeof j.trigger_id, "%s", key);
    return j;
}

static void test_sequential_keys_run_one_at_a_time_in_order_and_interleave(void **state) {
    fixture_t *fx = *state;
    err_t err;
    queue_job_t js[6] = {seq_job("A", "a1"), seq_job("A", "a2"), seq_job("B", "b1"),
                         seq_job("A", "a3"), seq_job("B", "b2"), job_of("par", "p1")};
    assert_int_equal(queue_enqueue(fx->q, NULL, js, 6, NULL, NULL, &err), 0);
    assert_string_equal(js[0].order_key, "A"); /* defaults to the trigger id */
    assert_stats(fx->q, 3, 3, 0, 0);
    queue_job_t *got;
    assert_int_equal(claim(fx->q, 10, &got), 3); /* heads of A and B, and the parallel job */
    assert_string_equal(got[0].payload, "a1");
    assert_string_equal(got[1].payload, "b1");
    assert_string_equal(got[2].payload, "p1");
    queue_job_t *none;
    assert_int_equal(claim(fx->q, 10, &none), 0); /* nothing of A or B while they run */
    queue_jobs_free(none, 0);

    /* b1 fails: B retries b1 (not b2) after backoff; A moves on when a1 is acked. */
    assert_int_equal(queue_fail(fx->q, &got[1], NULL, "b1 failed", NULL, &err), 0);
    assert_int_equal(queue_ack(fx->q, &got[0], NULL, &err), 0);
    assert_int_equal(queue_ack(fx->q, &got[2], NULL, &err), 0);
    queue_jobs_free(got, 3);
    fake_now += 1000;
    assert_int_equal(claim(fx->q, 10, &got), 2);
    if (strcmp(got[0].payload, "a2") == 0) { /* either may be due first (jitter) */
        queue_job_t t = got[0];
        got[0] = got[1];
        got[1] = t;
    }
    assert_string_equal(got[0].payload, "b1");
    assert_int_equal(got[0].attempt, 2);
    assert_string_equal(got[1].payload, "a2");
    assert_int_equal(queue_ack(fx->q, &got[0], NULL, &err), 0);
    assert_int_equal(queue_ack(fx->q, &got[1], NULL, &err), 0);
    queue_jobs_free(got, 2);
    assert_int_equal(claim(fx->q, 10, &got), 2);
    assert_string_equal(got[0].payload, "a3"); /* both due now: enqueue order */
    assert_string_equal(got[1].payload, "b2");
    assert_int_equal(queue_ack(fx->q, &got[0], NULL, &err), 0);
    assert_int_equal(queue_ack(fx->q, &got[1], NULL, &err), 0);
    queue_jobs_free(got, 2);
    assert_stats(fx->q, 0, 0, 0, 0);

    /* A later job of an idle key is ready at once. */
    queue_job_t a4 = seq_job("A", "a4");
    enqueue1(fx->q, &a4);
    assert_stats(fx->q, 1, 0, 0, 0);
}

static void test_sequential_dead_letter_unblocks_the_key(void **state) {
    fixture_t *fx = *state;
    err_t err;
    queue_job_t js[2] = {seq_job("K", "k1"), seq_job("K", "k2")};
    js[0].max_attempts = 1;
    assert_int_equal(queue_enqueue(fx->q, NULL, js, 2, NULL, NULL, &err), 0);
    queue_job_t *got;
    assert_int_equal(claim(fx->q, 10, &got), 1);
    bool dead = false;
    assert_int_equal(queue_fail(fx->q, &got[0], NULL, "x", &dead, &err), 0);
    assert_true(dead);
    queue_jobs_free(got, 1);
    assert_int_equal(claim(fx->q, 10, &got), 1);
    assert_string_equal(got[0].payload, "k2");
    /* a replayed job of a busy key waits its turn */
    assert_int_equal(queue_dlq_replay(fx->q, NULL, js[0].id, &err), 0);
    assert_stats(fx->q, 0, 1, 1, 0);
    assert_int_equal(queue_ack(fx->q, &got[0], NULL, &err), 0);
    queue_jobs_free(got, 1);
    assert_int_equal(claim(fx->q, 10, &got), 1);
    assert_string_equal(got[0].payload, "k1");
    queue_jobs_free(got, 1);
}

static void test_sequential_job_needs_a_key(void **state) {
    fixture_t *fx = *state;
    queue_job_t j = job_of("seq", "{}");
    j.mode = QUEUE_SEQUENTIAL;
    err_t err;
    assert_int_equal(queue_enqueue(fx->q, NULL, &j, 1, NULL, NULL, &err), -1);
    assert_int_equal(err.code, R3E_EINVAL);
}

static void test_event_and_jobs_are_written_together_and_deduplicated(void **state) {
    fixture_t *fx = *state;
    err_t err;
    eventlog_event_t ev = {.source = "app/orders",
                           .ce_id = "ord-1",
                           .type = "order.created",
                           .json = "{\"specversion\":\"1.0\",\"id\":\"ord-1\"}"};
    queue_job_t js[2] = {job_of("f1", NULL), job_of("f2", NULL)};
    char evid[27];
    bool dup = true;
    assert_int_equal(queue_enqueue(fx->q, &ev, js, 2, evid, &dup, &err), 0);
    assert_false(dup);
    assert_string_equal(js[0].event_id, evid);
    assert_string_equal(js[1].event_id, evid);

    /* The same (source, id) again: a no-op that returns the original event. */
    queue_job_t again = job_of("f1", NULL);
    char evid2[27];
    assert_int_equal(queue_enqueue(fx->q, &ev, &again, 1, evid2, &dup, &err), 0);
    assert_true(dup);
    assert_string_equal(evid2, evid);
    assert_stats(fx->q, 2, 0, 0, 0);

    /* The same id from another source is another event. */
    eventlog_event_t other = ev;
    other.source = "app/billing";
    assert_int_equal(queue_enqueue(fx->q, &other, NULL, 0, evid2, &dup, &err), 0);
    assert_false(dup);
    assert_string_not_equal(evid2, evid);

    /* A rejected job rejects the event too: nothing is logged. */
    eventlog_event_t bad = ev;
    bad.ce_id = "ord-2";
    queue_job_t badjob = job_of("Not A Name", NULL);
    assert_int_equal(queue_enqueue(fx->q, &bad, &badjob, 1, evid2, &dup, &err), -1);
    assert_int_equal(eventlog_find_dup(fx->s, &bad, evid2, &err), 0);

    reopen(fx); /* both the event and its jobs, or neither: here both */
    char *rec;
    assert_int_equal(eventlog_get(fx->s, NULL, evid, &rec, &err), 0);
    assert_non_null(strstr(rec, "\"ce_id\":\"ord-1\""));
    free(rec);
    assert_stats(fx->q, 2, 0, 0, 0);
    queue_job_t *got;
    assert_int_equal(claim(fx->q, 10, &got), 2);
    assert_string_equal(got[0].payload, ev.json); /* the event is the payload by default */
    assert_string_equal(got[0].event_id, evid);
    assert_int_equal(queue_ack(fx->q, &got[0], "01EXEC00000000000000000001", &err), 0);
    assert_int_equal(queue_fail(fx->q, &got[1], "01EXEC00000000000000000002", "x", NULL, &err), 0);
    queue_jobs_free(got, 2);
    assert_int_equal(eventlog_get(fx->s, NULL, evid, &rec, &err), 0);
    assert_non_null(strstr(rec, "\"executions\":[\"01EXEC00000000000000000001\","
                                "\"01EXEC00000000000000000002\"]"));
    free(rec);
}

static void test_batch_is_one_write_with_in_batch_dedupe_and_sequencing(void **state) {
    fixture_t *fx = *state;
    err_t err;
    eventlog_event_t a = {.source = "s", .ce_id = "a", .type = "t", .json = "{\"id\":\"a\"}"};
    eventlog_event_t b = {.source = "s", .ce_id = "b", .type = "t", .json = "{\"id\":\"b\"}"};
    queue_job_t ja = seq_job("K", NULL), jb = seq_job("K", NULL), ja2 = seq_job("K", NULL);
    queue_item_t items[3] = {{.event = &a, .jobs = &ja, .n_jobs = 1},
                             {.event = &b, .jobs = &jb, .n_jobs = 1},
                             {.event = &a, .jobs = &ja2, .n_jobs = 1}};
    assert_int_equal(queue_enqueue_batch(fx->q, items, 3, &err), 0);
    assert_false(items[0].duplicate);
    assert_false(items[1].duplicate);
    assert_true(items[2].duplicate); /* a repeat inside the batch */
    assert_string_equal(items[2].event_id, items[0].event_id);
    assert_stats(fx->q, 1, 1, 0, 0); /* one sequential key: one ready, one waiting */
    queue_job_t *got;
    assert_int_equal(claim(fx->q, 10, &got), 1);
    assert_string_equal(got[0].payload, a.json);
    queue_jobs_free(got, 1);

    /* A bad item rejects the whole batch. */
    eventlog_event_t c = {.source = "s", .ce_id = "c", .type = "t", .json = "{}"};
    queue_job_t bad = job_of("Bad Name", NULL);
    queue_item_t two[2] = {{.event = &c}, {.event = &c, .jobs = &bad, .n_jobs = 1}};
    assert_int_equal(queue_enqueue_batch(fx->q, two, 2, &err), -1);
    char id[27];
    assert_int_equal(eventlog_find_dup(fx->s, &c, id, &err), 0);
}

/* Not a benchmark (sanitizer build): prints the batched ingest rate for orientation. */
static void test_batched_ingest_of_many_events(void **state) {
    fixture_t *fx = *state;
    enum { EVENTS = 5000, BATCH = 500 };
    static eventlog_event_t evs[BATCH];
    static queue_job_t jobs[BATCH];
    static queue_item_t items[BATCH];
    static char ids[BATCH][16];
    err_t err;
    uint64_t t0 = util_now_us();
    for (int b = 0; b < EVENTS / BATCH; b++) {
        for (int i = 0; i < BATCH; i++) {
            snprintf(ids[i], sizeof ids[i], "e%d", b * BATCH + i);
            evs[i] = (eventlog_event_t){
                .source = "bench", .ce_id = ids[i], .type = "t", .json = "{\"v\":1}"};
            jobs[i] = job_of("noop", NULL);
            items[i] = (queue_item_t){.event = &evs[i], .jobs = &jobs[i], .n_jobs = 1};
        }
        assert_int_equal(queue_enqueue_batch(fx->q, items, BATCH, &err), 0);
    }
    uint64_t dt = util_now_us() - t0;
    fprintf(stderr, "batched ingest: %d events in %.1f ms (%.0f events/s)\n", EVENTS,
            (double)dt / 1000, EVENTS * 1e6 / (double)(dt ? dt : 1));
    assert_stats(fx->q, EVENTS, 0, 0, 0);
}

static void test_idempotency_keys_expire_after_their_ttl(void **state) {
    fixture_t *fx = *state;
    err_t err;
    char exec[129], existing[129];
    assert_int_equal(queue_idem_get(fx->q, NULL, "k1", exec, &err), -1);
    assert_int_equal(err.code, R3E_ENOTFOUND);
    assert_int_equal(queue_idem_put(fx->q, NULL, "k1", "EXEC1", 0, existing, &err), 0);
    assert_int_equal(queue_idem_get(fx->q, NULL, "k1", exec, &err), 0);
    assert_string_equal(exec, "EXEC1");
    assert_int_equal(queue_idem_get(fx->q, "other", "k1", exec, &err), -1); /* per namespace */
    assert_int_equal(queue_idem_put(fx->q, NULL, "k1", "EXEC2", 0, existing, &err), 1);
    assert_string_equal(existing, "EXEC1");

    fake_now += QUEUE_IDEM_TTL_MS - 1;
    assert_int_equal(queue_idem_get(fx->q, NULL, "k1", exec, &err), 0);
    fake_now += 1;
    assert_int_equal(queue_idem_get(fx->q, NULL, "k1", exec, &err), -1);
    assert_int_equal(err.code, R3E_ENOTFOUND);
    assert_int_equal(queue_idem_put(fx->q, NULL, "k1", "EXEC3", 1000, existing, &err), 0);
    assert_int_equal(queue_idem_get(fx->q, NULL, "k1", exec, &err), 0);
    assert_string_equal(exec, "EXEC3");

    size_t deleted = 99;
    assert_int_equal(queue_idem_gc(fx->q, 0, &deleted, &err), 0);
    assert_int_equal(deleted, 0);
    fake_now += 1000;
    assert_int_equal(queue_idem_gc(fx->q, 0, &deleted, &err), 0);
    assert_int_equal(deleted, 1);
    char *val;
    size_t len;
    assert_int_equal(store_meta_get(fx->s, "qidem", "default/k1", &val, &len, &err), -1);
}

enum { DURABLE_JOBS = 1000, DURABLE_CLAIMED = 300 };

/* Enqueues DURABLE_JOBS (ids "J0000".."J0999" in the payload), claims DURABLE_CLAIMED. */
static int durable_fill(queue_t *q) {
    err_t err;
    for (int b = 0; b < DURABLE_JOBS / 100; b++) {
        queue_job_t js[100];
        char payloads[100][16];
        for (int i = 0; i < 100; i++) {
            snprintf(payloads[i], sizeof payloads[i], "J%04d", b * 100 + i);
            js[i] = job_of("durable", payloads[i]);
        }
        if (queue_enqueue(q, NULL, js, 100, NULL, NULL, &err) != 0) return -1;
    }
    queue_job_t *got;
    size_t n;
    if (queue_claim(q, "doomed", DURABLE_CLAIMED, 3600000, &got, &n, &err) != 0) return -1;
    queue_jobs_free(got, n);
    return n == DURABLE_CLAIMED ? 0 : -1;
}

/* After a restart every job is delivered exactly once more, claimed ones included. */
static void durable_drain(fixture_t *fx) {
    assert_stats(fx->q, DURABLE_JOBS, 0, 0, 0);
    static bool seen[DURABLE_JOBS];
    memset(seen, 0, sizeof seen);
    size_t total = 0;
    err_t err;
    for (;;) {
        queue_job_t *got;
        size_t n = claim(fx->q, 64, &got);
        if (n == 0) {
            queue_jobs_free(got, 0);
            break;
        }
        for (size_t i = 0; i < n; i++) {
            int k = atoi(got[i].payload + 1);
            assert_in_range(k, 0, DURABLE_JOBS - 1);
            assert_false(seen[k]);
            seen[k] = true;
            assert_int_equal(queue_ack(fx->q, &got[i], NULL, &err), 0);
        }
        total += n;
        queue_jobs_free(got, n);
    }
    assert_int_equal(total, DURABLE_JOBS);
    assert_stats(fx->q, 0, 0, 0, 0);
}

static void test_close_without_ack_loses_nothing(void **state) {
    fixture_t *fx = *state;
    assert_int_equal(durable_fill(fx->q), 0);
    assert_stats(fx->q, DURABLE_JOBS - DURABLE_CLAIMED, 0, DURABLE_CLAIMED, 0);
    reopen(fx); /* the leases of the closed process are handed back at open */
    durable_drain(fx);
}

static void test_restart_counts_the_interrupted_attempt(void **state) {
    fixture_t *fx = *state;
    queue_job_t once = job_of("once", "{}"), twice = job_of("twice", "{}");
    once.max_attempts = 1;
    twice.max_attempts = 2;
    enqueue1(fx->q, &once);
    enqueue1(fx->q, &twice);
    queue_job_t *got;
    assert_int_equal(claim(fx->q, 2, &got), 2);
    queue_jobs_free(got, 2);
    reopen(fx); /* a crash mid-run: the run counts, so a job that kills the server stops */
    assert_stats(fx->q, 1, 0, 0, 1);
    err_t err;
    queue_job_t dead;
    assert_int_equal(queue_dlq_get(fx->q, NULL, once.id, &dead, &err), 0);
    assert_non_null(strstr(dead.last_error, "lease lost"));
    queue_job_free(&dead);
    assert_int_equal(claim(fx->q, 2, &got), 1);
    assert_string_equal(got[0].id, twice.id);
    assert_int_equal(got[0].attempt, 2);
    queue_jobs_free(got, 1);
}

static const char *self_path = "/proc/self/exe";

/* The writer half of the kill -9 test, in a fresh process (this binary re-executed). */
static int killed_writer(const char *dir) {
    err_t err;
    store_t *s = store_open(dir, &err);
    queue_t *q = s ? queue_open_store(s, &fake_clock, &err) : NULL;
    char c = q && durable_fill(q) == 0 ? 'y' : 'n';
    if (write(3, &c, 1) != 1) return 1;
    for (;;)
        pause(); /* SIGKILL arrives here */
}

static void test_kill_9_with_leased_jobs_loses_nothing(void **state) {
    fixture_t *fx = *state;
    queue_close(fx->q);
    store_close(fx->s);
    fx->q = NULL;
    fx->s = NULL;
    int pipefd[2];
    assert_int_equal(pipe(pipefd), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (dup2(pipefd[1], 3) < 0) _exit(1);
        char *argv[] = {"test_queue", "--killed-writer", fx->dir, NULL};
        execv(self_path, argv);
        _exit(127);
    }
    close(pipefd[1]);
    char c = 0;
    assert_int_equal(read(pipefd[0], &c, 1), 1);
    close(pipefd[0]);
    assert_int_equal(c, 'y');
    kill(pid, SIGKILL);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));
    err_t err;
    fx->s = store_open(fx->dir, &err);
    assert_non_null(fx->s);
    fx->q = queue_open_store(fx->s, &fake_clock, &err);
    assert_non_null(fx->q);
    durable_drain(fx);
}

/* Writer for the torn-write test: enqueues events with 3 jobs each until killed. */
static int looping_writer(const char *dir) {
    err_t err;
    store_t *s = store_open(dir, &err);
    queue_t *q = s ? queue_open_store(s, NULL, &err) : NULL;
    if (!q) return 1;
    for (int i = 0;; i++) {
        char id[16];
        snprintf(id, sizeof id, "ev%d", i);
        eventlog_event_t ev = {.source = "loop", .ce_id = id, .type = "t", .json = "{}"};
        queue_job_t js[3] = {job_of("f1", NULL), job_of("f2", NULL), job_of("f3", NULL)};
        if (queue_enqueue(q, &ev, js, 3, NULL, NULL, &err) != 0) return 1;
        if (i == 20) {
            char c = 'y';
            if (write(3, &c, 1) != 1) return 1;
        }
    }
}

/* Killed at an arbitrary moment of a stream of enqueues, the store holds every event with
 * all of its jobs, or neither: never an event without jobs or a job without its event. */
static void test_kill_9_mid_enqueue_leaves_events_and_jobs_whole(void **state) {
    fixture_t *fx = *state;
    queue_close(fx->q);
    store_close(fx->s);
    fx->q = NULL;
    fx->s = NULL;
    int pipefd[2];
    assert_int_equal(pipe(pipefd), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (dup2(pipefd[1], 3) < 0) _exit(1);
        char *argv[] = {"test_queue", "--looping-writer", fx->dir, NULL};
        execv(self_path, argv);
        _exit(127);
    }
    close(pipefd[1]);
    char c = 0;
    assert_int_equal(read(pipefd[0], &c, 1), 1);
    close(pipefd[0]);
    uint32_t r;
    util_random(&r, sizeof r);
    usleep(20000 + r % 100000);
    kill(pid, SIGKILL);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));

    err_t err;
    fx->s = store_open(fx->dir, &err);
    assert_non_null(fx->s);
    fx->q = queue_open_store(fx->s, NULL, &err); /* the writer used the real clock */
    assert_non_null(fx->q);
    char **recs, next[27];
    size_t nev;
    eventlog_filter_t all = {.limit = 100000};
    assert_int_equal(eventlog_list(fx->s, NULL, &all, &recs, &nev, next, &err), 0);
    assert_true(nev >= 21);
    size_t jobs = 0;
    for (;;) {
        queue_job_t *got;
        size_t n = claim(fx->q, 500, &got);
        for (size_t i = 0; i < n; i++) {
            char *rec;
            assert_int_equal(eventlog_get(fx->s, NULL, got[i].event_id, &rec, &err), 0);
            free(rec);
        }
        jobs += n;
        queue_jobs_free(got, n);
        if (n == 0) break;
    }
    fprintf(stderr, "killed after %zu events, %zu jobs\n", nev, jobs);
    assert_int_equal(jobs, 3 * nev);
    store_strv_free(recs, nev);
}

/* Claim seeks the front of the ready index: its cost must not grow with the number of jobs
 * already claimed (tombstones) or still queued. Timing is compared within one run, loosely. */
static void test_claim_cost_does_not_grow_with_queue_length(void **state) {
    fixture_t *fx = *state;
    enum { N = 10000, B = 500, SAMPLE = 200 };
    err_t err;
    for (int b = 0; b < N / B; b++) {
        queue_job_t js[B];
        for (int i = 0; i < B; i++)
            js[i] = job_of("perf", "{}");
        assert_int_equal(queue_enqueue(fx->q, NULL, js, B, NULL, NULL, &err), 0);
    }
    uint64_t t_first = 0, t_last = 0;
    for (int i = 0; i < N; i++) {
        queue_job_t *got;
        uint64_t t0 = util_now_us();
        size_t n = claim(fx->q, 1, &got);
        uint64_t dt = util_now_us() - t0;
        assert_int_equal(n, 1);
        if (i < SAMPLE) t_first += dt;
        if (i >= N - SAMPLE) t_last += dt;
        assert_int_equal(queue_ack(fx->q, &got[0], NULL, &err), 0);
        queue_jobs_free(got, 1);
    }
    /* With a scan from the start, the last claims would step over ~10k deleted keys each. */
    fprintf(stderr, "claim: first %d avg %.1f us, last %d avg %.1f us\n", SAMPLE,
            (double)t_first / SAMPLE, SAMPLE, (double)t_last / SAMPLE);
    assert_true(t_last < 5 * t_first + 200 * SAMPLE);
    assert_stats(fx->q, 0, 0, 0, 0);
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "--killed-writer") == 0) return killed_writer(argv[2]);
    if (argc == 3 && strcmp(argv[1], "--looping-writer") == 0) return looping_writer(argv[2]);
    if (strchr(argv[0], '/')) self_path = argv[0];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_enqueue_claim_ack_delivers_each_job_once, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_not_before_delays_a_job, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_expired_lease_is_redelivered_and_old_lease_cannot_settle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fail_backs_off_exponentially_then_retry_succeeds,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_backoff_is_capped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_release_does_not_use_an_attempt, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_exhausted_job_is_dead_lettered_and_replay_runs_it_again, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dlq_pages_with_a_cursor_and_delete_removes, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_event_older_than_max_age_is_dead_lettered_on_failure,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_settle_hook_adds_follow_ups_to_ack_and_every_dead_letter, setup, teardown),
        cmocka_unit_test_setup_teardown(test_enqueue_writes_each_jobs_first_record_with_it, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_sequential_keys_run_one_at_a_time_in_order_and_interleave, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sequential_dead_letter_unblocks_the_key, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_sequential_job_needs_a_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_event_and_jobs_are_written_together_and_deduplicated,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_batch_is_one_write_with_in_batch_dedupe_and_sequencing,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_batched_ingest_of_many_events, setup, teardown),
        cmocka_unit_test_setup_teardown(test_idempotency_keys_expire_after_their_ttl, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_close_without_ack_loses_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_restart_counts_the_interrupted_attempt, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_kill_9_with_leased_jobs_loses_nothing, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_kill_9_mid_enqueue_leaves_events_and_jobs_whole, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_claim_cost_does_not_grow_with_queue_length, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
