/* Token-bucket rate limiting with an injected clock: burst, refill, Retry-After, key
 * independence, the memory bound, and thread safety. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "auth/ratelimit.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

static uint64_t fake_clock(void *ctx) {
    return *(uint64_t *)ctx;
}

static auth_ratelimit_t *make(double rate, double burst, size_t max, uint64_t *now) {
    err_t err;
    auth_ratelimit_config_t cfg = {
        .rate = rate, .burst = burst, .max_buckets = max, .clock = fake_clock, .clock_ctx = now};
    auth_ratelimit_t *rl = auth_ratelimit_new(&cfg, &err);
    assert_non_null(rl);
    return rl;
}

static void burst_is_allowed_then_limited_with_retry_after(void **state) {
    (void)state;
    uint64_t now = 1000000;
    auth_ratelimit_t *rl = make(1, 5, 0, &now); /* 1/s, burst 5 */
    uint32_t ra = 0;
    for (int i = 0; i < 5; i++)
        assert_true(auth_ratelimit_take(rl, "key:a", &ra));
    assert_false(auth_ratelimit_take(rl, "key:a", &ra));
    assert_int_equal(ra, 1);
    auth_ratelimit_free(rl);
}

static void tokens_refill_at_the_rate(void **state) {
    (void)state;
    uint64_t now = 0;
    auth_ratelimit_t *rl = make(2, 2, 0, &now); /* 2/s */
    assert_true(auth_ratelimit_take(rl, "k", NULL));
    assert_true(auth_ratelimit_take(rl, "k", NULL));
    assert_false(auth_ratelimit_take(rl, "k", NULL));
    now += 499999; /* just under one token */
    assert_false(auth_ratelimit_take(rl, "k", NULL));
    now += 1;
    assert_true(auth_ratelimit_take(rl, "k", NULL));
    assert_false(auth_ratelimit_take(rl, "k", NULL));
    now += 60 * 1000000ull; /* a long idle period refills only up to the burst */
    assert_true(auth_ratelimit_take(rl, "k", NULL));
    assert_true(auth_ratelimit_take(rl, "k", NULL));
    assert_false(auth_ratelimit_take(rl, "k", NULL));
    auth_ratelimit_free(rl);
}

static void retry_after_rounds_up_for_slow_rates(void **state) {
    (void)state;
    uint64_t now = 0;
    auth_ratelimit_t *rl = make(0.1, 1, 0, &now); /* one per 10 s */
    uint32_t ra;
    assert_true(auth_ratelimit_take(rl, "k", &ra));
    assert_false(auth_ratelimit_take(rl, "k", &ra));
    assert_int_equal(ra, 10);
    now += 2500000; /* 2.5 s later: 7.5 s to go -> 8 */
    assert_false(auth_ratelimit_take(rl, "k", &ra));
    assert_int_equal(ra, 8);
    auth_ratelimit_free(rl);
}

static void keys_have_independent_buckets(void **state) {
    (void)state;
    uint64_t now = 0;
    auth_ratelimit_t *rl = make(1, 1, 0, &now);
    assert_true(auth_ratelimit_take(rl, "key:a", NULL));
    assert_false(auth_ratelimit_take(rl, "key:a", NULL));
    assert_true(auth_ratelimit_take(rl, "key:b", NULL));
    assert_true(auth_ratelimit_take(rl, "ns:a", NULL));
    auth_ratelimit_free(rl);
}

static void bucket_count_is_bounded_and_lru_is_evicted(void **state) {
    (void)state;
    uint64_t now = 0;
    auth_ratelimit_t *rl = make(1, 1, 4, &now);
    char k[32];
    for (int i = 0; i < 100; i++) {
        snprintf(k, sizeof k, "key:%d", i);
        assert_true(auth_ratelimit_take(rl, k, NULL));
        assert_true(auth_ratelimit_size(rl) <= 4);
    }
    assert_int_equal(auth_ratelimit_size(rl), 4);
    /* the four most recent keys are still limited; an evicted one starts full again */
    assert_false(auth_ratelimit_take(rl, "key:99", NULL));
    assert_false(auth_ratelimit_take(rl, "key:96", NULL));
    assert_true(auth_ratelimit_take(rl, "key:0", NULL));
    auth_ratelimit_free(rl);
}

static void recently_used_bucket_survives_eviction(void **state) {
    (void)state;
    uint64_t now = 0;
    auth_ratelimit_t *rl = make(1, 1, 2, &now);
    assert_true(auth_ratelimit_take(rl, "hot", NULL));
    assert_true(auth_ratelimit_take(rl, "a", NULL));
    assert_false(auth_ratelimit_take(rl, "hot", NULL)); /* touch: hot is most recent */
    assert_true(auth_ratelimit_take(rl, "b", NULL));    /* evicts a, not hot */
    assert_false(auth_ratelimit_take(rl, "hot", NULL));
    auth_ratelimit_free(rl);
}

static void long_keys_are_hashed(void **state) {
    (void)state;
    uint64_t now = 0;
    auth_ratelimit_t *rl = make(1, 1, 0, &now);
    char big[2000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_true(auth_ratelimit_take(rl, big, NULL));
    assert_false(auth_ratelimit_take(rl, big, NULL));
    big[1500] = 'y';
    assert_true(auth_ratelimit_take(rl, big, NULL));
    auth_ratelimit_free(rl);
}

static void bad_config_is_rejected(void **state) {
    (void)state;
    err_t err;
    auth_ratelimit_config_t c = {.rate = 0, .burst = 1};
    assert_null(auth_ratelimit_new(&c, &err));
    assert_int_equal(err.code, R3E_EINVAL);
    c = (auth_ratelimit_config_t){.rate = 1, .burst = 0.5};
    assert_null(auth_ratelimit_new(&c, &err));
    assert_null(auth_ratelimit_new(NULL, &err));
}

typedef struct {
    auth_ratelimit_t *rl;
    int allowed;
} worker_t;

static void *hammer(void *arg) {
    worker_t *w = arg;
    for (int i = 0; i < 5000; i++)
        if (auth_ratelimit_take(w->rl, i % 2 ? "shared" : "other", NULL)) w->allowed++;
    return NULL;
}

static void concurrent_takes_never_exceed_the_burst(void **state) {
    (void)state;
    uint64_t now = 0; /* frozen clock: no refill, so exactly burst takes succeed per key */
    auth_ratelimit_t *rl = make(1, 100, 0, &now);
    pthread_t t[4];
    worker_t w[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (worker_t){rl, 0};
        pthread_create(&t[i], NULL, hammer, &w[i]);
    }
    int total = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        total += w[i].allowed;
    }
    assert_int_equal(total, 200);
    auth_ratelimit_free(rl);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(burst_is_allowed_then_limited_with_retry_after),
        cmocka_unit_test(tokens_refill_at_the_rate),
        cmocka_unit_test(retry_after_rounds_up_for_slow_rates),
        cmocka_unit_test(keys_have_independent_buckets),
        cmocka_unit_test(bucket_count_is_bounded_and_lru_is_evicted),
        cmocka_unit_test(recently_used_bucket_survives_eviction),
        cmocka_unit_test(long_keys_are_hashed),
        cmocka_unit_test(bad_config_is_rejected),
        cmocka_unit_test(concurrent_takes_never_exceed_the_burst),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
