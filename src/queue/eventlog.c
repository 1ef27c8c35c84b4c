/* The event log on the store's metadata records (layout in eventlog.h). Keys put the
 * namespace first so that one namespace's events are one contiguous range; "/" separates
 * (namespaces are [a-z0-9-], and the range end "ns0" is the first key after "ns/..."). */
#include "queue/eventlog.h"

#include "core/util.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EV_LOG "evlog"
#define EV_DEDUPE "evdedupe"
#define EV_AGE "evage"
#define EV_EXEC "evexec"
#define EV_LINKS_MAX 1000 /* executions listed per event and deleted per retained event */

static const char *ev_ns(const char *ns) {
    return (ns && *ns) ? ns : "default";
}

static int ev_check_id(const char *what, const char *id, err_t *err) {
    if (!id || !*id || strlen(id) > 128 || strchr(id, '/'))
        return err_set(err, R3E_EINVAL, "invalid %s", what);
    return 0;
}

void eventlog_ulid_time(uint64_t ms, char out[11]) {
    static const char b32[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    for (int i = 9; i >= 0; i--) {
        out[i] = b32[ms & 31];
        ms >>= 5;
    }
    out[10] = '\0';
}

/* The dedupe key: hashing bounds its length whatever the source and id are. */
static char *ev_dedupe_key(const char *ns, const char *source, const char *ce_id) {
    size_t sl = strlen(source), il = strlen(ce_id);
    char *buf = malloc(sl + il + 1);
    char *key = malloc(STORE_NAME_MAX + 1 + 65);
    if (!buf || !key) {
        free(buf);
        free(key);
        return NULL;
    }
    memcpy(buf, source, sl);
    buf[sl] = '\0';
    memcpy(buf + sl + 1, ce_id, il);
    char hex[65];
    util_sha256_hex(buf, sl + 1 + il, hex);
    free(buf);
    snprintf(key, STORE_NAME_MAX + 1 + 65, "%s/%s", ns, hex);
    return key;
}

int eventlog_find_dup(store_t *s, const eventlog_event_t *ev, char event_id[EVENTLOG_ID_LEN + 1],
                      err_t *err) {
    if (!ev->source || !ev->ce_id) return err_set(err, R3E_EINVAL, "event needs source and id");
    char *key = ev_dedupe_key(ev_ns(ev->ns), ev->source, ev->ce_id);
    if (!key) return err_set(err, R3E_EINTERNAL, "out of memory");
    char *val = NULL;
    size_t len = 0;
    err_t e;
    int rc = store_meta_get(s, EV_DEDUPE, key, &val, &len, &e);
    free(key);
    if (rc != 0) {
        if (e.code == R3E_ENOTFOUND) return 0;
        if (err) *err = e;
        return -1;
    }
    snprintf(event_id, EVENTLOG_ID_LEN + 1, "%s", val);
    free(val);
    return 1;
}

void eventlog_batch_free(eventlog_batch_t *b) {
    for (size_t i = 0; i < sizeof b->owned / sizeof b->owned[0]; i++)
        free(b->owned[i]);
    memset(b, 0, sizeof *b);
}

int eventlog_prepare(const eventlog_event_t *ev, const char *event_id, uint64_t received_ms,
                     eventlog_batch_t *b, err_t *err) {
    memset(b, 0, sizeof *b);
    if (!ev->source || !ev->ce_id || !ev->json)
        return err_set(err, R3E_EINVAL, "event needs source, id and a body");
    const char *ns = ev_ns(ev->ns);
    json_error_t je;
    json_t *body = json_loads(ev->json, 0, &je);
    if (!json_is_object(body)) {
        json_decref(body);
        return err_set(err, R3E_EINVAL, "event is not a JSON object: %s", je.text);
    }
    json_t *rec = json_pack("{s:s,s:s,s:s,s:s,s:s?,s:I,s:o}", "id", event_id, "ns", ns, "source",
                            ev->source, "ce_id", ev->ce_id, "type", ev->type, "received_ms",
                            (json_int_t)received_ms, "event", body);
    char *enc = rec ? json_dumps(rec, JSON_COMPACT) : NULL;
    json_decref(rec);
    b->owned[0] = enc;
    b->owned[1] = malloc(STORE_NAME_MAX + 1 + EVENTLOG_ID_LEN + 1);
    b->owned[2] = ev_dedupe_key(ns, ev->source, ev->ce_id);
    b->owned[3] = malloc(EVENTLOG_ID_LEN + 1 + STORE_NAME_MAX + 1);
    b->owned[4] = strdup(event_id);
    for (int i = 0; i < 5; i++)
        if (!b->owned[i]) {
            eventlog_batch_free(b);
            return err_set(err, R3E_EINTERNAL, "out of memory");
        }
    snprintf(b->owned[1], STORE_NAME_MAX + 1 + EVENTLOG_ID_LEN + 1, "%s/%s", ns, event_id);
    snprintf(b->owned[3], EVENTLOG_ID_LEN + 1 + STORE_NAME_MAX + 1, "%s/%s", event_id, ns);
    b->ops[0] = (store_meta_op_t){EV_LOG, b->owned[1], enc, strlen(enc)};
    b->ops[1] = (store_meta_op_t){EV_DEDUPE, b->owned[2], b->owned[4], strlen(event_id)};
    b->ops[2] = (store_meta_op_t){EV_AGE, b->owned[3], "", 0};
    return 0;
}

int eventlog_prepare_link(const char *ns, const char *event_id, const char *exec_id,
                          eventlog_batch_t *b, err_t *err) {
    memset(b, 0, sizeof *b);
    if (ev_check_id("event id", event_id, err) != 0) return -1;
    if (ev_check_id("execution id", exec_id, err) != 0) return -1;
    size_t n = STORE_NAME_MAX + strlen(event_id) + strlen(exec_id) + 3;
    if (!(b->owned[0] = malloc(n))) return err_set(err, R3E_EINTERNAL, "out of memory");
    snprintf(b->owned[0], n, "%s/%s/%s", ev_ns(ns), event_id, exec_id);
    b->ops[0] = (store_meta_op_t){EV_EXEC, b->owned[0], "", 0};
    return 0;
}

int eventlog_add_execution(store_t *s, const char *ns, const char *event_id, const char *exec_id,
                           err_t *err) {
    eventlog_batch_t b;
    if (eventlog_prepare_link(ns, event_id, exec_id, &b, err) != 0) return -1;
    int rc = store_meta_write(s, b.ops, 1, err);
    eventlog_batch_free(&b);
    return rc;
}

/* Execution ids linked to one event, ascending (ULIDs: oldest first). */
static int ev_links(store_t *s, const char *ns, const char *event_id, char ***keys, size_t *n,
                    size_t *prefix_len, err_t *err) {
    char from[256], to[256];
    snprintf(from, sizeof from, "%s/%s/", ns, event_id);
    snprintf(to, sizeof to, "%s/%s0", ns, event_id);
    *prefix_len = strlen(from);
    return store_meta_range(s, EV_EXEC, from, to, false, EV_LINKS_MAX, keys, NULL, n, err);
}

int eventlog_get(store_t *s, const char *ns, const char *event_id, char **record_json, err_t *err) {
    ns = ev_ns(ns);
    if (ev_check_id("event id", event_id, err) != 0) return -1;
    char key[256];
    snprintf(key, sizeof key, "%s/%s", ns, event_id);
    char *val;
    size_t len;
    if (store_meta_get(s, EV_LOG, key, &val, &len, err) != 0) {
        if (err && err->code == R3E_ENOTFOUND)
            err_set(err, R3E_ENOTFOUND, "event %s not found", event_id);
        return -1;
    }
    json_t *rec = json_loadb(val, len, 0, NULL);
    free(val);
    if (!json_is_object(rec)) {
        json_decref(rec);
        return err_set(err, R3E_EIO, "corrupt event record %s", event_id);
    }
    char **links;
    size_t n, pl;
    if (ev_links(s, ns, event_id, &links, &n, &pl, err) != 0) {
        json_decref(rec);
        return -1;
    }
    json_t *ex = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(ex, json_string(links[i] + pl));
    store_strv_free(links, n);
    json_object_set_new(rec, "executions", ex);
    *record_json = json_dumps(rec, JSON_COMPACT);
    json_decref(rec);
    if (!*record_json) return err_set(err, R3E_EINTERNAL, "out of memory");
    return 0;
}

/* Does a stored record pass the filter? */
static bool ev_match(const char *rec, const eventlog_filter_t *f) {
    if (!f->source && !f->type) return true;
    json_t *o = json_loads(rec, 0, NULL);
    const char *src = json_string_value(json_object_get(o, "source"));
    const char *typ = json_string_value(json_object_get(o, "type"));
    bool ok = (!f->source || (src && strcmp(src, f->source) == 0)) &&
              (!f->type || (typ && strcmp(typ, f->type) == 0));
    json_decref(o);
    return ok;
}

int eventlog_list(store_t *s, const char *ns, const eventlog_filter_t *f, char ***records,
                  size_t *n, char next[EVENTLOG_ID_LEN + 1], err_t *err) {
    ns = ev_ns(ns);
    eventlog_filter_t none = {0};
    if (!f) f = &none;
    if (f->before && ev_check_id("cursor", f->before, err) != 0) return -1;
    size_t limit = f->limit ? f->limit : STORE_LIST_DEFAULT;
    char from[128], to[256];
    snprintf(from, sizeof from, "%s/", ns);
    if (f->since_ms) {
        char t[11];
        eventlog_ulid_time(f->since_ms, t);
        snprintf(from, sizeof from, "%s/%s", ns, t); /* the range stops at `since` */
    }
    if (f->before)
        snprintf(to, sizeof to, "%s/%s", ns, f->before);
    else
        snprintf(to, sizeof to, "%s0", ns);
    char **out = NULL;
    size_t cnt = 0, scanned = 0;
    next[0] = '\0';
    int rc = 0;
    while (cnt < limit) {
        size_t page = EVENTLOG_SCAN_BUDGET - scanned;
        if (page == 0) break;
        if (page > 256) page = 256;
        char **keys, **vals;
        size_t got;
        if ((rc = store_meta_range(s, EV_LOG, from, to, true, page, &keys, &vals, &got, err)))
            break;
        size_t i = 0;
        for (; i < got && cnt < limit; i++) {
            scanned++;
            snprintf(next, EVENTLOG_ID_LEN + 1, "%s", keys[i] + strlen(ns) + 1);
            if (!ev_match(vals[i], f)) continue;
            char **grown = realloc(out, (cnt + 1) * sizeof *out);
            if (!grown) {
                rc = err_set(err, R3E_EINTERNAL, "out of memory");
                break;
            }
            out = grown;
            out[cnt++] = vals[i];
            vals[i] = NULL;
        }
        bool exhausted = got < page && i == got;
        if (got) snprintf(to, sizeof to, "%s", keys[i - 1]); /* the next page ends here */
        store_strv_free(keys, got);
        store_strv_free(vals, got);
        if (rc) break;
        if (exhausted) {
            next[0] = '\0';
            break;
        }
    }
    if (rc) {
        store_strv_free(out, cnt);
        return -1;
    }
    *records = out;
    *n = cnt;
    return 0;
}

/* Appends one delete to a growing op list whose keys are owned by `keys`. */
static int ev_del(store_meta_op_t **ops, char ***keys, size_t *n, size_t *cap, const char *kind,
                  char *key, err_t *err) {
    if (!key) return err_set(err, R3E_EINTERNAL, "out of memory");
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 64;
        store_meta_op_t *o = realloc(*ops, nc * sizeof **ops);
        if (o) *ops = o;
        char **k = realloc(*keys, nc * sizeof **keys);
        if (k) *keys = k;
        if (!o || !k) {
            free(key);
            return err_set(err, R3E_EINTERNAL, "out of memory");
        }
        *cap = nc;
    }
    (*keys)[*n] = key;
    (*ops)[*n] = (store_meta_op_t){kind, key, NULL, 0};
    (*n)++;
    return 0;
}

/* The deletes for one event found in the age index as "event_id/ns". */
static int ev_retain_one(store_t *s, const char *age_key, store_meta_op_t **ops, char ***keys,
                         size_t *n, size_t *cap, err_t *err) {
    const char *slash = strchr(age_key, '/');
    if (!slash) return ev_del(ops, keys, n, cap, EV_AGE, strdup(age_key), err);
    char id[EVENTLOG_ID_LEN + 1], ns[STORE_NAME_MAX];
    snprintf(id, sizeof id, "%.*s", (int)(slash - age_key), age_key);
    snprintf(ns, sizeof ns, "%s", slash + 1);
    char key[256];
    snprintf(key, sizeof key, "%s/%s", ns, id);
    char *val = NULL;
    size_t len;
    err_t e;
    if (store_meta_get(s, EV_LOG, key, &val, &len, &e) == 0) {
        json_t *o = json_loadb(val, len, 0, NULL);
        const char *src = json_string_value(json_object_get(o, "source"));
        const char *cid = json_string_value(json_object_get(o, "ce_id"));
        int rc = 0;
        if (src && cid) rc = ev_del(ops, keys, n, cap, EV_DEDUPE, ev_dedupe_key(ns, src, cid), err);
        json_decref(o);
        free(val);
        if (rc) return -1;
    } else if (e.code != R3E_ENOTFOUND) {
        if (err) *err = e;
        return -1;
    }
    char **links;
    size_t nl, pl;
    if (ev_links(s, ns, id, &links, &nl, &pl, err) != 0) return -1;
    int rc = 0;
    for (size_t i = 0; i < nl && rc == 0; i++) {
        rc = ev_del(ops, keys, n, cap, EV_EXEC, links[i], err);
        links[i] = NULL;
    }
    store_strv_free(links, nl);
    if (rc) return -1;
    if (ev_del(ops, keys, n, cap, EV_LOG, strdup(key), err)) return -1;
    return ev_del(ops, keys, n, cap, EV_AGE, strdup(age_key), err);
}

int eventlog_retain(store_t *s, uint64_t cutoff_ms, size_t max, size_t *deleted, err_t *err) {
    if (max == 0) max = 1000;
    *deleted = 0;
    char to[11];
    eventlog_ulid_time(cutoff_ms, to);
    char **ages;
    size_t na;
    if (store_meta_range(s, EV_AGE, NULL, to, false, max, &ages, NULL, &na, err) != 0) return -1;
    store_meta_op_t *ops = NULL;
    char **keys = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    for (size_t i = 0; i < na && rc == 0; i++)
        rc = ev_retain_one(s, ages[i], &ops, &keys, &n, &cap, err);
    if (rc == 0) rc = store_meta_write(s, ops, n, err);
    if (rc == 0) *deleted = na;
    store_strv_free(ages, na);
    store_strv_free(keys, n);
    free(ops);
    return rc;
}
