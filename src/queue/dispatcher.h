/* The dispatcher: N threads that take jobs from the queue, hand each to the server's run
 * callback (which invokes the function through the runtime and writes the execution
 * record) and settle the job from the outcome. Threads sleep on the queue's wake-ups
 * (queue_wait) rather than polling; an idle thread still looks every idle_ms for expired
 * leases and jobs whose backoff has passed.
 *
 * Stopping is graceful: no new claims, every in-flight run finishes (bounded by the
 * runtime's own time limit) and is settled. A job whose run never returns keeps its lease,
 * which is persisted, so it is redelivered after the lease expires or the next start. */
#ifndef R3E_QUEUE_DISPATCHER_H
#define R3E_QUEUE_DISPATCHER_H

#include "core/err.h"
#include "queue/queue.h"

#include <stdint.h>

/* Runs one job (called on a dispatcher thread, concurrently with other jobs). Returns 0
 * when the job is done, or -1 with *err:
 *   R3E_ELIMIT, R3E_EUNAVAIL  no capacity now (function concurrency limit, no worker):
 *                             the job is retried after busy_delay_ms, the attempt not counted;
 *   anything else             a failed attempt: retried with backoff or dead-lettered, with
 *                             err->msg as the job's last_error.
 * exec_id (129 bytes, "" on entry) may receive the execution id the run created, which is
 * linked to the job's event in the event log. */
typedef int (*dispatcher_run_fn)(void *arg, const queue_job_t *job, char exec_id[129], err_t *err);

typedef struct {
    queue_t *queue; /* borrowed; outlives the dispatcher */
    dispatcher_run_fn run;
    void *arg;
    unsigned threads;       /* 0 = 2 */
    uint32_t lease_ms;      /* 0 = 15 min: must exceed the longest function timeout */
    uint32_t busy_delay_ms; /* 0 = 1000 */
    uint32_t idle_ms;       /* longest sleep without a wake-up; 0 = 1000 */
    const char *name;       /* worker id prefix; NULL = "dispatcher" */
} dispatcher_config_t;

typedef struct {
    uint64_t done, failed, dead, busy, lost; /* lost: settled after the lease was lost */
} dispatcher_counts_t;

typedef struct dispatcher dispatcher_t;

/* Starts the threads. cfg is copied (name too). */
dispatcher_t *dispatcher_start(const dispatcher_config_t *cfg, err_t *err);
/* Stops claiming, waits for in-flight runs, joins and frees. NULL is fine. */
void dispatcher_stop(dispatcher_t *d);
void dispatcher_counts(dispatcher_t *d, dispatcher_counts_t *out);

#endif
