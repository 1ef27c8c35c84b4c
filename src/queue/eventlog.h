/* The event log: every accepted event, durable before it is acknowledged, deduplicated by
 * (source, id), with the executions it caused. Built on the store's metadata records, so it
 * works on any store backend. Appending happens through queue_enqueue (one atomic write
 * with the event's queue entries); this header has the read side, the execution links and
 * retention, plus the two helpers a queue backend uses to append.
 *
 * Records (store meta kinds; ns/... keys, ULIDs sort by time):
 *   evlog     ns "/" event_id               -> {"id","ns","source","ce_id","type",
 *                                               "received_ms","event":{...}}
 *   evdedupe  ns "/" sha256(source \0 ce_id) -> event_id
 *   evage     event_id "/" ns               -> ""   (global time order, for retention)
 *   evexec    ns "/" event_id "/" exec_id   -> ""   (executions the event caused)
 *
 * event_id is a ULID assigned on append (receive order), not the CloudEvents id, which is
 * unique only per source. All functions are thread-safe; ints are 0 or -1 with *err.
 * Ownership: returned strings and vectors are malloc'ed (free / store_strv_free). */
#ifndef R3E_QUEUE_EVENTLOG_H
#define R3E_QUEUE_EVENTLOG_H

#include "core/err.h"
#include "store/store.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EVENTLOG_ID_LEN 26
#define EVENTLOG_SCAN_BUDGET 5000 /* records a filtered list looks at per call */

/* An event to append (borrowed strings). json is the normalized event object text
 * (ce_normalize output); source and ce_id form the dedupe key. */
typedef struct {
    const char *ns; /* NULL/"" = "default" */
    const char *source, *ce_id, *type;
    const char *json;
} eventlog_event_t;

/* The record, with "executions":[exec ids...] added. R3E_ENOTFOUND when absent. */
int eventlog_get(store_t *s, const char *ns, const char *event_id, char **record_json, err_t *err);

typedef struct {
    const char *source, *type; /* exact match; NULL = any */
    uint64_t since_ms;         /* received at or after; 0 = any */
    const char *before;        /* cursor: an event id (exclusive); NULL = newest */
    size_t limit;              /* 0 = STORE_LIST_DEFAULT */
} eventlog_filter_t;

/* Newest first. Filters are applied while scanning; one call looks at no more than
 * EVENTLOG_SCAN_BUDGET records, so a selective filter can return fewer than limit records
 * while more exist: *next (27 bytes) is the cursor to continue from, "" when the log is
 * exhausted. Records are as stored (without "executions"). */
int eventlog_list(store_t *s, const char *ns, const eventlog_filter_t *f, char ***records,
                  size_t *n, char next[EVENTLOG_ID_LEN + 1], err_t *err);

/* Links an execution to the event that caused it (idempotent). */
int eventlog_add_execution(store_t *s, const char *ns, const char *event_id, const char *exec_id,
                           err_t *err);

/* Deletes up to max (0 = 1000) events received before cutoff_ms, with their dedupe markers
 * and execution links, oldest first, in one atomic write. *deleted says how many; call
 * again while it equals max. After deletion a re-post of the same (source, id) is new. */
int eventlog_retain(store_t *s, uint64_t cutoff_ms, size_t max, size_t *deleted, err_t *err);

/* --- for queue backends ------------------------------------------------------------ */

/* 1 with *event_id filled when (source, ce_id) is already logged in ns, 0 when new. */
int eventlog_find_dup(store_t *s, const eventlog_event_t *ev, char event_id[EVENTLOG_ID_LEN + 1],
                      err_t *err);

/* The writes that append ev as event_id; the caller adds them to its own atomic write.
 * keys/vals point into strings owned by the batch (eventlog_batch_free). */
typedef struct {
    store_meta_op_t ops[3];
    char *owned[6];
} eventlog_batch_t;
int eventlog_prepare(const eventlog_event_t *ev, const char *event_id, uint64_t received_ms,
                     eventlog_batch_t *b, err_t *err);
void eventlog_batch_free(eventlog_batch_t *b);
/* An execution link as one write (for ack/fail batches); strings owned by the batch. */
int eventlog_prepare_link(const char *ns, const char *event_id, const char *exec_id,
                          eventlog_batch_t *b, err_t *err);

/* The 10-char ULID time prefix of ms: ids of events received before ms sort below it. */
void eventlog_ulid_time(uint64_t ms, char out[11]);

#endif
