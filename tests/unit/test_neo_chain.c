/* The pure parts of the Neo event source and relayer: trigger matching, manifest-typed
 * event parameters, chain-derived event ids, and request -> script for the relayer
 * (ContractParams, hex/base64 scripts, bad input). The network parts are tested end to end
 * in tests/e2e/neo_events.test.mjs and neo_relayer.test.mjs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "chain/neo/neo.h"
#include "chain/neo/neo_relayer.h"
#include "chain/neo/neo_source.h"
#include "core/util.h"

#define TOKEN "0x3b4b3cd5c2b4a4d3e7a5b1f2c3d4e5f60718293a"
/* base64 of 20 bytes 01..14 and of 20 bytes 0x02 */
#define H1_B64 "AQIDBAUGBwgJCgsMDQ4PEBESExQ="
#define H2_B64 "AgICAgICAgICAgICAgICAgICAgI="

static json_t *transfer_notification(const char *contract) {
    return json_pack("{s:s,s:s,s:{s:s,s:[{s:s,s:s},{s:s,s:s},{s:s,s:s}]}}", "contract", contract,
                     "eventname", "Transfer", "state", "type", "Array", "value", "type",
                     "ByteString", "value", H1_B64, "type", "ByteString", "value", H2_B64, "type",
                     "Integer", "value", "123456789012345678901234567890");
}

static void test_matching_by_contract_case_insensitive_and_optional_event(void **state) {
    (void)state;
    json_t *n = transfer_notification(TOKEN);
    json_t *any = json_pack("{s:s}", "contract", "0x3B4B3CD5C2B4A4D3E7A5B1F2C3D4E5F60718293A");
    json_t *tr = json_pack("{s:s,s:s}", "contract", TOKEN, "event", "Transfer");
    json_t *other = json_pack("{s:s,s:s}", "contract", TOKEN, "event", "Approval");
    json_t *wrong = json_pack("{s:s}", "contract", "0x0000000000000000000000000000000000000000");
    assert_true(neo_source_matches(any, n));
    assert_true(neo_source_matches(tr, n));
    assert_false(neo_source_matches(other, n));
    assert_false(neo_source_matches(wrong, n));
    json_decref(n), json_decref(any), json_decref(tr), json_decref(other), json_decref(wrong);
}

static void test_typed_params_follow_the_manifest(void **state) {
    (void)state;
    json_t *n = transfer_notification(TOKEN);
    json_t *abi = json_pack("[{s:s,s:s},{s:s,s:s},{s:s,s:s}]", "name", "from", "type", "Hash160",
                            "name", "to", "type", "Hash160", "name", "amount", "type", "Integer");
    json_t *p = neo_source_typed_params(abi, json_object_get(n, "state"));
    assert_non_null(p);
    uint8_t h[20];
    for (int i = 0; i < 20; i++)
        h[i] = (uint8_t)(i + 1);
    char addr[NEO_ADDRESS_LEN + 1];
    neo_address_from_script_hash(h, addr);
    assert_string_equal(json_string_value(json_object_get(p, "from")), addr);
    assert_string_equal(json_string_value(json_object_get(p, "amount")),
                        "123456789012345678901234567890");
    json_decref(p);
    /* a mismatch in count or type gives no params rather than wrong ones */
    json_array_remove(abi, 2);
    assert_null(neo_source_typed_params(abi, json_object_get(n, "state")));
    json_t *abi2 = json_pack("[{s:s,s:s},{s:s,s:s},{s:s,s:s}]", "name", "a", "type", "Integer",
                             "name", "b", "type", "Hash160", "name", "c", "type", "Hash160");
    assert_null(neo_source_typed_params(abi2, json_object_get(n, "state")));
    /* Hash256 in display order, Boolean, String, ByteArray hex, Any as null */
    json_t *st = json_pack("{s:s,s:[{s:s,s:s},{s:s,s:b},{s:s,s:s},{s:s,s:s},{s:s}]}", "type",
                           "Array", "value", "type", "ByteString", "value",
                           "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", "type", "Boolean",
                           "value", 1, "type", "ByteString", "value", "aGk=", "type", "ByteString",
                           "value", "/w==", "type", "Any");
    json_t *abi3 =
        json_pack("[{s:s,s:s},{s:s,s:s},{s:s,s:s},{s:s,s:s},{s:s,s:s}]", "name", "h", "type",
                  "Hash256", "name", "b", "type", "Boolean", "name", "s", "type", "String", "name",
                  "x", "type", "ByteArray", "name", "n", "type", "Hash160");
    p = neo_source_typed_params(abi3, st);
    assert_non_null(p);
    assert_string_equal(json_string_value(json_object_get(p, "h")),
                        "0x1f1e1d1c1b1a191817161514131211100f0e0d0c0b0a09080706050403020100");
    assert_true(json_is_true(json_object_get(p, "b")));
    assert_string_equal(json_string_value(json_object_get(p, "s")), "hi");
    assert_string_equal(json_string_value(json_object_get(p, "x")), "ff");
    assert_true(json_is_null(json_object_get(p, "n")));
    json_decref(p), json_decref(st), json_decref(abi3), json_decref(abi2);
    json_decref(abi), json_decref(n);
}

static void test_event_ids_are_pure_functions_of_the_chain(void **state) {
    (void)state;
    json_t *n = transfer_notification(TOKEN);
    json_t *block = json_pack("{s:i,s:s,s:I,s:[]}", "index", 42, "hash", "0xabc", "time",
                              (json_int_t)1700000000000LL, "tx");
    err_t e;
    json_t *ev = neo_source_notification_event("main", "r3e://neo/main/triggers/T", n, NULL,
                                               "0xdead", 3, block, &e);
    assert_non_null(ev);
    assert_string_equal(json_string_value(json_object_get(ev, "id")), "neo:main:0xdead:3");
    assert_string_equal(json_string_value(json_object_get(ev, "type")), "neo.notification");
    assert_string_equal(json_string_value(json_object_get(ev, "time")), "2023-11-14T22:13:20.000Z");
    json_t *d = json_object_get(ev, "data");
    assert_int_equal(json_integer_value(json_object_get(d, "blockIndex")), 42);
    assert_int_equal(json_integer_value(json_object_get(d, "index")), 3);
    assert_non_null(json_object_get(d, "transfer"));
    assert_null(json_object_get(d, "params"));
    json_decref(ev);
    ev = neo_source_block_event("main", "src", block);
    assert_string_equal(json_string_value(json_object_get(ev, "id")), "neo:main:block:42");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(ev, "data"), "txCount")),
                     0);
    json_decref(ev);
    /* a notification that does not decode is an error, not an event */
    json_t *bad = json_pack("{s:s,s:s,s:{s:s}}", "contract", "nope", "eventname", "X", "state",
                            "type", "Any");
    assert_null(neo_source_notification_event("main", "s", bad, NULL, "0x1", 0, block, &e));
    json_decref(bad), json_decref(block), json_decref(n);
}

static void expect_script(const char *req_json, const char *hex) {
    json_t *req = json_loads(req_json, 0, NULL);
    assert_non_null(req);
    neo_buf_t b = {0};
    err_t e;
    assert_int_equal(neo_relayer_script(req, &b, &e), 0);
    char *got = malloc(2 * b.len + 1);
    util_hex_encode(b.data, b.len, got);
    assert_string_equal(got, hex);
    free(got);
    neo_buf_free(&b);
    json_decref(req);
}

static void expect_script_error(const char *req_json, const char *needle) {
    json_t *req = json_loads(req_json, 0, NULL);
    assert_non_null(req);
    neo_buf_t b = {0};
    err_t e;
    assert_int_equal(neo_relayer_script(req, &b, &e), -1);
    assert_int_equal(e.code, R3E_EINVAL);
    if (!strstr(e.msg, needle)) fail_msg("\"%s\" does not mention \"%s\"", e.msg, needle);
    neo_buf_free(&b);
    json_decref(req);
}

static void test_relayer_scripts_from_requests(void **state) {
    (void)state;
    expect_script("{\"script\":\"0x1011\"}", "1011");
    expect_script("{\"script\":\"EBE=\"}", "1011");
    /* contract call: same bytes as the builder with the args pushed in reverse */
    uint8_t token[20];
    assert_int_equal(neo_hash_from_display(TOKEN, token, 20, NULL), 0);
    neo_buf_t want = {0};
    err_t e;
    neo_sb_push_null(&want);
    neo_sb_push_string(&want, "hi", &e);
    assert_int_equal(neo_sb_push_int_dec(&want, "7", &e), 0);
    neo_sb_push_bool(&want, true);
    assert_int_equal(neo_sb_contract_call(&want, token, "go", NEO_CALL_ALL, 4, &e), 0);
    char *hex = malloc(2 * want.len + 1);
    util_hex_encode(want.data, want.len, hex);
    expect_script("{\"contract\":\"" TOKEN "\",\"method\":\"go\",\"args\":[true,"
                  "{\"type\":\"Integer\",\"value\":\"7\"},\"hi\",null]}",
                  hex);
    free(hex);
    neo_buf_free(&want);
    expect_script_error("{}", "contract");
    expect_script_error("{\"script\":\"\"}", "hex or base64");
    expect_script_error("{\"script\":\"!!\"}", "hex or base64");
    expect_script_error("{\"script\":\"10\",\"method\":\"x\"}", "either script");
    expect_script_error("{\"contract\":\"" TOKEN "\",\"method\":\"x\",\"args\":{}}",
                        "args must be an array");
    expect_script_error("{\"contract\":\"" TOKEN
                        "\",\"method\":\"x\",\"args\":[{\"type\":\"Map\"}]}",
                        "ContractParam");
    expect_script_error("{\"contract\":\"" TOKEN "\",\"method\":\"x\",\"args\":[1.5]}",
                        "ContractParam");
    expect_script_error("{\"contract\":\"nope\",\"method\":\"x\"}", "");
    expect_script_error("{\"contract\":\"" TOKEN "\",\"method\":\"x\",\"to\":1}",
                        "unknown field \"to\"");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matching_by_contract_case_insensitive_and_optional_event),
        cmocka_unit_test(test_typed_params_follow_the_manifest),
        cmocka_unit_test(test_event_ids_are_pure_functions_of_the_chain),
        cmocka_unit_test(test_relayer_scripts_from_requests),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
