/* The event system as the server runs it (issue 3): the durable queue and its dispatcher,
 * the trigger table with its matcher index, the event sources (custom POST /v1/events,
 * schedules, webhooks — see events/source.h), and delivery (runtime_invoke, execution
 * records queued -> running -> final, retries, dead letters, destinations, callbacks).
 *
 * Execution ids of queued work are the queue's job ids: one job = one execution record,
 * rewritten at every stage with its attempt count, so GET /v1/executions/{id} shows it
 * from enqueue to its final status.
 *
 * Threads: dispatcher threads (src/queue) and one scheduler thread; HTTP handlers run on
 * MHD's connection threads. The trigger table is guarded by a rwlock (matching only reads).
 * Ownership: the evsys_t belongs to api_t (api->ev), created by evsys_start and freed by
 * evsys_stop. */
#ifndef R3E_API_EVSYS_H
#define R3E_API_EVSYS_H

#include "api/api.h"
#include "events/source.h"
#include "queue/queue.h"

typedef struct evsys evsys_t;

/* Opens the queue on api->store, loads the stored triggers into the matcher, starts the
 * sources and the dispatcher. 0 or -1 with err. */
int evsys_start(api_t *api, err_t *err);
/* Shutdown step 1, while HTTP requests drain: stop the sources (scheduler), then the
 * dispatcher (no new claims; in-flight runs finish and are settled). The queue stays open
 * for requests still in flight. NULL-safe, idempotent. */
void evsys_quiesce(api_t *api);
/* Step 2, after the HTTP server stopped: evsys_quiesce if not done, then close the queue and
 * free. Before runtime_stop and store_close. NULL-safe. */
void evsys_stop(api_t *api);

/* Starts a polling source (a chain poller) with the ingest path as its emit callback; it is
 * stopped by evsys_quiesce, before the scheduler and the dispatcher. src stays owned by the
 * caller and must outlive evsys_quiesce. */
int evsys_source_add(api_t *api, event_source_t *src, err_t *err);

/* Queue metrics text (Prometheus) appended to /metrics; malloc'ed, may be "". */
char *evsys_metrics_text(api_t *api);

/* handlers_events.c */
void api_h_events_publish(http_req_t *r, const route_match_t *m); /* POST /v1/events */
void api_h_events_list(http_req_t *r, const route_match_t *m);    /* GET /v1/events */
void api_h_events_get(http_req_t *r, const route_match_t *m);     /* GET /v1/events/{id} */
void api_h_hook(http_req_t *r, const route_match_t *m);           /* ANY /hooks/{id} */
/* handlers_triggers.c */
void api_h_triggers_create(http_req_t *r, const route_match_t *m);
void api_h_triggers_list(http_req_t *r, const route_match_t *m);
void api_h_triggers_get(http_req_t *r, const route_match_t *m);
void api_h_triggers_delete(http_req_t *r, const route_match_t *m);
void api_h_triggers_enable(http_req_t *r, const route_match_t *m);
void api_h_triggers_disable(http_req_t *r, const route_match_t *m);
void api_h_dlq_list(http_req_t *r, const route_match_t *m);
void api_h_dlq_replay(http_req_t *r, const route_match_t *m);
void api_h_dlq_delete(http_req_t *r, const route_match_t *m);
/* POST /v1/functions/{name}/invoke?async=1 (api_h_invoke hands over when async is asked) */
bool api_invoke_is_async(http_req_t *r);
void api_h_invoke_async(http_req_t *r, const route_match_t *m);

/* --- internal to evsys.c / handlers_events.c / handlers_triggers.c ----------------- */

/* A trigger as the matcher and the sources need it (a copy; free with evsys_trig_free). */
typedef struct {
    char id[27];
    char ns[64];
    char function[64];
    char source_type[16]; /* custom | schedule | webhook */
    bool enabled;
    queue_mode_t mode;
    uint32_t max_attempts, backoff_ms, max_event_age_s;
    char *destinations; /* {"on_success":…,"on_failure":…} or NULL */
    char *secret;       /* webhook HMAC secret from an unsealed (legacy) record, or NULL */
    bool secret_sealed; /* webhook: the secret is in the vault (api/webhook_secret.h) */
} evsys_trig_t;

/* Adds (or replaces) a trigger from its stored JSON record into the live table. */
int evsys_trig_load(evsys_t *ev, const json_t *rec, err_t *err);
void evsys_trig_unload(evsys_t *ev, const char *id);
/* Copies of the stored records of the live triggers whose source.type is source_type (any
 * namespace, enabled or not): what a polling source reads each round. New array. */
json_t *evsys_trig_records(evsys_t *ev, const char *source_type);
/* Copies trigger id (any namespace) into *out. R3E_ENOTFOUND when absent. */
int evsys_trig_get(evsys_t *ev, const char *id, evsys_trig_t *out, err_t *err);
void evsys_trig_free(evsys_trig_t *t);
void evsys_job_from_trig(const evsys_trig_t *t, queue_job_t *job);

/* Logs event (a normalized CloudEvent) in ns and enqueues one job per enabled matching
 * custom trigger (or exactly for `only` when non-NULL), atomically. event_id receives the
 * event-log id; *duplicate, *jobs how many jobs were enqueued. */
int evsys_ingest(evsys_t *ev, const char *ns, json_t *event, const evsys_trig_t *only,
                 char event_id[27], bool *duplicate, size_t *jobs, err_t *err);

/* The same for n events in ONE atomic write (batched mode): all are acknowledged or none.
 * out[n] receives each event's id, whether it was a duplicate and how many jobs it made. */
typedef struct {
    char event_id[27];
    bool duplicate;
    size_t jobs;
} evsys_ingest_result_t;
int evsys_ingest_many(evsys_t *ev, const char *ns, json_t *const *events, size_t n,
                      const evsys_trig_t *only, evsys_ingest_result_t *out, err_t *err);

/* Writes the "queued" execution record of a job (a job handed back as busy). */
void evsys_record_queued(api_t *api, const queue_job_t *job);
/* Enqueues an async invocation's job together with its "queued" execution record, in one
 * atomic write, and publishes the record. */
int evsys_enqueue_async(api_t *api, queue_job_t *job, err_t *err);

queue_t *evsys_queue(api_t *api);

#endif
