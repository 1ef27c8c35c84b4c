/* libFuzzer target for the live stream's untrusted inputs: client messages (wsmsg_parse)
 * and what publishers hand the hub (records, events). Nothing may crash or leak; every
 * answer and every message the hub queues must be a JSON object of the documented shape.
 * Input: the first byte picks the mode (0 client message, 1 execution record, 2 event);
 * the rest is the text. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/livehub.h"
#include "api/wsmsg.h"
#include "core/util.h"

static json_t *must_object(const char *text, size_t len) {
    json_t *o = json_loadb(text, len, JSON_ALLOW_NUL, NULL);
    if (!json_is_object(o)) abort();
    return o;
}

static void fuzz_client_message(const char *text, size_t len) {
    wsmsg_t m;
    err_t e;
    size_t n;
    if (wsmsg_parse(text, len, &m, &e) < 0) {
        if (e.code != R3E_EINVAL) abort();
        char *t = wsmsg_error(err_code_name(e.code), e.msg, m.id_json, &n);
        json_decref(must_object(t, n));
        free(t);
        return;
    }
    const wsmsg_filter_t *f = &m.filter;
    if (f->topic != WSMSG_EXECUTIONS && f->topic != WSMSG_EVENTS) abort();
    if (f->function[0] && !util_valid_name(f->function)) abort();
    if (m.whole_topic && m.op != WSMSG_UNSUBSCRIBE) abort();
    if (m.op == WSMSG_UNSUBSCRIBE && !wsmsg_unsubscribe_matches(&m, f)) abort();
    if (!wsmsg_filter_same(f, f)) abort();
    char *t = wsmsg_ack(&m, 1, &n);
    json_t *ack = must_object(t, n);
    if (!json_is_true(json_object_get(ack, "ok"))) abort();
    json_decref(ack);
    free(t);
    /* a filter matches what it names ('*' matches itself as a prefix too) */
    if (f->topic == WSMSG_EXECUTIONS && f->function[0] && !wsmsg_match_execution(f, f->function))
        abort();
    if (f->topic == WSMSG_EVENTS &&
        !wsmsg_match_event(f, f->type[0] ? f->type : NULL, f->source[0] ? f->source : NULL))
        abort();
}

/* Publishes text as a record or an event to a subscriber of everything and checks what
 * it got. */
static void fuzz_publish(int mode, const char *text, size_t len) {
    err_t e;
    livehub_conn_t *c = livehub_attach("default", &e);
    if (!c) abort();
    wsmsg_filter_t f = {.topic = mode == 1 ? WSMSG_EXECUTIONS : WSMSG_EVENTS, .logs = true};
    if (livehub_subscribe(c, &f, &e) < 0) abort();
    if (mode == 1)
        livehub_publish_execution("default", text, len);
    else
        livehub_publish_event("default", text, len);
    for (livehub_msg_t *m; (m = livehub_conn_pop(c)) != NULL;) {
        json_t *o = must_object(m->data, m->len);
        const char *type = json_string_value(json_object_get(o, "type"));
        if (!type) abort();
        if (mode == 1 && strcmp(type, "log") != 0 && strcmp(type, "execution") != 0) abort();
        if (mode == 2 && strcmp(type, "event") != 0) abort();
        json_decref(o);
        livehub_msg_unref(m);
    }
    livehub_detach(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static int ready;
    if (!ready) {
        livehub_config_t cfg = {.max_conns = 4,
                                .max_queue_msgs = 100000,
                                .max_queue_bytes = 1u << 30,
                                .max_subs = 4,
                                .ping_interval_ms = 1000};
        err_t e;
        if (livehub_init(&cfg, &e) < 0) abort();
        ready = 1;
    }
    if (size < 1) return 0;
    int mode = data[0] % 3;
    const char *text = (const char *)data + 1;
    if (mode == 0)
        fuzz_client_message(text, size - 1);
    else
        fuzz_publish(mode, text, size - 1);
    return 0;
}
