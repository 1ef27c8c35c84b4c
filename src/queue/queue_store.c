/* The embedded queue backend: jobs and their indexes are store metadata records, and every
 * state transition is one atomic store write (store_meta_write), so a crash at any moment
 * leaves each job in exactly one consistent state. Records (meta kinds):
 *
 *   qjob    job_id                        -> the job (JSON, with its state)
 *   qready  hex16(not_before) "-" job_id  -> ""  ready jobs by due time: claim seeks the front
 *   qlease  hex16(lease_until) "-" job_id -> ""  leased jobs by expiry: reclaim seeks the front
 *   qdead   ns "/" job_id                 -> ""  the dead-letter list
 *   qseq    hex32(sha256(ns \0 key)) "/" job_id -> ""  pending jobs of a sequential key
 *   qidem   ns "/" idempotency_key        -> {"exec":…,"expires_ms":…}
 *   qidemx  hex16(expires) "-" ns "/" key -> ""  idempotency expiry order, for gc
 *
 * Invariant of sequential keys: a key's qseq range is empty, or exactly one of its jobs is
 * ready or leased and the others are waiting. So enqueue makes a job ready only when the
 * range is empty, and ack/dead-letter promote the next job (lowest id) to ready.
 *
 * One mutex serialises the read-decide-write of every transition (one process owns the
 * store directory; the Redis backend does this with streams and consumer groups instead).
 * Deleted index keys stay as tombstones until compaction, and a queue deletes from the
 * front all the time: a seek from the very start would step over every tombstone (O(n) per
 * claim). So the front of qready and qlease is remembered (the floors): everything below
 * a floor is known deleted, claim seeks from there, and an insert below it lowers it. */
#include "queue/queue.h"

#include "core/arena.h"
#include "core/util.h"
#include "obs/log.h"

#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define K_JOB "qjob"
#define K_READY "qready"
#define K_LEASE "qlease"
#define K_DEAD "qdead"
#define K_SEQ "qseq"
#define K_IDEM "qidem"
#define K_IDEMX "qidemx"
#define RECLAIM_BATCH 64
#define FLOOR_MAX 64

typedef struct {
    store_t *s;
    queue_config_t cfg;
    pthread_mutex_t mu; /* every transition; also guards the fields below */
    pthread_cond_t cv;  /* signalled when gen grows */
    uint64_t gen;
    queue_stats_t st;
    char ready_floor[FLOOR_MAX]; /* "" = from the start */
    char lease_floor[FLOOR_MAX];
} qs_t;

#define QS(q) ((qs_t *)(q)->impl)

static uint64_t qs_now(qs_t *qs) {
    return qs->cfg.now_ms ? qs->cfg.now_ms(qs->cfg.clock_arg) : util_wall_ms();
}

/* --- one atomic write: ops plus the stats it will change ---------------------------- */

typedef struct {
    store_meta_op_t *ops;
    size_t n, cap;
    store_exec_put_t *execs; /* execution records written with the ops */
    size_t nexec, capexec;
    arena_t *a; /* keys and values */
    int64_t d_ready, d_waiting, d_leased, d_dead;
    bool wake; /* something became claimable */
} qb_t;

static void qb_init(qb_t *b) {
    memset(b, 0, sizeof *b);
    b->a = arena_create(0);
}

static void qb_free(qb_t *b) {
    free(b->ops);
    free(b->execs);
    arena_destroy(b->a);
}

static void qb_op(qb_t *b, const char *kind, const char *key, const char *val, size_t len) {
    if (b->n == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 16;
        b->ops = realloc(b->ops, b->cap * sizeof *b->ops);
        if (!b->ops) abort(); /* as arena_alloc does on OOM */
    }
    b->ops[b->n++] = (store_meta_op_t){kind, arena_strdup(b->a, key),
                                       val ? arena_strndup(b->a, val, len) : NULL, len};
}

/* An execution record (of job j's namespace and function) in the same write. */
static void qb_exec(qb_t *b, const queue_job_t *j, const char *exec_id, const char *json) {
    if (b->nexec == b->capexec) {
        b->capexec = b->capexec ? b->capexec * 2 : 8;
        b->execs = realloc(b->execs, b->capexec * sizeof *b->execs);
        if (!b->execs) abort(); /* as arena_alloc does on OOM */
    }
    b->execs[b->nexec++] =
        (store_exec_put_t){arena_strdup(b->a, j->ns), arena_strdup(b->a, j->function),
                           arena_strdup(b->a, exec_id), arena_strdup(b->a, json)};
}

static void qb_put(qb_t *b, const char *kind, const char *key, const char *val) {
    qb_op(b, kind, key, val, strlen(val));
}

static void qb_del(qb_t *b, const char *kind, const char *key) {
    qb_op(b, kind, key, NULL, 0);
}

static void qs_floor_lower(char *floor, const char *key) {
    if (floor[0] && strcmp(key, floor) < 0) snprintf(floor, FLOOR_MAX, "%s", key);
}

/* Writes the batch; on success applies its stats and wakes consumers. */
static int qb_commit(qs_t *qs, qb_t *b, err_t *err) {
    if (store_meta_write_execs(qs->s, b->ops, b->n, b->execs, b->nexec, err) != 0) return -1;
    qs->st.ready += (uint64_t)b->d_ready;
    qs->st.waiting += (uint64_t)b->d_waiting;
    qs->st.leased += (uint64_t)b->d_leased;
    qs->st.dead += (uint64_t)b->d_dead;
    if (b->wake) {
        qs->gen++;
        pthread_cond_broadcast(&qs->cv);
    }
    return 0;
}

/* --- keys ----------------------------------------------------------------------------- */

static void key_time(char *out, size_t n, uint64_t ms, const char *id) {
    snprintf(out, n, "%016" PRIx64 "-%s", ms, id);
}

static void key_seq_prefix(const queue_job_t *j, char out[34]) {
    char buf[STORE_NAME_MAX + QUEUE_KEY_MAX + 1];
    size_t nl = strlen(j->ns), kl = strlen(j->order_key);
    memcpy(buf, j->ns, nl);
    buf[nl] = '\0';
    memcpy(buf + nl + 1, j->order_key, kl);
    char hex[65];
    util_sha256_hex(buf, nl + 1 + kl, hex);
    snprintf(out, 34, "%.32s/", hex);
}

static void key_seq(const queue_job_t *j, char *out, size_t n) {
    char p[34];
    key_seq_prefix(j, p);
    snprintf(out, n, "%s%s", p, j->id);
}

/* --- the job record ------------------------------------------------------------------- */

static void set_str(json_t *o, const char *k, const char *v) {
    if (v && *v) json_object_set_new(o, k, json_string(v));
}

static void set_int(json_t *o, const char *k, uint64_t v) {
    json_object_set_new(o, k, json_integer((json_int_t)v));
}

static char *job_encode(const queue_job_t *j, const char *payload) {
    json_t *o = json_object();
    set_str(o, "id", j->id);
    set_str(o, "ns", j->ns);
    set_str(o, "function", j->function);
    json_object_set_new(o, "payload", json_string(payload ? payload : ""));
    set_str(o, "trigger_id", j->trigger_id);
    set_str(o, "event_id", j->event_id);
    set_str(o, "mode", j->mode == QUEUE_SEQUENTIAL ? "sequential" : "parallel");
    set_str(o, "order_key", j->order_key);
    set_int(o, "attempt", j->attempt);
    set_int(o, "max_attempts", j->max_attempts);
    set_int(o, "backoff_ms", j->backoff_ms);
    set_int(o, "max_event_age_s", j->max_event_age_s);
    set_int(o, "created_ms", j->created_ms);
    set_int(o, "not_before_ms", j->not_before_ms);
    set_str(o, "callback_url", j->callback_url);
    set_str(o, "destinations", j->destinations_json);
    set_str(o, "idempotency_key", j->idempotency_key);
    set_str(o, "url", j->url);
    set_str(o, "parent_id", j->parent_id);
    set_str(o, "delivery", j->delivery);
    set_str(o, "state", queue_state_name(j->state));
    if (j->state == QUEUE_LEASED) {
        set_int(o, "lease_until_ms", j->lease_until_ms);
        set_str(o, "lease_token", j->lease_token);
        set_str(o, "worker", j->worker);
    }
    set_str(o, "last_error", j->last_error);
    if (j->dead_ms) set_int(o, "dead_ms", j->dead_ms);
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (!s) abort();
    return s;
}

static void get_buf(json_t *o, const char *k, char *out, size_t n) {
    const char *v = json_string_value(json_object_get(o, k));
    snprintf(out, n, "%s", v ? v : "");
}

static char *get_dup(json_t *o, const char *k) {
    const char *v = json_string_value(json_object_get(o, k));
    return v ? strdup(v) : NULL;
}

static uint64_t get_u64(json_t *o, const char *k) {
    return (uint64_t)json_integer_value(json_object_get(o, k));
}

static int job_decode(const char *text, queue_job_t *j) {
    memset(j, 0, sizeof *j);
    json_t *o = json_loads(text, 0, NULL);
    if (!json_is_object(o)) {
        json_decref(o);
        return -1;
    }
    get_buf(o, "id", j->id, sizeof j->id);
    get_buf(o, "ns", j->ns, sizeof j->ns);
    get_buf(o, "function", j->function, sizeof j->function);
    j->payload = get_dup(o, "payload");
    get_buf(o, "trigger_id", j->trigger_id, sizeof j->trigger_id);
    get_buf(o, "event_id", j->event_id, sizeof j->event_id);
    const char *mode = json_string_value(json_object_get(o, "mode"));
    j->mode = mode && strcmp(mode, "sequential") == 0 ? QUEUE_SEQUENTIAL : QUEUE_PARALLEL;
    get_buf(o, "order_key", j->order_key, sizeof j->order_key);
    j->attempt = (uint32_t)get_u64(o, "attempt");
    j->max_attempts = (uint32_t)get_u64(o, "max_attempts");
    j->backoff_ms = (uint32_t)get_u64(o, "backoff_ms");
    j->max_event_age_s = (uint32_t)get_u64(o, "max_event_age_s");
    j->created_ms = get_u64(o, "created_ms");
    j->not_before_ms = get_u64(o, "not_before_ms");
    j->callback_url = get_dup(o, "callback_url");
    j->destinations_json = get_dup(o, "destinations");
    j->idempotency_key = get_dup(o, "idempotency_key");
    j->url = get_dup(o, "url");
    get_buf(o, "parent_id", j->parent_id, sizeof j->parent_id);
    get_buf(o, "delivery", j->delivery, sizeof j->delivery);
    const char *st = json_string_value(json_object_get(o, "state"));
    j->state = QUEUE_READY;
    for (int s = QUEUE_READY; st && s <= QUEUE_DEAD; s++)
        if (strcmp(st, queue_state_name((queue_state_t)s)) == 0) j->state = (queue_state_t)s;
    j->lease_until_ms = get_u64(o, "lease_until_ms");
    get_buf(o, "lease_token", j->lease_token, sizeof j->lease_token);
    get_buf(o, "worker", j->worker, sizeof j->worker);
    j->last_error = get_dup(o, "last_error");
    j->dead_ms = get_u64(o, "dead_ms");
    json_decref(o);
    return j->id[0] ? 0 : -1;
}

/* 1 found (*j filled: queue_job_free), 0 absent, -1 error. */
static int qs_load(qs_t *qs, const char *id, queue_job_t *j, err_t *err) {
    char *val;
    size_t len;
    err_t e;
    if (store_meta_get(qs->s, K_JOB, id, &val, &len, &e) != 0) {
        if (e.code == R3E_ENOTFOUND) return 0;
        if (err) *err = e;
        return -1;
    }
    int rc = job_decode(val, j);
    free(val);
    if (rc != 0) {
        queue_job_free(j);
        return err_set(err, R3E_EIO, "queue: corrupt job record %s", id);
    }
    return 1;
}

static void qb_put_job(qb_t *b, const queue_job_t *j, const char *payload) {
    char *enc = job_encode(j, payload ? payload : j->payload);
    qb_put(b, K_JOB, j->id, enc);
    free(enc);
}

static void qb_put_ready(qs_t *qs, qb_t *b, const queue_job_t *j) {
    char k[FLOOR_MAX];
    key_time(k, sizeof k, j->not_before_ms, j->id);
    qb_put(b, K_READY, k, "");
    qs_floor_lower(qs->ready_floor, k);
    b->wake = true;
}

/* --- transitions ------------------------------------------------------------------------ */

/* Is any job of j's sequential key pending (ready, leased or waiting)? */
static int qs_seq_busy(qs_t *qs, const queue_job_t *j, err_t *err) {
    char from[34], to[34];
    key_seq_prefix(j, from);
    snprintf(to, sizeof to, "%.32s0", from);
    char **keys;
    size_t n;
    if (store_meta_range(qs->s, K_SEQ, from, to, false, 1, &keys, NULL, &n, err) != 0) return -1;
    store_strv_free(keys, n);
    return n > 0;
}

/* j (sequential) leaves the queue: drop its qseq entry and make the next one ready. */
static int qs_seq_advance(qs_t *qs, qb_t *b, const queue_job_t *j, uint64_t now, err_t *err) {
    char self[FLOOR_MAX * 2], from[34], to[34];
    key_seq(j, self, sizeof self);
    qb_del(b, K_SEQ, self);
    key_seq_prefix(j, from);
    snprintf(to, sizeof to, "%.32s0", from);
    char **keys;
    size_t n;
    if (store_meta_range(qs->s, K_SEQ, from, to, false, 2, &keys, NULL, &n, err) != 0) return -1;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (strcmp(keys[i], self) == 0) continue;
        queue_job_t next;
        int found = qs_load(qs, keys[i] + 33, &next, err);
        if (found < 0) rc = -1;
        if (found == 0) qb_del(b, K_SEQ, keys[i]); /* an entry without its job */
        if (found <= 0) continue;
        if (next.state == QUEUE_WAITING) {
            next.state = QUEUE_READY;
            if (next.not_before_ms < now) next.not_before_ms = now;
            qb_put_job(b, &next, NULL);
            qb_put_ready(qs, b, &next);
            b->d_waiting--;
            b->d_ready++;
        }
        queue_job_free(&next);
        break;
    }
    store_strv_free(keys, n);
    return rc;
}

/* Full jitter (the AWS architecture blog's "exponential backoff and jitter"): a uniform
 * delay in [0, min(cap, base * 2^(attempt-1))], which spreads retries of a burst of
 * failures instead of synchronising them. */
static uint64_t qs_backoff(qs_t *qs, const queue_job_t *j) {
    uint64_t cap = qs->cfg.backoff_cap_ms ? qs->cfg.backoff_cap_ms : QUEUE_DEFAULT_BACKOFF_CAP_MS;
    uint64_t d = j->backoff_ms ? j->backoff_ms : QUEUE_DEFAULT_BACKOFF_MS;
    for (uint32_t i = 1; i < j->attempt && d < cap; i++)
        d *= 2;
    if (d > cap) d = cap;
    uint64_t r;
    util_random(&r, sizeof r);
    return r % (d + 1);
}

static void qs_job_defaults(queue_job_t *j, const char *event_id, uint64_t now);
static int qs_add_job(qs_t *qs, qb_t *b, queue_job_t *j, const char *payload,
                      const queue_job_t *const *seen, size_t nseen, err_t *err);

/* Runs the settle hook for j (acked, or dead-lettered for dead_reason) and adds what it
 * returns to the same write: a record and follow-up jobs (parallel; a job the front door
 * would refuse is dropped with a warning rather than failing the settlement). */
static int qs_settle(qs_t *qs, qb_t *b, const queue_job_t *j, const char *dead_reason, uint64_t now,
                     err_t *err) {
    if (!qs->cfg.settled) return 0;
    queue_settle_t out = {0};
    qs->cfg.settled(qs->cfg.settled_arg, j, dead_reason, &out);
    if (out.record_json) qb_exec(b, j, out.record_id[0] ? out.record_id : j->id, out.record_json);
    int rc = 0;
    for (size_t i = 0; i < out.n_jobs && rc == 0; i++) {
        queue_job_t *f = &out.jobs[i];
        if (!util_valid_name(f->function) || !util_valid_name(f->ns[0] ? f->ns : "default") ||
            !f->payload) {
            log_warn("job %s: follow-up job for \"%.64s\" dropped: invalid", j->id, f->function);
            continue;
        }
        f->mode = QUEUE_PARALLEL;
        qs_job_defaults(f, NULL, now);
        rc = qs_add_job(qs, b, f, NULL, NULL, 0, err);
        if (rc == 0 && f->record_json) qb_exec(b, f, f->id, f->record_json);
    }
    queue_settle_free(&out);
    return rc;
}

/* A leased job's attempt failed (its lease key is deleted by the caller): back to ready
 * after backoff (or at once when `immediate`) or to the dead-letter list. */
static int qs_retry_or_dead(qs_t *qs, qb_t *b, queue_job_t *j, const char *error, bool immediate,
                            uint64_t now, bool *dead, err_t *err) {
    free(j->last_error);
    j->last_error = strdup(error);
    j->lease_until_ms = 0;
    j->lease_token[0] = j->worker[0] = '\0';
    bool young = !j->max_event_age_s || now <= j->created_ms + (uint64_t)j->max_event_age_s * 1000;
    b->d_leased--;
    if (j->attempt < j->max_attempts && young) {
        j->state = QUEUE_READY;
        j->not_before_ms = now + (immediate ? 0 : qs_backoff(qs, j));
        qb_put_job(b, j, NULL);
        qb_put_ready(qs, b, j);
        b->d_ready++;
        *dead = false;
        return 0;
    }
    if (!young && j->attempt < j->max_attempts) {
        char *why = arena_printf(b->a, "%s (event older than max_event_age_s=%u)", error,
                                 j->max_event_age_s);
        free(j->last_error);
        j->last_error = strdup(why);
    }
    j->state = QUEUE_DEAD;
    j->dead_ms = now;
    char dk[STORE_NAME_MAX + 32];
    snprintf(dk, sizeof dk, "%s/%s", j->ns, j->id);
    qb_put(b, K_DEAD, dk, "");
    qb_put_job(b, j, NULL);
    b->d_dead++;
    *dead = true;
    const char *reason = j->attempt >= j->max_attempts ? "max_attempts" : "max_event_age";
    log_json(LOG_WARN, &(log_ctx_t){.function = j->function},
             json_pack("{s:s,s:s,s:i,s:s}", "job", j->id, "error", j->last_error, "attempts",
                       (int)j->attempt, "reason", reason),
             "job dead-lettered");
    if (qs_settle(qs, b, j, reason, now, err) != 0) return -1;
    if (j->mode == QUEUE_SEQUENTIAL) return qs_seq_advance(qs, b, j, now, err);
    return 0;
}

static void qb_del_lease(qb_t *b, const queue_job_t *j) {
    char k[FLOOR_MAX];
    key_time(k, sizeof k, j->lease_until_ms, j->id);
    qb_del(b, K_LEASE, k);
}

/* Expired leases (at most RECLAIM_BATCH) go back to the queue or to the dead letters. */
static int qs_reclaim(qs_t *qs, uint64_t now, err_t *err) {
    char to[FLOOR_MAX];
    key_time(to, sizeof to, now + 1, "");
    to[16] = '\0';
    char **keys;
    size_t n;
    if (store_meta_range(qs->s, K_LEASE, qs->lease_floor, to, false, RECLAIM_BATCH, &keys, NULL, &n,
                         err) != 0)
        return -1;
    qb_t b;
    qb_init(&b);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        queue_job_t j;
        int found = qs_load(qs, keys[i] + 17, &j, err);
        if (found < 0) rc = -1;
        if (found <= 0) {
            qb_del(&b, K_LEASE, keys[i]); /* an index entry without its job */
            continue;
        }
        char cur[FLOOR_MAX];
        key_time(cur, sizeof cur, j.lease_until_ms, j.id);
        qb_del(&b, K_LEASE, keys[i]);
        if (j.state == QUEUE_LEASED && strcmp(cur, keys[i]) == 0) {
            bool dead;
            log_json(LOG_WARN, &(log_ctx_t){.function = j.function},
                     json_pack("{s:s,s:s}", "job", j.id, "worker", j.worker), "lease expired");
            rc = qs_retry_or_dead(qs, &b, &j, "lease expired", true, now, &dead, err);
        }
        queue_job_free(&j);
    }
    if (rc == 0 && b.n) rc = qb_commit(qs, &b, err);
    if (rc == 0 && n) snprintf(qs->lease_floor, FLOOR_MAX, "%s\x01", keys[n - 1]);
    qb_free(&b);
    store_strv_free(keys, n);
    return rc;
}

/* --- operations --------------------------------------------------------------------------- */

/* Fills a producer's job with defaults and queue-maintained fields. */
static void qs_job_defaults(queue_job_t *j, const char *event_id, uint64_t now) {
    if (!j->id[0]) util_ulid(j->id);
    if (!j->ns[0]) snprintf(j->ns, sizeof j->ns, "default");
    if (event_id) snprintf(j->event_id, sizeof j->event_id, "%s", event_id);
    if (j->mode == QUEUE_SEQUENTIAL && !j->order_key[0])
        snprintf(j->order_key, sizeof j->order_key, "%s", j->trigger_id);
    if (!j->max_attempts) j->max_attempts = QUEUE_DEFAULT_MAX_ATTEMPTS;
    if (!j->backoff_ms) j->backoff_ms = QUEUE_DEFAULT_BACKOFF_MS;
    if (!j->max_event_age_s) j->max_event_age_s = QUEUE_DEFAULT_MAX_EVENT_AGE_S;
    if (!j->created_ms) j->created_ms = now;
    if (!j->not_before_ms) j->not_before_ms = now;
    j->attempt = 0;
    j->lease_until_ms = j->dead_ms = 0;
    j->lease_token[0] = j->worker[0] = '\0';
}

/* Adds a new pending job: ready, or waiting behind its sequential key. `seen` lists the
 * jobs of this same write (their qseq entries are not in the store yet). */
static int qs_add_job(qs_t *qs, qb_t *b, queue_job_t *j, const char *payload,
                      const queue_job_t *const *seen, size_t nseen, err_t *err) {
    j->state = QUEUE_READY;
    if (j->mode == QUEUE_SEQUENTIAL) {
        bool busy = false;
        for (size_t i = 0; i < nseen && !busy; i++)
            busy = strcmp(seen[i]->ns, j->ns) == 0 && strcmp(seen[i]->order_key, j->order_key) == 0;
        if (!busy) {
            int r = qs_seq_busy(qs, j, err);
            if (r < 0) return -1;
            busy = r;
        }
        if (busy) j->state = QUEUE_WAITING;
        char sk[FLOOR_MAX * 2];
        key_seq(j, sk, sizeof sk);
        qb_put(b, K_SEQ, sk, "");
    }
    qb_put_job(b, j, payload);
    if (j->state == QUEUE_READY) {
        qb_put_ready(qs, b, j);
        b->d_ready++;
    } else {
        b->d_waiting++;
    }
    return 0;
}

/* Is item i's event a repeat of an earlier new event of the same write? */
static const char *qs_dup_in_batch(const queue_item_t *items, size_t i) {
    const eventlog_event_t *e = items[i].event;
    const char *ns = e->ns && *e->ns ? e->ns : "default";
    for (size_t k = 0; k < i; k++) {
        const eventlog_event_t *o = items[k].event;
        if (!o || items[k].duplicate) continue;
        if (strcmp(o->ce_id, e->ce_id) == 0 && strcmp(o->source, e->source) == 0 &&
            strcmp(o->ns && *o->ns ? o->ns : "default", ns) == 0) /* ids differ most */
            return items[k].event_id;
    }
    return NULL;
}

/* Appends item's event (unless it is a duplicate) and its jobs to the write. */
static int qs_add_item(qs_t *qs, qb_t *b, queue_item_t *items, size_t i, uint64_t now,
                       const queue_job_t ***seq, size_t *nseq, err_t *err) {
    queue_item_t *it = &items[i];
    it->duplicate = false;
    it->event_id[0] = '\0';
    if (it->event) {
        const char *prev = qs_dup_in_batch(items, i);
        int dup = prev ? 1 : eventlog_find_dup(qs->s, it->event, it->event_id, err);
        if (dup < 0) return -1;
        if (prev) snprintf(it->event_id, sizeof it->event_id, "%s", prev);
        if (dup > 0) {
            it->duplicate = true; /* a no-op: its jobs are not enqueued */
            return 0;
        }
        util_ulid(it->event_id);
        eventlog_batch_t eb;
        if (eventlog_prepare(it->event, it->event_id, now, &eb, err) != 0) return -1;
        for (size_t k = 0; k < 3; k++)
            qb_op(b, eb.ops[k].kind, eb.ops[k].key, eb.ops[k].val, eb.ops[k].len);
        eventlog_batch_free(&eb);
    }
    for (size_t k = 0; k < it->n_jobs; k++) {
        queue_job_t *j = &it->jobs[k];
        qs_job_defaults(j, it->event ? it->event_id : NULL, now);
        const char *payload = j->payload ? j->payload : it->event->json;
        if (qs_add_job(qs, b, j, payload, *seq, *nseq, err) != 0) return -1;
        if (!j->record_json && it->record) j->record_json = it->record(it->record_arg, j);
        if (j->record_json) qb_exec(b, j, j->id, j->record_json);
        if (j->mode == QUEUE_SEQUENTIAL) {
            const queue_job_t **grown = realloc(*seq, (*nseq + 1) * sizeof **seq);
            if (!grown) return err_set(err, R3E_EINTERNAL, "out of memory");
            *seq = grown;
            (*seq)[(*nseq)++] = j;
        }
    }
    return 0;
}

static int qs_enqueue(queue_t *q, queue_item_t *items, size_t n, err_t *err) {
    qs_t *qs = QS(q);
    qb_t b;
    qb_init(&b);
    const queue_job_t **seq = NULL; /* sequential jobs of this write, not yet in the store */
    size_t nseq = 0;
    int rc = 0;
    pthread_mutex_lock(&qs->mu);
    uint64_t now = qs_now(qs);
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = qs_add_item(qs, &b, items, i, now, &seq, &nseq, err);
    if (rc == 0) rc = qb_commit(qs, &b, err);
    pthread_mutex_unlock(&qs->mu);
    free(seq);
    qb_free(&b);
    return rc;
}

/* Leases the due jobs at the front of qready. */
static int qs_claim_ready(qs_t *qs, const char *worker, size_t max, uint32_t lease_ms, uint64_t now,
                          queue_job_t *out, size_t *nout, err_t *err) {
    char to[FLOOR_MAX];
    key_time(to, sizeof to, now + 1, "");
    to[16] = '\0';
    char **keys;
    size_t n;
    if (store_meta_range(qs->s, K_READY, qs->ready_floor, to, false, max, &keys, NULL, &n, err))
        return -1;
    qb_t b;
    qb_init(&b);
    size_t cnt = 0;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        qb_del(&b, K_READY, keys[i]);
        queue_job_t *j = &out[cnt];
        int found = qs_load(qs, keys[i] + 17, j, err);
        if (found < 0) rc = -1;
        if (found <= 0) continue;
        if (j->state != QUEUE_READY) { /* a stale index entry */
            queue_job_free(j);
            continue;
        }
        j->attempt++;
        j->state = QUEUE_LEASED;
        j->lease_until_ms = now + lease_ms;
        util_ulid(j->lease_token);
        snprintf(j->worker, sizeof j->worker, "%s", worker);
        qb_put_job(&b, j, NULL);
        char lk[FLOOR_MAX];
        key_time(lk, sizeof lk, j->lease_until_ms, j->id);
        qb_put(&b, K_LEASE, lk, "");
        qs_floor_lower(qs->lease_floor, lk);
        b.d_ready--;
        b.d_leased++;
        cnt++;
    }
    if (rc == 0 && b.n) rc = qb_commit(qs, &b, err);
    if (rc == 0 && n) snprintf(qs->ready_floor, FLOOR_MAX, "%s\x01", keys[n - 1]);
    if (rc != 0) {
        for (size_t i = 0; i < cnt; i++)
            queue_job_free(&out[i]);
        cnt = 0;
    }
    *nout = cnt;
    qb_free(&b);
    store_strv_free(keys, n);
    return rc;
}

static int qs_claim(queue_t *q, const char *worker, size_t max, uint32_t lease_ms,
                    queue_job_t **jobs, size_t *n, err_t *err) {
    qs_t *qs = QS(q);
    queue_job_t *out = calloc(max, sizeof *out);
    if (!out) return err_set(err, R3E_EINTERNAL, "out of memory");
    pthread_mutex_lock(&qs->mu);
    uint64_t now = qs_now(qs);
    int rc = qs_reclaim(qs, now, err);
    if (rc == 0) rc = qs_claim_ready(qs, worker, max, lease_ms, now, out, n, err);
    pthread_mutex_unlock(&qs->mu);
    if (rc != 0) {
        free(out);
        return -1;
    }
    *jobs = out;
    return 0;
}

/* Loads the job behind a claimed copy and checks the caller still holds its lease. */
static int qs_load_leased(qs_t *qs, const queue_job_t *claimed, queue_job_t *j, err_t *err) {
    int found = qs_load(qs, claimed->id, j, err);
    if (found < 0) return -1;
    if (found && j->state == QUEUE_LEASED && strcmp(j->lease_token, claimed->lease_token) == 0)
        return 0;
    if (found) queue_job_free(j);
    return err_set(err, R3E_EEXIST, "job %s: lease lost (expired and redelivered)", claimed->id);
}

static void qb_link(qb_t *b, const queue_job_t *j, const char *exec_id) {
    if (!exec_id || !j->event_id[0]) return;
    eventlog_batch_t eb;
    if (eventlog_prepare_link(j->ns, j->event_id, exec_id, &eb, NULL) != 0) return;
    qb_op(b, eb.ops[0].kind, eb.ops[0].key, eb.ops[0].val, eb.ops[0].len);
    eventlog_batch_free(&eb);
}

static int qs_ack(queue_t *q, const queue_job_t *claimed, const char *exec_id, err_t *err) {
    qs_t *qs = QS(q);
    qb_t b;
    qb_init(&b);
    queue_job_t j;
    pthread_mutex_lock(&qs->mu);
    int rc = qs_load_leased(qs, claimed, &j, err);
    if (rc == 0) {
        qb_del_lease(&b, &j);
        qb_del(&b, K_JOB, j.id);
        b.d_leased--;
        qb_link(&b, &j, exec_id);
        uint64_t now = qs_now(qs);
        rc = qs_settle(qs, &b, &j, NULL, now, err);
        if (rc == 0 && j.mode == QUEUE_SEQUENTIAL) rc = qs_seq_advance(qs, &b, &j, now, err);
        if (rc == 0) rc = qb_commit(qs, &b, err);
        queue_job_free(&j);
    }
    pthread_mutex_unlock(&qs->mu);
    qb_free(&b);
    return rc;
}

static int qs_fail(queue_t *q, const queue_job_t *claimed, const char *exec_id, const char *error,
                   bool *dead, err_t *err) {
    qs_t *qs = QS(q);
    qb_t b;
    qb_init(&b);
    queue_job_t j;
    pthread_mutex_lock(&qs->mu);
    int rc = qs_load_leased(qs, claimed, &j, err);
    if (rc == 0) {
        qb_del_lease(&b, &j);
        qb_link(&b, &j, exec_id);
        rc = qs_retry_or_dead(qs, &b, &j, error, false, qs_now(qs), dead, err);
        if (rc == 0) rc = qb_commit(qs, &b, err);
        queue_job_free(&j);
    }
    pthread_mutex_unlock(&qs->mu);
    qb_free(&b);
    return rc;
}

static int qs_release(queue_t *q, const queue_job_t *claimed, uint32_t delay_ms, err_t *err) {
    qs_t *qs = QS(q);
    qb_t b;
    qb_init(&b);
    queue_job_t j;
    pthread_mutex_lock(&qs->mu);
    int rc = qs_load_leased(qs, claimed, &j, err);
    if (rc == 0) {
        qb_del_lease(&b, &j);
        if (j.attempt > 0) j.attempt--; /* this attempt does not count */
        j.state = QUEUE_READY;
        j.lease_until_ms = 0;
        j.lease_token[0] = j.worker[0] = '\0';
        j.not_before_ms = qs_now(qs) + delay_ms;
        qb_put_job(&b, &j, NULL);
        qb_put_ready(qs, &b, &j);
        b.d_leased--;
        b.d_ready++;
        rc = qb_commit(qs, &b, err);
        queue_job_free(&j);
    }
    pthread_mutex_unlock(&qs->mu);
    qb_free(&b);
    return rc;
}

/* --- dead letters ------------------------------------------------------------------------- */

static int qs_load_dead(qs_t *qs, const char *ns, const char *id, queue_job_t *j, err_t *err) {
    int found = qs_load(qs, id, j, err);
    if (found < 0) return -1;
    if (found && j->state == QUEUE_DEAD && strcmp(j->ns, ns) == 0) return 0;
    if (found) queue_job_free(j);
    return err_set(err, R3E_ENOTFOUND, "dead-lettered job %s not found", id);
}

static int qs_dlq_list(queue_t *q, const char *ns, const char *after, size_t limit,
                       queue_job_t **jobs, size_t *n, err_t *err) {
    qs_t *qs = QS(q);
    char from[256], to[STORE_NAME_MAX + 2];
    if (after)
        snprintf(from, sizeof from, "%s/%s\x01", ns, after);
    else
        snprintf(from, sizeof from, "%s/", ns);
    snprintf(to, sizeof to, "%s0", ns);
    char **keys;
    size_t nk;
    if (store_meta_range(qs->s, K_DEAD, from, to, false, limit, &keys, NULL, &nk, err) != 0)
        return -1;
    queue_job_t *out = calloc(nk ? nk : 1, sizeof *out);
    size_t cnt = 0;
    int rc = out ? 0 : err_set(err, R3E_EINTERNAL, "out of memory");
    for (size_t i = 0; i < nk && rc == 0; i++) {
        int found = qs_load(qs, keys[i] + strlen(ns) + 1, &out[cnt], err);
        if (found < 0) rc = -1;
        if (found > 0) cnt++;
    }
    store_strv_free(keys, nk);
    if (rc != 0) {
        queue_jobs_free(out, cnt);
        return -1;
    }
    *jobs = out;
    *n = cnt;
    return 0;
}

static int qs_dlq_get(queue_t *q, const char *ns, const char *id, queue_job_t *job, err_t *err) {
    return qs_load_dead(QS(q), ns, id, job, err);
}

/* Replay starts the job over: attempts and the event-age clock restart now. */
static int qs_dlq_replay(queue_t *q, const char *ns, const char *id, err_t *err) {
    qs_t *qs = QS(q);
    qb_t b;
    qb_init(&b);
    queue_job_t j;
    pthread_mutex_lock(&qs->mu);
    int rc = qs_load_dead(qs, ns, id, &j, err);
    if (rc == 0) {
        char dk[STORE_NAME_MAX + 32];
        snprintf(dk, sizeof dk, "%s/%s", ns, id);
        qb_del(&b, K_DEAD, dk);
        b.d_dead--;
        uint64_t now = qs_now(qs);
        j.attempt = 0;
        j.dead_ms = 0;
        j.created_ms = j.not_before_ms = now;
        rc = qs_add_job(qs, &b, &j, NULL, NULL, 0, err);
        if (rc == 0) rc = qb_commit(qs, &b, err);
        queue_job_free(&j);
    }
    pthread_mutex_unlock(&qs->mu);
    qb_free(&b);
    return rc;
}

static int qs_dlq_delete(queue_t *q, const char *ns, const char *id, err_t *err) {
    qs_t *qs = QS(q);
    qb_t b;
    qb_init(&b);
    queue_job_t j;
    pthread_mutex_lock(&qs->mu);
    int rc = qs_load_dead(qs, ns, id, &j, err);
    if (rc == 0) {
        char dk[STORE_NAME_MAX + 32];
        snprintf(dk, sizeof dk, "%s/%s", ns, id);
        qb_del(&b, K_DEAD, dk);
        qb_del(&b, K_JOB, id);
        b.d_dead--;
        rc = qb_commit(qs, &b, err);
        queue_job_free(&j);
    }
    pthread_mutex_unlock(&qs->mu);
    qb_free(&b);
    return rc;
}

/* --- idempotency keys --------------------------------------------------------------------- */

/* 1 with exec/expires filled when an entry exists (expired or not), 0 absent, -1 error. */
static int qs_idem_read(qs_t *qs, const char *key, char exec[129], uint64_t *expires, err_t *err) {
    char *val;
    size_t len;
    err_t e;
    if (store_meta_get(qs->s, K_IDEM, key, &val, &len, &e) != 0) {
        if (e.code == R3E_ENOTFOUND) return 0;
        if (err) *err = e;
        return -1;
    }
    json_t *o = json_loadb(val, len, 0, NULL);
    free(val);
    get_buf(o, "exec", exec, 129);
    *expires = get_u64(o, "expires_ms");
    json_decref(o);
    return 1;
}

static int qs_idem_get(queue_t *q, const char *ns, const char *key, char exec_id[129], err_t *err) {
    qs_t *qs = QS(q);
    char k[STORE_NAME_MAX + 1 + 256];
    snprintf(k, sizeof k, "%s/%s", ns, key);
    uint64_t expires = 0;
    int found = qs_idem_read(qs, k, exec_id, &expires, err);
    if (found < 0) return -1;
    if (!found || expires <= qs_now(qs))
        return err_set(err, R3E_ENOTFOUND, "idempotency key not found");
    return 0;
}

static int qs_idem_put(queue_t *q, const char *ns, const char *key, const char *exec_id,
                       uint64_t ttl_ms, char existing[129], err_t *err) {
    qs_t *qs = QS(q);
    qb_t b;
    qb_init(&b);
    char *k = arena_printf(b.a, "%s/%s", ns, key);
    char old[129], xk[FLOOR_MAX + 320];
    uint64_t expires = 0;
    pthread_mutex_lock(&qs->mu);
    uint64_t now = qs_now(qs);
    int rc = qs_idem_read(qs, k, old, &expires, err);
    if (rc > 0 && expires > now) {
        if (existing) snprintf(existing, 129, "%s", old);
        rc = 1;
    } else if (rc >= 0) {
        if (rc > 0) { /* an expired entry not yet collected */
            key_time(xk, sizeof xk, expires, k);
            qb_del(&b, K_IDEMX, xk);
        }
        json_t *o =
            json_pack("{s:s,s:I}", "exec", exec_id, "expires_ms", (json_int_t)(now + ttl_ms));
        char *enc = json_dumps(o, JSON_COMPACT);
        json_decref(o);
        qb_put(&b, K_IDEM, k, enc);
        free(enc);
        key_time(xk, sizeof xk, now + ttl_ms, k);
        qb_put(&b, K_IDEMX, xk, "");
        rc = qb_commit(qs, &b, err);
    }
    pthread_mutex_unlock(&qs->mu);
    qb_free(&b);
    return rc;
}

static int qs_idem_gc(queue_t *q, size_t max, size_t *deleted, err_t *err) {
    qs_t *qs = QS(q);
    *deleted = 0;
    char to[FLOOR_MAX];
    qb_t b;
    qb_init(&b);
    pthread_mutex_lock(&qs->mu);
    uint64_t now = qs_now(qs);
    key_time(to, sizeof to, now + 1, "");
    to[16] = '\0';
    char **keys = NULL;
    size_t n = 0;
    int rc = store_meta_range(qs->s, K_IDEMX, NULL, to, false, max, &keys, NULL, &n, err);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        qb_del(&b, K_IDEMX, keys[i]);
        qb_del(&b, K_IDEM, keys[i] + 17); /* put keeps one idemx per live entry */
    }
    if (rc == 0) rc = qb_commit(qs, &b, err);
    if (rc == 0) *deleted = n;
    pthread_mutex_unlock(&qs->mu);
    store_strv_free(keys, n);
    qb_free(&b);
    return rc;
}

/* --- stats and wake-ups ---------------------------------------------------------------------- */

static int qs_stats(queue_t *q, queue_stats_t *out, err_t *err) {
    (void)err;
    qs_t *qs = QS(q);
    pthread_mutex_lock(&qs->mu);
    *out = qs->st;
    pthread_mutex_unlock(&qs->mu);
    return 0;
}

static uint64_t qs_generation(queue_t *q) {
    qs_t *qs = QS(q);
    pthread_mutex_lock(&qs->mu);
    uint64_t g = qs->gen;
    pthread_mutex_unlock(&qs->mu);
    return g;
}

static uint64_t qs_wait(queue_t *q, uint64_t seen, uint32_t timeout_ms) {
    qs_t *qs = QS(q);
    struct timespec dl;
    clock_gettime(CLOCK_MONOTONIC, &dl);
    dl.tv_sec += timeout_ms / 1000;
    dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (dl.tv_nsec >= 1000000000L) {
        dl.tv_sec++;
        dl.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&qs->mu);
    while (qs->gen == seen)
        if (pthread_cond_timedwait(&qs->cv, &qs->mu, &dl) != 0) break;
    uint64_t g = qs->gen;
    pthread_mutex_unlock(&qs->mu);
    return g;
}

static void qs_kick(queue_t *q) {
    qs_t *qs = QS(q);
    pthread_mutex_lock(&qs->mu);
    qs->gen++;
    pthread_cond_broadcast(&qs->cv);
    pthread_mutex_unlock(&qs->mu);
}

static uint64_t qs_next_due(queue_t *q) {
    qs_t *qs = QS(q);
    char **keys = NULL;
    size_t n = 0;
    uint64_t due = 0;
    pthread_mutex_lock(&qs->mu);
    if (store_meta_range(qs->s, K_READY, qs->ready_floor, NULL, false, 1, &keys, NULL, &n, NULL) ==
            0 &&
        n == 1)
        due = strtoull(keys[0], NULL, 16);
    pthread_mutex_unlock(&qs->mu);
    store_strv_free(keys, n);
    return due;
}

/* --- open / close ------------------------------------------------------------------------- */

/* Counts the jobs by state (once, at open: the counters are kept in memory after). */
static int qs_count(qs_t *qs, err_t *err) {
    char from[64] = ""; /* job ids are at most 26 chars */
    for (;;) {
        char **keys, **vals;
        size_t n;
        if (store_meta_range(qs->s, K_JOB, from, NULL, false, 1000, &keys, &vals, &n, err) != 0)
            return -1;
        for (size_t i = 0; i < n; i++) {
            queue_job_t j;
            if (job_decode(vals[i], &j) == 0) {
                uint64_t *c[] = {&qs->st.ready, &qs->st.waiting, &qs->st.leased, &qs->st.dead};
                (*c[j.state])++;
            }
            queue_job_free(&j);
        }
        if (n) snprintf(from, sizeof from, "%s\x01", keys[n - 1]);
        store_strv_free(keys, n);
        store_strv_free(vals, n);
        if (n < 1000) return 0;
    }
}

/* Every lease at open belongs to a process that is gone: hand the jobs back now. */
static int qs_release_all_leases(qs_t *qs, err_t *err) {
    uint64_t now = qs_now(qs);
    char from[FLOOR_MAX] = ""; /* past the keys handled so far (their tombstones) */
    for (;;) {
        char **keys;
        size_t n;
        if (store_meta_range(qs->s, K_LEASE, from, NULL, false, RECLAIM_BATCH, &keys, NULL, &n,
                             err) != 0)
            return -1;
        qb_t b;
        qb_init(&b);
        int rc = 0;
        for (size_t i = 0; i < n && rc == 0; i++) {
            qb_del(&b, K_LEASE, keys[i]);
            queue_job_t j;
            int found = qs_load(qs, keys[i] + 17, &j, err);
            if (found < 0) rc = -1;
            if (found <= 0) continue;
            if (j.state == QUEUE_LEASED) {
                bool dead;
                rc = qs_retry_or_dead(qs, &b, &j, "lease lost: the server stopped during the run",
                                      true, now, &dead, err);
            }
            queue_job_free(&j);
        }
        if (rc == 0) rc = qb_commit(qs, &b, err);
        if (n) snprintf(from, sizeof from, "%s\x01", keys[n - 1]);
        qb_free(&b);
        store_strv_free(keys, n);
        if (rc != 0) return -1;
        if (n < RECLAIM_BATCH) return 0;
    }
}

static void qs_close(queue_t *q) {
    qs_t *qs = QS(q);
    pthread_mutex_destroy(&qs->mu);
    pthread_cond_destroy(&qs->cv);
    free(qs);
    free(q);
}

static const queue_ops_t qs_ops = {
    .name = "store",
    .close = qs_close,
    .enqueue = qs_enqueue,
    .claim = qs_claim,
    .ack = qs_ack,
    .fail = qs_fail,
    .release = qs_release,
    .dlq_list = qs_dlq_list,
    .dlq_get = qs_dlq_get,
    .dlq_replay = qs_dlq_replay,
    .dlq_delete = qs_dlq_delete,
    .idem_get = qs_idem_get,
    .idem_put = qs_idem_put,
    .idem_gc = qs_idem_gc,
    .stats = qs_stats,
    .generation = qs_generation,
    .wait = qs_wait,
    .kick = qs_kick,
    .next_due = qs_next_due,
};

queue_t *queue_open_store(store_t *s, const queue_config_t *cfg, err_t *err) {
    queue_t *q = calloc(1, sizeof *q);
    qs_t *qs = calloc(1, sizeof *qs);
    if (!q || !qs || !s) {
        free(q);
        free(qs);
        err_set(err, s ? R3E_EINTERNAL : R3E_EINVAL, s ? "out of memory" : "no store");
        return NULL;
    }
    qs->s = s;
    if (cfg) qs->cfg = *cfg;
    pthread_mutex_init(&qs->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&qs->cv, &ca);
    pthread_condattr_destroy(&ca);
    q->ops = &qs_ops;
    q->impl = qs;
    if (qs_count(qs, err) != 0 || qs_release_all_leases(qs, err) != 0) {
        qs_close(q);
        return NULL;
    }
    return q;
}
