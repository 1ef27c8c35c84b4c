/* EventBridge patterns: a table of patterns against one CloudEvent (every operator, arrays,
 * nesting, $or), and a table of malformed patterns with the JSON path in the message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "events/pattern.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *EVENT =
    "{\"specversion\":\"1.0\",\"id\":\"01J0\",\"source\":\"neo.block\","
    "\"type\":\"com.neo.block.new\",\"time\":\"2026-03-08T07:00:00Z\",\"subject\":\"Block-42\","
    "\"data\":{\"amount\":150,\"height\":42,\"price\":1.5,\"zero\":0,\"neg\":-3,"
    "\"tags\":[\"a\",\"b\"],\"nums\":[1,5,9],\"from\":\"NXabc\",\"ip\":\"10.0.0.7\","
    "\"ip6\":\"2001:db8::1\",\"flag\":true,\"off\":false,\"none\":null,"
    "\"nested\":{\"deep\":{\"x\":\"y\"}},\"items\":[{\"k\":1},{\"k\":2,\"m\":\"z\"}],"
    "\"file\":\"photo.PNG\",\"name\":\"Alice\",\"star\":\"a*b\",\"empty\":\"\",\"num_str\":\"100\"}"
    "}";

typedef struct {
    const char *pattern;
    bool match;
} case_t;

static const case_t CASES[] = {
    /* exact values */
    {"{}", true},
    {"{\"source\":[\"neo.block\"]}", true},
    {"{\"source\":[\"eth.log\",\"neo.block\"]}", true},
    {"{\"source\":[\"neo.blocks\"]}", false},
    {"{\"source\":[\"NEO.BLOCK\"]}", false},
    {"{\"source\":[\"neo.block\"],\"type\":[\"com.neo.block.new\"]}", true},
    {"{\"source\":[\"neo.block\"],\"type\":[\"other\"]}", false},
    {"{\"data\":{\"amount\":[150]}}", true},
    {"{\"data\":{\"amount\":[150.0]}}", true},
    {"{\"data\":{\"amount\":[1.5e2]}}", true},
    {"{\"data\":{\"amount\":[\"150\"]}}", false},
    {"{\"data\":{\"num_str\":[100]}}", false},
    {"{\"data\":{\"price\":[1.5]}}", true},
    {"{\"data\":{\"flag\":[true]}}", true},
    {"{\"data\":{\"flag\":[false]}}", false},
    {"{\"data\":{\"off\":[false]}}", true},
    {"{\"data\":{\"none\":[null]}}", true},
    {"{\"data\":{\"missing\":[null]}}", false},
    {"{\"data\":{\"empty\":[\"\"]}}", true},
    /* arrays in the event: any element */
    {"{\"data\":{\"tags\":[\"b\"]}}", true},
    {"{\"data\":{\"tags\":[\"c\"]}}", false},
    {"{\"data\":{\"nums\":[{\"numeric\":[\">\",8]}]}}", true},
    {"{\"data\":{\"nums\":[{\"numeric\":[\">\",9]}]}}", false},
    {"{\"data\":{\"items\":{\"k\":[2],\"m\":[\"z\"]}}}", true},
    {"{\"data\":{\"items\":{\"k\":[1],\"m\":[\"z\"]}}}", false}, /* same element */
    /* prefix / suffix / equals-ignore-case */
    {"{\"type\":[{\"prefix\":\"com.\"}]}", true},
    {"{\"type\":[{\"prefix\":\"org.\"}]}", false},
    {"{\"type\":[{\"prefix\":\"\"}]}", true},
    {"{\"type\":[{\"prefix\":{\"equals-ignore-case\":\"COM.NEO\"}}]}", true},
    {"{\"data\":{\"file\":[{\"suffix\":\".png\"}]}}", false},
    {"{\"data\":{\"file\":[{\"suffix\":\".PNG\"}]}}", true},
    {"{\"data\":{\"file\":[{\"suffix\":{\"equals-ignore-case\":\".png\"}}]}}", true},
    {"{\"data\":{\"amount\":[{\"prefix\":\"1\"}]}}", false}, /* strings only */
    {"{\"data\":{\"name\":[{\"equals-ignore-case\":\"aLICE\"}]}}", true},
    {"{\"data\":{\"name\":[{\"equals-ignore-case\":\"alic\"}]}}", false},
    /* wildcard */
    {"{\"subject\":[{\"wildcard\":\"Block-*\"}]}", true},
    {"{\"subject\":[{\"wildcard\":\"*-42\"}]}", true},
    {"{\"subject\":[{\"wildcard\":\"B*k*2\"}]}", true},
    {"{\"subject\":[{\"wildcard\":\"B*x*2\"}]}", false},
    {"{\"subject\":[{\"wildcard\":\"*\"}]}", true},
    {"{\"subject\":[{\"wildcard\":\"Block-42\"}]}", true},
    {"{\"subject\":[{\"wildcard\":\"Block-4\"}]}", false},
    {"{\"subject\":[{\"wildcard\":\"Bl*ck*-42*\"}]}", true},
    {"{\"data\":{\"star\":[{\"wildcard\":\"a\\\\*b\"}]}}", true},
    {"{\"data\":{\"star\":[{\"wildcard\":\"a\\\\*\"}]}}", false},
    {"{\"data\":{\"empty\":[{\"wildcard\":\"\"}]}}", true},
    {"{\"data\":{\"name\":[{\"wildcard\":\"\"}]}}", false},
    {"{\"data\":{\"name\":[{\"wildcard\":\"A*e*\"}]}}", true},
    {"{\"data\":{\"name\":[{\"wildcard\":\"*ce*ce\"}]}}", false},
    /* anything-but */
    {"{\"source\":[{\"anything-but\":\"eth.log\"}]}", true},
    {"{\"source\":[{\"anything-but\":[\"eth.log\",\"neo.block\"]}]}", false},
    {"{\"data\":{\"amount\":[{\"anything-but\":[100,200]}]}}", true},
    {"{\"data\":{\"amount\":[{\"anything-but\":150}]}}", false},
    {"{\"type\":[{\"anything-but\":{\"prefix\":\"com.\"}}]}", false},
    {"{\"type\":[{\"anything-but\":{\"prefix\":\"org.\"}}]}", true},
    {"{\"type\":[{\"anything-but\":{\"suffix\":\".new\"}}]}", false},
    {"{\"data\":{\"name\":[{\"anything-but\":{\"equals-ignore-case\":[\"bob\",\"ALICE\"]}}]}}",
     false},
    {"{\"data\":{\"name\":[{\"anything-but\":{\"equals-ignore-case\":\"bob\"}}]}}", true},
    {"{\"subject\":[{\"anything-but\":{\"wildcard\":\"Block-*\"}}]}", false},
    {"{\"data\":{\"missing\":[{\"anything-but\":\"x\"}]}}", false}, /* needs the field */
    {"{\"data\":{\"tags\":[{\"anything-but\":\"a\"}]}}", true},     /* \"b\" qualifies */
    /* numeric */
    {"{\"data\":{\"amount\":[{\"numeric\":[\">\",100,\"<=\",500]}]}}", true},
    {"{\"data\":{\"amount\":[{\"numeric\":[\">\",150]}]}}", false},
    {"{\"data\":{\"amount\":[{\"numeric\":[\">=\",150]}]}}", true},
    {"{\"data\":{\"amount\":[{\"numeric\":[\"<\",150]}]}}", false},
    {"{\"data\":{\"amount\":[{\"numeric\":[\"<=\",150]}]}}", true},
    {"{\"data\":{\"amount\":[{\"numeric\":[\"=\",150]}]}}", true},
    {"{\"data\":{\"amount\":[{\"numeric\":[\"=\",151]}]}}", false},
    {"{\"data\":{\"amount\":[{\"numeric\":[\"<\",500,\">\",149.5]}]}}", true},
    {"{\"data\":{\"price\":[{\"numeric\":[\">\",1,\"<\",2]}]}}", true},
    {"{\"data\":{\"neg\":[{\"numeric\":[\"<\",0]}]}}", true},
    {"{\"data\":{\"zero\":[{\"numeric\":[\"=\",0]}]}}", true},
    {"{\"data\":{\"num_str\":[{\"numeric\":[\">\",0]}]}}", false},
    {"{\"data\":{\"missing\":[{\"numeric\":[\">\",0]}]}}", false},
    /* exists */
    {"{\"data\":{\"amount\":[{\"exists\":true}]}}", true},
    {"{\"data\":{\"amount\":[{\"exists\":false}]}}", false},
    {"{\"data\":{\"missing\":[{\"exists\":false}]}}", true},
    {"{\"data\":{\"missing\":[{\"exists\":true}]}}", false},
    {"{\"data\":{\"none\":[{\"exists\":true}]}}", true},
    {"{\"data\":{\"nested\":[{\"exists\":true}]}}", true},
    {"{\"nothere\":{\"x\":[{\"exists\":false}]}}", true},
    {"{\"nothere\":{\"x\":[{\"exists\":true}]}}", false},
    {"{\"data\":{\"missing\":[\"x\",{\"exists\":false}]}}", true},
    /* cidr */
    {"{\"data\":{\"ip\":[{\"cidr\":\"10.0.0.0/24\"}]}}", true},
    {"{\"data\":{\"ip\":[{\"cidr\":\"10.0.1.0/24\"}]}}", false},
    {"{\"data\":{\"ip\":[{\"cidr\":\"10.0.0.4/30\"}]}}", true},
    {"{\"data\":{\"ip\":[{\"cidr\":\"0.0.0.0/0\"}]}}", true},
    {"{\"data\":{\"ip6\":[{\"cidr\":\"2001:db8::/32\"}]}}", true},
    {"{\"data\":{\"ip6\":[{\"cidr\":\"10.0.0.0/8\"}]}}", false},
    {"{\"data\":{\"name\":[{\"cidr\":\"10.0.0.0/8\"}]}}", false},
    /* nesting */
    {"{\"data\":{\"nested\":{\"deep\":{\"x\":[\"y\"]}}}}", true},
    {"{\"data\":{\"nested\":{\"deep\":{\"x\":[\"z\"]}}}}", false},
    {"{\"data\":{\"amount\":{\"x\":[\"y\"]}}}", false}, /* scalar where an object is expected */
    /* $or */
    {"{\"$or\":[{\"source\":[\"eth.log\"]},{\"type\":[{\"prefix\":\"com.neo\"}]}]}", true},
    {"{\"$or\":[{\"source\":[\"eth.log\"]},{\"type\":[\"x\"]}]}", false},
    {"{\"source\":[\"neo.block\"],\"$or\":[{\"data\":{\"amount\":[{\"numeric\":[\">\",1000]}]}},"
     "{\"data\":{\"flag\":[true]}}]}",
     true},
    {"{\"source\":[\"eth.log\"],\"$or\":[{\"data\":{\"flag\":[true]}}]}", false},
    {"{\"data\":{\"$or\":[{\"amount\":[1]},{\"height\":[42]}]}}", true},
    {"{\"$or\":[{\"$or\":[{\"source\":[\"x\"]},{\"subject\":[\"Block-42\"]}]}]}", true},
    /* mixed matchers in one array: any may match */
    {"{\"data\":{\"amount\":[\"x\",{\"prefix\":\"q\"},{\"numeric\":[\">\",100]}]}}", true},
};

static void test_pattern_table(void **state) {
    (void)state;
    json_t *ev = json_loads(EVENT, 0, NULL);
    assert_non_null(ev);
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
        pattern_t *p;
        err_t err;
        if (pattern_compile_text(CASES[i].pattern, strlen(CASES[i].pattern), &p, &err) != 0)
            fail_msg("case %zu %s: %s", i, CASES[i].pattern, err.msg);
        if (pattern_match(p, ev) != CASES[i].match)
            fail_msg("case %zu %s: want %s", i, CASES[i].pattern,
                     CASES[i].match ? "match" : "no match");
        pattern_free(p);
    }
    json_decref(ev);
}

typedef struct {
    const char *pattern, *msg;
} bad_t;

static const bad_t BAD[] = {
    {"{\"data\":{\"amount\":[{\"numerc\":[\">\",1]}]}}",
     "filter.data.amount[0]: unknown operator 'numerc'"},
    {"[]", "filter: a pattern must be a JSON object"},
    {"{\"source\":\"neo.block\"}",
     "filter.source: expected an array of values or a nested object, got a string"},
    {"{\"source\":[]}", "filter.source: an empty array matches nothing"},
    {"{\"source\":[[\"a\"]]}", "filter.source[0]: value arrays cannot nest"},
    {"{\"source\":[{\"prefix\":\"a\",\"suffix\":\"b\"}]}",
     "filter.source[0]: an operator object has exactly one key"},
    {"{\"source\":[{\"prefix\":5}]}", "filter.source[0]: 'prefix' expects a string, got a number"},
    {"{\"source\":[{\"prefix\":{\"x\":\"a\"}}]}", "filter.source[0]: 'prefix' takes a string or"},
    {"{\"x\":[{\"numeric\":[\">\"]}]}", "filter.x[0]: 'numeric' expects [op, number]"},
    {"{\"x\":[{\"numeric\":[\"~\",1]}]}", "filter.x[0]: 'numeric': unknown comparison '~'"},
    {"{\"x\":[{\"numeric\":[\">\",\"1\"]}]}", "filter.x[0]: 'numeric': '>' needs a number"},
    {"{\"x\":[{\"numeric\":[\">\",5,\"<\",1]}]}", "filter.x[0]: 'numeric': the range is empty"},
    {"{\"x\":[{\"numeric\":[\">\",1,\">\",2]}]}", "filter.x[0]: 'numeric': two lower bounds"},
    {"{\"x\":[{\"numeric\":[\"=\",1,\"<\",2]}]}", "filter.x[0]: 'numeric': '=' stands alone"},
    {"{\"x\":[{\"exists\":\"yes\"}]}", "filter.x[0]: 'exists' expects true or false"},
    {"{\"x\":[{\"cidr\":\"10.0.0.0\"}]}", "filter.x[0]: 'cidr' expects address/bits"},
    {"{\"x\":[{\"cidr\":\"10.0.0.0/33\"}]}", "filter.x[0]: 'cidr': \"10.0.0.0/33\" is not"},
    {"{\"x\":[{\"cidr\":\"::1/129\"}]}", "filter.x[0]: 'cidr'"},
    {"{\"x\":[{\"wildcard\":\"a**b\"}]}", "filter.x[0]: 'wildcard' does not allow consecutive"},
    {"{\"x\":[{\"wildcard\":\"a\\\\b\"}]}", "filter.x[0]: 'wildcard': '\\' must escape"},
    {"{\"x\":[{\"anything-but\":[]}]}", "filter.x[0]: 'anything-but': empty list"},
    {"{\"x\":[{\"anything-but\":{\"numeric\":[\">\",1]}}]}", "filter.x[0]: 'anything-but' takes"},
    {"{\"x\":[{\"anything-but\":[{\"prefix\":\"a\"}]}]}",
     "filter.x[0]: 'anything-but' lists hold plain values"},
    {"{\"x\":[{\"anything-but\":{\"prefix\":1}}]}", "filter.x[0]: 'prefix' expects a string"},
    {"{\"a\":{\"b\":[1,{\"suffix\":[]}]}}", "filter.a.b[1]: 'suffix' expects a string"},
    {"{\"$or\":{}}", "filter.$or: '$or' expects a non-empty array"},
    {"{\"$or\":[{\"a\":[1]},5]}", "filter.$or[1]: expected an object, got a number"},
    {"{\"$or\":[{\"a\":[1]},{\"b\":[{\"bad\":1}]}]}", "filter.$or[1].b[0]: unknown operator 'bad'"},
    {"{\"a\":", "filter: invalid JSON"},
    {"{\"a\":[1],\"a\":[2]}", "filter: invalid JSON"},
};

static void test_compile_errors_point_at_the_bad_part(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof BAD / sizeof BAD[0]; i++) {
        pattern_t *p = (pattern_t *)1;
        err_t err = {0};
        if (pattern_compile_text(BAD[i].pattern, strlen(BAD[i].pattern), &p, &err) == 0)
            fail_msg("accepted %s", BAD[i].pattern);
        assert_null(p);
        assert_int_equal(err.code, R3E_EINVAL);
        if (strncmp(err.msg, BAD[i].msg, strlen(BAD[i].msg)) != 0)
            fail_msg("%s: want '%s…' got '%s'", BAD[i].pattern, BAD[i].msg, err.msg);
    }
}

static void test_depth_and_size_limits(void **state) {
    (void)state;
    char buf[4096] = "";
    for (int i = 0; i < 40; i++)
        strcat(buf, "{\"a\":");
    strcat(buf, "[1]");
    for (int i = 0; i < 40; i++)
        strcat(buf, "}");
    pattern_t *p;
    err_t err;
    assert_int_equal(pattern_compile_text(buf, strlen(buf), &p, &err), -1);
    assert_non_null(strstr(err.msg, "nested deeper than 32 levels"));

    json_t *big = json_array();
    for (int i = 0; i <= PATTERN_MAX_MATCHERS; i++)
        json_array_append_new(big, json_integer(i));
    json_t *pat = json_pack("{so}", "x", big);
    assert_int_equal(pattern_compile(pat, &p, &err), -1);
    assert_non_null(strstr(err.msg, "more than 10000 matchers"));
    json_decref(pat);
}

static void test_exact_strings_for_indexing(void **state) {
    (void)state;
    const char *text = "{\"source\":[\"a\",\"b\",\"a\"],\"type\":[\"t\",{\"prefix\":\"x\"}],"
                       "\"$or\":[{\"subject\":[\"s\"]}]}";
    pattern_t *p;
    err_t err;
    assert_int_equal(pattern_compile_text(text, strlen(text), &p, &err), 0);
    const char *v[4];
    assert_int_equal(pattern_exact_strings(p, "source", v, 4), 2);
    assert_string_equal(v[0], "a");
    assert_string_equal(v[1], "b");
    assert_int_equal(pattern_exact_strings(p, "source", v, 1), 2);  /* count beyond cap */
    assert_int_equal(pattern_exact_strings(p, "type", v, 4), 0);    /* not exact-only */
    assert_int_equal(pattern_exact_strings(p, "subject", v, 4), 0); /* inside $or */
    assert_int_equal(pattern_exact_strings(p, "id", v, 4), 0);
    pattern_free(p);
}

static void test_match_skipping_takes_source_and_type_as_matched(void **state) {
    (void)state;
    const char *text = "{\"source\":[\"a\"],\"type\":[\"t\"],\"data\":{\"x\":[1]}}";
    pattern_t *p;
    err_t err;
    assert_int_equal(pattern_compile_text(text, strlen(text), &p, &err), 0);
    json_t *ev = json_pack("{sss{si}}", "source", "other", "data", "x", 1);
    assert_false(pattern_match(p, ev));
    assert_false(pattern_match_skipping(p, ev, PATTERN_SKIP_SOURCE)); /* type still missing */
    assert_true(pattern_match_skipping(p, ev, PATTERN_SKIP_SOURCE | PATTERN_SKIP_TYPE));
    json_object_set_new(json_object_get(ev, "data"), "x", json_integer(2));
    assert_false(pattern_match_skipping(p, ev, PATTERN_SKIP_SOURCE | PATTERN_SKIP_TYPE));
    json_decref(ev);
    pattern_free(p);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pattern_table),
        cmocka_unit_test(test_compile_errors_point_at_the_bad_part),
        cmocka_unit_test(test_depth_and_size_limits),
        cmocka_unit_test(test_exact_strings_for_indexing),
        cmocka_unit_test(test_match_skipping_takes_source_and_type_as_matched),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
