/* The live stream without sockets: client message parsing (strict, with errors fit to
 * show), subscription matching, the handshake key (RFC 6455's own example), and the hub's
 * fan-out, batching, bounded queues and shutdown. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "api/livehub.h"
#include "api/wsmsg.h"

static int parse(const char *text, wsmsg_t *m, err_t *e) {
    return wsmsg_parse(text, strlen(text), m, e);
}

static void test_subscribe_executions_with_function_and_logs(void **state) {
    (void)state;
    wsmsg_t m;
    err_t e;
    assert_int_equal(
        parse("{\"subscribe\":\"executions\",\"function\":\"hello\",\"logs\":true,\"id\":7}", &m,
              &e),
        0);
    assert_int_equal(m.op, WSMSG_SUBSCRIBE);
    assert_int_equal(m.filter.topic, WSMSG_EXECUTIONS);
    assert_string_equal(m.filter.function, "hello");
    assert_true(m.filter.logs);
    assert_string_equal(m.id_json, "7");
    assert_true(wsmsg_match_execution(&m.filter, "hello"));
    assert_false(wsmsg_match_execution(&m.filter, "other"));
}

static void test_subscribe_without_function_matches_every_function(void **state) {
    (void)state;
    wsmsg_t m;
    err_t e;
    assert_int_equal(parse("{\"subscribe\":\"executions\"}", &m, &e), 0);
    assert_false(m.filter.logs);
    assert_true(wsmsg_match_execution(&m.filter, "a"));
    assert_true(wsmsg_match_execution(&m.filter, "b-2"));
    assert_false(wsmsg_match_event(&m.filter, "t", "s"));
}

static void test_event_filters_match_exactly_or_by_prefix(void **state) {
    (void)state;
    wsmsg_t m;
    err_t e;
    assert_int_equal(parse("{\"subscribe\":\"events\",\"type\":\"com.example.*\","
                           "\"source\":\"/orders\"}",
                           &m, &e),
                     0);
    assert_true(wsmsg_match_event(&m.filter, "com.example.created", "/orders"));
    assert_true(wsmsg_match_event(&m.filter, "com.example.", "/orders"));
    assert_false(wsmsg_match_event(&m.filter, "com.other", "/orders"));
    assert_false(wsmsg_match_event(&m.filter, "com.example.created", "/orders/1"));
    assert_false(wsmsg_match_event(&m.filter, NULL, "/orders"));
    assert_int_equal(parse("{\"subscribe\":\"events\"}", &m, &e), 0);
    assert_true(wsmsg_match_event(&m.filter, NULL, NULL));
    assert_false(wsmsg_match_execution(&m.filter, "x"));
}

static void expect_error(const char *text, const char *needle) {
    wsmsg_t m;
    err_t e;
    assert_int_equal(parse(text, &m, &e), -1);
    assert_int_equal(e.code, R3E_EINVAL);
    if (!strstr(e.msg, needle))
        fail_msg("\"%s\": message \"%s\" lacks \"%s\"", text, e.msg, needle);
}

static void test_bad_messages_are_errors_that_say_why(void **state) {
    (void)state;
    expect_error("{bad", "malformed JSON");
    expect_error("[1,2]", "object");
    expect_error("{}", "expected \"subscribe\" or \"unsubscribe\"");
    expect_error("{\"subscribe\":\"blocks\"}", "unknown subscription \"blocks\"");
    expect_error("{\"subscribe\":5}", "unknown subscription");
    expect_error("{\"subscribe\":\"events\",\"unsubscribe\":\"events\"}", "not both");
    expect_error("{\"subscribe\":\"executions\",\"function\":\"Bad Name\"}", "function name");
    expect_error("{\"subscribe\":\"executions\",\"logs\":1}", "boolean");
    expect_error("{\"subscribe\":\"executions\",\"type\":\"x\"}", "unknown field \"type\"");
    expect_error("{\"subscribe\":\"events\",\"function\":\"x\"}", "unknown field \"function\"");
    expect_error("{\"subscribe\":\"events\",\"type\":\"\"}", "empty");
    expect_error("{\"subscribe\":\"events\",\"id\":[1]}", "\"id\"");
    char big[400] = "{\"subscribe\":\"events\",\"type\":\"";
    size_t n = strlen(big);
    memset(big + n, 'a', 300);
    strcpy(big + n + 300, "\"}");
    expect_error(big, "longer than");
}

static void test_errors_keep_the_id_when_it_was_readable(void **state) {
    (void)state;
    wsmsg_t m;
    err_t e;
    assert_int_equal(parse("{\"subscribe\":\"blocks\",\"id\":\"req-1\"}", &m, &e), -1);
    assert_string_equal(m.id_json, "\"req-1\"");
    size_t len;
    char *t = wsmsg_error(err_code_name(e.code), e.msg, m.id_json, &len);
    json_t *o = json_loads(t, 0, NULL);
    assert_non_null(o);
    assert_string_equal(json_string_value(json_object_get(o, "id")), "req-1");
    assert_string_equal(json_string_value(json_object_get(json_object_get(o, "error"), "code")),
                        "invalid_argument");
    assert_int_equal(len, strlen(t));
    json_decref(o);
    free(t);
}

static void test_ack_spells_out_the_subscription(void **state) {
    (void)state;
    wsmsg_t m;
    err_t e;
    assert_int_equal(parse("{\"subscribe\":\"executions\",\"function\":\"f\"}", &m, &e), 0);
    size_t len;
    char *t = wsmsg_ack(&m, 0, &len);
    assert_string_equal(t, "{\"ok\":true,\"subscribed\":{\"topic\":\"executions\",\"function\":"
                           "\"f\",\"logs\":false}}");
    free(t);
    assert_int_equal(parse("{\"unsubscribe\":\"events\"}", &m, &e), 0);
    assert_true(m.whole_topic);
    t = wsmsg_ack(&m, 2, &len);
    assert_string_equal(t, "{\"ok\":true,\"unsubscribed\":{\"topic\":\"events\"},\"removed\":2}");
    free(t);
}

static void test_handshake_key_matches_rfc6455_example(void **state) {
    (void)state;
    char out[29];
    assert_true(wsmsg_key_ok("dGhlIHNhbXBsZSBub25jZQ=="));
    assert_int_equal(wsmsg_accept_key("dGhlIHNhbXBsZSBub25jZQ==", out), 0);
    assert_string_equal(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    assert_false(wsmsg_key_ok("short"));
    assert_false(wsmsg_key_ok(NULL));
    assert_false(wsmsg_key_ok("dGhlIHNhbXBsZSBub25jZQ!!"));
    assert_false(wsmsg_key_ok("d?hlIHNhbXBsZSBub25jZQ=="));
}

/* ---- the hub -------------------------------------------------------------------------- */

static const char *REC =
    "{\"execution_id\":\"01ABC\",\"function\":\"hello\",\"version\":1,\"status\":\"ok\","
    "\"result\":{\"big\":\"yes\"},\"logs\":[{\"t\":1,\"level\":\"info\",\"msg\":\"one\"},"
    "{\"t\":2,\"level\":\"warn\",\"msg\":\"two\"}],\"duration_us\":5,\"cold\":false,"
    "\"started_at\":\"2026-01-02T03:04:05.006Z\",\"request_id\":\"r\"}";

static int hub_setup(void **state) {
    (void)state;
    livehub_config_t cfg = {.max_conns = 4,
                            .max_queue_msgs = 8,
                            .max_queue_bytes = 4096,
                            .max_subs = 3,
                            .ping_interval_ms = 1000};
    err_t e;
    return livehub_init(&cfg, &e);
}

static int hub_teardown(void **state) {
    (void)state;
    livehub_free();
    return 0;
}

static livehub_conn_t *attach_sub(const char *msg) {
    err_t e;
    livehub_conn_t *c = livehub_attach("default", &e);
    assert_non_null(c);
    if (msg) {
        wsmsg_t m;
        assert_int_equal(wsmsg_parse(msg, strlen(msg), &m, &e), 0);
        assert_int_equal(livehub_subscribe(c, &m.filter, &e), 0);
    }
    return c;
}

/* Pops one message and returns it parsed (or NULL when the queue is empty). */
static json_t *pop_json(livehub_conn_t *c) {
    livehub_msg_t *m = livehub_conn_pop(c);
    if (!m) return NULL;
    json_t *o = json_loadb(m->data, m->len, 0, NULL);
    livehub_msg_unref(m);
    assert_non_null(o);
    return o;
}

static bool readable(int fd) {
    struct pollfd p = {.fd = fd, .events = POLLIN};
    return poll(&p, 1, 0) == 1;
}

static void test_execution_goes_to_matching_subscribers_only(void **state) {
    (void)state;
    livehub_conn_t *all = attach_sub("{\"subscribe\":\"executions\"}");
    livehub_conn_t *mine = attach_sub("{\"subscribe\":\"executions\",\"function\":\"hello\"}");
    livehub_conn_t *other = attach_sub("{\"subscribe\":\"executions\",\"function\":\"other\"}");
    livehub_conn_t *none = attach_sub(NULL);
    livehub_publish_execution("default", REC, strlen(REC));
    livehub_publish_execution("elsewhere", REC, strlen(REC)); /* another namespace */
    for (int i = 0; i < 2; i++) {
        livehub_conn_t *c = i ? mine : all;
        assert_true(readable(livehub_conn_fd(c)));
        json_t *o = pop_json(c);
        assert_string_equal(json_string_value(json_object_get(o, "type")), "execution");
        json_t *x = json_object_get(o, "execution");
        assert_string_equal(json_string_value(json_object_get(x, "execution_id")), "01ABC");
        assert_string_equal(json_string_value(json_object_get(x, "status")), "ok");
        assert_null(json_object_get(x, "result")); /* a summary: no result, no logs */
        assert_null(json_object_get(x, "logs"));
        json_decref(o);
        assert_null(livehub_conn_pop(c));
    }
    assert_null(livehub_conn_pop(other));
    assert_false(readable(livehub_conn_fd(other)));
    assert_null(livehub_conn_pop(none));
    livehub_detach(all);
    livehub_detach(mine);
    livehub_detach(other);
    livehub_detach(none);
}

static void test_logs_come_before_their_execution_when_asked(void **state) {
    (void)state;
    livehub_conn_t *c = attach_sub("{\"subscribe\":\"executions\",\"logs\":true}");
    livehub_publish_execution("default", REC, strlen(REC));
    json_t *o = pop_json(c);
    assert_string_equal(json_string_value(json_object_get(o, "type")), "log");
    json_t *l = json_object_get(o, "log");
    assert_string_equal(json_string_value(json_object_get(l, "msg")), "one");
    assert_string_equal(json_string_value(json_object_get(l, "execution_id")), "01ABC");
    assert_string_equal(json_string_value(json_object_get(l, "function")), "hello");
    /* t is ms since the start: started_at + 1 ms */
    assert_string_equal(json_string_value(json_object_get(l, "time")), "2026-01-02T03:04:05.007Z");
    json_decref(o);
    o = pop_json(c);
    assert_string_equal(json_string_value(json_object_get(json_object_get(o, "log"), "level")),
                        "warn");
    json_decref(o);
    o = pop_json(c);
    assert_string_equal(json_string_value(json_object_get(o, "type")), "execution");
    json_decref(o);
    livehub_detach(c);
}

static void test_events_are_filtered_by_type_and_source(void **state) {
    (void)state;
    livehub_conn_t *c = attach_sub("{\"subscribe\":\"events\",\"type\":\"order.*\"}");
    livehub_conn_t *ex = attach_sub("{\"subscribe\":\"executions\"}");
    const char *ev1 = "{\"id\":\"1\",\"type\":\"order.created\",\"source\":\"/shop\"}";
    const char *ev2 = "{\"id\":\"2\",\"type\":\"user.created\",\"source\":\"/shop\"}";
    livehub_publish_event("default", ev1, strlen(ev1));
    livehub_publish_event("default", ev2, strlen(ev2));
    livehub_publish_event("default", "[1]", 3); /* not an object: ignored */
    json_t *o = pop_json(c);
    assert_string_equal(json_string_value(json_object_get(o, "type")), "event");
    assert_string_equal(json_string_value(json_object_get(json_object_get(o, "event"), "id")), "1");
    json_decref(o);
    assert_null(livehub_conn_pop(c));
    assert_null(livehub_conn_pop(ex));
    livehub_detach(c);
    livehub_detach(ex);
}

static void test_resubscribing_updates_and_unsubscribe_removes(void **state) {
    (void)state;
    livehub_conn_t *c = attach_sub("{\"subscribe\":\"executions\",\"function\":\"hello\"}");
    err_t e;
    wsmsg_t m;
    const char *again = "{\"subscribe\":\"executions\",\"function\":\"hello\",\"logs\":true}";
    assert_int_equal(wsmsg_parse(again, strlen(again), &m, &e), 0);
    assert_int_equal(livehub_subscribe(c, &m.filter, &e), 0); /* same filter: updated */
    livehub_publish_execution("default", REC, strlen(REC));
    int n = 0;
    for (json_t *o; (o = pop_json(c)) != NULL; n++)
        json_decref(o);
    assert_int_equal(n, 3); /* two lines + the execution, once */
    const char *s2 = "{\"subscribe\":\"executions\",\"function\":\"b\"}";
    const char *s3 = "{\"subscribe\":\"executions\",\"function\":\"c\"}";
    const char *s4 = "{\"subscribe\":\"executions\",\"function\":\"d\"}";
    assert_int_equal(wsmsg_parse(s2, strlen(s2), &m, &e), 0);
    assert_int_equal(livehub_subscribe(c, &m.filter, &e), 0);
    assert_int_equal(wsmsg_parse(s3, strlen(s3), &m, &e), 0);
    assert_int_equal(livehub_subscribe(c, &m.filter, &e), 0);
    assert_int_equal(wsmsg_parse(s4, strlen(s4), &m, &e), 0);
    assert_int_equal(livehub_subscribe(c, &m.filter, &e), -1); /* max_subs = 3 */
    assert_int_equal(e.code, R3E_ELIMIT);
    const char *u1 = "{\"unsubscribe\":\"executions\",\"function\":\"b\"}";
    assert_int_equal(wsmsg_parse(u1, strlen(u1), &m, &e), 0);
    assert_int_equal(livehub_unsubscribe(c, &m), 1);
    const char *u2 = "{\"unsubscribe\":\"executions\"}";
    assert_int_equal(wsmsg_parse(u2, strlen(u2), &m, &e), 0);
    assert_int_equal(livehub_unsubscribe(c, &m), 2);
    livehub_publish_execution("default", REC, strlen(REC));
    assert_null(livehub_conn_pop(c));
    livehub_detach(c);
}

static void test_a_full_queue_drops_the_consumer_without_blocking(void **state) {
    (void)state;
    livehub_conn_t *slow = attach_sub("{\"subscribe\":\"executions\"}");
    livehub_conn_t *fast = attach_sub("{\"subscribe\":\"executions\"}");
    for (int i = 0; i < 20; i++) { /* queue bound: 8 messages */
        livehub_publish_execution("default", REC, strlen(REC));
        livehub_msg_t *m = livehub_conn_pop(fast);
        assert_non_null(m);
        livehub_msg_unref(m);
    }
    assert_int_equal(livehub_conn_state(slow), LIVEHUB_OVERFLOW);
    assert_int_equal(livehub_conn_state(fast), LIVEHUB_OPEN);
    assert_null(livehub_conn_pop(slow)); /* its queue was discarded */
    size_t msgs = 0, bytes = 0;
    livehub_conn_overflow_info(slow, &msgs, &bytes);
    assert_int_equal(msgs, 9);
    assert_true(bytes > 0);
    char *metrics = livehub_metrics_text();
    assert_non_null(strstr(metrics, "r3e_ws_dropped_total{reason=\"slow_consumer\"} 1\n"));
    assert_non_null(strstr(metrics, "r3e_ws_connections 2\n"));
    free(metrics);
    livehub_detach(slow);
    livehub_detach(fast);
}

static void test_connection_limit_and_shutdown(void **state) {
    (void)state;
    livehub_conn_t *c[4];
    err_t e;
    for (int i = 0; i < 4; i++)
        c[i] = attach_sub(NULL);
    assert_int_equal(livehub_count(), 4);
    assert_null(livehub_attach("default", &e));
    assert_int_equal(e.code, R3E_ELIMIT);
    livehub_shutdown();
    for (int i = 0; i < 4; i++) {
        assert_true(readable(livehub_conn_fd(c[i])));
        livehub_conn_clear_wake(c[i]);
        assert_false(readable(livehub_conn_fd(c[i])));
        assert_int_equal(livehub_conn_state(c[i]), LIVEHUB_CLOSING);
        livehub_detach(c[i]);
    }
    livehub_detach(NULL);
    assert_null(livehub_attach("default", &e));
    assert_int_equal(e.code, R3E_EUNAVAIL);
}

static void test_publishing_without_a_hub_does_nothing(void **state) {
    (void)state;
    livehub_free(); /* hub_setup ran: free it, then publish into the void */
    livehub_publish_execution("default", REC, strlen(REC));
    livehub_publish_event("default", "{}", 2);
    err_t e;
    assert_null(livehub_attach("default", &e));
    assert_int_equal(e.code, R3E_EUNAVAIL);
    char *t = livehub_metrics_text();
    assert_string_equal(t, "");
    free(t);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_subscribe_executions_with_function_and_logs),
        cmocka_unit_test(test_subscribe_without_function_matches_every_function),
        cmocka_unit_test(test_event_filters_match_exactly_or_by_prefix),
        cmocka_unit_test(test_bad_messages_are_errors_that_say_why),
        cmocka_unit_test(test_errors_keep_the_id_when_it_was_readable),
        cmocka_unit_test(test_ack_spells_out_the_subscription),
        cmocka_unit_test(test_handshake_key_matches_rfc6455_example),
        cmocka_unit_test_setup_teardown(test_execution_goes_to_matching_subscribers_only, hub_setup,
                                        hub_teardown),
        cmocka_unit_test_setup_teardown(test_logs_come_before_their_execution_when_asked, hub_setup,
                                        hub_teardown),
        cmocka_unit_test_setup_teardown(test_events_are_filtered_by_type_and_source, hub_setup,
                                        hub_teardown),
        cmocka_unit_test_setup_teardown(test_resubscribing_updates_and_unsubscribe_removes,
                                        hub_setup, hub_teardown),
        cmocka_unit_test_setup_teardown(test_a_full_queue_drops_the_consumer_without_blocking,
                                        hub_setup, hub_teardown),
        cmocka_unit_test_setup_teardown(test_connection_limit_and_shutdown, hub_setup,
                                        hub_teardown),
        cmocka_unit_test_setup_teardown(test_publishing_without_a_hub_does_nothing, hub_setup,
                                        hub_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
