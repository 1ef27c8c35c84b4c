/* Dispatcher threads (see dispatcher.h). Each thread claims one job at a time: the queue
 * is the buffer, so a thread never holds leases on jobs it is not running (a long run
 * cannot make other claimed jobs' leases expire), and N threads bound the in-flight runs. */
#include "queue/dispatcher.h"

#include "core/util.h"
#include "obs/log.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    struct dispatcher *d;
    char worker[QUEUE_KEY_MAX];
    pthread_t th;
    bool started;
} dthread_t;

struct dispatcher {
    dispatcher_config_t cfg;
    char name[64];
    atomic_bool stopping;
    pthread_mutex_t mu; /* counts */
    dispatcher_counts_t counts;
    dthread_t *threads;
};

static void d_count(dispatcher_t *d, uint64_t *field) {
    pthread_mutex_lock(&d->mu);
    (*field)++;
    pthread_mutex_unlock(&d->mu);
}

/* Settles a job from its run's outcome. */
static void d_settle(dispatcher_t *d, const queue_job_t *job, int rc, const char *exec_id,
                     const err_t *run_err) {
    err_t err;
    int qrc;
    log_ctx_t lc = {.function = job->function, .execution_id = exec_id[0] ? exec_id : NULL};
    if (rc == 0) {
        qrc = queue_ack(d->cfg.queue, job, exec_id, &err);
        if (qrc == 0) d_count(d, &d->counts.done);
    } else if (run_err->code == R3E_ELIMIT || run_err->code == R3E_EUNAVAIL) {
        qrc = queue_release(d->cfg.queue, job, d->cfg.busy_delay_ms, &err);
        if (qrc == 0) d_count(d, &d->counts.busy);
    } else {
        bool dead = false;
        qrc = queue_fail(d->cfg.queue, job, exec_id, run_err->msg, &dead, &err);
        if (qrc == 0) d_count(d, dead ? &d->counts.dead : &d->counts.failed);
    }
    if (qrc != 0) {
        if (err.code == R3E_EEXIST) d_count(d, &d->counts.lost);
        log_json(LOG_WARN, &lc, json_pack("{s:s,s:s}", "job", job->id, "error", err.msg),
                 "cannot settle job");
    }
}

/* How long an idle thread sleeps: until the next job is due, at most idle_ms. */
static uint32_t d_sleep_ms(dispatcher_t *d) {
    uint64_t due = queue_next_due(d->cfg.queue), now = util_wall_ms();
    if (!due || due <= now) return due ? 1 : d->cfg.idle_ms;
    return due - now < d->cfg.idle_ms ? (uint32_t)(due - now) : d->cfg.idle_ms;
}

static void *d_main(void *arg) {
    dthread_t *t = arg;
    dispatcher_t *d = t->d;
    while (!atomic_load(&d->stopping)) {
        uint64_t seen = queue_generation(d->cfg.queue);
        queue_job_t *jobs = NULL;
        size_t n = 0;
        err_t err;
        if (queue_claim(d->cfg.queue, t->worker, 1, d->cfg.lease_ms, &jobs, &n, &err) != 0) {
            log_warn("dispatcher %s: claim failed: %s", t->worker, err.msg);
            queue_wait(d->cfg.queue, seen, d->cfg.idle_ms);
            continue;
        }
        if (n == 0) {
            queue_jobs_free(jobs, n);
            if (!atomic_load(&d->stopping)) queue_wait(d->cfg.queue, seen, d_sleep_ms(d));
            continue;
        }
        char exec_id[129] = "";
        err_t run_err;
        err_clear(&run_err);
        int rc = d->cfg.run(d->cfg.arg, &jobs[0], exec_id, &run_err);
        if (rc != 0 && run_err.code == R3E_OK) run_err.code = R3E_EINTERNAL;
        d_settle(d, &jobs[0], rc, exec_id, &run_err);
        queue_jobs_free(jobs, n);
    }
    return NULL;
}

dispatcher_t *dispatcher_start(const dispatcher_config_t *cfg, err_t *err) {
    if (!cfg || !cfg->queue || !cfg->run) {
        err_set(err, R3E_EINVAL, "dispatcher needs a queue and a run callback");
        return NULL;
    }
    dispatcher_t *d = calloc(1, sizeof *d);
    if (!d) {
        err_set(err, R3E_EINTERNAL, "out of memory");
        return NULL;
    }
    d->cfg = *cfg;
    if (!d->cfg.threads) d->cfg.threads = 2;
    if (!d->cfg.lease_ms) d->cfg.lease_ms = 15 * 60 * 1000;
    if (!d->cfg.busy_delay_ms) d->cfg.busy_delay_ms = 1000;
    if (!d->cfg.idle_ms) d->cfg.idle_ms = 1000;
    snprintf(d->name, sizeof d->name, "%s", cfg->name ? cfg->name : "dispatcher");
    d->cfg.name = d->name;
    pthread_mutex_init(&d->mu, NULL);
    atomic_init(&d->stopping, false);
    d->threads = calloc(d->cfg.threads, sizeof *d->threads);
    if (!d->threads) {
        err_set(err, R3E_EINTERNAL, "out of memory");
        dispatcher_stop(d);
        return NULL;
    }
    for (unsigned i = 0; i < d->cfg.threads; i++) {
        dthread_t *t = &d->threads[i];
        t->d = d;
        snprintf(t->worker, sizeof t->worker, "%s-%u", d->name, i);
        if (pthread_create(&t->th, NULL, d_main, t) != 0) {
            err_set(err, R3E_EINTERNAL, "cannot start dispatcher thread");
            dispatcher_stop(d);
            return NULL;
        }
        t->started = true;
    }
    return d;
}

void dispatcher_stop(dispatcher_t *d) {
    if (!d) return;
    atomic_store(&d->stopping, true);
    queue_kick(d->cfg.queue); /* wake sleepers; runners finish their job first */
    for (unsigned i = 0; d->threads && i < d->cfg.threads; i++)
        if (d->threads[i].started) pthread_join(d->threads[i].th, NULL);
    free(d->threads);
    pthread_mutex_destroy(&d->mu);
    free(d);
}

void dispatcher_counts(dispatcher_t *d, dispatcher_counts_t *out) {
    pthread_mutex_lock(&d->mu);
    *out = d->counts;
    pthread_mutex_unlock(&d->mu);
}
