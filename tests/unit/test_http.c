/* The API's pure pieces: body accumulation with a cap, content-type and JSON checks with
 * positions, the error shape, the deploy payload validation table (every invalid field
 * gives invalid_argument and a message naming it), server settings, the HTTP trigger's
 * event/response translations and the log bus. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "api/config.h"
#include "api/deploy.h"
#include "api/http.h"
#include "api/logbus.h"
#include "api/trigger.h"

static void test_body_append_grows_and_stops_at_the_cap(void **state) {
    (void)state;
    char *buf = NULL;
    size_t len = 0, cap = 0;
    err_t e;
    assert_int_equal(http_body_append(&buf, &len, &cap, "hello ", 6, 10, &e), 0);
    assert_int_equal(http_body_append(&buf, &len, &cap, "wor", 3, 10, &e), 0);
    assert_string_equal(buf, "hello wor");
    assert_int_equal(http_body_append(&buf, &len, &cap, "ld", 2, 10, &e), -1);
    assert_int_equal(e.code, R3E_ETOOBIG);
    assert_string_equal(buf, "hello wor"); /* unchanged on failure */
    assert_int_equal(http_body_append(&buf, &len, &cap, "d", 1, 10, &e), 0);
    assert_int_equal(len, 10);
    free(buf);
}

static void test_json_content_types(void **state) {
    (void)state;
    assert_true(http_is_json_content_type("application/json"));
    assert_true(http_is_json_content_type("application/json; charset=utf-8"));
    assert_true(http_is_json_content_type("Application/JSON;charset=UTF-8"));
    assert_false(http_is_json_content_type(NULL));
    assert_false(http_is_json_content_type("text/plain"));
    assert_false(http_is_json_content_type("application/jsonp"));
    assert_false(http_is_json_content_type("application/x-www-form-urlencoded"));
}

static void test_malformed_json_reports_line_and_column(void **state) {
    (void)state;
    int line, col;
    err_t e;
    const char *text = "{\n  \"a\": 1,\n  \"b\": }";
    assert_null(http_json_parse(text, strlen(text), false, &line, &col, &e));
    assert_int_equal(e.code, R3E_EINVAL);
    assert_int_equal(line, 3);
    assert_true(col > 0);
    assert_non_null(strstr(e.msg, "malformed JSON"));
    assert_non_null(strstr(e.msg, "(line 3, column"));
}

static void test_json_object_versus_any_value(void **state) {
    (void)state;
    err_t e;
    int line, col;
    assert_null(http_json_parse("[1]", 3, false, &line, &col, &e));
    assert_string_equal(e.msg, "request body must be a JSON object");
    assert_int_equal(line, 0);
    json_t *v = http_json_parse("[1]", 3, true, NULL, NULL, &e);
    assert_true(json_is_array(v));
    json_decref(v);
    v = http_json_parse("42", 2, true, NULL, NULL, &e);
    assert_true(json_is_integer(v));
    json_decref(v);
    assert_null(http_json_parse("", 0, true, NULL, NULL, &e));
    v = http_json_parse("\"a\\u0000b\"", 10, true, NULL, NULL, &e); /* U+0000 is JSON */
    assert_int_equal(json_string_length(v), 3);
    json_decref(v);
}

static void test_request_ids_are_echoed_only_when_safe(void **state) {
    (void)state;
    assert_true(http_request_id_ok("abc-123_X.y:z"));
    assert_true(http_request_id_ok("01JDX4Q8W4A1B2C3D4E5F6G7H8"));
    assert_false(http_request_id_ok(""));
    assert_false(http_request_id_ok("has space"));
    assert_false(http_request_id_ok("quote\""));
    assert_false(http_request_id_ok("new\nline"));
    char longid[200];
    memset(longid, 'a', 129);
    longid[129] = '\0';
    assert_false(http_request_id_ok(longid));
    longid[128] = '\0';
    assert_true(http_request_id_ok(longid));
}

static void test_error_body_has_the_one_shape(void **state) {
    (void)state;
    size_t len;
    char *b = http_error_body("not_found", "function \"x\" not found", NULL, &len);
    assert_string_equal(b, "{\"error\":{\"code\":\"not_found\",\"message\":\"function \\\"x\\\" "
                           "not found\"}}");
    assert_int_equal(len, strlen(b));
    free(b);
    b = http_error_body("invalid_argument", "bad", json_pack("{s:i}", "line", 3), &len);
    assert_string_equal(b, "{\"error\":{\"code\":\"invalid_argument\",\"message\":\"bad\","
                           "\"details\":{\"line\":3}}}");
    free(b);
    b = http_error_body("x", "\xff\xfe", NULL, &len); /* not UTF-8: still valid JSON */
    json_t *v = json_loads(b, 0, NULL);
    assert_non_null(v);
    json_decref(v);
    free(b);
}

static void test_query_int(void **state) {
    (void)state;
    long v;
    err_t e;
    assert_int_equal(http_query_int(NULL, 1, 1000, 50, &v, &e), 0);
    assert_int_equal(v, 50);
    assert_int_equal(http_query_int("7", 1, 1000, 50, &v, &e), 0);
    assert_int_equal(v, 7);
    assert_int_equal(http_query_int("0", 1, 1000, 50, &v, &e), -1);
    assert_int_equal(http_query_int("1001", 1, 1000, 50, &v, &e), -1);
    assert_int_equal(http_query_int("5x", 1, 1000, 50, &v, &e), -1);
    assert_int_equal(http_query_int("", 1, 1000, 50, &v, &e), -1);
}

/* ---- deploy payload ---------------------------------------------------------------------- */

static int deploy_text(const char *text, const char *path_name, deploy_req_t *d, err_t *e,
                       json_t **body) {
    *body = json_loads(text, JSON_ALLOW_NUL, NULL); /* as http_json_parse does */
    assert_non_null(*body);
    return deploy_parse(*body, path_name, d, e);
}

static void test_deploy_defaults(void **state) {
    (void)state;
    deploy_req_t d;
    err_t e;
    json_t *body;
    assert_int_equal(deploy_text("{\"name\":\"hello\",\"code\":\"x\"}", NULL, &d, &e, &body), 0);
    assert_string_equal(d.spec.ns, "default");
    assert_string_equal(d.spec.name, "hello");
    assert_int_equal(d.spec.timeout_ms, 10000);
    assert_int_equal(d.spec.memory_mb, 128);
    assert_string_equal(d.spec.isolation, "warm");
    assert_int_equal(d.spec.concurrency, 0);
    assert_null(d.spec.env_json);
    assert_int_equal(d.code_len, 1);
    deploy_req_free(&d);
    json_decref(body);
}

static void test_deploy_all_fields(void **state) {
    (void)state;
    deploy_req_t d;
    err_t e;
    json_t *body;
    assert_int_equal(deploy_text("{\"code\":\"abc\",\"timeout_ms\":300000,\"memory_mb\":16,"
                                 "\"isolation\":\"fresh\",\"env\":{\"A\":\"1\"},"
                                 "\"concurrency\":4,\"name\":\"x-1\"}",
                                 "x-1", &d, &e, &body),
                     0);
    assert_int_equal(d.spec.timeout_ms, 300000);
    assert_int_equal(d.spec.memory_mb, 16);
    assert_string_equal(d.spec.isolation, "fresh");
    assert_string_equal(d.spec.env_json, "{\"A\":\"1\"}");
    assert_int_equal(d.spec.concurrency, 4);
    assert_string_equal(d.code, "abc");
    deploy_req_free(&d);
    json_decref(body);
}

static void test_deploy_invalid_fields_table(void **state) {
    (void)state;
    static const struct {
        const char *body;
        const char *path_name;
        const char *msg_part; /* the message must name the problem */
    } t[] = {
        {"{\"code\":\"x\"}", NULL, "name is required"},
        {"{\"name\":\"a\"}", NULL, "code is required"},
        {"{\"name\":\"Hello\",\"code\":\"x\"}", NULL, "name must be"},
        {"{\"name\":\"-a\",\"code\":\"x\"}", NULL, "name must be"},
        {"{\"name\":\"\",\"code\":\"x\"}", NULL, "name must be"},
        {"{\"name\":7,\"code\":\"x\"}", NULL, "name must be"},
        {"{\"name\":\"a\",\"code\":\"x\"}", "b", "differs"},
        {"{\"code\":\"x\"}", "Bad_Name", "function name must match"},
        {"{\"name\":\"a\",\"code\":\"\"}", NULL, "code must be a non-empty string"},
        {"{\"name\":\"a\",\"code\":5}", NULL, "code must be a non-empty string"},
        {"{\"name\":\"a\",\"code\":\"x\",\"timeout_ms\":0}", NULL, "timeout_ms must be"},
        {"{\"name\":\"a\",\"code\":\"x\",\"timeout_ms\":300001}", NULL, "timeout_ms must be"},
        {"{\"name\":\"a\",\"code\":\"x\",\"timeout_ms\":1.5}", NULL, "timeout_ms must be"},
        {"{\"name\":\"a\",\"code\":\"x\",\"timeout_ms\":\"100\"}", NULL, "timeout_ms must be"},
        {"{\"name\":\"a\",\"code\":\"x\",\"memory_mb\":15}", NULL, "memory_mb must be"},
        {"{\"name\":\"a\",\"code\":\"x\",\"memory_mb\":2049}", NULL, "memory_mb must be"},
        {"{\"name\":\"a\",\"code\":\"x\",\"isolation\":\"hot\"}", NULL, "isolation must be"},
        {"{\"name\":\"a\",\"code\":\"x\",\"isolation\":null}", NULL, "isolation must be"},
        {"{\"name\":\"a\",\"code\":\"x\",\"env\":[]}", NULL, "env must be an object"},
        {"{\"name\":\"a\",\"code\":\"x\",\"env\":{\"K\":1}}", NULL, "env.K must be a string"},
        {"{\"name\":\"a\",\"code\":\"x\",\"env\":{\"\":\"v\"}}", NULL, "env keys"},
        {"{\"name\":\"a\",\"code\":\"x\",\"concurrency\":-1}", NULL, "concurrency must be"},
        {"{\"name\":\"a\",\"code\":\"x\",\"timeout\":5}", NULL, "unknown field \"timeout\""},
        {"{\"name\":\"a\\u0000b\",\"code\":\"x\"}", NULL, "name must be"},
        {"{\"name\":\"a\",\"code\":\"x\",\"isolation\":\"warm\\u0000\"}", NULL,
         "isolation must be"},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        deploy_req_t d;
        err_t e = {0};
        json_t *body;
        int rc = deploy_text(t[i].body, t[i].path_name, &d, &e, &body);
        if (rc != -1 || e.code != R3E_EINVAL || !strstr(e.msg, t[i].msg_part))
            fail_msg("case %zu (%s): rc %d code %d msg \"%s\", wanted \"%s\"", i, t[i].body, rc,
                     e.code, e.msg, t[i].msg_part);
        json_decref(body);
    }
}

static void test_deploy_size_limits(void **state) {
    (void)state;
    char *code = malloc(DEPLOY_MAX_CODE + 2);
    memset(code, 'x', DEPLOY_MAX_CODE + 1);
    code[DEPLOY_MAX_CODE + 1] = '\0';
    json_t *body = json_pack("{s:s,s:s}", "name", "big", "code", code);
    deploy_req_t d;
    err_t e;
    assert_int_equal(deploy_parse(body, NULL, &d, &e), -1);
    assert_non_null(strstr(e.msg, "code is too large"));
    json_decref(body);
    code[DEPLOY_MAX_CODE] = '\0'; /* exactly the limit is fine */
    body = json_pack("{s:s,s:s}", "name", "big", "code", code);
    assert_int_equal(deploy_parse(body, NULL, &d, &e), 0);
    deploy_req_free(&d);
    json_decref(body);
    code[DEPLOY_MAX_ENV] = '\0';
    body = json_pack("{s:s,s:s,s:{s:s}}", "name", "a", "code", "x", "env", "K", code);
    assert_int_equal(deploy_parse(body, NULL, &d, &e), -1);
    assert_non_null(strstr(e.msg, "env is too large"));
    json_decref(body);
    free(code);
}

static void test_deploy_rejects_non_objects(void **state) {
    (void)state;
    deploy_req_t d;
    err_t e;
    json_t *arr = json_array();
    assert_int_equal(deploy_parse(arr, NULL, &d, &e), -1);
    assert_string_equal(e.msg, "request body must be a JSON object");
    json_decref(arr);
}

/* ---- server settings ------------------------------------------------------------------ */

static void test_config_requires_dev_or_data(void **state) {
    (void)state;
    unsetenv("R3E_DATA");
    unsetenv("R3E_LISTEN");
    unsetenv("R3E_WORKERS");
    api_config_t c;
    err_t e;
    char *argv[] = {"server", NULL};
    assert_int_equal(api_config_parse(&c, 1, argv, &e), -1);
    assert_non_null(strstr(e.msg, "--dev"));
    assert_non_null(strstr(e.msg, "--data"));
}

static void test_config_dev_defaults_and_flags(void **state) {
    (void)state;
    api_config_t c;
    err_t e;
    char *a1[] = {"server", "--dev", NULL};
    assert_int_equal(api_config_parse(&c, 2, a1, &e), 0);
    assert_string_equal(c.data, "./r3e-data");
    assert_string_equal(c.host, "127.0.0.1");
    assert_int_equal(c.port, 8080);
    assert_int_equal(c.max_body, 6 * 1024 * 1024);
    char *a2[] = {"server", "--dev",  "--listen",        "127.0.0.1:0", "--workers", "3",
                  "--data", "/tmp/x", "--max-body=2048", "--port-file", "/tmp/port", NULL};
    assert_int_equal(api_config_parse(&c, 11, a2, &e), 0);
    assert_int_equal(c.port, 0);
    assert_int_equal(c.workers, 3);
    assert_string_equal(c.data, "/tmp/x");
    assert_int_equal(c.max_body, 2048);
    assert_string_equal(c.port_file, "/tmp/port");
}

static void test_config_flags_win_over_environment(void **state) {
    (void)state;
    setenv("R3E_DATA", "/env/data", 1);
    setenv("R3E_WORKERS", "5", 1);
    api_config_t c;
    err_t e;
    char *argv[] = {"server", "--workers", "2", NULL};
    assert_int_equal(api_config_parse(&c, 3, argv, &e), 0);
    assert_string_equal(c.data, "/env/data");
    assert_int_equal(c.workers, 2);
    setenv("R3E_WORKERS", "lots", 1);
    char *argv2[] = {"server", NULL};
    assert_int_equal(api_config_parse(&c, 1, argv2, &e), -1);
    assert_non_null(strstr(e.msg, "R3E_WORKERS"));
    unsetenv("R3E_DATA");
    unsetenv("R3E_WORKERS");
}

static void test_config_rejects_bad_values(void **state) {
    (void)state;
    api_config_t c;
    err_t e;
    char *a1[] = {"server", "--dev", "--listen", "nowhere", NULL};
    assert_int_equal(api_config_parse(&c, 4, a1, &e), -1);
    char *a2[] = {"server", "--dev", "--listen", "1.2.3.4:70000", NULL};
    assert_int_equal(api_config_parse(&c, 4, a2, &e), -1);
    char *a3[] = {"server", "--dev", "--bogus", "1", NULL};
    assert_int_equal(api_config_parse(&c, 4, a3, &e), -1);
    assert_non_null(strstr(e.msg, "unknown option --bogus"));
    char *a4[] = {"server", "--dev", "--workers", NULL};
    assert_int_equal(api_config_parse(&c, 3, a4, &e), -1);
    char *a5[] = {"server", "--dev", "--listen", "[::1]:9000", NULL};
    assert_int_equal(api_config_parse(&c, 4, a5, &e), 0);
    assert_string_equal(c.host, "::1");
    assert_int_equal(c.port, 9000);
}

/* ---- HTTP trigger ----------------------------------------------------------------------- */

static void test_trigger_event_shape(void **state) {
    (void)state;
    trigger_kv_t q[] = {{"a", "1"}, {"flag", NULL}, {"a", "2"}};
    trigger_kv_t h[] = {{"Content-Type", "application/json"}, {"X-A", "1"}, {"x-a", "2"}};
    size_t len;
    char *ev = trigger_event_json("POST", "/orders/42", q, 3, h, 3, "{\"qty\":3}", 9, &len);
    json_t *v = json_loads(ev, 0, NULL);
    assert_non_null(v);
    assert_string_equal(json_string_value(json_object_get(v, "method")), "POST");
    assert_string_equal(json_string_value(json_object_get(v, "path")), "/orders/42");
    json_t *qo = json_object_get(v, "query");
    assert_string_equal(json_string_value(json_object_get(qo, "a")), "2");
    assert_string_equal(json_string_value(json_object_get(qo, "flag")), "");
    json_t *ho = json_object_get(v, "headers");
    assert_string_equal(json_string_value(json_object_get(ho, "content-type")), "application/json");
    assert_string_equal(json_string_value(json_object_get(ho, "x-a")), "1, 2");
    assert_string_equal(json_string_value(json_object_get(v, "body")), "{\"qty\":3}");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(v, "json"), "qty")), 3);
    json_decref(v);
    free(ev);
}

static void test_trigger_event_empty_path_text_and_binary_bodies(void **state) {
    (void)state;
    size_t len;
    char *ev = trigger_event_json("GET", "", NULL, 0, NULL, 0, NULL, 0, &len);
    json_t *v = json_loads(ev, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(v, "path")), "/");
    assert_string_equal(json_string_value(json_object_get(v, "body")), "");
    assert_null(json_object_get(v, "json"));
    json_decref(v);
    free(ev);
    ev = trigger_event_json("POST", "/", NULL, 0, NULL, 0, "not json", 8, &len);
    v = json_loads(ev, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(v, "body")), "not json");
    assert_null(json_object_get(v, "json"));
    json_decref(v);
    free(ev);
    ev = trigger_event_json("POST", "/", NULL, 0, NULL, 0, "\xff\x00\x01", 3, &len);
    v = json_loads(ev, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(v, "body")), "/wAB");
    assert_true(json_is_true(json_object_get(v, "isBase64Encoded")));
    json_decref(v);
    free(ev);
}

static void test_trigger_response_shapes(void **state) {
    (void)state;
    trigger_resp_t t;
    const char *r1 = "{\"status\":201,\"headers\":{\"x-a\":\"b\"},\"body\":\"hi\"}";
    assert_int_equal(trigger_response(r1, strlen(r1), &t), 0);
    assert_int_equal(t.status, 201);
    assert_string_equal(t.body, "hi");
    assert_string_equal(t.content_type, "text/plain; charset=utf-8");
    assert_string_equal(json_string_value(json_object_get(t.headers, "x-a")), "b");
    trigger_resp_free(&t);
    const char *r2 = "{\"status\":200,\"body\":{\"ok\":true}}";
    assert_int_equal(trigger_response(r2, strlen(r2), &t), 0);
    assert_string_equal(t.body, "{\"ok\":true}");
    assert_string_equal(t.content_type, "application/json");
    trigger_resp_free(&t);
    const char *r3 = "{\"status\":\"not a number\",\"a\":1}"; /* not a response: as is */
    assert_int_equal(trigger_response(r3, strlen(r3), &t), 0);
    assert_int_equal(t.status, 200);
    assert_string_equal(t.body, r3);
    trigger_resp_free(&t);
    assert_int_equal(trigger_response("\"hello\"", 7, &t), 0);
    assert_string_equal(t.body, "\"hello\"");
    trigger_resp_free(&t);
    const char *r4 = "{\"status\":204}";
    assert_int_equal(trigger_response(r4, strlen(r4), &t), 0);
    assert_int_equal(t.status, 204);
    assert_int_equal(t.body_len, 0);
    trigger_resp_free(&t);
    const char *r5 = "{\"status\":101}"; /* 1xx: not a response, a plain value */
    assert_int_equal(trigger_response(r5, strlen(r5), &t), 0);
    assert_int_equal(t.status, 200);
    assert_string_equal(t.body, r5);
    trigger_resp_free(&t);
    const char *r6 = "{\"status\":304,\"body\":\"x\"}";
    assert_int_equal(trigger_response(r6, strlen(r6), &t), 0);
    assert_int_equal(t.status, 304);
    assert_int_equal(t.body_len, 0);
    trigger_resp_free(&t);
}

static void test_trigger_header_filter(void **state) {
    (void)state;
    assert_true(trigger_header_allowed("x-a", "b"));
    assert_true(trigger_header_allowed("Content-Type", "text/html"));
    assert_false(trigger_header_allowed("Content-Length", "5"));
    assert_false(trigger_header_allowed("transfer-encoding", "chunked"));
    assert_false(trigger_header_allowed("x-a", "b\r\nSet-Cookie: x"));
    assert_false(trigger_header_allowed("bad:name", "v"));
    assert_false(trigger_header_allowed("", "v"));
}

/* ---- log bus ------------------------------------------------------------------------------ */

static void test_logbus_fan_out_bounded_queue_and_close(void **state) {
    (void)state;
    logbus_t *b = logbus_new();
    assert_false(logbus_has_subscribers(b, "f"));
    logbus_sub_t *s = logbus_subscribe(b, "f", 2);
    logbus_sub_t *other = logbus_subscribe(b, "g", 2);
    assert_true(logbus_has_subscribers(b, "f"));
    logbus_publish(b, "f", "a\n", 2);
    logbus_publish(b, "f", "b\n", 2);
    logbus_publish(b, "f", "c\n", 2); /* queue full: dropped, never blocks */
    assert_int_equal(logbus_dropped(s), 1);
    char buf[16];
    assert_int_equal(logbus_read(s, buf, sizeof buf, 10), 4);
    assert_memory_equal(buf, "a\nb\n", 4);
    assert_int_equal(logbus_read(s, buf, sizeof buf, 10), 0); /* timeout */
    assert_int_equal(logbus_read(other, buf, sizeof buf, 10), 0);
    logbus_publish(b, "f", "long line\n", 10); /* split across small reads */
    assert_int_equal(logbus_read(s, buf, 4, 10), 4);
    assert_int_equal(logbus_read(s, buf + 4, 12, 10), 6);
    assert_memory_equal(buf, "long line\n", 10);
    logbus_close(b);
    assert_int_equal(logbus_read(s, buf, sizeof buf, 1000), -1);
    assert_null(logbus_subscribe(b, "f", 2));
    logbus_unsubscribe(s);
    logbus_unsubscribe(other);
    logbus_free(b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_body_append_grows_and_stops_at_the_cap),
        cmocka_unit_test(test_json_content_types),
        cmocka_unit_test(test_malformed_json_reports_line_and_column),
        cmocka_unit_test(test_json_object_versus_any_value),
        cmocka_unit_test(test_request_ids_are_echoed_only_when_safe),
        cmocka_unit_test(test_error_body_has_the_one_shape),
        cmocka_unit_test(test_query_int),
        cmocka_unit_test(test_deploy_defaults),
        cmocka_unit_test(test_deploy_all_fields),
        cmocka_unit_test(test_deploy_invalid_fields_table),
        cmocka_unit_test(test_deploy_size_limits),
        cmocka_unit_test(test_deploy_rejects_non_objects),
        cmocka_unit_test(test_config_requires_dev_or_data),
        cmocka_unit_test(test_config_dev_defaults_and_flags),
        cmocka_unit_test(test_config_flags_win_over_environment),
        cmocka_unit_test(test_config_rejects_bad_values),
        cmocka_unit_test(test_trigger_event_shape),
        cmocka_unit_test(test_trigger_event_empty_path_text_and_binary_bodies),
        cmocka_unit_test(test_trigger_response_shapes),
        cmocka_unit_test(test_trigger_header_filter),
        cmocka_unit_test(test_logbus_fan_out_bounded_queue_and_close),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
