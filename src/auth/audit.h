/* The audit log: who did what, to what, from where, with which result — for every write
 * and every authentication or authorization failure (the HTTP layer decides which
 * requests to record; this module persists and lists them).
 *
 * Entries live in the store's metadata family, kind "audit", keyed by a ULID, so keys
 * sort by time and listing "since T" is a range scan. Entries are never rewritten.
 * Values are JSON objects:
 *   {"id","time" (RFC 3339),"time_ms","who","ns","action","target","source","result",
 *    "status","request_id"}
 * Strings are stored as given but truncated to 256 bytes and with control characters
 * and non-ASCII bytes replaced by '?', so a hostile path cannot forge log structure or
 * bloat the log. Thread-safe. Retention: auth_audit_prune deletes entries older than a
 * cut-off, and the pruner thread (auth_audit_pruner_start) does so in bounded rounds. */
#ifndef R3E_AUTH_AUDIT_H
#define R3E_AUTH_AUDIT_H

#include "core/err.h"
#include "store/store.h"

#include <jansson.h>
#include <stdint.h>

typedef struct {
    const char *who;        /* principal id (API key id / JWT sub); NULL -> "anonymous" */
    const char *ns;         /* namespace acted in; NULL -> "" */
    const char *action;     /* e.g. "POST /v1/functions", "auth.token" (required) */
    const char *target;     /* e.g. function name, key id; NULL -> "" */
    const char *source;     /* client address "ip:port"; NULL -> "" */
    const char *result;     /* "ok" | "unauthenticated" | "denied" | "error" … (required) */
    int status;             /* HTTP status, 0 when not applicable */
    const char *request_id; /* NULL -> "" */
    uint64_t time_ms;       /* wall-clock time of the entry; 0 -> now (tests set it) */
} auth_audit_event_t;

/* Appends one entry stamped with ev->time_ms (0: the current wall time). id_out (27 bytes, may be
 * NULL) receives its ULID. R3E_EINVAL when action or result is missing. */
int auth_audit_record(store_t *s, const auth_audit_event_t *ev, char id_out[27], err_t *err);

/* Entries in time order (oldest first): those at or after since_ms (0 = from the start),
 * and after the entry id `after` when given (exclusive; the paging cursor: pass the last
 * id of the previous page). At most limit (0 = STORE_LIST_DEFAULT, capped at 1000).
 * *entries is a new JSON array reference (json_decref). */
int auth_audit_list(store_t *s, uint64_t since_ms, const char *after, size_t limit,
                    json_t **entries, err_t *err);

/* Deletes the entries older than before_ms (their ULID time), oldest first, at most max
 * (> 0) per call, in atomic batches. *deleted (may be NULL) receives the count; a count of
 * max means more may be left. Cost is proportional to the entries deleted. */
int auth_audit_prune(store_t *s, uint64_t before_ms, size_t max, size_t *deleted, err_t *err);

/* The retention thread: every minute (and once at start) deletes entries older than
 * retention_days, at most AUTH_AUDIT_PRUNE_ROUND per round, so a huge backlog is worked off
 * over several rounds instead of one long stall. clock (NULL = util_wall_ms) is the wall
 * clock in ms, injectable for tests. stop joins the thread; NULL is fine. */
#define AUTH_AUDIT_PRUNE_ROUND 10000
typedef struct auth_audit_pruner auth_audit_pruner_t;
auth_audit_pruner_t *auth_audit_pruner_start(store_t *s, uint32_t retention_days,
                                             uint64_t (*clock)(void), err_t *err);
void auth_audit_pruner_stop(auth_audit_pruner_t *p);

#endif
