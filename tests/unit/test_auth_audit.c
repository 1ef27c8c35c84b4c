/* The audit log against a real RocksDB store: entries persist with every field, list in
 * time order, page with a cursor, filter by time, and hostile strings are neutralised. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "store_fixture.h"

#include "auth/audit.h"
#include "core/util.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int setup(void **state) {
    return store_fixture_setup(state, "audit");
}

static int teardown(void **state) {
    return store_fixture_teardown(state);
}

static void record(fixture_t *fx, const char *action, char id[27]) {
    err_t err;
    auth_audit_event_t ev = {.who = "abcdefghijkl",
                             .ns = "team-a",
                             .action = action,
                             .target = "hello",
                             .source = "127.0.0.1:5555",
                             .result = "ok",
                             .status = 201,
                             .request_id = "req-1"};
    assert_int_equal(auth_audit_record(fx->s, &ev, id, &err), 0);
}

static void recorded_entry_has_every_field(void **state) {
    fixture_t *fx = *state;
    err_t err;
    char id[27];
    uint64_t before = util_wall_ms();
    record(fx, "POST /v1/functions", id);
    json_t *list;
    assert_int_equal(auth_audit_list(fx->s, 0, NULL, 0, &list, &err), 0);
    assert_int_equal(json_array_size(list), 1);
    json_t *e = json_array_get(list, 0);
    assert_string_equal(json_string_value(json_object_get(e, "id")), id);
    assert_string_equal(json_string_value(json_object_get(e, "who")), "abcdefghijkl");
    assert_string_equal(json_string_value(json_object_get(e, "ns")), "team-a");
    assert_string_equal(json_string_value(json_object_get(e, "action")), "POST /v1/functions");
    assert_string_equal(json_string_value(json_object_get(e, "target")), "hello");
    assert_string_equal(json_string_value(json_object_get(e, "source")), "127.0.0.1:5555");
    assert_string_equal(json_string_value(json_object_get(e, "result")), "ok");
    assert_int_equal(json_integer_value(json_object_get(e, "status")), 201);
    assert_string_equal(json_string_value(json_object_get(e, "request_id")), "req-1");
    assert_true((uint64_t)json_integer_value(json_object_get(e, "time_ms")) >= before);
    assert_non_null(strchr(json_string_value(json_object_get(e, "time")), 'T'));
    json_decref(list);
}

static void anonymous_failure_is_recorded(void **state) {
    fixture_t *fx = *state;
    err_t err;
    auth_audit_event_t ev = {.action = "GET /v1/functions",
                             .result = "unauthenticated",
                             .status = 401,
                             .source = "10.1.2.3:1"};
    assert_int_equal(auth_audit_record(fx->s, &ev, NULL, &err), 0);
    json_t *list;
    assert_int_equal(auth_audit_list(fx->s, 0, NULL, 0, &list, &err), 0);
    json_t *e = json_array_get(list, 0);
    assert_string_equal(json_string_value(json_object_get(e, "who")), "anonymous");
    assert_string_equal(json_string_value(json_object_get(e, "result")), "unauthenticated");
    assert_string_equal(json_string_value(json_object_get(e, "target")), "");
    json_decref(list);
}

static void missing_action_or_result_is_invalid(void **state) {
    fixture_t *fx = *state;
    err_t err;
    auth_audit_event_t ev = {.result = "ok"};
    assert_int_equal(auth_audit_record(fx->s, &ev, NULL, &err), -1);
    assert_int_equal(err.code, R3E_EINVAL);
    ev = (auth_audit_event_t){.action = "x"};
    assert_int_equal(auth_audit_record(fx->s, &ev, NULL, &err), -1);
    assert_int_equal(auth_audit_record(fx->s, NULL, NULL, &err), -1);
}

static void entries_list_in_time_order_and_page_with_a_cursor(void **state) {
    fixture_t *fx = *state;
    err_t err;
    char ids[5][27];
    for (int i = 0; i < 5; i++) {
        char action[16];
        snprintf(action, sizeof action, "act-%d", i);
        record(fx, action, ids[i]);
    }
    json_t *page;
    assert_int_equal(auth_audit_list(fx->s, 0, NULL, 2, &page, &err), 0);
    assert_int_equal(json_array_size(page), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(page, 0), "action")),
                        "act-0");
    char cursor[27];
    snprintf(cursor, sizeof cursor, "%s",
             json_string_value(json_object_get(json_array_get(page, 1), "id")));
    json_decref(page);
    assert_int_equal(auth_audit_list(fx->s, 0, cursor, 10, &page, &err), 0);
    assert_int_equal(json_array_size(page), 3);
    assert_string_equal(json_string_value(json_object_get(json_array_get(page, 0), "id")), ids[2]);
    assert_string_equal(json_string_value(json_object_get(json_array_get(page, 2), "id")), ids[4]);
    json_decref(page);
}

static void since_filters_by_time(void **state) {
    fixture_t *fx = *state;
    err_t err;
    char a[27], b[27];
    record(fx, "old", a);
    struct timespec ts = {0, 5 * 1000000};
    nanosleep(&ts, NULL);
    uint64_t mid = util_wall_ms();
    nanosleep(&ts, NULL);
    record(fx, "new", b);
    json_t *list;
    assert_int_equal(auth_audit_list(fx->s, mid, NULL, 0, &list, &err), 0);
    assert_int_equal(json_array_size(list), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(list, 0), "id")), b);
    json_decref(list);
    assert_int_equal(auth_audit_list(fx->s, util_wall_ms() + 60000, NULL, 0, &list, &err), 0);
    assert_int_equal(json_array_size(list), 0);
    json_decref(list);
    /* a cursor older than since does not bring back older entries */
    assert_int_equal(auth_audit_list(fx->s, mid, a, 0, &list, &err), 0);
    assert_int_equal(json_array_size(list), 1);
    json_decref(list);
}

static void hostile_strings_are_neutralised_and_bounded(void **state) {
    fixture_t *fx = *state;
    err_t err;
    char big[5000];
    memset(big, 'A', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    auth_audit_event_t ev = {
        .action = "GET /fn/x\n{\"forged\":1}\xff\xfe", .target = big, .result = "ok"};
    assert_int_equal(auth_audit_record(fx->s, &ev, NULL, &err), 0);
    json_t *list;
    assert_int_equal(auth_audit_list(fx->s, 0, NULL, 0, &list, &err), 0);
    json_t *e = json_array_get(list, 0);
    const char *action = json_string_value(json_object_get(e, "action"));
    assert_null(strchr(action, '\n'));
    assert_string_equal(action, "GET /fn/x?{\"forged\":1}??");
    assert_int_equal(strlen(json_string_value(json_object_get(e, "target"))), 256);
    json_decref(list);
}

#define DAY_MS 86400000ULL

static void record_at(fixture_t *fx, const char *action, uint64_t ms) {
    err_t err;
    auth_audit_event_t ev = {.action = action, .result = "ok", .status = 200, .time_ms = ms};
    assert_int_equal(auth_audit_record(fx->s, &ev, NULL, &err), 0);
}

static json_t *all_entries(fixture_t *fx) {
    json_t *list;
    err_t err;
    assert_int_equal(auth_audit_list(fx->s, 0, NULL, 1000, &list, &err), 0);
    return list;
}

static void prune_deletes_entries_older_than_the_cutoff_and_keeps_recent_ones(void **state) {
    fixture_t *fx = *state;
    err_t err;
    uint64_t now = util_wall_ms();
    record_at(fx, "a-100-days", now - 100 * DAY_MS);
    record_at(fx, "b-91-days", now - 91 * DAY_MS);
    record_at(fx, "c-89-days", now - 89 * DAY_MS);
    record_at(fx, "d-now", 0);
    json_t *list = all_entries(fx);
    assert_int_equal(json_array_size(list), 4);
    /* the injected time is the entry's time */
    assert_int_equal(json_integer_value(json_object_get(json_array_get(list, 0), "time_ms")),
                     (json_int_t)(now - 100 * DAY_MS));
    json_decref(list);
    size_t n = 0;
    assert_int_equal(auth_audit_prune(fx->s, now - 90 * DAY_MS, 1000, &n, &err), 0);
    assert_int_equal(n, 2);
    list = all_entries(fx);
    assert_int_equal(json_array_size(list), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(list, 0), "action")),
                        "c-89-days");
    assert_string_equal(json_string_value(json_object_get(json_array_get(list, 1), "action")),
                        "d-now");
    json_decref(list);
    assert_int_equal(auth_audit_prune(fx->s, now - 90 * DAY_MS, 1000, &n, &err), 0);
    assert_int_equal(n, 0);
}

static void prune_is_bounded_per_call(void **state) {
    fixture_t *fx = *state;
    err_t err;
    uint64_t old = util_wall_ms() - 400 * DAY_MS;
    for (int i = 0; i < 1200; i++) /* more than one store batch */
        record_at(fx, "old", old + (uint64_t)i);
    size_t n = 0;
    assert_int_equal(auth_audit_prune(fx->s, util_wall_ms(), 1100, &n, &err), 0);
    assert_int_equal(n, 1100);
    assert_int_equal(auth_audit_prune(fx->s, util_wall_ms(), 1100, &n, &err), 0);
    assert_int_equal(n, 100);
    json_t *list = all_entries(fx);
    assert_int_equal(json_array_size(list), 0);
    json_decref(list);
}

static uint64_t clock_in_ten_days(void) {
    return util_wall_ms() + 10 * DAY_MS;
}

/* The retention thread with a clock ten days ahead and 7 days' retention: entries made now
 * are 10 days old to it and go; one made "in 5 days" is 5 days old and stays. */
static void pruner_thread_applies_the_retention_with_an_injected_clock(void **state) {
    fixture_t *fx = *state;
    err_t err;
    uint64_t now = util_wall_ms();
    record_at(fx, "now", 0);
    record_at(fx, "in-5-days", now + 5 * DAY_MS);
    assert_null(auth_audit_pruner_start(fx->s, 0, NULL, &err)); /* 0 days: caller's off */
    auth_audit_pruner_t *p = auth_audit_pruner_start(fx->s, 7, clock_in_ten_days, &err);
    assert_non_null(p);
    size_t left = 0;
    for (int i = 0; i < 500; i++) { /* bounded: the first round runs at start */
        json_t *list = all_entries(fx);
        left = json_array_size(list);
        json_decref(list);
        if (left == 1) break;
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    auth_audit_pruner_stop(p);
    assert_int_equal(left, 1);
    json_t *list = all_entries(fx);
    assert_string_equal(json_string_value(json_object_get(json_array_get(list, 0), "action")),
                        "in-5-days");
    json_decref(list);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(recorded_entry_has_every_field, setup, teardown),
        cmocka_unit_test_setup_teardown(anonymous_failure_is_recorded, setup, teardown),
        cmocka_unit_test_setup_teardown(missing_action_or_result_is_invalid, setup, teardown),
        cmocka_unit_test_setup_teardown(entries_list_in_time_order_and_page_with_a_cursor, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(since_filters_by_time, setup, teardown),
        cmocka_unit_test_setup_teardown(hostile_strings_are_neutralised_and_bounded, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            prune_deletes_entries_older_than_the_cutoff_and_keeps_recent_ones, setup, teardown),
        cmocka_unit_test_setup_teardown(prune_is_bounded_per_call, setup, teardown),
        cmocka_unit_test_setup_teardown(pruner_thread_applies_the_retention_with_an_injected_clock,
                                        setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
