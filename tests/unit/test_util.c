/* core/util: RFC 3339 formatting and parsing round-trip, hex, names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/util.h"

static void test_rfc3339_round_trip(void **state) {
    (void)state;
    const uint64_t samples[] = {0, 1, 999, 1764460800123ull, 4102444799999ull};
    for (size_t i = 0; i < sizeof samples / sizeof samples[0]; i++) {
        char buf[32];
        util_rfc3339(samples[i], buf, sizeof buf);
        assert_int_equal(util_rfc3339_parse(buf), samples[i]);
    }
    char buf[32];
    util_rfc3339(1764460800123ull, buf, sizeof buf);
    assert_string_equal(buf, "2025-11-30T00:00:00.123Z");
}

static void test_rfc3339_parse_rejects_garbage(void **state) {
    (void)state;
    assert_int_equal(util_rfc3339_parse(NULL), 0);
    assert_int_equal(util_rfc3339_parse(""), 0);
    assert_int_equal(util_rfc3339_parse("yesterday"), 0);
    assert_int_equal(util_rfc3339_parse("2026-11-30"), 0);
    /* seconds precision is accepted */
    assert_int_equal(util_rfc3339_parse("1970-01-01T00:00:01Z"), 1000);
}

static void test_hex_and_names(void **state) {
    (void)state;
    uint8_t out[4];
    assert_int_equal(util_hex_decode("0xDEADbeef", 10, out, sizeof out), 4);
    char hex[9];
    util_hex_encode(out, 4, hex);
    assert_string_equal(hex, "deadbeef");
    assert_int_equal(util_hex_decode("abc", 3, out, sizeof out), -1);
    assert_true(util_valid_name("hello-1"));
    assert_false(util_valid_name("-hello"));
    assert_false(util_valid_name("Hello"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc3339_round_trip),
        cmocka_unit_test(test_rfc3339_parse_rejects_garbage),
        cmocka_unit_test(test_hex_and_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
