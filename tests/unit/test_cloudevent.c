/* CloudEvents 1.0 parsing: the three HTTP modes, normalization (generated id and time,
 * nulls dropped) and errors that name the bad attribute. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "events/cloudevent.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define assert_contains(hay, needle)                                                               \
    do {                                                                                           \
        if (!strstr((hay), (needle))) fail_msg("expected '%s' in '%s'", (needle), (hay));          \
    } while (0)

static const char *str(json_t *o, const char *k) {
    return json_string_value(json_object_get(o, k));
}

/* Parses one structured event and expects failure with `code` and `msg` in the message. */
static void expect_structured_error(const char *body, err_code_t code, const char *msg) {
    ce_event_t ev;
    err_t err = {0};
    if (ce_parse_structured(body, strlen(body), &ev, &err) == 0) fail_msg("accepted: %s", body);
    assert_int_equal(err.code, code);
    assert_contains(err.msg, msg);
    assert_null(ev.obj);
}

static void test_structured_minimal_gets_id_and_time(void **state) {
    (void)state;
    const char *b = "{\"specversion\":\"1.0\",\"source\":\"neo.block\",\"type\":\"com.x.y\"}";
    ce_event_t ev;
    err_t err;
    assert_int_equal(ce_parse_structured(b, strlen(b), &ev, &err), 0);
    assert_int_equal(strlen(str(ev.obj, "id")), 26); /* a ULID */
    assert_true(ce_valid_rfc3339(str(ev.obj, "time")));
    assert_string_equal(str(ev.obj, "source"), "neo.block");
    ce_event_free(&ev);
}

static void test_structured_keeps_given_attributes(void **state) {
    (void)state;
    const char *b = "{\"specversion\":\"1.0\",\"id\":\"A-1\",\"source\":\"/sensors/1?x=1#f\","
                    "\"type\":\"t\",\"time\":\"2026-02-28T23:59:60.123+01:00\",\"subject\":\"s\","
                    "\"datacontenttype\":\"application/json; charset=utf-8\","
                    "\"dataschema\":\"https://example.com/s.json\",\"data\":{\"amount\":5},"
                    "\"traceparent\":\"00-ab\",\"partition\":7,\"flag\":true,\"note\":null}";
    ce_event_t ev;
    err_t err;
    assert_int_equal(ce_parse_structured(b, strlen(b), &ev, &err), 0);
    assert_string_equal(str(ev.obj, "id"), "A-1");
    assert_string_equal(str(ev.obj, "time"), "2026-02-28T23:59:60.123+01:00");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(ev.obj, "data"), "amount")),
                     5);
    assert_int_equal(json_integer_value(json_object_get(ev.obj, "partition")), 7);
    assert_null(json_object_get(ev.obj, "note")); /* null means absent */
    ce_event_free(&ev);
}

static void test_structured_errors_name_the_attribute(void **state) {
    (void)state;
    expect_structured_error("{\"source\":\"s\",\"type\":\"t\"}", R3E_EINVAL,
                            "missing 'specversion'");
    expect_structured_error("{\"specversion\":\"0.3\",\"source\":\"s\",\"type\":\"t\"}", R3E_EINVAL,
                            "attribute 'specversion' must be \"1.0\"");
    expect_structured_error("{\"specversion\":\"1.0\",\"type\":\"t\"}", R3E_EINVAL,
                            "missing 'source'");
    expect_structured_error("{\"specversion\":\"1.0\",\"source\":\"s\"}", R3E_EINVAL,
                            "missing 'type'");
    expect_structured_error("{\"specversion\":\"1.0\",\"source\":\"s\",\"type\":\"\"}", R3E_EINVAL,
                            "attribute 'type' must not be empty");
    expect_structured_error("{\"specversion\":\"1.0\",\"source\":\"a b\",\"type\":\"t\"}",
                            R3E_EINVAL, "attribute 'source' is not a URI-reference");
    expect_structured_error("{\"specversion\":\"1.0\",\"source\":\"s\",\"type\":\"t\",\"id\":5}",
                            R3E_EINVAL, "attribute 'id' must be a string");
    expect_structured_error("{\"specversion\":\"1.0\",\"source\":\"s\",\"type\":\"t\",\"time\":"
                            "\"2026-13-01T00:00:00Z\"}",
                            R3E_EINVAL,
                            "attribute 'time' is not RFC 3339: \"2026-13-01T00:00:00Z\"");
    expect_structured_error("{\"specversion\":\"1.0\",\"source\":\"s\",\"type\":\"t\",\"time\":"
                            "\"2026-02-29T00:00:00Z\"}",
                            R3E_EINVAL, "attribute 'time' is not RFC 3339");
    expect_structured_error(
        "{\"specversion\":\"1.0\",\"source\":\"s\",\"type\":\"t\",\"dataschema\":\"rel/x\"}",
        R3E_EINVAL, "attribute 'dataschema' is not an absolute URI");
    expect_structured_error(
        "{\"specversion\":\"1.0\",\"source\":\"s\",\"type\":\"t\",\"datacontenttype\":\"json\"}",
        R3E_EINVAL, "attribute 'datacontenttype' is not a media type");
    expect_structured_error("{\"specversion\":\"1.0\",\"source\":\"s\",\"type\":\"t\",\"data\":1,"
                            "\"data_base64\":\"AA==\"}",
                            R3E_EINVAL, "'data' and 'data_base64' are exclusive");
    expect_structured_error(
        "{\"specversion\":\"1.0\",\"source\":\"s\",\"type\":\"t\",\"data_base64\":\"!!\"}",
        R3E_EINVAL, "'data_base64' is not valid base64");
    expect_structured_error(
        "{\"specversion\":\"1.0\",\"source\":\"s\",\"type\":\"t\",\"Bad_Name\":\"x\"}", R3E_EINVAL,
        "extension attribute 'Bad_Name'");
    expect_structured_error("{\"specversion\":\"1.0\",\"source\":\"s\",\"type\":\"t\","
                            "\"abcdefghijklmnopqrstu\":\"x\"}",
                            R3E_EINVAL, "extension attribute 'abcdefghijklmnopqrstu'");
    expect_structured_error("{\"specversion\":\"1.0\",\"source\":\"s\",\"type\":\"t\",\"ext\":{}}",
                            R3E_EINVAL, "extension attribute 'ext' must be a string");
    expect_structured_error("[1]", R3E_EINVAL, "must be a JSON object");
    expect_structured_error("{\"specversion\":", R3E_EINVAL, "invalid JSON");
    expect_structured_error("{\"type\":\"a\",\"type\":\"b\"}", R3E_EINVAL, "invalid JSON");
}

static void test_rfc3339_forms(void **state) {
    (void)state;
    assert_true(ce_valid_rfc3339("2026-03-08T07:00:00Z"));
    assert_true(ce_valid_rfc3339("2024-02-29t00:00:00.000001z"));
    assert_true(ce_valid_rfc3339("2026-11-01T01:30:00-04:00"));
    assert_false(ce_valid_rfc3339("2026-11-01 01:30:00Z"));
    assert_false(ce_valid_rfc3339("2026-11-01T01:30:00"));
    assert_false(ce_valid_rfc3339("2026-11-01T24:00:00Z"));
    assert_false(ce_valid_rfc3339("2026-11-01T01:30:00.Z"));
    assert_false(ce_valid_rfc3339("2026-11-01T01:30:00+0100"));
    assert_false(ce_valid_rfc3339("2026-04-31T00:00:00Z"));
    assert_false(ce_valid_rfc3339("2026-11-01T01:30:00ZZ"));
}

static void test_size_cap(void **state) {
    (void)state;
    size_t n = CE_MAX_EVENT_BYTES + 100;
    char *b = malloc(n + 200);
    int k = sprintf(b, "{\"specversion\":\"1.0\",\"source\":\"s\",\"type\":\"t\",\"data\":\"");
    memset(b + k, 'x', n);
    strcpy(b + k + n, "\"}");
    ce_event_t ev;
    err_t err;
    assert_int_equal(ce_parse_structured(b, strlen(b), &ev, &err), -1);
    assert_int_equal(err.code, R3E_ETOOBIG);
    free(b);
}

static void test_batch(void **state) {
    (void)state;
    const char *b = "[{\"specversion\":\"1.0\",\"source\":\"s\",\"type\":\"a\"},"
                    "{\"specversion\":\"1.0\",\"source\":\"s\",\"type\":\"b\",\"id\":\"x\"}]";
    ce_batch_t batch;
    err_t err;
    assert_int_equal(ce_parse_batch(b, strlen(b), &batch, &err), 0);
    assert_int_equal(json_array_size(batch.events), 2);
    assert_string_equal(str(json_array_get(batch.events, 1), "id"), "x");
    ce_batch_free(&batch);

    assert_int_equal(ce_parse_batch("[]", 2, &batch, &err), 0);
    assert_int_equal(json_array_size(batch.events), 0);
    ce_batch_free(&batch);

    const char *bad = "[{\"specversion\":\"1.0\",\"source\":\"s\",\"type\":\"a\"},"
                      "{\"specversion\":\"1.0\",\"source\":\"s\",\"type\":\"a\"},"
                      "{\"specversion\":\"1.0\",\"source\":\"s\",\"type\":\"a\"},"
                      "{\"specversion\":\"1.0\",\"source\":\"s\"}]";
    assert_int_equal(ce_parse_batch(bad, strlen(bad), &batch, &err), -1);
    assert_string_equal(err.msg, "batch item 3: missing 'type'");
    assert_null(batch.events);

    assert_int_equal(ce_parse_batch("{}", 2, &batch, &err), -1);
    assert_contains(err.msg, "JSON array");
}

static void test_batch_count_cap(void **state) {
    (void)state;
    const char *one = "{\"specversion\":\"1.0\",\"source\":\"s\",\"type\":\"a\"},";
    size_t ol = strlen(one);
    char *b = malloc(ol * (CE_MAX_BATCH + 1) + 3);
    char *p = b;
    *p++ = '[';
    for (int i = 0; i <= CE_MAX_BATCH; i++, p += ol)
        memcpy(p, one, ol);
    p[-1] = ']';
    ce_batch_t batch;
    err_t err;
    assert_int_equal(ce_parse_batch(b, (size_t)(p - b), &batch, &err), -1);
    assert_int_equal(err.code, R3E_ETOOBIG);
    assert_contains(err.msg, "1001 events");
    free(b);
}

static void test_binary_json_body(void **state) {
    (void)state;
    ce_header_t h[] = {{"Content-Type", "application/json; charset=utf-8"},
                       {"CE-SpecVersion", "1.0"},
                       {"ce-id", "id%201"},
                       {"ce-source", "neo.block"},
                       {"ce-type", "com.example.x"},
                       {"ce-time", "2026-03-08T07:00:00Z"},
                       {"ce-myext", "v"},
                       {"Host", "x"}};
    const char *body = "{\"amount\":150}";
    ce_event_t ev;
    err_t err;
    assert_int_equal(ce_parse_binary(h, 8, body, strlen(body), &ev, &err), 0);
    assert_string_equal(str(ev.obj, "id"), "id 1");
    assert_string_equal(str(ev.obj, "specversion"), "1.0");
    assert_string_equal(str(ev.obj, "myext"), "v");
    assert_string_equal(str(ev.obj, "datacontenttype"), "application/json; charset=utf-8");
    assert_null(json_object_get(ev.obj, "host"));
    assert_int_equal(json_integer_value(json_object_get(json_object_get(ev.obj, "data"), "amount")),
                     150);
    ce_event_free(&ev);
}

static void test_binary_text_and_bytes(void **state) {
    (void)state;
    ce_header_t h[] = {{"content-type", "text/plain"},
                       {"ce-specversion", "1.0"},
                       {"ce-source", "s"},
                       {"ce-type", "t"}};
    ce_event_t ev;
    err_t err;
    assert_int_equal(ce_parse_binary(h, 4, "hello", 5, &ev, &err), 0);
    assert_string_equal(str(ev.obj, "data"), "hello");
    ce_event_free(&ev);

    const unsigned char bytes[] = {0xff, 0x00, 0x01};
    assert_int_equal(ce_parse_binary(h, 4, bytes, 3, &ev, &err), 0);
    assert_string_equal(str(ev.obj, "data_base64"), "/wAB");
    assert_null(json_object_get(ev.obj, "data"));
    ce_event_free(&ev);

    h[0].value = "application/octet-stream";
    assert_int_equal(ce_parse_binary(h, 4, "abc", 3, &ev, &err), 0);
    assert_string_equal(str(ev.obj, "data_base64"), "YWJj");
    ce_event_free(&ev);

    assert_int_equal(ce_parse_binary(h, 4, "", 0, &ev, &err), 0); /* no body, no data */
    assert_null(json_object_get(ev.obj, "data"));
    assert_null(json_object_get(ev.obj, "data_base64"));
    ce_event_free(&ev);
}

static void test_binary_errors(void **state) {
    (void)state;
    ce_header_t h[] = {{"content-type", "application/json"},
                       {"ce-specversion", "1.0"},
                       {"ce-source", "s"},
                       {"ce-type", "t"},
                       {"ce-id", "x"}};
    ce_event_t ev;
    err_t err;
    assert_int_equal(ce_parse_binary(h, 5, "{", 1, &ev, &err), -1);
    assert_contains(err.msg, "body is not valid JSON");
    h[4].value = "bad%zz";
    assert_int_equal(ce_parse_binary(h, 5, "1", 1, &ev, &err), -1);
    assert_contains(err.msg, "header 'ce-id': bad percent-encoding");
    h[4].value = "x%";
    assert_int_equal(ce_parse_binary(h, 5, "1", 1, &ev, &err), -1);
    h[4] = (ce_header_t){"ce-source", "t"};
    assert_int_equal(ce_parse_binary(h, 5, "1", 1, &ev, &err), -1);
    assert_contains(err.msg, "header 'ce-source' given twice");
    h[4] = (ce_header_t){"ce-data", "t"};
    assert_int_equal(ce_parse_binary(h, 5, "1", 1, &ev, &err), -1);
    assert_contains(err.msg, "data travels in the body");
    h[4] = (ce_header_t){"ce-time", "yesterday"};
    assert_int_equal(ce_parse_binary(h, 5, "1", 1, &ev, &err), -1);
    assert_contains(err.msg, "attribute 'time' is not RFC 3339: \"yesterday\"");
}

static void test_http_dispatch(void **state) {
    (void)state;
    ce_batch_t b;
    err_t err;
    const char *one = "{\"specversion\":\"1.0\",\"source\":\"s\",\"type\":\"a\"}";
    ce_header_t structured[] = {{"Content-Type", "application/cloudevents+json; charset=UTF-8"}};
    assert_int_equal(ce_parse_http(structured, 1, one, strlen(one), &b, &err), 0);
    assert_int_equal(json_array_size(b.events), 1);
    ce_batch_free(&b);

    const char *many = "[{\"specversion\":\"1.0\",\"source\":\"s\",\"type\":\"a\"}]";
    ce_header_t batch[] = {{"content-type", "Application/CloudEvents-Batch+JSON"}};
    assert_int_equal(ce_parse_http(batch, 1, many, strlen(many), &b, &err), 0);
    assert_int_equal(json_array_size(b.events), 1);
    ce_batch_free(&b);

    ce_header_t binary[] = {{"content-type", "application/json"},
                            {"ce-specversion", "1.0"},
                            {"ce-source", "s"},
                            {"ce-type", "t"}};
    assert_int_equal(ce_parse_http(binary, 4, one, strlen(one), &b, &err), 0);
    /* binary mode: the whole body is data */
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(json_array_get(b.events, 0), "data"), "type")),
                        "a");
    ce_batch_free(&b);

    ce_header_t plain[] = {{"content-type", "application/json"}};
    assert_int_equal(ce_parse_http(plain, 1, one, strlen(one), &b, &err), 0);
    assert_string_equal(str(json_array_get(b.events, 0), "type"), "a");
    ce_batch_free(&b);

    ce_header_t xml[] = {{"content-type", "text/xml"}};
    assert_int_equal(ce_parse_http(xml, 1, "<a/>", 4, &b, &err), -1);
    assert_int_equal(err.code, R3E_EMEDIA);
    assert_int_equal(ce_parse_http(NULL, 0, "<a/>", 4, &b, &err), -1);
    assert_int_equal(err.code, R3E_EMEDIA);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_structured_minimal_gets_id_and_time),
        cmocka_unit_test(test_structured_keeps_given_attributes),
        cmocka_unit_test(test_structured_errors_name_the_attribute),
        cmocka_unit_test(test_rfc3339_forms),
        cmocka_unit_test(test_size_cap),
        cmocka_unit_test(test_batch),
        cmocka_unit_test(test_batch_count_cap),
        cmocka_unit_test(test_binary_json_body),
        cmocka_unit_test(test_binary_text_and_bytes),
        cmocka_unit_test(test_binary_errors),
        cmocka_unit_test(test_http_dispatch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
