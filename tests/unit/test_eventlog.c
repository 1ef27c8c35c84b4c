/* The event log and the store calls it stands on (store_meta_write, store_meta_range),
 * against a real RocksDB store in a fresh directory per test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tmpdir.h"
#include "core/util.h"
#include "queue/eventlog.h"
#include "queue/queue.h"
#include "store/store.h"

#include <ftw.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
    char dir[64];
    store_t *s;
    queue_t *q;
} fixture_t;

static int setup(void **state) {
    fixture_t *fx = calloc(1, sizeof *fx);
    if (tmpdir_make(fx->dir, sizeof fx->dir, "evlog") < 0) return -1;
    err_t err;
    fx->s = store_open(fx->dir, &err);
    fx->q = fx->s ? queue_open_store(fx->s, NULL, &err) : NULL;
    if (!fx->q) return -1;
    *state = fx;
    return 0;
}

static int teardown(void **state) {
    fixture_t *fx = *state;
    queue_close(fx->q);
    store_close(fx->s);
    tmpdir_remove(fx->dir);
    free(fx);
    return 0;
}

static void sleep_ms(int ms) {
    struct timespec ts = {0, ms * 1000000L};
    nanosleep(&ts, NULL);
}

/* Appends one event (no jobs) and returns its id in out. */
static void post(fixture_t *fx, const char *ns, const char *source, const char *id,
                 const char *type, char out[27]) {
    char json[256];
    snprintf(json, sizeof json, "{\"id\":\"%s\",\"source\":\"%s\",\"type\":\"%s\"}", id, source,
             type);
    eventlog_event_t ev = {.ns = ns, .source = source, .ce_id = id, .type = type, .json = json};
    err_t err;
    bool dup = true;
    assert_int_equal(queue_enqueue(fx->q, &ev, NULL, 0, out, &dup, &err), 0);
    assert_false(dup);
}

static void test_meta_write_is_all_or_nothing(void **state) {
    fixture_t *fx = *state;
    err_t err;
    store_meta_op_t ops[3] = {{"k1", "a", "1", 1}, {"k2", "b", "2", 1}, {"k1", "c", "3", 1}};
    assert_int_equal(store_meta_write(fx->s, ops, 3, &err), 0);
    store_meta_op_t del[2] = {{"k1", "a", NULL, 0}, {"k2", "b", "22", 2}};
    assert_int_equal(store_meta_write(fx->s, del, 2, &err), 0);
    char *v;
    size_t len;
    assert_int_equal(store_meta_get(fx->s, "k1", "a", &v, &len, &err), -1);
    assert_int_equal(store_meta_get(fx->s, "k2", "b", &v, &len, &err), 0);
    assert_string_equal(v, "22");
    free(v);
    /* one invalid op rejects the whole write */
    store_meta_op_t bad[2] = {{"k1", "z", "1", 1}, {"Bad Kind", "x", "1", 1}};
    assert_int_equal(store_meta_write(fx->s, bad, 2, &err), -1);
    assert_int_equal(err.code, R3E_EINVAL);
    assert_int_equal(store_meta_get(fx->s, "k1", "z", &v, &len, &err), -1);
}

static void test_meta_range_bounds_and_direction(void **state) {
    fixture_t *fx = *state;
    err_t err;
    const char *keys[] = {"a", "b", "b/1", "b/2", "c"};
    for (int i = 0; i < 5; i++)
        assert_int_equal(store_meta_put(fx->s, "r", keys[i], keys[i], strlen(keys[i]), &err), 0);
    assert_int_equal(store_meta_put(fx->s, "rr", "a", "x", 1, &err), 0); /* another kind */
    char **k, **v;
    size_t n;
    assert_int_equal(store_meta_range(fx->s, "r", NULL, NULL, false, 0, &k, &v, &n, &err), 0);
    assert_int_equal(n, 5);
    assert_string_equal(k[0], "a");
    assert_string_equal(v[4], "c");
    store_strv_free(k, n);
    store_strv_free(v, n);
    assert_int_equal(store_meta_range(fx->s, "r", "b/", "b0", true, 10, &k, NULL, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_string_equal(k[0], "b/2");
    assert_string_equal(k[1], "b/1");
    store_strv_free(k, n);
    assert_int_equal(store_meta_range(fx->s, "r", "b\x01", NULL, false, 2, &k, NULL, &n, &err), 0);
    assert_int_equal(n, 2); /* exclusive start after "b" */
    assert_string_equal(k[0], "b/1");
    store_strv_free(k, n);
    assert_int_equal(store_meta_range(fx->s, "r", "c", "a", false, 10, &k, NULL, &n, &err), 0);
    assert_int_equal(n, 0);
    store_strv_free(k, n);
}

static void test_event_get_returns_record_with_its_executions(void **state) {
    fixture_t *fx = *state;
    char id[27];
    post(fx, NULL, "src", "e1", "t.a", id);
    err_t err;
    char *rec;
    assert_int_equal(eventlog_get(fx->s, NULL, id, &rec, &err), 0);
    json_t *o = json_loads(rec, 0, NULL);
    free(rec);
    assert_string_equal(json_string_value(json_object_get(o, "id")), id);
    assert_string_equal(json_string_value(json_object_get(o, "source")), "src");
    assert_string_equal(json_string_value(json_object_get(o, "ce_id")), "e1");
    assert_string_equal(json_string_value(json_object_get(json_object_get(o, "event"), "type")),
                        "t.a");
    assert_int_equal(json_array_size(json_object_get(o, "executions")), 0);
    json_decref(o);
    assert_int_equal(eventlog_add_execution(fx->s, NULL, id, "01EXECA", &err), 0);
    assert_int_equal(eventlog_add_execution(fx->s, NULL, id, "01EXECA", &err), 0); /* idempotent */
    assert_int_equal(eventlog_add_execution(fx->s, NULL, id, "01EXECB", &err), 0);
    assert_int_equal(eventlog_get(fx->s, NULL, id, &rec, &err), 0);
    assert_non_null(strstr(rec, "\"executions\":[\"01EXECA\",\"01EXECB\"]"));
    free(rec);
    assert_int_equal(eventlog_get(fx->s, "other", id, &rec, &err), -1); /* per namespace */
    assert_int_equal(err.code, R3E_ENOTFOUND);
}

static void test_list_is_newest_first_with_filters_and_cursor(void **state) {
    fixture_t *fx = *state;
    char ids[6][27];
    post(fx, NULL, "s1", "1", "t.a", ids[0]);
    post(fx, NULL, "s2", "2", "t.b", ids[1]);
    post(fx, NULL, "s1", "3", "t.b", ids[2]);
    sleep_ms(3);
    uint64_t since = util_wall_ms();
    sleep_ms(2);
    post(fx, NULL, "s1", "4", "t.a", ids[3]);
    post(fx, NULL, "s2", "5", "t.a", ids[4]);
    post(fx, "ns2", "s1", "6", "t.a", ids[5]);
    err_t err;
    char **recs, next[27];
    size_t n;
    eventlog_filter_t f = {.limit = 2};
    assert_int_equal(eventlog_list(fx->s, NULL, &f, &recs, &n, next, &err), 0);
    assert_int_equal(n, 2);
    assert_non_null(strstr(recs[0], ids[4]));
    assert_non_null(strstr(recs[1], ids[3]));
    assert_string_equal(next, ids[3]);
    store_strv_free(recs, n);
    f.before = next;
    f.limit = 10;
    char next2[27];
    assert_int_equal(eventlog_list(fx->s, NULL, &f, &recs, &n, next2, &err), 0);
    assert_int_equal(n, 3);
    assert_non_null(strstr(recs[0], ids[2]));
    assert_non_null(strstr(recs[2], ids[0]));
    assert_string_equal(next2, ""); /* exhausted */
    store_strv_free(recs, n);

    eventlog_filter_t by_source = {.source = "s1"};
    assert_int_equal(eventlog_list(fx->s, NULL, &by_source, &recs, &n, next, &err), 0);
    assert_int_equal(n, 3); /* 4, 3, 1; not ns2's */
    assert_non_null(strstr(recs[0], ids[3]));
    store_strv_free(recs, n);
    eventlog_filter_t by_both = {.source = "s1", .type = "t.a"};
    assert_int_equal(eventlog_list(fx->s, NULL, &by_both, &recs, &n, next, &err), 0);
    assert_int_equal(n, 2);
    store_strv_free(recs, n);
    eventlog_filter_t by_time = {.since_ms = since};
    assert_int_equal(eventlog_list(fx->s, NULL, &by_time, &recs, &n, next, &err), 0);
    assert_int_equal(n, 2);
    store_strv_free(recs, n);
    assert_int_equal(eventlog_list(fx->s, "ns2", NULL, &recs, &n, next, &err), 0);
    assert_int_equal(n, 1);
    store_strv_free(recs, n);
}

static void test_retention_deletes_old_events_in_bounded_batches(void **state) {
    fixture_t *fx = *state;
    char ids[8][27];
    for (int i = 0; i < 5; i++) {
        char ce[8];
        snprintf(ce, sizeof ce, "old%d", i);
        post(fx, i % 2 ? "ns2" : NULL, "s", ce, "t", ids[i]);
    }
    err_t err;
    assert_int_equal(eventlog_add_execution(fx->s, NULL, ids[0], "01EXEC", &err), 0);
    sleep_ms(3);
    uint64_t cutoff = util_wall_ms();
    sleep_ms(2);
    for (int i = 5; i < 8; i++) {
        char ce[8];
        snprintf(ce, sizeof ce, "new%d", i);
        post(fx, NULL, "s", ce, "t", ids[i]);
    }
    size_t deleted, total = 0;
    do {
        assert_int_equal(eventlog_retain(fx->s, cutoff, 2, &deleted, &err), 0);
        assert_true(deleted <= 2);
        total += deleted;
    } while (deleted == 2);
    assert_int_equal(total, 5);
    char *rec;
    assert_int_equal(eventlog_get(fx->s, NULL, ids[0], &rec, &err), -1);
    assert_int_equal(eventlog_get(fx->s, NULL, ids[7], &rec, &err), 0);
    free(rec);
    char **keys;
    size_t n;
    assert_int_equal(
        store_meta_range(fx->s, "evexec", NULL, NULL, false, 10, &keys, NULL, &n, &err), 0);
    assert_int_equal(n, 0); /* links went with their event */
    store_strv_free(keys, n);
    /* the dedupe marker went too: the old (source, id) is a new event now */
    char again[27];
    post(fx, NULL, "s", "old0", "t", again);
    assert_string_not_equal(again, ids[0]);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_meta_write_is_all_or_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_meta_range_bounds_and_direction, setup, teardown),
        cmocka_unit_test_setup_teardown(test_event_get_returns_record_with_its_executions, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_list_is_newest_first_with_filters_and_cursor, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_retention_deletes_old_events_in_bounded_batches, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
