/* The queue front door: argument checks shared by all backends, then the backend's ops
 * (the store.c pattern). Backends trust what passes these checks. */
#include "queue/queue.h"

#include "core/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *q_ns(const char *ns) {
    return (ns && *ns) ? ns : "default";
}

static int q_check_id(const char *what, const char *id, err_t *err) {
    if (!id || !*id || strlen(id) > QUEUE_KEY_MAX || strchr(id, '/'))
        return err_set(err, R3E_EINVAL, "invalid %s", what);
    return 0;
}

static int q_check_ns(const char *ns, err_t *err) {
    if (!util_valid_name(q_ns(ns))) return err_set(err, R3E_EINVAL, "invalid namespace");
    return 0;
}

static int q_check_job(const queue_job_t *j, err_t *err) {
    if (j->id[0] && (strchr(j->id, '/') || strnlen(j->id, sizeof j->id) == sizeof j->id))
        return err_set(err, R3E_EINVAL, "invalid job id");
    if (q_check_ns(j->ns, err) != 0) return -1;
    if (!util_valid_name(j->function))
        return err_set(err, R3E_EINVAL, "invalid function name \"%s\"", j->function);
    if (j->mode == QUEUE_SEQUENTIAL && !j->order_key[0] && !j->trigger_id[0])
        return err_set(err, R3E_EINVAL, "a sequential job needs an order key or trigger id");
    if (j->mode != QUEUE_PARALLEL && j->mode != QUEUE_SEQUENTIAL)
        return err_set(err, R3E_EINVAL, "invalid mode");
    return 0;
}

static int q_check_item(const queue_item_t *it, err_t *err) {
    const eventlog_event_t *ev = it->event;
    if (!ev && it->n_jobs == 0) return err_set(err, R3E_EINVAL, "nothing to enqueue");
    if (it->n_jobs && !it->jobs) return err_set(err, R3E_EINVAL, "jobs missing");
    if (ev && (!ev->source || !*ev->source || !ev->ce_id || !*ev->ce_id || !ev->json))
        return err_set(err, R3E_EINVAL, "event needs source, id and a body");
    if (ev && q_check_ns(ev->ns, err) != 0) return -1;
    for (size_t i = 0; i < it->n_jobs; i++) {
        if (q_check_job(&it->jobs[i], err) != 0) return -1;
        if (!it->jobs[i].payload && !ev) return err_set(err, R3E_EINVAL, "job without a payload");
    }
    return 0;
}

int queue_enqueue_batch(queue_t *q, queue_item_t *items, size_t n, err_t *err) {
    if (n && !items) return err_set(err, R3E_EINVAL, "items missing");
    for (size_t i = 0; i < n; i++)
        if (q_check_item(&items[i], err) != 0) return -1;
    if (n == 0) return 0;
    return q->ops->enqueue(q, items, n, err);
}

int queue_enqueue(queue_t *q, const eventlog_event_t *ev, queue_job_t *jobs, size_t n,
                  char event_id[27], bool *duplicate, err_t *err) {
    queue_item_t it = {.event = ev, .jobs = jobs, .n_jobs = n};
    if (duplicate) *duplicate = false;
    if (q_check_item(&it, err) != 0) return -1;
    if (q->ops->enqueue(q, &it, 1, err) != 0) return -1;
    if (duplicate) *duplicate = it.duplicate;
    if (event_id) snprintf(event_id, 27, "%s", it.event_id);
    return 0;
}

int queue_claim(queue_t *q, const char *worker, size_t max, uint32_t lease_ms, queue_job_t **jobs,
                size_t *n, err_t *err) {
    if (q_check_id("worker id", worker, err) != 0) return -1;
    if (max == 0 || lease_ms == 0) return err_set(err, R3E_EINVAL, "max and lease_ms must be > 0");
    if (max > 1000) max = 1000;
    return q->ops->claim(q, worker, max, lease_ms, jobs, n, err);
}

int queue_ack(queue_t *q, const queue_job_t *job, const char *exec_id, err_t *err) {
    if (!job || q_check_id("job id", job->id, err) != 0) return -1;
    if (exec_id && !*exec_id) exec_id = NULL;
    return q->ops->ack(q, job, exec_id, err);
}

int queue_fail(queue_t *q, const queue_job_t *job, const char *exec_id, const char *error,
               bool *dead, err_t *err) {
    if (!job || q_check_id("job id", job->id, err) != 0) return -1;
    if (exec_id && !*exec_id) exec_id = NULL;
    bool d = false;
    int rc = q->ops->fail(q, job, exec_id, error ? error : "failed", &d, err);
    if (dead) *dead = d;
    return rc;
}

int queue_release(queue_t *q, const queue_job_t *job, uint32_t delay_ms, err_t *err) {
    if (!job || q_check_id("job id", job->id, err) != 0) return -1;
    return q->ops->release(q, job, delay_ms, err);
}

int queue_dlq_list(queue_t *q, const char *ns, const char *after, size_t limit, queue_job_t **jobs,
                   size_t *n, err_t *err) {
    if (q_check_ns(ns, err) != 0) return -1;
    if (after && !*after) after = NULL;
    if (after && q_check_id("cursor", after, err) != 0) return -1;
    if (!jobs || !n) return err_set(err, R3E_EINVAL, "dlq list: missing argument");
    if (limit == 0) limit = STORE_LIST_DEFAULT;
    return q->ops->dlq_list(q, q_ns(ns), after, limit, jobs, n, err);
}

int queue_dlq_get(queue_t *q, const char *ns, const char *job_id, queue_job_t *job, err_t *err) {
    if (q_check_ns(ns, err) != 0 || q_check_id("job id", job_id, err) != 0) return -1;
    return q->ops->dlq_get(q, q_ns(ns), job_id, job, err);
}

int queue_dlq_replay(queue_t *q, const char *ns, const char *job_id, err_t *err) {
    if (q_check_ns(ns, err) != 0 || q_check_id("job id", job_id, err) != 0) return -1;
    return q->ops->dlq_replay(q, q_ns(ns), job_id, err);
}

int queue_dlq_delete(queue_t *q, const char *ns, const char *job_id, err_t *err) {
    if (q_check_ns(ns, err) != 0 || q_check_id("job id", job_id, err) != 0) return -1;
    return q->ops->dlq_delete(q, q_ns(ns), job_id, err);
}

static int q_check_idem(const char *ns, const char *key, err_t *err) {
    if (q_check_ns(ns, err) != 0) return -1;
    if (!key || !*key || strlen(key) > 255)
        return err_set(err, R3E_EINVAL, "idempotency key must be 1..255 bytes");
    return 0;
}

int queue_idem_get(queue_t *q, const char *ns, const char *key, char exec_id[129], err_t *err) {
    if (q_check_idem(ns, key, err) != 0) return -1;
    return q->ops->idem_get(q, q_ns(ns), key, exec_id, err);
}

int queue_idem_put(queue_t *q, const char *ns, const char *key, const char *exec_id,
                   uint64_t ttl_ms, char existing[129], err_t *err) {
    if (q_check_idem(ns, key, err) != 0) return -1;
    if (!exec_id || !*exec_id || strlen(exec_id) > 128)
        return err_set(err, R3E_EINVAL, "invalid execution id");
    return q->ops->idem_put(q, q_ns(ns), key, exec_id, ttl_ms ? ttl_ms : QUEUE_IDEM_TTL_MS,
                            existing, err);
}

int queue_idem_gc(queue_t *q, size_t max, size_t *deleted, err_t *err) {
    return q->ops->idem_gc(q, max ? max : 1000, deleted, err);
}

int queue_stats(queue_t *q, queue_stats_t *out, err_t *err) {
    return q->ops->stats(q, out, err);
}

uint64_t queue_generation(queue_t *q) {
    return q->ops->generation(q);
}

uint64_t queue_wait(queue_t *q, uint64_t seen, uint32_t timeout_ms) {
    return q->ops->wait(q, seen, timeout_ms);
}

void queue_kick(queue_t *q) {
    q->ops->kick(q);
}

uint64_t queue_next_due(queue_t *q) {
    return q->ops->next_due(q);
}

void queue_close(queue_t *q) {
    if (q) q->ops->close(q);
}

void queue_job_free(queue_job_t *j) {
    if (!j) return;
    free(j->payload);
    free(j->callback_url);
    free(j->destinations_json);
    free(j->idempotency_key);
    free(j->last_error);
    free(j->url);
    free(j->record_json);
    j->payload = j->callback_url = j->destinations_json = j->idempotency_key = j->last_error = NULL;
    j->url = j->record_json = NULL;
}

void queue_settle_free(queue_settle_t *s) {
    if (!s) return;
    free(s->record_json);
    queue_jobs_free(s->jobs, s->n_jobs);
    memset(s, 0, sizeof *s);
}

void queue_jobs_free(queue_job_t *jobs, size_t n) {
    if (!jobs) return;
    for (size_t i = 0; i < n; i++)
        queue_job_free(&jobs[i]);
    free(jobs);
}

const char *queue_state_name(queue_state_t st) {
    switch (st) {
    case QUEUE_READY:
        return "ready";
    case QUEUE_WAITING:
        return "waiting";
    case QUEUE_LEASED:
        return "leased";
    case QUEUE_DEAD:
        return "dead";
    }
    return "unknown";
}
