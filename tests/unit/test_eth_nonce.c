/* Nonce reservations for function wallets (chain/eth/eth_nonce.h): concurrent senders of one
 * key get distinct consecutive nonces, the node's count wins when it moved past the
 * reservation, released nonces are given back or force a resync, idle entries expire, the
 * table is bounded, and a reservation never runs far ahead of the node. (The host service
 * and ctx.eth.wallet().sendTransaction run against hardhat in tests/e2e/eth_ctx.test.mjs.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "chain/eth/eth_nonce.h"

#include <stdio.h>

#define K "default/local/0xabc"

static void concurrent_reservations_are_consecutive(void **state) {
    (void)state;
    eth_nonces_t *t = eth_nonces_new(0, 0);
    /* ten senders all saw the node's pending count 7 */
    for (uint64_t i = 0; i < 10; i++)
        assert_int_equal(eth_nonces_reserve(t, K, 7, 1000), 7 + i);
    /* another key (or namespace) is independent */
    assert_int_equal(eth_nonces_reserve(t, "other/local/0xabc", 7, 1000), 7);
    eth_nonces_free(t);
}

static void the_node_wins_when_it_moved_past(void **state) {
    (void)state;
    eth_nonces_t *t = eth_nonces_new(0, 0);
    assert_int_equal(eth_nonces_reserve(t, K, 3, 1000), 3);
    /* transactions sent from elsewhere: the node counts 20 now */
    assert_int_equal(eth_nonces_reserve(t, K, 20, 1001), 20);
    assert_int_equal(eth_nonces_reserve(t, K, 20, 1002), 21);
    eth_nonces_free(t);
}

static void release_gives_back_the_newest_or_resyncs(void **state) {
    (void)state;
    eth_nonces_t *t = eth_nonces_new(0, 0);
    assert_int_equal(eth_nonces_reserve(t, K, 5, 1000), 5);
    assert_int_equal(eth_nonces_reserve(t, K, 5, 1000), 6);
    eth_nonces_release(t, K, 6, false, 1001); /* the newest: given back */
    assert_int_equal(eth_nonces_reserve(t, K, 5, 1002), 6);
    eth_nonces_release(t, K, 5, false, 1003); /* a gap below 6: back to the node's count */
    assert_int_equal(eth_nonces_reserve(t, K, 5, 1004), 5);
    eth_nonces_release(t, K, 5, true, 1005); /* a nonce error: forget */
    assert_int_equal(eth_nonces_count(t, 1005), 0);
    assert_int_equal(eth_nonces_reserve(t, K, 9, 1006), 9);
    eth_nonces_release(t, K, 100, false, 1007); /* never reserved: ignored */
    assert_int_equal(eth_nonces_reserve(t, K, 9, 1008), 10);
    eth_nonces_release(t, "nobody", 1, true, 1009); /* unknown key: nothing happens */
    eth_nonces_free(t);
}

static void idle_entries_expire(void **state) {
    (void)state;
    eth_nonces_t *t = eth_nonces_new(0, 5000);
    assert_int_equal(eth_nonces_reserve(t, K, 5, 1000), 5);
    assert_int_equal(eth_nonces_reserve(t, K, 5, 5999), 6);
    assert_int_equal(eth_nonces_count(t, 5999), 1);
    /* 5 s idle: the reservation is gone, the node's count is taken again */
    assert_int_equal(eth_nonces_count(t, 11000), 0);
    assert_int_equal(eth_nonces_reserve(t, K, 5, 11000), 5);
    eth_nonces_free(t);
}

static void the_table_is_bounded_and_evicts_the_least_recently_used(void **state) {
    (void)state;
    eth_nonces_t *t = eth_nonces_new(4, 0);
    char key[32];
    for (int i = 0; i < 4; i++) {
        snprintf(key, sizeof key, "ns/n/%d", i);
        eth_nonces_reserve(t, key, 1, 1000 + (uint64_t)i);
    }
    eth_nonces_reserve(t, "ns/n/0", 1, 2000); /* 0 used again: 1 is now the oldest */
    eth_nonces_reserve(t, "ns/n/new", 1, 2001);
    assert_int_equal(eth_nonces_count(t, 2001), 4);
    assert_int_equal(eth_nonces_reserve(t, "ns/n/0", 1, 2002), 3); /* kept */
    assert_int_equal(eth_nonces_reserve(t, "ns/n/1", 1, 2003), 1); /* evicted: from the node */
    eth_nonces_free(t);
}

static void a_reservation_never_runs_far_ahead_of_the_node(void **state) {
    (void)state;
    eth_nonces_t *t = eth_nonces_new(0, 0);
    for (int i = 0; i <= ETH_NONCE_MAX_AHEAD; i++)
        eth_nonces_reserve(t, K, 0, 1000);
    /* 65 reserved without the node seeing any: start again from its count */
    assert_int_equal(eth_nonces_reserve(t, K, 0, 1001), 0);
    eth_nonces_free(t);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(concurrent_reservations_are_consecutive),
        cmocka_unit_test(the_node_wins_when_it_moved_past),
        cmocka_unit_test(release_gives_back_the_newest_or_resyncs),
        cmocka_unit_test(idle_entries_expire),
        cmocka_unit_test(the_table_is_bounded_and_evicts_the_least_recently_used),
        cmocka_unit_test(a_reservation_never_runs_far_ahead_of_the_node),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
