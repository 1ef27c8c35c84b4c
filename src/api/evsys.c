/* The event system wired into the server: trigger table + matcher, the schedule source,
 * the ingest path (event log + jobs in one atomic write), and delivery of queued jobs
 * through the runtime (execution records, destinations, callbacks). See evsys.h. */
#include "api/evsys.h"

#include "api/livehub.h"
#include "core/util.h"
#include "events/cron.h"
#include "events/matcher.h"
#include "events/source.h"
#include "obs/log.h"
#include "obs/metrics.h"
#include "queue/dispatcher.h"
#include "runtime/egress.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define EV_CATCHUP_MAX 100   /* catch_up fires at most this many missed ticks */
#define EV_SKIP_GRACE_S 2    /* skip: a tick this late still fires (scheduler jitter, slow start) */
#define EV_SCHED_TICK_MS 200 /* scheduler resolution */
#define EV_DEST_TIMEOUT_MS 5000 /* destination / callback POSTs */
#define EV_PRUNE_EVERY_MS 60000 /* event-log retention and idempotency-key GC */
#define EV_DELIVERY_ATTEMPTS 5  /* callback / URL destination POSTs: tries before "failed" */
#define EV_DELIVERY_BACKOFF_MS 1000

typedef struct {
    evsys_trig_t t;
    cron_t *cron;   /* schedule triggers */
    bool catch_up;  /* schedule: missed-tick policy */
    int64_t last_s; /* schedule: last fired tick (persisted in meta "trigfire") */
    json_t *rec;    /* the stored record, for sources that poll (evsys_trig_records) */
} ev_entry_t;

#define EV_MAX_SOURCES 8 /* chain pollers registered with evsys_source_add */

struct evsys {
    api_t *api;
    queue_t *q;
    dispatcher_t *disp;
    egress_policy_t *egress;
    pthread_rwlock_t lock; /* guards entries, byid, m */
    ev_entry_t **entries;
    size_t n, cap;
    json_t *byid; /* id -> entry pointer (as an integer): jansson's hash table as a map */
    matcher_t *m; /* custom triggers only */
    /* schedule source */
    event_source_t sched;
    pthread_t sched_thread;
    bool sched_running;
    pthread_mutex_t sched_mu;
    pthread_cond_t sched_cv;
    bool sched_stop;
    /* other sources (chain pollers), started by evsys_source_add, stopped by quiesce */
    event_source_t *sources[EV_MAX_SOURCES];
    size_t nsources;
    /* durable POSTs (callbacks, URL destinations): bounds, and the lock that serialises
     * the read-modify-write of a delivery's state in its execution's record */
    uint32_t post_attempts, post_backoff_ms;
    pthread_mutex_t rec_mu;
    /* counters for /metrics */
    _Atomic unsigned long long deliveries_ok, deliveries_failed, deliveries_busy;
};

queue_t *evsys_queue(api_t *api) {
    return api->ev ? api->ev->q : NULL;
}

void evsys_trig_free(evsys_trig_t *t) {
    free(t->destinations);
    free(t->secret);
    t->destinations = t->secret = NULL;
}

static void ev_trig_copy(const evsys_trig_t *src, evsys_trig_t *dst) {
    *dst = *src;
    dst->destinations = src->destinations ? strdup(src->destinations) : NULL;
    dst->secret = src->secret ? strdup(src->secret) : NULL;
}

void evsys_job_from_trig(const evsys_trig_t *t, queue_job_t *job) {
    memset(job, 0, sizeof *job);
    snprintf(job->ns, sizeof job->ns, "%s", t->ns);
    snprintf(job->function, sizeof job->function, "%s", t->function);
    snprintf(job->trigger_id, sizeof job->trigger_id, "%s", t->id);
    job->mode = t->mode;
    job->max_attempts = t->max_attempts;
    job->backoff_ms = t->backoff_ms;
    job->max_event_age_s = t->max_event_age_s;
    job->destinations_json = t->destinations;
}

static ev_entry_t *ev_find(evsys_t *ev, const char *id) {
    json_t *p = json_object_get(ev->byid, id);
    return p ? (ev_entry_t *)(intptr_t)json_integer_value(p) : NULL;
}

static void ev_entry_free(ev_entry_t *e) {
    if (!e) return;
    evsys_trig_free(&e->t);
    cron_free(e->cron);
    json_decref(e->rec);
    free(e);
}

/* Caller holds the write lock. */
static void ev_remove_locked(evsys_t *ev, const char *id) {
    ev_entry_t *e = ev_find(ev, id);
    if (!e) return;
    err_t er;
    if (strcmp(e->t.source_type, "custom") == 0) matcher_remove(ev->m, id, &er);
    json_object_del(ev->byid, id);
    for (size_t i = 0; i < ev->n; i++)
        if (ev->entries[i] == e) {
            ev->entries[i] = ev->entries[--ev->n];
            break;
        }
    ev_entry_free(e);
}

void evsys_trig_unload(evsys_t *ev, const char *id) {
    pthread_rwlock_wrlock(&ev->lock);
    ev_remove_locked(ev, id);
    pthread_rwlock_unlock(&ev->lock);
}

static const char *js(const json_t *o, const char *k) {
    return json_string_value(json_object_get(o, k));
}

static uint32_t ju32(const json_t *o, const char *k, uint32_t def) {
    json_t *v = json_object_get(o, k);
    return json_is_integer(v) && json_integer_value(v) > 0 ? (uint32_t)json_integer_value(v) : def;
}

/* The schedule's last fired tick: persisted, or "now" for a new trigger (a new schedule
 * does not fire for the past). */
static int64_t ev_sched_last(evsys_t *ev, const char *id) {
    char *val = NULL;
    size_t len;
    err_t er;
    int64_t last = (int64_t)(util_wall_ms() / 1000);
    if (store_meta_get(ev->api->store, "trigfire", id, &val, &len, &er) == 0) {
        last = strtoll(val, NULL, 10);
        free(val);
    }
    return last;
}

int evsys_trig_load(evsys_t *ev, const json_t *rec, err_t *err) {
    ev_entry_t *e = calloc(1, sizeof *e);
    if (!e) return err_set(err, R3E_EINTERNAL, "out of memory");
    const json_t *src = json_object_get(rec, "source");
    snprintf(e->t.id, sizeof e->t.id, "%s", js(rec, "id") ? js(rec, "id") : "");
    snprintf(e->t.ns, sizeof e->t.ns, "%s", js(rec, "ns") ? js(rec, "ns") : API_NS);
    snprintf(e->t.function, sizeof e->t.function, "%s",
             js(rec, "function") ? js(rec, "function") : "");
    snprintf(e->t.source_type, sizeof e->t.source_type, "%s",
             js(src, "type") ? js(src, "type") : "");
    e->t.enabled = !json_is_false(json_object_get(rec, "enabled"));
    const char *mode = js(rec, "mode");
    e->t.mode = mode && strcmp(mode, "sequential") == 0 ? QUEUE_SEQUENTIAL : QUEUE_PARALLEL;
    const json_t *retry = json_object_get(rec, "retry");
    e->t.max_attempts = ju32(retry, "max_attempts", QUEUE_DEFAULT_MAX_ATTEMPTS);
    e->t.backoff_ms = ju32(retry, "backoff_ms", QUEUE_DEFAULT_BACKOFF_MS);
    e->t.max_event_age_s = ju32(retry, "max_event_age_s", QUEUE_DEFAULT_MAX_EVENT_AGE_S);
    json_t *on_s = json_object_get(rec, "on_success"), *on_f = json_object_get(rec, "on_failure");
    if (on_s || on_f) {
        json_t *d = json_object();
        if (on_s) json_object_set(d, "on_success", on_s);
        if (on_f) json_object_set(d, "on_failure", on_f);
        e->t.destinations = json_dumps(d, JSON_COMPACT);
        json_decref(d);
    }
    /* webhook: a plain-text secret only in a record from before sealing (vault disabled);
     * otherwise the record says has_secret and the hook reads it from the vault */
    if (js(src, "secret")) e->t.secret = strdup(js(src, "secret"));
    e->t.secret_sealed = json_is_true(json_object_get(src, "has_secret"));
    e->rec = json_deep_copy(rec);
    pattern_t *pat = NULL;
    if (strcmp(e->t.source_type, "schedule") == 0) {
        if (cron_parse(js(src, "cron") ? js(src, "cron") : "", js(src, "tz"), &e->cron, err) < 0) {
            ev_entry_free(e);
            return -1;
        }
        const char *missed = js(src, "missed");
        e->catch_up = missed && strcmp(missed, "catch_up") == 0;
        e->last_s = ev_sched_last(ev, e->t.id);
    } else if (strcmp(e->t.source_type, "custom") == 0) {
        json_t *f = json_object_get(rec, "filter");
        json_t *empty = json_object();
        int rc = pattern_compile(f ? f : empty, &pat, err);
        json_decref(empty);
        if (rc < 0) {
            ev_entry_free(e);
            return -1;
        }
    }
    pthread_rwlock_wrlock(&ev->lock);
    ev_remove_locked(ev, e->t.id);
    if (ev->n == ev->cap) {
        size_t cap = ev->cap ? ev->cap * 2 : 64;
        ev_entry_t **ne = realloc(ev->entries, cap * sizeof *ne);
        if (!ne) {
            pthread_rwlock_unlock(&ev->lock);
            pattern_free(pat);
            ev_entry_free(e);
            return err_set(err, R3E_EINTERNAL, "out of memory");
        }
        ev->entries = ne;
        ev->cap = cap;
    }
    if (pat && matcher_add(ev->m, e->t.id, pat, err) < 0) {
        pthread_rwlock_unlock(&ev->lock);
        ev_entry_free(e);
        return -1;
    }
    ev->entries[ev->n++] = e;
    json_object_set_new(ev->byid, e->t.id, json_integer((json_int_t)(intptr_t)e));
    pthread_rwlock_unlock(&ev->lock);
    return 0;
}

int evsys_trig_get(evsys_t *ev, const char *id, evsys_trig_t *out, err_t *err) {
    pthread_rwlock_rdlock(&ev->lock);
    ev_entry_t *e = ev_find(ev, id);
    if (e) ev_trig_copy(&e->t, out);
    pthread_rwlock_unlock(&ev->lock);
    return e ? 0 : err_set(err, R3E_ENOTFOUND, "trigger \"%.40s\" not found", id);
}

json_t *evsys_trig_records(evsys_t *ev, const char *source_type) {
    json_t *out = json_array();
    pthread_rwlock_rdlock(&ev->lock);
    for (size_t i = 0; i < ev->n; i++)
        if (strcmp(ev->entries[i]->t.source_type, source_type) == 0 && ev->entries[i]->rec)
            json_array_append_new(out, json_deep_copy(ev->entries[i]->rec));
    pthread_rwlock_unlock(&ev->lock);
    return out;
}

/* ---- ingest ----------------------------------------------------------------------------- */

typedef struct {
    evsys_t *ev;
    const char *ns;
    queue_job_t *jobs;
    size_t n, cap;
    bool oom;
} ev_match_t;

static void ev_on_match(const char *trigger_id, void *ud) {
    ev_match_t *mc = ud;
    ev_entry_t *e = ev_find(mc->ev, trigger_id);
    if (!e || !e->t.enabled || strcmp(e->t.ns, mc->ns) != 0) return;
    if (mc->n == mc->cap) {
        size_t cap = mc->cap ? mc->cap * 2 : 8;
        queue_job_t *nj = realloc(mc->jobs, cap * sizeof *nj);
        if (!nj) {
            mc->oom = true;
            return;
        }
        mc->jobs = nj;
        mc->cap = cap;
    }
    evsys_job_from_trig(&e->t, &mc->jobs[mc->n]);
    /* the destinations string must outlive the read lock: copy it */
    if (e->t.destinations) mc->jobs[mc->n].destinations_json = strdup(e->t.destinations);
    mc->n++;
}

/* Fills one batch item for event: the jobs of the triggers it matches and its log entry.
 * Strings owned by the item (ev_item_free). */
typedef struct {
    queue_item_t qi;
    eventlog_event_t le;
    char *text;
} ev_item_t;

static void ev_item_free(ev_item_t *it) {
    for (size_t i = 0; i < it->qi.n_jobs; i++) {
        free(it->qi.jobs[i].destinations_json);
        free(it->qi.jobs[i].record_json);
    }
    free(it->qi.jobs);
    free(it->text);
}

static char *ev_record_hook(void *arg, const queue_job_t *job);

static int ev_item_prepare(evsys_t *ev, const char *ns, json_t *event, const evsys_trig_t *only,
                           ev_item_t *it, err_t *err) {
    ev_match_t mc = {.ev = ev, .ns = ns};
    memset(it, 0, sizeof *it);
    if (only) {
        mc.jobs = calloc(1, sizeof *mc.jobs);
        if (!mc.jobs) return err_set(err, R3E_EINTERNAL, "out of memory");
        if (only->enabled) {
            evsys_job_from_trig(only, &mc.jobs[0]);
            if (only->destinations) mc.jobs[0].destinations_json = strdup(only->destinations);
            mc.n = 1;
        }
    } else {
        pthread_rwlock_rdlock(&ev->lock);
        matcher_match(ev->m, event, ev_on_match, &mc, NULL);
        pthread_rwlock_unlock(&ev->lock);
    }
    it->qi.jobs = mc.jobs;
    it->qi.n_jobs = mc.n;
    it->text = json_dumps(event, JSON_COMPACT);
    if (mc.oom || !it->text) return err_set(err, R3E_EINTERNAL, "out of memory");
    for (size_t i = 0; i < mc.n; i++)
        util_ulid(mc.jobs[i].id);
    it->le = (eventlog_event_t){.ns = ns,
                                .source = js(event, "source"),
                                .ce_id = js(event, "id"),
                                .type = js(event, "type"),
                                .json = it->text};
    it->qi.event = &it->le;
    /* each job's "queued" record joins the ingest write: pending work is listed at once */
    it->qi.record = ev_record_hook;
    it->qi.record_arg = ev;
    return 0;
}

int evsys_ingest_many(evsys_t *ev, const char *ns, json_t *const *events, size_t n,
                      const evsys_trig_t *only, evsys_ingest_result_t *out, err_t *err) {
    ev_item_t *items = calloc(n ? n : 1, sizeof *items);
    queue_item_t *qi = calloc(n ? n : 1, sizeof *qi);
    int rc = -1;
    size_t prepared = 0;
    if (!items || !qi) {
        err_set(err, R3E_EINTERNAL, "out of memory");
        goto out;
    }
    for (; prepared < n; prepared++)
        if (ev_item_prepare(ev, ns, events[prepared], only, &items[prepared], err) < 0) {
            prepared++;
            goto out;
        }
    for (size_t i = 0; i < n; i++)
        qi[i] = items[i].qi;
    /* one durable write for the whole batch: all of it is acknowledged, or none */
    rc = n ? queue_enqueue_batch(ev->q, qi, n, err) : 0;
    if (rc < 0) goto out;
    for (size_t i = 0; i < n; i++) {
        memcpy(out[i].event_id, qi[i].event_id, sizeof out[i].event_id);
        out[i].duplicate = qi[i].duplicate;
        out[i].jobs = qi[i].duplicate ? 0 : qi[i].n_jobs;
        if (qi[i].duplicate) continue;
        livehub_publish_event(ns, items[i].text, strlen(items[i].text));
        for (size_t k = 0; k < qi[i].n_jobs; k++) /* the "queued" records written with them */
            if (qi[i].jobs[k].record_json)
                livehub_publish_execution(ns, qi[i].jobs[k].record_json,
                                          strlen(qi[i].jobs[k].record_json));
    }
out:
    for (size_t i = 0; i < prepared; i++)
        ev_item_free(&items[i]);
    free(items);
    free(qi);
    return rc;
}

int evsys_ingest(evsys_t *ev, const char *ns, json_t *event, const evsys_trig_t *only,
                 char event_id[27], bool *duplicate, size_t *njobs, err_t *err) {
    evsys_ingest_result_t res = {0};
    if (evsys_ingest_many(ev, ns, &event, 1, only, &res, err) < 0) return -1;
    memcpy(event_id, res.event_id, 27);
    *duplicate = res.duplicate;
    if (njobs) *njobs = res.jobs;
    return 0;
}

/* ---- execution records -------------------------------------------------------------- */

static json_t *ev_record_base(const queue_job_t *job, const char *status) {
    json_t *o = json_object();
    json_object_set_new(o, "execution_id", json_string(job->id));
    json_object_set_new(o, "function", json_string(job->function));
    json_object_set_new(o, "status", json_string(status));
    json_object_set_new(o, "async", json_true());
    json_object_set_new(o, "attempts", json_integer(job->attempt));
    json_object_set_new(
        o, "max_attempts",
        json_integer(job->max_attempts ? job->max_attempts : QUEUE_DEFAULT_MAX_ATTEMPTS));
    if (job->event_id[0]) json_object_set_new(o, "event_id", json_string(job->event_id));
    if (job->trigger_id[0]) json_object_set_new(o, "trigger_id", json_string(job->trigger_id));
    return o;
}

/* Stores the record (consumed) and publishes it; returns the text (malloc'ed) or NULL. */
static char *ev_record_put(api_t *api, const queue_job_t *job, json_t *rec) {
    char *text = json_dumps(rec, JSON_COMPACT);
    json_decref(rec);
    if (!text) return NULL;
    const char *ns = job->ns[0] ? job->ns : API_NS;
    err_t e;
    if (store_put_execution(api->store, ns, job->function, job->id, text, &e) < 0)
        log_msg(LOG_ERROR, &(log_ctx_t){.function = job->function, .execution_id = job->id},
                "could not store the execution record: %s", e.msg);
    livehub_publish_execution(ns, text, strlen(text));
    return text;
}

/* Does s need no JSON escaping (ids, function names)? */
static bool ev_plain(const char *s) {
    for (; *s; s++)
        if (*s == '"' || *s == '\\' || (unsigned char)*s < 0x20) return false;
    return true;
}

/* The "queued" record of a job (malloc'ed JSON text), the same fields ev_record_base
 * writes. Built with snprintf, not jansson: it is on the ingest path, once per job, and
 * its strings are ids and function names that need no escaping (checked). */
static char *ev_queued_text(const queue_job_t *job) {
    char ts[40];
    util_rfc3339(job->created_ms ? job->created_ms : util_wall_ms(), ts, sizeof ts);
    if (!ev_plain(job->id) || !ev_plain(job->function) || !ev_plain(job->event_id) ||
        !ev_plain(job->trigger_id)) {
        json_t *rec = ev_record_base(job, "queued");
        json_object_set_new(rec, "queued_at", json_string(ts));
        char *t = json_dumps(rec, JSON_COMPACT);
        json_decref(rec);
        return t;
    }
    char ev_part[80] = "", trig_part[QUEUE_KEY_MAX + 20] = "";
    if (job->event_id[0]) snprintf(ev_part, sizeof ev_part, ",\"event_id\":\"%s\"", job->event_id);
    if (job->trigger_id[0])
        snprintf(trig_part, sizeof trig_part, ",\"trigger_id\":\"%s\"", job->trigger_id);
    char *t = NULL;
    if (asprintf(
            &t,
            "{\"execution_id\":\"%s\",\"function\":\"%s\",\"status\":\"queued\",\"async\":true,"
            "\"attempts\":%u,\"max_attempts\":%u%s%s,\"queued_at\":\"%s\"}",
            job->id, job->function, job->attempt,
            job->max_attempts ? job->max_attempts : QUEUE_DEFAULT_MAX_ATTEMPTS, ev_part, trig_part,
            ts) < 0)
        return NULL;
    return t;
}

static char *ev_record_hook(void *arg, const queue_job_t *job) {
    (void)arg;
    return ev_queued_text(job);
}

void evsys_record_queued(api_t *api, const queue_job_t *job) {
    char *text = ev_queued_text(job);
    if (!text) return;
    const char *ns = job->ns[0] ? job->ns : API_NS;
    err_t e;
    if (store_put_execution(api->store, ns, job->function, job->id, text, &e) < 0)
        log_msg(LOG_ERROR, &(log_ctx_t){.function = job->function, .execution_id = job->id},
                "could not store the execution record: %s", e.msg);
    livehub_publish_execution(ns, text, strlen(text));
    free(text);
}

int evsys_enqueue_async(api_t *api, queue_job_t *job, err_t *err) {
    queue_item_t it = {.jobs = job, .n_jobs = 1, .record = ev_record_hook};
    int rc = queue_enqueue_batch(evsys_queue(api), &it, 1, err);
    if (rc == 0 && job->record_json)
        livehub_publish_execution(job->ns[0] ? job->ns : API_NS, job->record_json,
                                  strlen(job->record_json));
    free(job->record_json);
    job->record_json = NULL;
    return rc;
}

/* ---- destinations and callbacks ------------------------------------------------------ */

typedef struct {
    evsys_t *ev;
    const char *host;
    bool refused;
    char why[128];
} ev_sock_ctx_t;

/* Every connection the POST makes is checked against the egress policy (the address
 * actually dialled, so DNS tricks do not bypass it). */
static curl_socket_t ev_open_socket(void *clientp, curlsocktype purpose,
                                    struct curl_sockaddr *addr) {
    (void)purpose;
    ev_sock_ctx_t *c = clientp;
    if (!egress_check(c->ev->egress, c->host, &addr->addr, c->why, sizeof c->why)) {
        c->refused = true;
        return CURL_SOCKET_BAD;
    }
    return socket(addr->family, addr->socktype, addr->protocol);
}

static size_t ev_discard(char *p, size_t s, size_t n, void *u) {
    (void)p;
    (void)u;
    return s * n;
}

/* POSTs body to url under the egress policy. 0 on a 2xx answer; -1 with R3E_EFORBIDDEN
 * (egress refused), R3E_EINVAL (bad URL, a 4xx but 408/429: permanent) or R3E_EIO
 * (connection error, timeout, 5xx, 408, 429: worth a retry). */
static int ev_post_url(evsys_t *ev, const char *url, const char *body, err_t *err) {
    CURLU *u = curl_url();
    char *host = NULL;
    if (!u || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
        curl_url_cleanup(u);
        return err_set(err, R3E_EINVAL, "bad URL %.200s", url);
    }
    ev_sock_ctx_t sc = {.ev = ev, .host = host};
    CURL *c = curl_easy_init();
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)EV_DEST_TIMEOUT_MS);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, ev_open_socket);
    curl_easy_setopt(c, CURLOPT_OPENSOCKETDATA, &sc);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, ev_discard);
    CURLcode cc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    curl_free(host);
    curl_url_cleanup(u);
    if (sc.refused) return err_set(err, R3E_EFORBIDDEN, "egress refused: %s", sc.why);
    if (cc != CURLE_OK) return err_set(err, R3E_EIO, "%s", curl_easy_strerror(cc));
    /* a 4xx other than 408/429 is the receiver's final word: not worth a retry */
    if (status >= 400 && status < 500 && status != 408 && status != 429)
        return err_set(err, R3E_EINVAL, "HTTP %ld", status);
    if (status < 200 || status > 299) return err_set(err, R3E_EIO, "HTTP %ld", status);
    return 0;
}

/* Loads execution id's record (NULL when absent or unreadable). */
static json_t *ev_record_load(evsys_t *ev, const char *ns, const char *id) {
    char *text = NULL;
    err_t e;
    if (store_get_execution(ev->api->store, ns, id, &text, &e) < 0) return NULL;
    json_t *rec = json_loads(text, 0, NULL);
    free(text);
    return json_is_object(rec) ? rec : (json_decref(rec), NULL);
}

/* A delivery job (callback or URL destination) that POSTs body to url and reports into
 * job's record under `delivery`. */
static void ev_post_job(evsys_t *ev, const queue_job_t *job, const char *url, const char *delivery,
                        char *body, queue_job_t *d) {
    memset(d, 0, sizeof *d);
    snprintf(d->ns, sizeof d->ns, "%s", job->ns);
    snprintf(d->function, sizeof d->function, "%s", job->function);
    d->payload = body;
    d->url = strdup(url);
    snprintf(d->parent_id, sizeof d->parent_id, "%s", job->id);
    snprintf(d->delivery, sizeof d->delivery, "%s", delivery);
    d->max_attempts = ev->post_attempts;
    d->backoff_ms = ev->post_backoff_ms;
}

/* The queue's settle hook (queue_config_t.settled): a job acked or dead-lettered (on any
 * path: last attempt, max_event_age, a lease lost on the last attempt) gets its
 * destination and callback as follow-up jobs in the same atomic write, and a dead one its
 * final record with the reason. Destination document:
 * {"condition":"success|failure","reason"?,"execution":record,"event":original}; a
 * {"function"} destination is an async job with it as its event, a {"url"} one and the
 * X-Callback-Url are durable POSTs (delivery jobs, see ev_deliver). Runs under the queue's
 * lock: reads the store, never calls the queue. */
static void ev_delivery_dead(evsys_t *ev, const queue_job_t *job, const char *reason);

static void ev_settled(void *arg, const queue_job_t *job, const char *dead_reason,
                       queue_settle_t *out) {
    evsys_t *ev = arg;
    if (job->url) { /* a delivery job itself */
        if (dead_reason) ev_delivery_dead(ev, job, dead_reason);
        return;
    }
    bool ok = !dead_reason;
    json_t *dests = job->destinations_json ? json_loads(job->destinations_json, 0, NULL) : NULL;
    json_t *dest = json_object_get(dests, ok ? "on_success" : "on_failure");
    const char *dfn = js(dest, "function"), *durl = js(dest, "url");
    bool cb = job->callback_url && *job->callback_url;
    if (ok && !dfn && !durl && !cb) { /* the common case: nothing to add, no store read */
        json_decref(dests);
        return;
    }
    const char *ns = job->ns[0] ? job->ns : API_NS;
    json_t *rec = ev_record_load(ev, ns, job->id);
    if (!rec) rec = ev_record_base(job, ok ? "ok" : "error");
    if (dead_reason) {
        const char *st = js(rec, "status");
        if (!st || strcmp(st, "running") == 0 || strcmp(st, "queued") == 0) {
            /* the run never finished (its lease was lost): the record says so */
            json_object_set_new(rec, "status", json_string("error"));
            json_object_set_new(rec, "error",
                                json_pack("{s:s,s:s}", "name", "DeliveryError", "message",
                                          job->last_error ? job->last_error : dead_reason));
        }
        json_object_del(rec, "will_retry");
        json_object_set_new(rec, "attempts", json_integer(job->attempt));
        json_object_set_new(rec, "dead_letter",
                            json_pack("{s:s,s:s}", "reason", dead_reason, "last_error",
                                      job->last_error ? job->last_error : ""));
    }
    char *final = json_dumps(rec, JSON_COMPACT); /* what callbacks and destinations get */
    out->jobs = calloc(2, sizeof *out->jobs);
    if (final && out->jobs && (dfn || durl)) {
        json_t *doc =
            json_pack("{s:s,s:O}", "condition", ok ? "success" : "failure", "execution", rec);
        if (dead_reason) json_object_set_new(doc, "reason", json_string(dead_reason));
        json_t *orig = job->payload ? json_loads(job->payload, JSON_DECODE_ANY, NULL) : NULL;
        json_object_set_new(doc, "event", orig ? orig : json_null());
        char *text = json_dumps(doc, JSON_COMPACT);
        json_decref(doc);
        queue_job_t *d = &out->jobs[out->n_jobs];
        json_t *state = json_pack("{s:s}", "condition", ok ? "success" : "failure");
        if (text && dfn) {
            memset(d, 0, sizeof *d);
            util_ulid(d->id);
            snprintf(d->ns, sizeof d->ns, "%s", job->ns);
            snprintf(d->function, sizeof d->function, "%s", dfn);
            d->payload = text;
            d->record_json = ev_queued_text(d);
            json_object_set_new(state, "function", json_string(dfn));
            json_object_set_new(state, "execution_id", json_string(d->id));
            out->n_jobs++;
        } else if (text) {
            ev_post_job(ev, job, durl, "destination", text, d);
            json_object_set_new(state, "state", json_string("pending"));
            json_object_set_new(state, "attempts", json_integer(0));
            out->n_jobs++;
        }
        json_object_set_new(rec, "destination", state);
    }
    if (final && out->jobs && cb) {
        ev_post_job(ev, job, job->callback_url, "callback", strdup(final),
                    &out->jobs[out->n_jobs++]);
        json_object_set_new(rec, "callback",
                            json_pack("{s:s,s:i}", "state", "pending", "attempts", 0));
    }
    free(final);
    out->record_json = json_dumps(rec, JSON_COMPACT);
    if (out->record_json) livehub_publish_execution(ns, out->record_json, strlen(out->record_json));
    json_decref(rec);
    json_decref(dests);
}

/* Sets the state of delivery job's POST in its parent execution's record (under rec_mu:
 * a callback and a destination of one execution may report at the same time). */
static void ev_delivery_state(evsys_t *ev, const queue_job_t *job, const char *state,
                              const char *last_error) {
    const char *ns = job->ns[0] ? job->ns : API_NS;
    pthread_mutex_lock(&ev->rec_mu);
    json_t *rec = ev_record_load(ev, ns, job->parent_id);
    if (rec) {
        json_t *d = json_object_get(rec, job->delivery);
        json_t *nd = json_is_object(d) ? json_deep_copy(d) : json_object();
        json_object_set_new(nd, "state", json_string(state));
        json_object_set_new(nd, "attempts", json_integer(job->attempt));
        if (last_error)
            json_object_set_new(nd, "last_error", json_string(last_error));
        else
            json_object_del(nd, "last_error");
        json_object_set_new(rec, job->delivery, nd);
        const char *fn = js(rec, "function");
        char *text = json_dumps(rec, JSON_COMPACT);
        err_t e;
        if (text && store_put_execution(ev->api->store, ns, fn ? fn : job->function, job->parent_id,
                                        text, &e) < 0)
            log_msg(LOG_ERROR,
                    &(log_ctx_t){.function = job->function, .execution_id = job->parent_id},
                    "could not store the %s state: %s", job->delivery, e.msg);
        if (text) livehub_publish_execution(ns, text, strlen(text));
        free(text);
        json_decref(rec);
    }
    pthread_mutex_unlock(&ev->rec_mu);
}

static const char *ev_delivery_label(const queue_job_t *job) {
    return strcmp(job->delivery, "callback") == 0 ? "X-Callback-Url" : "destination";
}

/* A delivery job dead-lettered by the queue itself (too old, or its last attempt's lease
 * lost): the POST is recorded as failed; the dead letter can be replayed. */
static void ev_delivery_dead(evsys_t *ev, const queue_job_t *job, const char *reason) {
    char why[512];
    snprintf(why, sizeof why, "%s (%s)", job->last_error ? job->last_error : "failed", reason);
    ev_delivery_state(ev, job, "failed", why);
}

/* Runs a delivery job: POSTs its payload under the egress policy. Delivered -> ack; a
 * permanent failure (egress refused, bad URL, 4xx but 408/429) or the last attempt ->
 * recorded "failed" and acked (no dead letter); otherwise a failed attempt, retried by
 * the queue with backoff, the record showing "retrying". */
static int ev_deliver(evsys_t *ev, const queue_job_t *job, err_t *err) {
    err_t pe;
    uint32_t max = job->max_attempts ? job->max_attempts : ev->post_attempts;
    if (ev_post_url(ev, job->url, job->payload ? job->payload : "null", &pe) == 0) {
        ev_delivery_state(ev, job, "delivered", NULL);
        return 0;
    }
    bool permanent = pe.code == R3E_EFORBIDDEN || pe.code == R3E_EINVAL;
    bool final = permanent || job->attempt >= max;
    log_msg(LOG_WARN, &(log_ctx_t){.function = job->function, .execution_id = job->parent_id},
            "%s POST failed: %s (attempt %u of %u%s)", ev_delivery_label(job), pe.msg, job->attempt,
            max, final ? ", giving up" : ", will retry");
    ev_delivery_state(ev, job, final ? "failed" : "retrying", pe.msg);
    if (final) return 0;
    return err_set(err, R3E_EIO, "%s", pe.msg);
}

/* ---- delivery ------------------------------------------------------------------------ */

static int ev_run(void *arg, const queue_job_t *job, char exec_id[129], err_t *err) {
    evsys_t *ev = arg;
    api_t *api = ev->api;
    const char *ns = job->ns[0] ? job->ns : API_NS;
    if (job->url) return ev_deliver(ev, job, err); /* a callback / destination POST */
    snprintf(exec_id, 129, "%s", job->id);
    uint32_t max = job->max_attempts ? job->max_attempts : QUEUE_DEFAULT_MAX_ATTEMPTS;
    bool last = job->attempt >= max;
    store_version_t v;
    if (api_active_version_in(api, ns, job->function, &v, err) < 0) {
        json_t *rec = ev_record_base(job, "error");
        json_object_set_new(rec, "error",
                            json_pack("{s:s,s:s}", "name", "NotFound", "message", err->msg));
        if (!last) json_object_set_new(rec, "will_retry", json_true());
        free(ev_record_put(api, job, rec)); /* destinations: the settle hook */
        atomic_fetch_add(&ev->deliveries_failed, 1);
        return -1; /* err already says which function is missing */
    }
    uint64_t started = util_wall_ms();
    char ts[40];
    util_rfc3339(started, ts, sizeof ts);
    json_t *rec = ev_record_base(job, "running");
    json_object_set_new(rec, "version", json_integer(v.version));
    json_object_set_new(rec, "started_at", json_string(ts));
    free(ev_record_put(api, job, rec));
    runtime_request_t rq = {.version = &v,
                            .exec_id = job->id,
                            .event_json = job->payload ? job->payload : "null",
                            .event_len = job->payload ? strlen(job->payload) : 4};
    runtime_result_t res;
    int rc = runtime_invoke(api->rt, &rq, &res, err);
    uint32_t version = v.version;
    store_version_free(&v);
    if (rc < 0) {
        runtime_result_free(&res);
        if (err->code == R3E_ELIMIT || err->code == R3E_EUNAVAIL) {
            /* busy: back to queued; the queue does not count the attempt */
            queue_job_t back = *job;
            back.attempt = job->attempt ? job->attempt - 1 : 0;
            evsys_record_queued(api, &back);
            atomic_fetch_add(&ev->deliveries_busy, 1);
            return -1;
        }
        json_t *r2 = ev_record_base(job, "error");
        json_object_set_new(r2, "error",
                            json_pack("{s:s,s:s}", "name", "Error", "message", err->msg));
        if (!last) json_object_set_new(r2, "will_retry", json_true());
        free(ev_record_put(api, job, r2));
        atomic_fetch_add(&ev->deliveries_failed, 1);
        err->code = R3E_EIO; /* a failed attempt, not a busy runtime: retried with backoff */
        return -1;
    }
    bool ok = strcmp(res.status, "ok") == 0;
    metrics_invocation(job->function, res.status, res.duration_us);
    json_t *fin = ev_record_base(job, res.status);
    json_object_set_new(fin, "version", json_integer(version));
    json_t *result =
        res.result_json ? json_loadb(res.result_json, res.result_len, JSON_DECODE_ANY, NULL) : NULL;
    json_object_set_new(fin, "result", result ? result : json_null());
    if (res.error) json_object_set(fin, "error", res.error);
    json_object_set(fin, "logs", res.logs ? res.logs : json_array());
    if (res.logs_truncated) json_object_set_new(fin, "logs_truncated", json_true());
    json_object_set_new(fin, "duration_us", json_integer((json_int_t)res.duration_us));
    json_object_set_new(fin, "cold", json_boolean(res.cold));
    json_object_set_new(fin, "started_at", json_string(ts));
    if (!ok && !last) json_object_set_new(fin, "will_retry", json_true());
    free(ev_record_put(api, job, fin)); /* destinations, callback: ev_settled */
    if (ok) {
        atomic_fetch_add(&ev->deliveries_ok, 1);
        runtime_result_free(&res);
        return 0;
    }
    const char *emsg = json_string_value(json_object_get(res.error, "message"));
    err_set(err, R3E_EIO, "%s: %s", res.status, emsg ? emsg : res.status);
    runtime_result_free(&res);
    atomic_fetch_add(&ev->deliveries_failed, 1);
    return -1;
}

/* ---- schedule source ----------------------------------------------------------------- */

static int ev_emit(void *ctx, const char *ns, json_t *event, const char *trigger_id, err_t *err) {
    evsys_t *ev = ctx;
    evsys_trig_t t, *only = NULL;
    if (trigger_id) {
        if (evsys_trig_get(ev, trigger_id, &t, err) < 0) return -1;
        only = &t;
    }
    char eid[27];
    bool dup = false;
    int rc = evsys_ingest(ev, ns, event, only, eid, &dup, NULL, err);
    if (only) evsys_trig_free(&t);
    return rc;
}

static void ev_fire(evsys_t *ev, const char *id, const char *ns, int64_t tick) {
    char ceid[80], src[80], ts[40];
    snprintf(ceid, sizeof ceid, "%s-%lld", id, (long long)tick);
    snprintf(src, sizeof src, "r3e://schedule/%s", id);
    util_rfc3339((uint64_t)tick * 1000, ts, sizeof ts);
    /* id is a pure function of (trigger, tick): a re-fire after a crash is a duplicate */
    json_t *e = json_pack("{s:s,s:s,s:s,s:s,s:s,s:{s:s,s:s}}", "specversion", "1.0", "id", ceid,
                          "source", src, "type", "r3e.schedule", "time", ts, "data", "trigger_id",
                          id, "scheduled_time", ts);
    err_t er;
    if (ev_emit(ev, ns, e, id, &er) < 0)
        log_msg(LOG_WARN, NULL, "schedule %s: could not enqueue tick: %s", id, er.msg);
    json_decref(e);
}

/* One pass: fire every due tick of every enabled schedule trigger. Ticks are collected
 * under the read lock and fired after it (ingest takes the lock itself). */
static void ev_sched_pass(evsys_t *ev) {
    int64_t now = (int64_t)(util_wall_ms() / 1000);
    typedef struct {
        char id[27], ns[64];
        int64_t ticks[EV_CATCHUP_MAX];
        size_t n;
        int64_t last;
    } due_t;
    due_t *due = NULL;
    size_t nd = 0;
    pthread_rwlock_wrlock(&ev->lock);
    for (size_t i = 0; i < ev->n; i++) {
        ev_entry_t *e = ev->entries[i];
        if (!e->cron || !e->t.enabled) continue;
        int64_t from = e->last_s;
        if (!e->catch_up && from < now - EV_SKIP_GRACE_S) from = now - EV_SKIP_GRACE_S;
        int64_t t = cron_next(e->cron, from);
        if (t == CRON_NONE || t > now) continue;
        due_t *nd2 = realloc(due, (nd + 1) * sizeof *due);
        if (!nd2) break;
        due = nd2;
        due_t *d = &due[nd++];
        memset(d, 0, sizeof *d);
        memcpy(d->id, e->t.id, sizeof d->id);
        memcpy(d->ns, e->t.ns, sizeof d->ns);
        while (t != CRON_NONE && t <= now && d->n < EV_CATCHUP_MAX) {
            d->ticks[d->n++] = t;
            t = cron_next(e->cron, t);
        }
        /* past the bound, the rest of the backlog is skipped */
        d->last = d->n == EV_CATCHUP_MAX ? now : d->ticks[d->n - 1];
        e->last_s = d->last;
    }
    pthread_rwlock_unlock(&ev->lock);
    for (size_t i = 0; i < nd; i++) {
        for (size_t k = 0; k < due[i].n; k++)
            ev_fire(ev, due[i].id, due[i].ns, due[i].ticks[k]);
        char v[32];
        snprintf(v, sizeof v, "%lld", (long long)due[i].last);
        err_t er;
        if (store_meta_put(ev->api->store, "trigfire", due[i].id, v, strlen(v), &er) < 0)
            log_warn("schedule %s: could not persist the last tick: %s", due[i].id, er.msg);
    }
    free(due);
}

/* Retention: events older than --event-retention-days and expired idempotency keys, in
 * bounded batches so one pass never holds the store for long. */
static void ev_prune(evsys_t *ev) {
    uint32_t days = ev->api->cfg.event_retention_days ? ev->api->cfg.event_retention_days : 7;
    uint64_t cutoff = util_wall_ms() - (uint64_t)days * 86400000ull;
    size_t deleted = 0, total = 0;
    err_t er;
    do {
        if (eventlog_retain(ev->api->store, cutoff, 1000, &deleted, &er) < 0) {
            log_warn("event retention: %s", er.msg);
            break;
        }
        total += deleted;
    } while (deleted == 1000 && total < 100000);
    if (total) log_info("event retention: %zu events older than %u days deleted", total, days);
    if (queue_idem_gc(ev->q, 0, &deleted, &er) < 0) log_warn("idempotency key GC: %s", er.msg);
}

static void *ev_sched_main(void *arg) {
    evsys_t *ev = arg;
    uint64_t next_prune = 0;
    pthread_mutex_lock(&ev->sched_mu);
    while (!ev->sched_stop) {
        pthread_mutex_unlock(&ev->sched_mu);
        ev_sched_pass(ev);
        if (util_wall_ms() >= next_prune) {
            ev_prune(ev);
            next_prune = util_wall_ms() + EV_PRUNE_EVERY_MS;
        }
        pthread_mutex_lock(&ev->sched_mu);
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += EV_SCHED_TICK_MS * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        if (!ev->sched_stop) pthread_cond_timedwait(&ev->sched_cv, &ev->sched_mu, &ts);
    }
    pthread_mutex_unlock(&ev->sched_mu);
    return NULL;
}

static int ev_sched_start(event_source_t *src, event_emit_fn emit, void *ctx, err_t *err) {
    (void)emit;
    evsys_t *ev = ctx;
    (void)src;
    if (pthread_create(&ev->sched_thread, NULL, ev_sched_main, ev) != 0)
        return err_set(err, R3E_EINTERNAL, "cannot start the scheduler thread");
    ev->sched_running = true;
    return 0;
}

static void ev_sched_stop(event_source_t *src) {
    evsys_t *ev = src->impl;
    if (!ev->sched_running) return;
    pthread_mutex_lock(&ev->sched_mu);
    ev->sched_stop = true;
    pthread_cond_broadcast(&ev->sched_cv);
    pthread_mutex_unlock(&ev->sched_mu);
    pthread_join(ev->sched_thread, NULL);
    ev->sched_running = false;
}

/* ---- lifecycle ----------------------------------------------------------------------- */

static int ev_load_all(evsys_t *ev, err_t *err) {
    char *after = NULL;
    size_t total = 0;
    for (;;) {
        char **keys = NULL, **vals = NULL;
        size_t n = 0;
        if (store_meta_list(ev->api->store, "trigger", after, 500, &keys, &vals, &n, err) < 0) {
            free(after);
            return -1;
        }
        for (size_t i = 0; i < n; i++) {
            json_t *rec = json_loads(vals[i], 0, NULL);
            err_t e2;
            if (!rec || evsys_trig_load(ev, rec, &e2) < 0)
                log_warn("trigger %s not loaded: %s", keys[i], rec ? e2.msg : "bad record");
            json_decref(rec);
        }
        free(after);
        after = n ? strdup(keys[n - 1]) : NULL;
        total += n;
        store_strv_free(keys, n);
        store_strv_free(vals, n);
        if (n < 500) break;
    }
    free(after);
    log_info("events: %zu triggers loaded", total);
    return 0;
}

int evsys_start(api_t *api, err_t *err) {
    evsys_t *ev = calloc(1, sizeof *ev);
    if (!ev) return err_set(err, R3E_EINTERNAL, "out of memory");
    ev->api = api;
    api->ev = ev;
    pthread_rwlock_init(&ev->lock, NULL);
    pthread_mutex_init(&ev->sched_mu, NULL);
    pthread_cond_init(&ev->sched_cv, NULL);
    pthread_mutex_init(&ev->rec_mu, NULL);
    const char *pa = getenv("R3E_DELIVERY_ATTEMPTS"), *pb = getenv("R3E_DELIVERY_BACKOFF_MS");
    ev->post_attempts = pa && atoi(pa) > 0 ? (uint32_t)atoi(pa) : EV_DELIVERY_ATTEMPTS;
    ev->post_backoff_ms = pb && atoi(pb) > 0 ? (uint32_t)atoi(pb) : EV_DELIVERY_BACKOFF_MS;
    ev->byid = json_object();
    ev->m = matcher_new();
    ev->egress = egress_policy_parse(api->cfg.egress_allow, err);
    if (!ev->byid || !ev->m || !ev->egress) {
        if (!ev->egress) return -1;
        return err_set(err, R3E_EINTERNAL, "out of memory");
    }
    /* the settle hook runs from here on (leases handed back at open may dead-letter) */
    queue_config_t qc = {.settled = ev_settled, .settled_arg = ev};
    ev->q = queue_open_store(api->store, &qc, err);
    if (!ev->q) return -1;
    if (ev_load_all(ev, err) < 0) return -1;
    ev->sched = (event_source_t){
        .type = "schedule", .start = ev_sched_start, .stop = ev_sched_stop, .impl = ev};
    if (ev->sched.start(&ev->sched, ev_emit, ev, err) < 0) return -1;
    const char *th = getenv("R3E_DISPATCHER_THREADS");
    dispatcher_config_t dc = {.queue = ev->q,
                              .run = ev_run,
                              .arg = ev,
                              .threads = th ? (unsigned)atoi(th) : 4,
                              .busy_delay_ms = 100,
                              .idle_ms = 500,
                              .name = "dispatcher"};
    ev->disp = dispatcher_start(&dc, err);
    if (!ev->disp) return -1;
    log_info("events: queue and dispatcher started");
    return 0;
}

int evsys_source_add(api_t *api, event_source_t *src, err_t *err) {
    evsys_t *ev = api->ev;
    if (!ev) return err_set(err, R3E_EUNAVAIL, "the event system is not running");
    if (ev->nsources == EV_MAX_SOURCES) return err_set(err, R3E_ELIMIT, "too many event sources");
    if (src->start(src, ev_emit, ev, err) < 0) return -1;
    ev->sources[ev->nsources++] = src;
    return 0;
}

void evsys_quiesce(api_t *api) {
    evsys_t *ev = api->ev;
    if (!ev) return;
    while (ev->nsources > 0) { /* pollers first: nothing may emit into a stopping queue */
        event_source_t *src = ev->sources[--ev->nsources];
        src->stop(src);
    }
    if (ev->sched.stop) ev->sched.stop(&ev->sched);
    dispatcher_stop(ev->disp);
    ev->disp = NULL;
}

void evsys_stop(api_t *api) {
    evsys_t *ev = api->ev;
    if (!ev) return;
    evsys_quiesce(api);
    queue_close(ev->q);
    for (size_t i = 0; i < ev->n; i++)
        ev_entry_free(ev->entries[i]);
    free(ev->entries);
    json_decref(ev->byid);
    matcher_free(ev->m);
    egress_policy_free(ev->egress);
    pthread_rwlock_destroy(&ev->lock);
    pthread_mutex_destroy(&ev->sched_mu);
    pthread_cond_destroy(&ev->sched_cv);
    pthread_mutex_destroy(&ev->rec_mu);
    free(ev);
    api->ev = NULL;
}

char *evsys_metrics_text(api_t *api) {
    evsys_t *ev = api->ev;
    if (!ev) return strdup("");
    queue_stats_t st = {0};
    err_t e;
    queue_stats(ev->q, &st, &e);
    char *out = NULL;
    if (asprintf(&out,
                 "# HELP r3e_queue_depth Jobs waiting or running in the async queue.\n"
                 "# TYPE r3e_queue_depth gauge\n"
                 "r3e_queue_depth{state=\"ready\"} %llu\n"
                 "r3e_queue_depth{state=\"waiting\"} %llu\n"
                 "r3e_queue_depth{state=\"leased\"} %llu\n"
                 "# HELP r3e_dlq_size Dead-lettered jobs.\n"
                 "# TYPE r3e_dlq_size gauge\n"
                 "r3e_dlq_size %llu\n"
                 "# HELP r3e_deliveries_total Async deliveries by outcome.\n"
                 "# TYPE r3e_deliveries_total counter\n"
                 "r3e_deliveries_total{outcome=\"ok\"} %llu\n"
                 "r3e_deliveries_total{outcome=\"failed\"} %llu\n"
                 "r3e_deliveries_total{outcome=\"busy\"} %llu\n",
                 (unsigned long long)st.ready, (unsigned long long)st.waiting,
                 (unsigned long long)st.leased, (unsigned long long)st.dead,
                 (unsigned long long)atomic_load(&ev->deliveries_ok),
                 (unsigned long long)atomic_load(&ev->deliveries_failed),
                 (unsigned long long)atomic_load(&ev->deliveries_busy)) < 0)
        return NULL;
    return out;
}
