/* The Ethereum relayer's pure parts: fee estimation from eth_feeHistory, the max gas price
 * policy, the +10% resubmission arithmetic, classification of the node's answers to
 * eth_sendRawTransaction, and the --eth-relayer-* options. (Sending and tracking run against
 * a real node in tests/e2e/eth_relayer.test.mjs.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "chain/eth/relayer.h"

#include <string.h>

#define GWEI 1000000000ull

static void bump_adds_ten_percent_rounded_up(void **state) {
    (void)state;
    assert_int_equal(eth_relayer_bump(100), 110);
    assert_int_equal(eth_relayer_bump(101), 112); /* 10.1 -> 11 */
    assert_int_equal(eth_relayer_bump(2 * GWEI), 2200000000ull);
    assert_int_equal(eth_relayer_bump(0), 1);
    assert_int_equal(eth_relayer_bump(5), 6);
    assert_true(eth_relayer_bump(UINT64_MAX - 3) == UINT64_MAX); /* saturates */
    /* every bump is at least the 10% a node wants for a replacement */
    for (uint64_t f = 1; f < 5000; f += 7)
        assert_true(eth_relayer_bump(f) * 10 >= f * 11);
}

static void bump_fees_respects_fresh_estimates_and_the_cap(void **state) {
    (void)state;
    uint64_t m = 30 * GWEI, t = 2 * GWEI;
    eth_relayer_bump_fees(0, 0, 0, &m, &t);
    assert_int_equal(m, 33 * GWEI);
    assert_int_equal(t, 2200000000ull);
    /* a fresh estimate above the bump wins (the base fee jumped) */
    m = 30 * GWEI, t = 2 * GWEI;
    eth_relayer_bump_fees(0, 50 * GWEI, 3 * GWEI, &m, &t);
    assert_int_equal(m, 50 * GWEI);
    assert_int_equal(t, 3 * GWEI);
    /* the cap holds, and the tip never exceeds maxFee */
    m = 30 * GWEI, t = 2 * GWEI;
    eth_relayer_bump_fees(31 * GWEI, 0, 0, &m, &t);
    assert_int_equal(m, 31 * GWEI);
    m = 10, t = 10;
    eth_relayer_bump_fees(10, 0, 0, &m, &t);
    assert_int_equal(m, 10);
    assert_int_equal(t, 10);
    /* at the cap: unchanged, so the same transaction is rebroadcast */
    m = 31 * GWEI, t = 2 * GWEI;
    eth_relayer_bump_fees(31 * GWEI, 0, 0, &m, &t);
    assert_int_equal(m, 31 * GWEI);
    assert_int_equal(t, 2200000000ull);
}

static void fees_come_from_fee_history_percentiles(void **state) {
    (void)state;
    /* 3 blocks; rewards [p10, p50, p90]; next base fee is the last baseFeePerGas */
    json_t *h = json_loads("{\"oldestBlock\":\"0x1\",\"baseFeePerGas\":[\"0x3b9aca00\","
                           "\"0x3b9aca00\",\"0x3b9aca00\",\"0x77359400\"],"
                           "\"reward\":[[\"0x3b9aca00\",\"0x77359400\",\"0xb2d05e00\"],"
                           "[\"0x3b9aca00\",\"0xb2d05e00\",\"0x12a05f200\"],"
                           "[\"0x3b9aca00\",\"0x77359400\",\"0x174876e800\"]]}",
                           0, NULL);
    assert_non_null(h);
    uint64_t base, max, tip;
    err_t err;
    assert_int_equal(eth_relayer_fees_from_history(h, ETH_SPEED_NORMAL, &base, &max, &tip, &err),
                     0);
    assert_int_equal(base, 2 * GWEI);
    assert_int_equal(tip, 2 * GWEI); /* median of 2, 3, 2 */
    assert_int_equal(max, 6 * GWEI); /* 2 * base + tip */
    assert_int_equal(eth_relayer_fees_from_history(h, ETH_SPEED_FAST, &base, &max, &tip, &err), 0);
    assert_int_equal(tip, 5 * GWEI); /* median of 3, 5, 100 */
    assert_int_equal(eth_relayer_fees_from_history(h, ETH_SPEED_SLOW, &base, &max, &tip, &err), 0);
    assert_int_equal(tip, GWEI);
    json_decref(h);

    /* empty blocks (rewards 0) still pay the 1 gwei floor */
    h = json_loads("{\"baseFeePerGas\":[\"0x7\",\"0x7\"],\"reward\":[[\"0x0\",\"0x0\",\"0x0\"]]}",
                   0, NULL);
    assert_int_equal(eth_relayer_fees_from_history(h, ETH_SPEED_NORMAL, &base, &max, &tip, &err),
                     0);
    assert_int_equal(tip, ETH_RELAYER_MIN_TIP);
    assert_int_equal(max, 14 + ETH_RELAYER_MIN_TIP);
    json_decref(h);

    /* no base fee: not an EIP-1559 network */
    h = json_loads("{\"baseFeePerGas\":[],\"reward\":[]}", 0, NULL);
    assert_int_equal(eth_relayer_fees_from_history(h, ETH_SPEED_NORMAL, &base, &max, &tip, &err),
                     -1);
    assert_int_equal(err.code, R3E_EUPSTREAM);
    json_decref(h);
}

static void max_gas_price_clamps_or_refuses(void **state) {
    (void)state;
    err_t err;
    uint64_t max = 50 * GWEI, tip = 2 * GWEI;
    assert_int_equal(eth_relayer_apply_cap(0, 20 * GWEI, &max, &tip, &err), 0);
    assert_int_equal(max, 50 * GWEI);
    assert_int_equal(eth_relayer_apply_cap(30 * GWEI, 20 * GWEI, &max, &tip, &err), 0);
    assert_int_equal(max, 30 * GWEI);
    assert_int_equal(tip, 2 * GWEI);
    max = 50 * GWEI, tip = 40 * GWEI;
    assert_int_equal(eth_relayer_apply_cap(30 * GWEI, 20 * GWEI, &max, &tip, &err), 0);
    assert_int_equal(tip, 30 * GWEI);
    assert_int_equal(eth_relayer_apply_cap(20 * GWEI, 20 * GWEI, &max, &tip, &err), -1);
    assert_int_equal(err.code, R3E_EFORBIDDEN);
    assert_non_null(strstr(err.msg, "max gas price"));
}

static void node_answers_are_classified(void **state) {
    (void)state;
    assert_int_equal(eth_relayer_classify(NULL), ETH_SEND_ACCEPTED);
    /* geth */
    assert_int_equal(eth_relayer_classify("nonce too low: next nonce 5, tx nonce 3"),
                     ETH_SEND_NONCE_LOW);
    assert_int_equal(eth_relayer_classify("nonce too high"), ETH_SEND_NONCE_HIGH);
    assert_int_equal(eth_relayer_classify("replacement transaction underpriced"),
                     ETH_SEND_REPLACEMENT);
    assert_int_equal(eth_relayer_classify("already known"), ETH_SEND_KNOWN);
    assert_int_equal(eth_relayer_classify("insufficient funds for gas * price + value"),
                     ETH_SEND_REJECTED);
    assert_int_equal(eth_relayer_classify("transaction underpriced"), ETH_SEND_REJECTED);
    /* hardhat */
    assert_int_equal(eth_relayer_classify("Nonce too low. Expected nonce to be 7 but got 6."),
                     ETH_SEND_NONCE_LOW);
    assert_int_equal(eth_relayer_classify("Nonce too high. Expected nonce to be 7 but got 9. "
                                          "Note that transactions can't be queued when "
                                          "automining."),
                     ETH_SEND_NONCE_HIGH);
    assert_int_equal(eth_relayer_classify("Replacement transaction underpriced. A gasPrice/"
                                          "maxFeePerGas of at least 2 is necessary"),
                     ETH_SEND_REPLACEMENT);
    assert_int_equal(eth_relayer_classify("Known transaction: 0xabc"), ETH_SEND_KNOWN);
    /* besu / nethermind */
    assert_int_equal(eth_relayer_classify("OldNonce"), ETH_SEND_NONCE_LOW);
    assert_int_equal(eth_relayer_classify("Nonce is too low"), ETH_SEND_NONCE_LOW);
    assert_int_equal(eth_relayer_classify("execution reverted"), ETH_SEND_REJECTED);
}

static void options_are_checked_and_applied_per_network(void **state) {
    (void)state;
    err_t err;
    assert_int_equal(eth_relayer_opt_check("max-gas-price", "local=100000000000", &err), 0);
    assert_int_equal(eth_relayer_opt_check("max-gas-price", "local=-1", &err), -1);
    assert_int_equal(eth_relayer_opt_check("max-gas-price", "local=1e9", &err), -1);
    assert_int_equal(eth_relayer_opt_check("resubmit-blocks", "local=0", &err), -1);
    assert_int_equal(eth_relayer_opt_check("allow-to", "local=0x1234", &err), -1);
    assert_non_null(strstr(err.msg, "0x1234"));
    assert_int_equal(eth_relayer_opt_check("allow-to", "local=", &err), 0);
    assert_int_equal(eth_relayer_opt_check("nope", "local=1", &err), -1);
    assert_non_null(strstr(err.msg, "unknown option"));
    assert_int_equal(eth_relayer_opt_check("key-file", "no-equals-sign", &err), -1);
    assert_int_equal(eth_relayer_opt_check("key-file", "bad/name=/x", &err), -1);

    const char *opts = "max-gas-price local=5000\n"
                       "allow-to local=0x5FbDB2315678afecb367f032d93F642f64180aa3,"
                       "0xe7f1725e7734ce288f8367e1bb143e90bb3f0512\n"
                       "resubmit-blocks other=9\n"
                       "poll-ms local=100\n";
    eth_relayer_policy_t p;
    assert_int_equal(eth_relayer_policy_for(opts, "local", &p, &err), 0);
    assert_int_equal(p.max_gas_price, 5000);
    assert_int_equal(p.nallow, 2);
    assert_int_equal(p.allow_to[0][0], 0x5f);
    assert_int_equal(p.allow_to[1][19], 0x12);
    assert_int_equal(p.resubmit_blocks, ETH_RELAYER_DEFAULT_RESUBMIT_BLOCKS);
    assert_int_equal(p.poll_ms, 100);
    assert_string_equal(p.key_file, "");
    eth_relayer_policy_free(&p);
    assert_int_equal(eth_relayer_policy_for(opts, "other", &p, &err), 0);
    assert_int_equal(p.resubmit_blocks, 9);
    assert_int_equal(p.max_gas_price, 0);
    assert_int_equal(p.nallow, 0);
    eth_relayer_policy_free(&p);
}

static void speeds_parse(void **state) {
    (void)state;
    eth_relayer_speed_t s;
    err_t err;
    assert_int_equal(eth_relayer_speed_parse("fast", &s, &err), 0);
    assert_int_equal(s, ETH_SPEED_FAST);
    assert_string_equal(eth_relayer_speed_name(s), "fast");
    assert_int_equal(eth_relayer_speed_parse("ludicrous", &s, &err), -1);
    assert_int_equal(eth_relayer_speed_parse(NULL, &s, &err), -1);
    assert_true(eth_relayer_is_final("mined") && eth_relayer_is_final("error") &&
                !eth_relayer_is_final("submitted") && !eth_relayer_is_final("queued"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bump_adds_ten_percent_rounded_up),
        cmocka_unit_test(bump_fees_respects_fresh_estimates_and_the_cap),
        cmocka_unit_test(fees_come_from_fee_history_percentiles),
        cmocka_unit_test(max_gas_price_clamps_or_refuses),
        cmocka_unit_test(node_answers_are_classified),
        cmocka_unit_test(options_are_checked_and_applied_per_network),
        cmocka_unit_test(speeds_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
