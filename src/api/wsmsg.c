/* Client messages of the live stream: strict parsing into filters, matching, and the
 * acks / errors the server answers with. Pure: no I/O, no global state. */
#include "api/wsmsg.h"

#include "api/http.h"
#include "core/util.h"

#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *wsmsg_topic_name(wsmsg_topic_t t) {
    return t == WSMSG_EVENTS ? "events" : "executions";
}

/* The id is echoed, so it is kept small and re-encoded by jansson (never spliced raw). */
static int wsmsg_take_id(json_t *v, wsmsg_t *out, err_t *err) {
    if (!json_is_string(v) && !json_is_integer(v))
        return err_set(err, R3E_EINVAL, "\"id\" must be a string or an integer");
    if (json_is_string(v) && json_string_length(v) > 128)
        return err_set(err, R3E_EINVAL, "\"id\" is longer than 128 characters");
    char *t = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!t || strlen(t) >= sizeof out->id_json) {
        free(t);
        return err_set(err, R3E_EINVAL, "\"id\" is too long once encoded");
    }
    memcpy(out->id_json, t, strlen(t) + 1);
    free(t);
    return 0;
}

/* A type / source filter: a non-empty string without NUL that fits the buffer. */
static int wsmsg_take_filter(const char *key, json_t *v, char *dst, size_t cap, err_t *err) {
    if (!json_is_string(v)) return err_set(err, R3E_EINVAL, "\"%s\" must be a string", key);
    size_t n = json_string_length(v);
    const char *s = json_string_value(v);
    if (n == 0) return err_set(err, R3E_EINVAL, "\"%s\" must not be empty", key);
    if (n >= cap) return err_set(err, R3E_EINVAL, "\"%s\" is longer than %zu bytes", key, cap - 1);
    if (memchr(s, '\0', n)) return err_set(err, R3E_EINVAL, "\"%s\" contains U+0000", key);
    memcpy(dst, s, n + 1);
    return 0;
}

static int wsmsg_field(const char *key, json_t *v, wsmsg_t *out, bool *filtered, err_t *err) {
    wsmsg_filter_t *f = &out->filter;
    if (strcmp(key, "id") == 0 || strcmp(key, "subscribe") == 0 || strcmp(key, "unsubscribe") == 0)
        return 0; /* handled by the caller */
    if (f->topic == WSMSG_EXECUTIONS && strcmp(key, "function") == 0) {
        const char *s = json_string_value(v);
        if (!s || !util_valid_name(s) || json_string_length(v) != strlen(s))
            return err_set(err, R3E_EINVAL,
                           "\"function\" must be a function name ([a-z0-9][a-z0-9-]{0,62})");
        snprintf(f->function, sizeof f->function, "%s", s);
        *filtered = true;
        return 0;
    }
    if (f->topic == WSMSG_EXECUTIONS && strcmp(key, "logs") == 0) {
        if (!json_is_boolean(v)) return err_set(err, R3E_EINVAL, "\"logs\" must be a boolean");
        f->logs = json_is_true(v);
        return 0;
    }
    if (f->topic == WSMSG_EVENTS && strcmp(key, "type") == 0) {
        *filtered = true;
        return wsmsg_take_filter(key, v, f->type, sizeof f->type, err);
    }
    if (f->topic == WSMSG_EVENTS && strcmp(key, "source") == 0) {
        *filtered = true;
        return wsmsg_take_filter(key, v, f->source, sizeof f->source, err);
    }
    return err_set(err, R3E_EINVAL, "unknown field \"%.64s\" for %s", key,
                   wsmsg_topic_name(f->topic));
}

int wsmsg_parse(const char *text, size_t len, wsmsg_t *out, err_t *err) {
    memset(out, 0, sizeof *out);
    json_t *root = http_json_parse(text, len, false, NULL, NULL, err);
    if (!root) return -1;
    int rc = -1;
    json_t *id = json_object_get(root, "id");
    if (id && wsmsg_take_id(id, out, err) < 0) goto out;
    json_t *sub = json_object_get(root, "subscribe"), *unsub = json_object_get(root, "unsubscribe");
    if (sub && unsub) {
        err_set(err, R3E_EINVAL, "a message is either \"subscribe\" or \"unsubscribe\", not both");
        goto out;
    }
    if (!sub && !unsub) {
        err_set(err, R3E_EINVAL, "unknown message: expected \"subscribe\" or \"unsubscribe\"");
        goto out;
    }
    out->op = sub ? WSMSG_SUBSCRIBE : WSMSG_UNSUBSCRIBE;
    const char *topic = json_string_value(sub ? sub : unsub);
    if (topic && strcmp(topic, "executions") == 0 && json_string_length(sub ? sub : unsub) == 10)
        out->filter.topic = WSMSG_EXECUTIONS;
    else if (topic && strcmp(topic, "events") == 0 && json_string_length(sub ? sub : unsub) == 6)
        out->filter.topic = WSMSG_EVENTS;
    else {
        err_set(err, R3E_EINVAL,
                "unknown subscription %s%.64s%s (expected \"executions\" or "
                "\"events\")",
                topic ? "\"" : "", topic ? topic : "(not a string)", topic ? "\"" : "");
        goto out;
    }
    bool filtered = false;
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v) {
        if (wsmsg_field(key, v, out, &filtered, err) < 0) goto out;
    }
    out->whole_topic = out->op == WSMSG_UNSUBSCRIBE && !filtered;
    rc = 0;
out:
    json_decref(root);
    return rc;
}

bool wsmsg_filter_same(const wsmsg_filter_t *a, const wsmsg_filter_t *b) {
    if (a->topic != b->topic) return false;
    if (a->topic == WSMSG_EXECUTIONS) return strcmp(a->function, b->function) == 0;
    return strcmp(a->type, b->type) == 0 && strcmp(a->source, b->source) == 0;
}

bool wsmsg_unsubscribe_matches(const wsmsg_t *m, const wsmsg_filter_t *sub) {
    if (m->filter.topic != sub->topic) return false;
    return m->whole_topic || wsmsg_filter_same(&m->filter, sub);
}

/* "" matches anything; "abc*" matches by prefix; anything else exactly. */
static bool wsmsg_match_value(const char *filter, const char *value) {
    if (!filter[0]) return true;
    if (!value) return false;
    size_t n = strlen(filter);
    if (filter[n - 1] == '*') return strncmp(filter, value, n - 1) == 0;
    return strcmp(filter, value) == 0;
}

bool wsmsg_match_execution(const wsmsg_filter_t *f, const char *function) {
    return f->topic == WSMSG_EXECUTIONS && (!f->function[0] || strcmp(f->function, function) == 0);
}

bool wsmsg_match_event(const wsmsg_filter_t *f, const char *type, const char *source) {
    return f->topic == WSMSG_EVENTS && wsmsg_match_value(f->type, type) &&
           wsmsg_match_value(f->source, source);
}

/* The filter as the client would write it, with defaults spelled out. New reference. */
static json_t *wsmsg_filter_json(const wsmsg_t *m) {
    const wsmsg_filter_t *f = &m->filter;
    json_t *o = json_pack("{s:s}", "topic", wsmsg_topic_name(f->topic));
    if (!o) return NULL;
    if (f->topic == WSMSG_EXECUTIONS) {
        if (f->function[0]) json_object_set_new(o, "function", json_string(f->function));
        if (m->op == WSMSG_SUBSCRIBE) json_object_set_new(o, "logs", json_boolean(f->logs));
    } else {
        if (f->type[0]) json_object_set_new(o, "type", json_string(f->type));
        if (f->source[0]) json_object_set_new(o, "source", json_string(f->source));
    }
    return o;
}

static char *wsmsg_dump(json_t *o, const char *id_json, size_t *len) {
    if (o && id_json && id_json[0]) {
        json_t *id = json_loads(id_json, JSON_DECODE_ANY, NULL);
        if (id) json_object_set_new(o, "id", id);
    }
    char *t = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    *len = t ? strlen(t) : 0;
    return t;
}

char *wsmsg_ack(const wsmsg_t *m, int removed, size_t *len) {
    json_t *o = json_object();
    json_t *f = wsmsg_filter_json(m);
    if (!o || !f) {
        json_decref(o);
        json_decref(f);
        *len = 0;
        return NULL;
    }
    json_object_set_new(o, "ok", json_true());
    if (m->op == WSMSG_SUBSCRIBE) {
        json_object_set_new(o, "subscribed", f);
    } else {
        json_object_set_new(o, "unsubscribed", f);
        json_object_set_new(o, "removed", json_integer(removed));
    }
    return wsmsg_dump(o, m->id_json, len);
}

char *wsmsg_error(const char *code, const char *message, const char *id_json, size_t *len) {
    json_t *m = json_string(message);
    if (!m) m = json_string("(message not UTF-8)");
    return wsmsg_dump(json_pack("{s:{s:s,s:o}}", "error", "code", code, "message", m), id_json,
                      len);
}

bool wsmsg_key_ok(const char *key) {
    if (!key || strlen(key) != 24) return false;
    unsigned char raw[24];
    /* 24 base64 chars decode to 18 bytes, the last two being the "==" padding */
    if (key[22] != '=' || key[23] != '=') return false;
    int n = EVP_DecodeBlock(raw, (const unsigned char *)key, 24);
    return n == 18;
}

int wsmsg_accept_key(const char *key, char out[29]) {
    static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    char buf[128];
    int n = snprintf(buf, sizeof buf, "%s%s", key, guid);
    if (n < 0 || (size_t)n >= sizeof buf) return -1;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (EVP_Digest(buf, (size_t)n, md, &mdlen, EVP_sha1(), NULL) != 1 || mdlen != 20) return -1;
    EVP_EncodeBlock((unsigned char *)out, md, 20); /* 20 bytes -> 28 chars + NUL */
    return 0;
}
