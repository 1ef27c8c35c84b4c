/* libFuzzer target: the CloudEvents parser in all three modes must never crash or leak, and
 * every event it accepts must be normalized (required attributes present, re-normalizing is
 * a no-op that still succeeds).
 * Input: the first byte picks the mode (0 structured, 1 batch, 2 binary, 3 dispatch by
 * Content-Type); for binary/dispatch, "name: value" lines up to an empty line are headers
 * and the rest is the body. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "events/cloudevent.h"

static void check_event(json_t *ev) {
    static const char *const required[] = {"specversion", "id", "source", "type", "time"};
    for (size_t i = 0; i < 5; i++)
        if (!json_is_string(json_object_get(ev, required[i]))) abort();
    if (json_object_get(ev, "data") && json_object_get(ev, "data_base64")) abort();
    json_t *copy = json_deep_copy(ev);
    err_t err;
    if (ce_normalize(copy, &err) != 0 || !json_equal(copy, ev)) abort();
    json_decref(copy);
}

/* Splits header lines into name/value pairs (in place in `text`). */
static size_t split_headers(char *text, size_t len, ce_header_t *h, size_t cap, size_t *body_off) {
    size_t n = 0, pos = 0;
    while (pos < len) {
        char *line = text + pos;
        char *nl = memchr(line, '\n', len - pos);
        size_t ll = nl ? (size_t)(nl - line) : len - pos;
        pos += ll + (nl ? 1 : 0);
        if (ll == 0) break;
        line[ll] = '\0';
        char *colon = strchr(line, ':');
        if (!colon || n == cap) continue;
        *colon = '\0';
        char *v = colon + 1;
        while (*v == ' ')
            v++;
        h[n++] = (ce_header_t){line, v};
    }
    *body_off = pos;
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    int mode = data[0] & 3;
    char *text = malloc(size);
    memcpy(text, data + 1, size - 1);
    size_t len = size - 1;
    err_t err;
    if (mode == 0) {
        ce_event_t ev;
        if (ce_parse_structured(text, len, &ev, &err) == 0) check_event(ev.obj);
        ce_event_free(&ev);
    } else if (mode == 1) {
        ce_batch_t b;
        if (ce_parse_batch(text, len, &b, &err) == 0)
            for (size_t i = 0; i < json_array_size(b.events); i++)
                check_event(json_array_get(b.events, i));
        ce_batch_free(&b);
    } else {
        /* headers need NUL-terminated strings: copy into a terminated buffer */
        char *buf = malloc(len + 1);
        memcpy(buf, text, len);
        buf[len] = '\0';
        ce_header_t h[32];
        size_t body_off;
        size_t nh = split_headers(buf, len, h, 32, &body_off);
        ce_batch_t b = {NULL};
        int rc;
        if (mode == 2) {
            ce_event_t ev;
            rc = ce_parse_binary(h, nh, text + body_off, len - body_off, &ev, &err);
            if (rc == 0) b.events = json_pack("[o]", ev.obj);
        } else {
            rc = ce_parse_http(h, nh, text + body_off, len - body_off, &b, &err);
        }
        if (rc == 0)
            for (size_t i = 0; i < json_array_size(b.events); i++)
                check_event(json_array_get(b.events, i));
        ce_batch_free(&b);
        free(buf);
    }
    free(text);
    return 0;
}
