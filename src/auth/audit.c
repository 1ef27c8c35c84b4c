/* Audit log entries in the store's metadata family (kind "audit", ULID keys). */
#include "auth/audit.h"

#include "core/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AUDIT_KIND "audit"
#define AUDIT_FIELD_MAX 256
#define AUDIT_LIST_MAX 1000

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
