/* The queue: durable asynchronous invocations with at-least-once delivery (libuv-style: one
 * header, backends behind a vtable chosen at start-up). Backends: the embedded queue on the
 * store's metadata records (queue_store.c, one atomic store write per transition); Redis
 * Streams comes later and must slot in without touching callers.
 *
 * Life of a job (docs/events.md, "Delivery semantics"):
 *   enqueue -> ready (or waiting, behind an older job of the same sequential key)
 *   claim   -> leased until now + lease_ms, attempt += 1
 *   ack     -> gone (the execution record is the caller's)
 *   fail    -> ready again after backoff (full jitter, base backoff_ms * 2^(attempt-1),
 *              capped) while attempts remain and the event is younger than max_event_age_s;
 *              otherwise dead (the dead-letter list) with the last error
 *   release -> ready again after a delay without using up an attempt (R3E_ELIMIT)
 *   lease expiry -> like fail("lease expired"): redelivered or dead-lettered
 * A job's lease is its claim: ack/fail/release of a job whose lease was lost (expired and
 * taken over) fail with R3E_EEXIST and change nothing.
 *
 * Sequential mode: jobs with the same order key (the trigger id unless set) run one at a
 * time in enqueue order: only one job of a key is ever ready or leased; the next one becomes
 * ready when it is acked or dead-lettered. Parallel jobs and other keys interleave freely.
 *
 * All functions are thread-safe. ints are 0 or -1 with *err filled.
 * Ownership: jobs returned by claim/dlq are released with queue_jobs_free / queue_job_free;
 * jobs passed to enqueue are the caller's (strings are copied). */
#ifndef R3E_QUEUE_QUEUE_H
#define R3E_QUEUE_QUEUE_H

#include "core/err.h"
#include "queue/eventlog.h"
#include "store/store.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define QUEUE_KEY_MAX 128                        /* trigger ids, order keys, worker ids */
#define QUEUE_DEFAULT_MAX_ATTEMPTS 3             /* 1 try + 2 retries, like Lambda async */
#define QUEUE_DEFAULT_BACKOFF_MS 1000            /* first retry within 0..1 s */
#define QUEUE_DEFAULT_MAX_EVENT_AGE_S (6 * 3600) /* Lambda's default */
#define QUEUE_DEFAULT_BACKOFF_CAP_MS (15 * 60 * 1000)
#define QUEUE_IDEM_TTL_MS (24ull * 3600 * 1000)

typedef enum { QUEUE_PARALLEL = 0, QUEUE_SEQUENTIAL } queue_mode_t;
typedef enum { QUEUE_READY = 0, QUEUE_WAITING, QUEUE_LEASED, QUEUE_DEAD } queue_state_t;

typedef struct {
    /* set by the producer (zero values take defaults) */
    char id[27];             /* ULID; assigned by enqueue when empty */
    char ns[STORE_NAME_MAX]; /* "" = "default" */
    char function[STORE_NAME_MAX];
    char *payload; /* the event JSON text; NULL = the enqueued event's json */
    char trigger_id[QUEUE_KEY_MAX];
    char event_id[27]; /* the event-log id; set by enqueue when it logs the event */
    queue_mode_t mode;
    char order_key[QUEUE_KEY_MAX]; /* sequential: "" = trigger_id (then required) */
    uint32_t max_attempts;         /* 0 = QUEUE_DEFAULT_MAX_ATTEMPTS */
    uint32_t backoff_ms;           /* 0 = QUEUE_DEFAULT_BACKOFF_MS */
    uint32_t max_event_age_s;      /* 0 = QUEUE_DEFAULT_MAX_EVENT_AGE_S */
    uint64_t created_ms;           /* 0 = now; the event's age counts from here */
    uint64_t not_before_ms;        /* 0 = now */
    char *callback_url;            /* optional */
    char *destinations_json;       /* optional {"on_success":…,"on_failure":…} */
    char *idempotency_key;         /* optional, carried for the executor */
    /* A delivery job: instead of running `function`, POST payload to url and keep the
     * state of that delivery in the record of execution parent_id (of `function`) under the
     * field `delivery` ("callback", "destination"). Set by the producer, stored. */
    char *url;
    char parent_id[27];
    char delivery[16];
    /* enqueue only, not stored in the job: the execution record (id = the job id) the job
     * starts with, written in the same atomic write as the job; NULL = none. */
    char *record_json;
    /* maintained by the queue */
    uint32_t attempt; /* attempts started; the current one while leased */
    queue_state_t state;
    uint64_t lease_until_ms;
    char lease_token[27];
    char worker[QUEUE_KEY_MAX];
    char *last_error;
    uint64_t dead_ms;
} queue_job_t;

typedef struct {
    uint64_t ready;   /* claimable now or after their not-before time */
    uint64_t waiting; /* sequential jobs behind another job of their key */
    uint64_t leased;
    uint64_t dead;
} queue_stats_t;

/* What a settle hook adds to the write that settles a job (queue_config_t.settled). Every
 * string and job is malloc'ed; the queue frees them (queue_settle_free). */
typedef struct {
    char *record_json; /* optional: replaces execution record_id's record (of the job's function) */
    char record_id[27]; /* "" = the job's id */
    queue_job_t *jobs;  /* follow-up jobs, enqueued in the same write (record_json honoured) */
    size_t n_jobs;
} queue_settle_t;

void queue_settle_free(queue_settle_t *s);

typedef struct {
    /* Wall clock in ms; NULL = util_wall_ms. Tests inject time here. */
    uint64_t (*now_ms)(void *arg);
    void *clock_arg;
    uint32_t backoff_cap_ms; /* 0 = QUEUE_DEFAULT_BACKOFF_CAP_MS */
    /* Optional: called when a job is acked (dead_reason NULL) or dead-lettered, whatever the
     * path (a failed last attempt, an event older than max_event_age_s, a lost lease at
     * expiry or at open): dead_reason "max_attempts" or "max_event_age". What it puts in
     * *out (zeroed) joins the same atomic write, so the follow-ups of a settled job (its
     * destinations, callbacks) exist exactly when the settlement does. Runs under the
     * queue's lock: it must not call the queue. */
    void (*settled)(void *arg, const queue_job_t *job, const char *dead_reason,
                    queue_settle_t *out);
    void *settled_arg;
} queue_config_t;

typedef struct queue queue_t;

/* The embedded backend on `s` (borrowed: close the queue before the store). At open, jobs
 * still leased are returned at once (counted as a failed attempt: "lease lost"), since the
 * store's directory lock guarantees the process that held them is gone. cfg may be NULL. */
queue_t *queue_open_store(store_t *s, const queue_config_t *cfg, err_t *err);
void queue_close(queue_t *q); /* NULL is fine */

/* One event and the jobs it produced, for queue_enqueue_batch. */
typedef struct {
    const eventlog_event_t *event; /* optional */
    queue_job_t *jobs;             /* n_jobs, may be 0 */
    size_t n_jobs;
    char event_id[27]; /* out: the new event's id, or the original's when duplicate */
    bool duplicate;    /* out: the event was already logged; its jobs were not enqueued */
    /* Optional: builds the execution record a new job starts with, once its id, defaults and
     * event_id are set (malloc'ed JSON text, stored in job->record_json for the caller to
     * free), for jobs whose record_json is NULL. Not called for a duplicate's jobs. */
    char *(*record)(void *arg, const queue_job_t *job);
    void *record_arg;
} queue_item_t;

/* Enqueues n items in ONE atomic write (the batched CloudEvents mode, and the way to
 * reach high ingest rates: one durable write for many events). Each item is as in
 * queue_enqueue; a repeat of an earlier event of the same batch is a duplicate of it. On
 * error nothing is written. */
int queue_enqueue_batch(queue_t *q, queue_item_t *items, size_t n, err_t *err);

/* Enqueues n jobs atomically. With ev: also appends the event to the event log and its
 * dedupe marker in the same atomic write, and sets each job's event_id. When (source, id)
 * was already logged, nothing is written, *duplicate is set and event_id receives the
 * original event's id. ids, defaults and event_id are written back into jobs[]. ev and
 * event_id/duplicate may be NULL (then n must be > 0). */
int queue_enqueue(queue_t *q, const eventlog_event_t *ev, queue_job_t *jobs, size_t n,
                  char event_id[27], bool *duplicate, err_t *err);
/* Up to max jobs whose not-before time has passed, leased to worker for lease_ms. First
 * returns expired leases to the queue. Never scans the queue: cost is O(max). */
int queue_claim(queue_t *q, const char *worker, size_t max, uint32_t lease_ms, queue_job_t **jobs,
                size_t *n, err_t *err);
/* Done: removes the job. exec_id (optional) is linked to the job's event in the log. */
int queue_ack(queue_t *q, const queue_job_t *job, const char *exec_id, err_t *err);
/* A failed attempt: retried after backoff or dead-lettered (error kept as last_error).
 * *dead (optional) says which. */
int queue_fail(queue_t *q, const queue_job_t *job, const char *exec_id, const char *error,
               bool *dead, err_t *err);
/* Gives the job back for delay_ms without using up an attempt (concurrency limit hit). */
int queue_release(queue_t *q, const queue_job_t *job, uint32_t delay_ms, err_t *err);

/* Dead-letter list of ns, ordered by job id; after = cursor (a job id, exclusive). */
int queue_dlq_list(queue_t *q, const char *ns, const char *after, size_t limit, queue_job_t **jobs,
                   size_t *n, err_t *err);
int queue_dlq_get(queue_t *q, const char *ns, const char *job_id, queue_job_t *job, err_t *err);
/* Back to the queue, attempt count reset, ready now. R3E_ENOTFOUND when not dead. */
int queue_dlq_replay(queue_t *q, const char *ns, const char *job_id, err_t *err);
int queue_dlq_delete(queue_t *q, const char *ns, const char *job_id, err_t *err);

/* Idempotency keys: (ns, key) -> execution id for ttl_ms (0 = QUEUE_IDEM_TTL_MS).
 * get: R3E_ENOTFOUND when absent or expired. put is create-only: returns 1 and fills
 * existing (129 bytes) when an unexpired entry is there, 0 when stored. */
int queue_idem_get(queue_t *q, const char *ns, const char *key, char exec_id[129], err_t *err);
int queue_idem_put(queue_t *q, const char *ns, const char *key, const char *exec_id,
                   uint64_t ttl_ms, char existing[129], err_t *err);
/* Deletes up to max (0 = 1000) expired idempotency entries; *deleted says how many. */
int queue_idem_gc(queue_t *q, size_t max, size_t *deleted, err_t *err);

int queue_stats(queue_t *q, queue_stats_t *out, err_t *err);

/* Wake-ups, so consumers need not poll: the generation grows whenever a job may have become
 * claimable (enqueue, fail, release, replay) or on queue_kick. queue_wait blocks while the
 * generation is still `seen`, at most timeout_ms, and returns the current one. */
uint64_t queue_generation(queue_t *q);
uint64_t queue_wait(queue_t *q, uint64_t seen, uint32_t timeout_ms);
void queue_kick(queue_t *q);
/* Earliest not-before among ready jobs (0 = none): how long a consumer may sleep. */
uint64_t queue_next_due(queue_t *q);

void queue_job_free(queue_job_t *job); /* frees the strings, not the struct */
void queue_jobs_free(queue_job_t *jobs, size_t n);
const char *queue_state_name(queue_state_t st);

/* --- backend vtable (for backend implementers only) ------------------------------- */
typedef struct queue_ops {
    const char *name;
    void (*close)(queue_t *);
    int (*enqueue)(queue_t *, queue_item_t *, size_t, err_t *); /* checked by queue.c */
    int (*claim)(queue_t *, const char *, size_t, uint32_t, queue_job_t **, size_t *, err_t *);
    int (*ack)(queue_t *, const queue_job_t *, const char *, err_t *);
    int (*fail)(queue_t *, const queue_job_t *, const char *, const char *, bool *, err_t *);
    int (*release)(queue_t *, const queue_job_t *, uint32_t, err_t *);
    int (*dlq_list)(queue_t *, const char *, const char *, size_t, queue_job_t **, size_t *,
                    err_t *);
    int (*dlq_get)(queue_t *, const char *, const char *, queue_job_t *, err_t *);
    int (*dlq_replay)(queue_t *, const char *, const char *, err_t *);
    int (*dlq_delete)(queue_t *, const char *, const char *, err_t *);
    int (*idem_get)(queue_t *, const char *, const char *, char *, err_t *);
    int (*idem_put)(queue_t *, const char *, const char *, const char *, uint64_t, char *, err_t *);
    int (*idem_gc)(queue_t *, size_t, size_t *, err_t *);
    int (*stats)(queue_t *, queue_stats_t *, err_t *);
    uint64_t (*generation)(queue_t *);
    uint64_t (*wait)(queue_t *, uint64_t, uint32_t);
    void (*kick)(queue_t *);
    uint64_t (*next_due)(queue_t *);
} queue_ops_t;

struct queue {
    const queue_ops_t *ops;
    void *impl;
};

#endif
