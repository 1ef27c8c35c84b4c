/* The eth event source's pure pieces: trigger source parsing (events, address, topics with
 * alternatives and nulls, abi fragments filling topics[0], confirmations, unknown fields),
 * deterministic event ids, the reorg common-ancestor search, and a node log turned into
 * eth.log data with abi-decoded args. The follower itself runs against hardhat in
 * tests/e2e/eth_events.test.mjs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "chain/eth/eth_source.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PING "event Ping(address indexed from, uint256 indexed n, string note)"
#define ADDR "0x5FbDB2315678afecb367f032d93F642f64180aa3"
#define C8(c) c c c c c c c c
#define T32(c) "0x" C8(c) C8(c) C8(c) C8(c) C8(c) C8(c) C8(c) C8(c)

static int parse(const char *json, eth_filter_t *f, err_t *e) {
    json_t *src = json_loads(json, 0, NULL);
    assert_non_null(src);
    int rc = eth_filter_parse(src, f, e);
    json_decref(src);
    return rc;
}

static void expect_bad(const char *json, const char *msg_part) {
    eth_filter_t f;
    err_t e;
    assert_int_equal(parse(json, &f, &e), -1);
    assert_int_equal(e.code, R3E_EINVAL);
    if (!strstr(e.msg, msg_part)) fail_msg("\"%s\" does not mention \"%s\"", e.msg, msg_part);
}

static void test_blocks_source_parses_with_defaults(void **state) {
    (void)state;
    eth_filter_t f;
    err_t e;
    assert_int_equal(parse("{\"type\":\"eth\",\"events\":\"blocks\"}", &f, &e), 0);
    assert_false(f.logs);
    assert_int_equal(f.confirmations, 0);
    assert_true(f.from_block == -1);
    assert_string_equal(f.network, "");
    assert_null(f.abi);
    eth_filter_free(&f);
    assert_int_equal(parse("{\"type\":\"eth\",\"network\":\"main\",\"events\":\"blocks\","
                           "\"confirmations\":12,\"fromBlock\":100}",
                           &f, &e),
                     0);
    assert_string_equal(f.network, "main");
    assert_int_equal(f.confirmations, 12);
    assert_true(f.from_block == 100);
    eth_filter_free(&f);
}

static void test_abi_fills_topic0_and_lowercases_the_address(void **state) {
    (void)state;
    eth_filter_t f;
    err_t e;
    assert_int_equal(parse("{\"type\":\"eth\",\"events\":\"logs\",\"address\":\"" ADDR
                           "\",\"abi\":\"" PING "\"}",
                           &f, &e),
                     0);
    assert_true(f.logs);
    assert_string_equal(json_string_value(f.address), "0x5fbdb2315678afecb367f032d93f642f64180aa3");
    assert_non_null(f.abi);
    assert_string_equal(f.signature, "Ping(address,uint256,string)");
    uint8_t want[32];
    eth_id("Ping(address,uint256,string)", want);
    char *hex = eth_hex(want, 32);
    assert_int_equal(json_array_size(f.topics), 1);
    assert_string_equal(json_string_value(json_array_get(f.topics, 0)), hex);
    free(hex);
    eth_filter_free(&f);
    /* the abi's topic does not replace other positions given by the user */
    assert_int_equal(parse("{\"type\":\"eth\",\"events\":\"logs\",\"abi\":\"" PING
                           "\",\"topics\":[null,\"" T32("A") "\"]}",
                           &f, &e),
                     0);
    assert_int_equal(json_array_size(f.topics), 2);
    assert_string_equal(json_string_value(json_array_get(f.topics, 1)), T32("a"));
    eth_filter_free(&f);
}

static void test_topics_normalize_alternatives_and_trailing_nulls(void **state) {
    (void)state;
    json_t *in =
        json_loads("[\"" T32("B") "\",null,[\"" T32("c") "\",\"" T32("D") "\"],null]", 0, NULL);
    json_t *out = NULL;
    err_t e;
    assert_int_equal(eth_topics_parse(in, &out, &e), 0);
    char *text = json_dumps(out, JSON_COMPACT);
    assert_string_equal(text, "[\"" T32("b") "\",null,[\"" T32("c") "\",\"" T32("d") "\"]]");
    free(text);
    json_decref(out);
    json_decref(in);
}

static void test_bad_sources_name_the_field(void **state) {
    (void)state;
    expect_bad("{\"type\":\"eth\"}", "events must be");
    expect_bad("{\"type\":\"eth\",\"events\":\"txs\"}", "events must be");
    expect_bad("{\"type\":\"eth\",\"events\":\"logs\"}", "needs source.address");
    expect_bad("{\"type\":\"eth\",\"events\":\"blocks\",\"address\":\"" ADDR "\"}",
               "\"logs\" only");
    expect_bad("{\"type\":\"eth\",\"events\":\"blocks\",\"confirmations\":129}", "0..128");
    expect_bad("{\"type\":\"eth\",\"events\":\"blocks\",\"confirmations\":\"1\"}", "0..128");
    expect_bad("{\"type\":\"eth\",\"events\":\"blocks\",\"fromBlock\":-5}", "fromBlock");
    expect_bad("{\"type\":\"eth\",\"events\":\"blocks\",\"network\":\"\"}", "network");
    expect_bad("{\"type\":\"eth\",\"events\":\"blocks\",\"cron\":\"x\"}",
               "source.cron is not an eth source field");
    expect_bad("{\"type\":\"eth\",\"events\":\"logs\",\"address\":\"0x12\"}", "source.address");
    expect_bad("{\"type\":\"eth\",\"events\":\"logs\",\"address\":[]}", "source.address");
    expect_bad("{\"type\":\"eth\",\"events\":\"logs\",\"address\":[7]}", "source.address");
    expect_bad("{\"type\":\"eth\",\"events\":\"logs\",\"topics\":[null,null,null,null,null]}",
               "at most 4");
    expect_bad("{\"type\":\"eth\",\"events\":\"logs\",\"topics\":\"" T32("a") "\"}", "array");
    expect_bad("{\"type\":\"eth\",\"events\":\"logs\",\"topics\":[\"0xzz\"]}", "topics[0]");
    expect_bad("{\"type\":\"eth\",\"events\":\"logs\",\"topics\":[7]}", "topics[0]");
    expect_bad("{\"type\":\"eth\",\"events\":\"logs\",\"topics\":[null,[]]}", "topics[1]");
    expect_bad("{\"type\":\"eth\",\"events\":\"logs\",\"topics\":[[\"" T32("a") "\",null]]}",
               "topics[0]");
    expect_bad("{\"type\":\"eth\",\"events\":\"logs\",\"abi\":\"function f(uint256)\"}",
               "one event fragment");
    expect_bad("{\"type\":\"eth\",\"events\":\"logs\",\"abi\":\"event E(uint257 x)\"}",
               "source.abi");
    expect_bad("{\"type\":\"eth\",\"events\":\"logs\",\"abi\":[\"" PING "\"]}", "a string");
    expect_bad("{\"type\":\"eth\",\"events\":\"logs\",\"abi\":\"event E(uint8 indexed a, uint8 "
               "indexed b, uint8 indexed c, uint8 indexed d)\"}",
               "at most 3 indexed");
    expect_bad("{\"type\":\"eth\",\"events\":\"logs\",\"abi\":\"" PING
               "\",\"topics\":[\"" T32("0") "\"]}",
               "not the topic of the abi event");
}

static void test_event_ids_are_deterministic_and_distinct(void **state) {
    (void)state;
    char a[200], b[200], c[200], d[200], blk[200];
    const char *h = T32("1");
    eth_event_id(a, sizeof a, "01TRIG", h, 3, false, 0);
    eth_event_id(b, sizeof b, "01TRIG", h, 3, true, 1);
    eth_event_id(c, sizeof c, "01TRIG", h, 3, false, 1);
    eth_event_id(d, sizeof d, "01OTHER", h, 3, false, 0);
    eth_event_id(blk, sizeof blk, "01TRIG", h, -1, false, 0);
    assert_string_equal(a, "01TRIG:" T32("1") ":3");
    assert_string_equal(b, "01TRIG:" T32("1") ":3:removed:e1");
    assert_string_equal(c, "01TRIG:" T32("1") ":3:e1"); /* the same log again after a reorg */
    assert_string_equal(d, "01OTHER:" T32("1") ":3");   /* two triggers never collide */
    assert_string_equal(blk, "01TRIG:" T32("1"));
    char again[200];
    eth_event_id(again, sizeof again, "01TRIG", h, 3, true, 1);
    assert_string_equal(again, b);
    char tiny[8];
    eth_event_id(tiny, sizeof tiny, "01TRIG", h, 3, true, 7); /* truncates, never overflows */
    assert_int_equal(strlen(tiny), 7);
}

static void test_reorg_ancestor_is_the_newest_block_still_canonical(void **state) {
    (void)state;
    eth_seen_t win[5];
    char canon[5][67];
    for (int i = 0; i < 5; i++) {
        win[i].number = 100 + (uint64_t)i;
        snprintf(win[i].hash, sizeof win[i].hash, "0x%064x", 0xa0 + i);
        win[i].has_logs = false;
        snprintf(canon[i], sizeof canon[i], "%s", win[i].hash);
    }
    assert_int_equal(eth_reorg_ancestor(win, 5, (const char(*)[67])canon), 4); /* no reorg */
    snprintf(canon[3], sizeof canon[3], "0x%064x", 0xbb);
    snprintf(canon[4], sizeof canon[4], "0x%064x", 0xbc);
    assert_int_equal(eth_reorg_ancestor(win, 5, (const char(*)[67])canon), 2);
    canon[4][0] = '\0'; /* the node has no block there any more (a shorter chain) */
    assert_int_equal(eth_reorg_ancestor(win, 5, (const char(*)[67])canon), 2);
    /* hashes compare case-insensitively */
    for (char *p = canon[2]; *p; p++)
        *p = (char)(*p == 'x' ? 'x' : (*p >= 'a' && *p <= 'f' ? *p - 32 : *p));
    assert_int_equal(eth_reorg_ancestor(win, 5, (const char(*)[67])canon), 2);
    for (int i = 0; i < 5; i++)
        snprintf(canon[i], sizeof canon[i], "0x%064x", 0xcc + i);
    assert_int_equal(eth_reorg_ancestor(win, 5, (const char(*)[67])canon), -1); /* deeper */
    assert_int_equal(eth_reorg_ancestor(win, 0, (const char(*)[67])canon), -1);
}

/* A node log for Ping(from, n, note), built with the ABI encoder. */
static json_t *ping_log(const char *from, const char *n, const char *note) {
    arena_t *a = arena_create(0);
    eth_abi_fragment_t frag;
    err_t e;
    assert_int_equal(eth_abi_parse_fragment(a, PING, &frag, &e), 0);
    eth_buf_t topics = {0}, data = {0};
    json_t *vals = json_pack("[s,s,s]", from, n, note);
    assert_int_equal(eth_abi_encode_log(a, &frag, vals, &topics, &data, &e), 0);
    json_t *tarr = json_array();
    for (size_t i = 0; i < topics.len / 32; i++)
        json_array_append_new(tarr, eth_json_hex(topics.data + 32 * i, 32));
    json_t *log = json_pack("{s:s,s:o,s:o,s:s,s:s,s:s,s:s,s:s,s:b}", "address",
                            "0x5fbdb2315678afecb367f032d93f642f64180aa3", "topics", tarr, "data",
                            eth_json_hex(data.data, data.len), "blockNumber", "0x1f", "blockHash",
                            T32("e"), "transactionHash", T32("f"), "transactionIndex", "0x0",
                            "logIndex", "0x2", "removed", 0);
    json_decref(vals);
    eth_buf_free(&topics);
    eth_buf_free(&data);
    arena_destroy(a);
    return log;
}

static void test_log_data_decodes_args_by_name(void **state) {
    (void)state;
    eth_filter_t f;
    err_t e;
    assert_int_equal(parse("{\"type\":\"eth\",\"events\":\"logs\",\"abi\":\"" PING "\"}", &f, &e),
                     0);
    json_t *log = ping_log("0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266", "7", "hello");
    json_t *d = eth_log_data(&f, log, &e);
    assert_non_null(d);
    assert_string_equal(json_string_value(json_object_get(d, "address")), ADDR);
    assert_int_equal(json_integer_value(json_object_get(d, "blockNumber")), 31);
    assert_int_equal(json_integer_value(json_object_get(d, "logIndex")), 2);
    assert_true(json_is_false(json_object_get(d, "removed")));
    assert_string_equal(json_string_value(json_object_get(d, "event")), "Ping");
    json_t *args = json_object_get(d, "args");
    assert_string_equal(json_string_value(json_object_get(args, "from")),
                        "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266");
    assert_string_equal(json_string_value(json_object_get(args, "n")), "7");
    assert_string_equal(json_string_value(json_object_get(args, "note")), "hello");
    json_decref(d);
    /* a log of another event of the same contract: kept, with the reason it is not decoded */
    json_array_set_new(json_object_get(log, "topics"), 0, json_string(T32("0")));
    d = eth_log_data(&f, log, &e);
    assert_non_null(d);
    assert_null(json_object_get(d, "args"));
    assert_non_null(strstr(json_string_value(json_object_get(d, "decodeError")), "topic0"));
    json_decref(d);
    /* a malformed node answer is an upstream error, not a crash */
    json_object_set_new(log, "blockNumber", json_integer(31));
    assert_null(eth_log_data(&f, log, &e));
    assert_int_equal(e.code, R3E_EUPSTREAM);
    json_decref(log);
    eth_filter_free(&f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_blocks_source_parses_with_defaults),
        cmocka_unit_test(test_abi_fills_topic0_and_lowercases_the_address),
        cmocka_unit_test(test_topics_normalize_alternatives_and_trailing_nulls),
        cmocka_unit_test(test_bad_sources_name_the_field),
        cmocka_unit_test(test_event_ids_are_deterministic_and_distinct),
        cmocka_unit_test(test_reorg_ancestor_is_the_newest_block_still_canonical),
        cmocka_unit_test(test_log_data_decodes_args_by_name),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
