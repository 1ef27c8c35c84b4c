/* Audit log entries in the store's metadata family (kind "audit", ULID keys). */
#include "auth/audit.h"

#include "core/util.h"

#include "obs/log.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AUDIT_KIND "audit"
#define AUDIT_FIELD_MAX 256
#define AUDIT_LIST_MAX 1000
#define AUDIT_PRUNE_BATCH 500
#define AUDIT_PRUNE_EVERY_MS 60000

/* Printable ASCII only, bounded: the stored text is always valid UTF-8 for jansson and
 * carries no newlines or escapes a reader of the raw log could be fooled by. */
static json_t *audit_str(const char *s) {
    char buf[AUDIT_FIELD_MAX + 1];
    size_t n = 0;
    for (; s && s[n] && n < AUDIT_FIELD_MAX; n++) {
        unsigned char c = (unsigned char)s[n];
        buf[n] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    buf[n] = '\0';
    return json_string(buf);
}

/* The first 10 ULID characters (48-bit ms timestamp, Crockford base32): every ULID made at
 * or after ms sorts after this prefix padded with '0's. */
static void audit_ulid_floor(uint64_t ms, char out[27]) {
    static const char b32[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    for (int i = 9; i >= 0; i--) {
        out[i] = b32[ms & 31];
        ms >>= 5;
    }
    memset(out + 10, '0', 16);
    out[26] = '\0';
}

int auth_audit_record(store_t *s, const auth_audit_event_t *ev, char id_out[27], err_t *err) {
    if (!ev || !ev->action || !*ev->action || !ev->result || !*ev->result)
        return err_set(err, R3E_EINVAL, "audit: action and result are required");
    char id[27], when[32];
    util_ulid(id);
    uint64_t now = util_wall_ms();
    if (ev->time_ms && ev->time_ms != now) { /* the ULID's time part says when, for pruning */
        char floor[27];
        now = ev->time_ms;
        audit_ulid_floor(now, floor);
        memcpy(id, floor, 10);
    }
    util_rfc3339(now, when, sizeof when);
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(id));
    json_object_set_new(o, "time", json_string(when));
    json_object_set_new(o, "time_ms", json_integer((json_int_t)now));
    json_object_set_new(o, "who", audit_str(ev->who ? ev->who : "anonymous"));
    json_object_set_new(o, "ns", audit_str(ev->ns));
    json_object_set_new(o, "action", audit_str(ev->action));
    json_object_set_new(o, "target", audit_str(ev->target));
    json_object_set_new(o, "source", audit_str(ev->source));
    json_object_set_new(o, "result", audit_str(ev->result));
    json_object_set_new(o, "status", json_integer(ev->status));
    json_object_set_new(o, "request_id", audit_str(ev->request_id));
    char *enc = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (!enc) return err_set(err, R3E_EINTERNAL, "out of memory");
    int rc = store_meta_insert(s, AUDIT_KIND, id, enc, strlen(enc), err);
    free(enc);
    if (rc == 0 && id_out) memcpy(id_out, id, 27);
    return rc;
}

int auth_audit_list(store_t *s, uint64_t since_ms, const char *after, size_t limit,
                    json_t **entries, err_t *err) {
    if (limit == 0) limit = STORE_LIST_DEFAULT;
    if (limit > AUDIT_LIST_MAX) limit = AUDIT_LIST_MAX;
    char floor[27] = "";
    if (since_ms) audit_ulid_floor(since_ms, floor);
    /* start after whichever cursor is later; the floor itself is never a real id */
    const char *start = floor;
    if (after && *after && strcmp(after, floor) > 0) start = after;
    char **keys, **vals;
    size_t n;
    if (store_meta_list(s, AUDIT_KIND, start, limit, &keys, &vals, &n, err) != 0) return -1;
    json_t *arr = json_array();
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_loads(vals[i], 0, NULL);
        if (!json_is_object(e)) {
            json_decref(e);
            rc = err_set(err, R3E_EIO, "store: corrupt audit entry %s", keys[i]);
            break;
        }
        json_array_append_new(arr, e);
    }
    store_strv_free(keys, n);
    store_strv_free(vals, n);
    if (rc != 0) {
        json_decref(arr);
        return -1;
    }
    *entries = arr;
    return 0;
}

/* ---- retention -------------------------------------------------------------------------- */

int auth_audit_prune(store_t *s, uint64_t before_ms, size_t max, size_t *deleted, err_t *err) {
    size_t total = 0;
    char floor[27];
    audit_ulid_floor(before_ms, floor); /* every entry older than before_ms sorts below it */
    int rc = 0;
    while (total < max) {
        size_t want = max - total < AUDIT_PRUNE_BATCH ? max - total : AUDIT_PRUNE_BATCH;
        char **keys = NULL;
        size_t n = 0;
        if (store_meta_range(s, AUDIT_KIND, NULL, floor, false, want, &keys, NULL, &n, err) < 0) {
            rc = -1;
            break;
        }
        store_meta_op_t *ops = n ? calloc(n, sizeof *ops) : NULL;
        if (n && !ops) {
            store_strv_free(keys, n);
            rc = err_set(err, R3E_EINTERNAL, "out of memory");
            break;
        }
        for (size_t i = 0; i < n; i++)
            ops[i] = (store_meta_op_t){.kind = AUDIT_KIND, .key = keys[i]};
        rc = n ? store_meta_write(s, ops, n, err) : 0;
        free(ops);
        store_strv_free(keys, n);
        if (rc < 0) break;
        total += n;
        if (n < want) break;
    }
    if (deleted) *deleted = total;
    return rc;
}

struct auth_audit_pruner {
    store_t *s;
    uint64_t retention_ms;
    uint64_t (*clock)(void);
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop;
};

static void *audit_pruner_main(void *arg) {
    auth_audit_pruner_t *p = arg;
    pthread_mutex_lock(&p->mu);
    while (!p->stop) {
        pthread_mutex_unlock(&p->mu);
        uint64_t now = p->clock();
        size_t n = 0;
        err_t e;
        if (now > p->retention_ms &&
            auth_audit_prune(p->s, now - p->retention_ms, AUTH_AUDIT_PRUNE_ROUND, &n, &e) < 0)
            log_warn("audit retention: %s", e.msg);
        if (n)
            log_info("audit retention: %zu entries older than %llu days deleted", n,
                     (unsigned long long)(p->retention_ms / 86400000ULL));
        pthread_mutex_lock(&p->mu);
        if (p->stop) break;
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += AUDIT_PRUNE_EVERY_MS / 1000;
        pthread_cond_timedwait(&p->cv, &p->mu, &until);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

auth_audit_pruner_t *auth_audit_pruner_start(store_t *s, uint32_t retention_days,
                                             uint64_t (*clock)(void), err_t *err) {
    if (!s || retention_days == 0) {
        err_set(err, R3E_EINVAL, "audit retention: a store and a retention of >= 1 day needed");
        return NULL;
    }
    auth_audit_pruner_t *p = calloc(1, sizeof *p);
    if (!p) {
        err_set(err, R3E_EINTERNAL, "out of memory");
        return NULL;
    }
    p->s = s;
    p->retention_ms = (uint64_t)retention_days * 86400000ULL;
    p->clock = clock ? clock : util_wall_ms;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    if (pthread_create(&p->thread, NULL, audit_pruner_main, p) != 0) {
        pthread_mutex_destroy(&p->mu);
        pthread_cond_destroy(&p->cv);
        free(p);
        err_set(err, R3E_EINTERNAL, "cannot start the audit retention thread");
        return NULL;
    }
    return p;
}

void auth_audit_pruner_stop(auth_audit_pruner_t *p) {
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    p->stop = true;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
    pthread_join(p->thread, NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p);
}
