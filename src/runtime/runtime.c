/* The worker pool and its supervisor (server side of the sandbox).
 *
 * Workers are separate processes started with posix_spawn (fork+exec of this binary as
 * `r3e __worker --fd 3`), never plain fork: the server is multi-threaded, and
 * JavaScriptCore must only ever be initialised in a fresh process. Each worker serves one
 * invocation at a time over its socketpair (protocol in ipc.h).
 *
 * Threads: every runtime_invoke() runs on the caller's thread (the HTTP connection thread)
 * and owns its worker exclusively from acquire to release. One supervisor thread reaps dead
 * workers (waitpid) and starts replacements, so a crash costs one invocation, never the
 * server. State shared between them lives under rt->mu. */
#include "runtime/runtime.h"

#include "core/util.h"
#include "obs/log.h"
#include "obs/metrics.h"
#include "runtime/ipc.h"
#include "vault/vault.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define RT_RECENT 8               /* code hashes remembered per worker for warm affinity */
#define RT_READY_TIMEOUT_MS 15000 /* engine init is ~3 ms; sanitizer builds are slower */
#define RT_GRACE_MS 2000          /* past timeout_ms, the worker is killed from outside */
#define RT_KV_KEY_MAX 512
#define RT_KV_VALUE_MAX (256 * 1024)
#define RT_KV_LIST_MAX 1000
#define RT_CONC_BUCKETS 1024

typedef enum { W_STARTING, W_IDLE, W_BUSY, W_DEAD } worker_state_t;

typedef struct {
    pid_t pid;
    int fd; /* server end of the socketpair; -1 when dead */
    worker_state_t state;
    char recent[RT_RECENT][65];
    int recent_pos;
    bool expected_exit; /* recycled on purpose: not a crash */
} worker_t;

typedef struct conc_entry {
    struct conc_entry *next;
    uint32_t count;
    char key[2 * STORE_NAME_MAX + 2];
} conc_entry_t;

struct runtime {
    runtime_config_t cfg;
    char exe[PATH_MAX];
    char *egress_env; /* "R3E_EGRESS_ALLOW=…" */
    char *warm_env;   /* "R3E_WARM_CONTEXTS=…" */
    pthread_mutex_t mu;
    pthread_cond_t idle_cv;  /* a worker became idle, or stopping */
    pthread_cond_t super_cv; /* wakes the supervisor */
    worker_t *workers;
    int nworkers;
    int inflight;
    bool stopping;
    uint64_t restarts;
    pthread_t supervisor;
    conc_entry_t *conc[RT_CONC_BUCKETS];
};

/* ---------------------------------------------------------------------------------- */
/* worker processes                                                                    */

static void worker_close(worker_t *w) {
    if (w->fd >= 0) close(w->fd);
    w->fd = -1;
}

/* Workers hold no secrets (issue 4): they get an allow-list of the server's environment,
 * never R3E_MASTER_KEY*, API keys, database URLs or anything else an operator set. */
static bool worker_env_passes(const char *kv) {
    static const char *const keep[] = {"PATH=",
                                       "LANG=",
                                       "LC_",
                                       "TZ=",
                                       "HOME=",
                                       "TMPDIR=",
                                       "SSL_CERT_FILE=",
                                       "SSL_CERT_DIR=",
                                       "CURL_CA_BUNDLE=",
                                       "R3E_LOG",
                                       "R3E_WORKER_",
                                       "ASAN_OPTIONS=",
                                       "UBSAN_OPTIONS=",
                                       "LSAN_OPTIONS=",
                                       "R3E_TEST_",
                                       NULL};
    for (int k = 0; keep[k]; k++)
        if (strncmp(kv, keep[k], strlen(keep[k])) == 0) return true;
    return false;
}

/* Starts one worker process and waits for its "ready". Called without rt->mu held.
 * Returns 0 with w->pid/w->fd set, or -1. */
static int worker_spawn(runtime_t *rt, worker_t *w, err_t *err) {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
        return err_set(err, R3E_EINTERNAL, "socketpair: %s", strerror(errno));
    /* dup2 onto 3 clears CLOEXEC in the child; make sure the source is not already 3 */
    if (sv[1] == 3) {
        int moved = fcntl(sv[1], F_DUPFD_CLOEXEC, 4);
        close(sv[1]);
        sv[1] = moved;
    }

    size_t nenv = 0;
    while (environ[nenv])
        nenv++;
    char **envp = calloc(nenv + 3, sizeof *envp);
    size_t k = 0;
    for (size_t i = 0; i < nenv; i++)
        if (strncmp(environ[i], "R3E_EGRESS_ALLOW=", 17) != 0 &&
            strncmp(environ[i], "R3E_WARM_CONTEXTS=", 18) != 0 && worker_env_passes(environ[i]))
            envp[k++] = environ[i];
    envp[k++] = rt->egress_env;
    envp[k++] = rt->warm_env;
    envp[k] = NULL;

    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, sv[1], 3);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    char *argv[] = {rt->exe, "__worker", "--fd", "3", NULL};
    pid_t pid;
    int rc = posix_spawn(&pid, rt->exe, &fa, NULL, argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    free(envp);
    close(sv[1]);
    if (rc != 0) {
        close(sv[0]);
        return err_set(err, R3E_EINTERNAL, "spawn worker %s: %s", rt->exe, strerror(rc));
    }

    ipc_msg_t m;
    int r = ipc_recv(sv[0], &m, RT_READY_TIMEOUT_MS);
    if (r <= 0 || strcmp(ipc_type(&m), "ready") != 0) {
        if (r > 0) ipc_msg_free(&m);
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        close(sv[0]);
        return err_set(err, R3E_EINTERNAL, "worker %d did not become ready", (int)pid);
    }
    ipc_msg_free(&m);
    w->pid = pid;
    w->fd = sv[0];
    w->recent_pos = 0;
    memset(w->recent, 0, sizeof w->recent);
    w->expected_exit = false;
    return 0;
}

static const char *signal_name(int sig) {
    const char *s = sigabbrev_np(sig);
    return s ? s : "?";
}

/* Reaps every exited child; marks workers whose process is gone as dead. rt->mu held. */
static void reap_children(runtime_t *rt) {
    for (;;) {
        int st;
        pid_t pid = waitpid(-1, &st, WNOHANG);
        if (pid <= 0) break;
        for (int i = 0; i < rt->nworkers; i++) {
            worker_t *w = &rt->workers[i];
            if (w->pid != pid) continue;
            if (!w->expected_exit) {
                json_t *f = json_object();
                json_object_set_new(f, "pid", json_integer(pid));
                if (WIFSIGNALED(st))
                    json_object_set_new(f, "signal", json_string(signal_name(WTERMSIG(st))));
                else
                    json_object_set_new(f, "exit_code", json_integer(WEXITSTATUS(st)));
                log_json(LOG_WARN, NULL, f, "worker exited");
            }
            w->pid = 0;
            /* a busy worker's invoking thread notices EOF and marks it dead itself */
            if (w->state == W_IDLE) {
                worker_close(w);
                w->state = W_DEAD;
            }
        }
    }
}

static void *supervisor_main(void *arg) {
    runtime_t *rt = arg;
    pthread_mutex_lock(&rt->mu);
    while (!rt->stopping) {
        reap_children(rt);
        for (int i = 0; i < rt->nworkers && !rt->stopping; i++) {
            worker_t *w = &rt->workers[i];
            if (w->state != W_DEAD) continue;
            /* the old process may still be exiting; make sure it goes */
            if (w->pid > 0) kill(w->pid, SIGKILL);
            w->state = W_STARTING;
            bool planned = w->expected_exit;
            pthread_mutex_unlock(&rt->mu);
            worker_t fresh = {0};
            err_t err;
            int rc = worker_spawn(rt, &fresh, &err);
            pthread_mutex_lock(&rt->mu);
            if (rc != 0) {
                log_msg(LOG_ERROR, NULL, "restarting worker failed: %s", err.msg);
                w->state = W_DEAD;
                continue; /* retried on the next tick */
            }
            if (rt->stopping) {
                close(fresh.fd);
                kill(fresh.pid, SIGKILL);
                w->state = W_DEAD;
                break;
            }
            w->pid = fresh.pid;
            w->fd = fresh.fd;
            w->recent_pos = 0;
            memset(w->recent, 0, sizeof w->recent);
            w->expected_exit = false;
            w->state = W_IDLE;
            rt->restarts++;
            metrics_worker_restart();
            log_json(LOG_INFO, NULL, json_pack("{s:i,s:b}", "pid", (int)w->pid, "planned", planned),
                     "worker started");
            pthread_cond_broadcast(&rt->idle_cv);
        }
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 100 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&rt->super_cv, &rt->mu, &ts);
    }
    pthread_mutex_unlock(&rt->mu);
    return NULL;
}

/* ---------------------------------------------------------------------------------- */
/* per-function concurrency                                                            */

static uint32_t conc_hash(const char *s) {
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 16777619u;
    return h;
}

/* Takes one slot for ns/name if fewer than limit are in flight. rt->mu held. */
static bool conc_take(runtime_t *rt, const char *ns, const char *name, uint32_t limit) {
    char key[sizeof((conc_entry_t *)0)->key];
    snprintf(key, sizeof key, "%s/%s", ns, name);
    uint32_t b = conc_hash(key) % RT_CONC_BUCKETS;
    conc_entry_t *e = rt->conc[b];
    while (e && strcmp(e->key, key) != 0)
        e = e->next;
    if (!e) {
        e = calloc(1, sizeof *e);
        snprintf(e->key, sizeof e->key, "%s", key);
        e->next = rt->conc[b];
        rt->conc[b] = e;
    }
    if (e->count >= limit) return false;
    e->count++;
    return true;
}

static void conc_give(runtime_t *rt, const char *ns, const char *name) {
    char key[sizeof((conc_entry_t *)0)->key];
    snprintf(key, sizeof key, "%s/%s", ns, name);
    uint32_t b = conc_hash(key) % RT_CONC_BUCKETS;
    for (conc_entry_t **pp = &rt->conc[b]; *pp; pp = &(*pp)->next) {
        conc_entry_t *e = *pp;
        if (strcmp(e->key, key) != 0) continue;
        if (--e->count == 0) {
            *pp = e->next;
            free(e);
        }
        return;
    }
}

/* ---------------------------------------------------------------------------------- */
/* acquire / release                                                                   */

static bool worker_has_recent(const worker_t *w, const char *hash) {
    if (!hash) return false;
    for (int i = 0; i < RT_RECENT; i++)
        if (w->recent[i][0] && strcmp(w->recent[i], hash) == 0) return true;
    return false;
}

/* Takes an idle worker, preferring one that ran `hash` recently (it has a warm context).
 * Waits up to the queue timeout. Returns the worker index or -1 with err. */
static int worker_acquire(runtime_t *rt, const char *hash, err_t *err) {
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    int wait_ms = rt->cfg.queue_timeout_ms > 0 ? rt->cfg.queue_timeout_ms : 10000;
    deadline.tv_sec += wait_ms / 1000;
    deadline.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&rt->mu);
    for (;;) {
        if (rt->stopping) {
            pthread_mutex_unlock(&rt->mu);
            return err_set(err, R3E_EUNAVAIL, "server is shutting down");
        }
        int pick = -1;
        for (int i = 0; i < rt->nworkers; i++) {
            worker_t *w = &rt->workers[i];
            if (w->state != W_IDLE) continue;
            if (pick < 0) pick = i;
            if (worker_has_recent(w, hash)) {
                pick = i;
                break;
            }
        }
        if (pick >= 0) {
            rt->workers[pick].state = W_BUSY;
            pthread_mutex_unlock(&rt->mu);
            return pick;
        }
        if (pthread_cond_timedwait(&rt->idle_cv, &rt->mu, &deadline) == ETIMEDOUT) {
            pthread_mutex_unlock(&rt->mu);
            return err_set(err, R3E_EUNAVAIL, "no worker became available within %d ms", wait_ms);
        }
    }
}

/* Returns a worker to the pool; `dead` when it must be replaced (crashed, killed, or
 * asked to be recycled). */
static void worker_release(runtime_t *rt, int idx, const char *hash, bool dead, bool planned) {
    pthread_mutex_lock(&rt->mu);
    worker_t *w = &rt->workers[idx];
    if (dead) {
        worker_close(w);
        w->expected_exit = planned;
        w->state = W_DEAD;
        pthread_cond_signal(&rt->super_cv);
    } else {
        if (hash && !worker_has_recent(w, hash)) {
            snprintf(w->recent[w->recent_pos], sizeof w->recent[0], "%s", hash);
            w->recent_pos = (w->recent_pos + 1) % RT_RECENT;
        }
        w->state = W_IDLE;
        pthread_cond_signal(&rt->idle_cv);
    }
    pthread_mutex_unlock(&rt->mu);
}

/* Kills a worker that overran its deadline or broke the protocol. */
static void worker_kill(runtime_t *rt, int idx) {
    pthread_mutex_lock(&rt->mu);
    pid_t pid = rt->workers[idx].pid;
    pthread_mutex_unlock(&rt->mu);
    if (pid > 0) kill(pid, SIGKILL);
}

/* ---------------------------------------------------------------------------------- */
/* brokering: KV and code requests from a worker                                       */

static int send_kv_reply(int fd, json_int_t rid, bool ok, int found, const char *error,
                         const char *payload, size_t len) {
    json_t *h = json_pack("{s:s,s:I,s:b}", "t", "kv_r", "rid", rid, "ok", ok);
    if (found >= 0) json_object_set_new(h, "found", json_boolean(found));
    if (error) json_object_set_new(h, "error", json_string(error));
    int rc = ipc_send(fd, h, payload, len);
    json_decref(h);
    return rc;
}

/* A host service call: {t:"host", rid, svc} with the JSON arguments as payload. The
 * answer is {t:"host_r", rid, ok, error?:{code,message,rpc_code?,rpc_data?}} with the result JSON
 * as payload. */
static int broker_host(runtime_t *rt, int fd, const store_version_t *v, const char *exec_id,
                       uint64_t deadline_us, ipc_msg_t *m) {
    json_int_t rid = json_integer_value(json_object_get(m->header, "rid"));
    const char *svc = json_string_value(json_object_get(m->header, "svc"));
    err_t err = {0};
    json_t *rpc_error = NULL;
    json_t *res = NULL;
    json_t *args = NULL;
    if (!svc) {
        err_set(&err, R3E_EINVAL, "malformed host request");
    } else if (!rt->cfg.host) {
        err_set(&err, R3E_EUNAVAIL, "%s is not available on this server", svc);
    } else {
        json_error_t je;
        args = json_loadb(m->payload ? m->payload : "null", m->payload ? m->payload_len : 4,
                          JSON_DECODE_ANY, &je);
        if (!args) {
            err_set(&err, R3E_EINVAL, "%s: arguments are not JSON", svc);
        } else {
            runtime_caller_t who = {
                .ns = v->ns, .fn = v->name, .exec_id = exec_id, .deadline_us = deadline_us};
            res = rt->cfg.host(rt->cfg.host_ud, &who, svc, args, &rpc_error, &err);
            if (!res && err.code == R3E_OK) err_set(&err, R3E_EINTERNAL, "%s failed", svc);
        }
    }
    json_decref(args);
    json_t *h = json_pack("{s:s,s:I,s:b}", "t", "host_r", "rid", rid, "ok", res != NULL);
    char *text = NULL;
    if (res) {
        text = json_dumps(res, JSON_COMPACT | JSON_ENCODE_ANY);
        json_decref(res);
        if (!text) {
            json_object_set_new(h, "ok", json_false());
            err_set(&err, R3E_EINTERNAL, "could not encode the result of %s", svc);
        }
    }
    if (!text) {
        json_t *e = json_pack("{s:s,s:s}", "code", err_code_name(err.code), "message", err.msg);
        if (json_is_object(rpc_error)) {
            json_t *code = json_object_get(rpc_error, "code");
            json_t *data = json_object_get(rpc_error, "data");
            if (json_is_integer(code)) json_object_set(e, "rpc_code", code);
            if (data) json_object_set(e, "rpc_data", data);
        }
        json_object_set_new(h, "error", e);
    }
    json_decref(rpc_error);
    int rc = ipc_send(fd, h, text, text ? strlen(text) : 0);
    json_decref(h);
    free(text);
    return rc;
}

static int broker_kv(runtime_t *rt, int fd, const store_version_t *v, ipc_msg_t *m) {
    json_t *h = m->header;
    json_int_t rid = json_integer_value(json_object_get(h, "rid"));
    const char *op = json_string_value(json_object_get(h, "op"));
    const char *key = json_string_value(json_object_get(h, "key"));
    err_t err = {0};
    if (!op) return send_kv_reply(fd, rid, false, -1, "malformed kv request", NULL, 0);
    if (strcmp(op, "list") != 0) {
        if (!key || !*key || strlen(key) > RT_KV_KEY_MAX)
            return send_kv_reply(fd, rid, false, -1, "kv key must be 1..512 bytes", NULL, 0);
    }
    if (strcmp(op, "get") == 0) {
        char *val = NULL;
        size_t len = 0;
        if (store_kv_get(rt->cfg.store, v->ns, v->name, key, &val, &len, &err) != 0) {
            if (err.code == R3E_ENOTFOUND) return send_kv_reply(fd, rid, true, 0, NULL, NULL, 0);
            return send_kv_reply(fd, rid, false, -1, err.msg, NULL, 0);
        }
        int rc = send_kv_reply(fd, rid, true, 1, NULL, val, len);
        free(val);
        return rc;
    }
    if (strcmp(op, "put") == 0) {
        if (m->payload_len > RT_KV_VALUE_MAX)
            return send_kv_reply(fd, rid, false, -1, "kv value exceeds 262144 bytes", NULL, 0);
        if (store_kv_put(rt->cfg.store, v->ns, v->name, key, m->payload ? m->payload : "",
                         m->payload_len, &err) != 0)
            return send_kv_reply(fd, rid, false, -1, err.msg, NULL, 0);
        return send_kv_reply(fd, rid, true, -1, NULL, NULL, 0);
    }
    if (strcmp(op, "delete") == 0) {
        if (store_kv_delete(rt->cfg.store, v->ns, v->name, key, &err) != 0)
            return send_kv_reply(fd, rid, false, -1, err.msg, NULL, 0);
        return send_kv_reply(fd, rid, true, -1, NULL, NULL, 0);
    }
    if (strcmp(op, "list") == 0) {
        const char *prefix = json_string_value(json_object_get(h, "prefix"));
        const char *after = json_string_value(json_object_get(h, "start_after"));
        json_int_t limit = json_integer_value(json_object_get(h, "limit"));
        if (limit <= 0 || limit > RT_KV_LIST_MAX) limit = RT_KV_LIST_MAX;
        char **keys = NULL;
        size_t n = 0;
        if (store_kv_list(rt->cfg.store, v->ns, v->name, prefix, after, (size_t)limit, &keys, &n,
                          &err) != 0)
            return send_kv_reply(fd, rid, false, -1, err.msg, NULL, 0);
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(arr, json_string(keys[i]));
        store_strv_free(keys, n);
        char *txt = json_dumps(arr, JSON_COMPACT);
        json_decref(arr);
        int rc = send_kv_reply(fd, rid, true, -1, NULL, txt, strlen(txt));
        free(txt);
        return rc;
    }
    return send_kv_reply(fd, rid, false, -1, "unknown kv operation", NULL, 0);
}

static int broker_code(runtime_t *rt, int fd, ipc_msg_t *m) {
    const char *hash = json_string_value(json_object_get(m->header, "hash"));
    char *code = NULL;
    size_t len = 0;
    err_t err;
    json_t *h = json_pack("{s:s,s:s}", "t", "code", "hash", hash ? hash : "");
    int rc;
    if (!hash || store_get_code(rt->cfg.store, hash, &code, &len, &err) != 0) {
        json_object_set_new(h, "error", json_string("code not found"));
        rc = ipc_send(fd, h, NULL, 0);
    } else {
        rc = ipc_send(fd, h, code, len);
    }
    json_decref(h);
    free(code);
    return rc;
}

/* ---------------------------------------------------------------------------------- */
/* invoke                                                                              */

void runtime_limits_default(runtime_limits_t *lim) {
    lim->max_log_bytes = 64 * 1024;
    lim->max_result_bytes = 6 * 1024 * 1024;
    lim->max_fetches = 50;
    lim->max_fetch_bytes = 10 * 1024 * 1024;
}

static void result_set_status(runtime_result_t *out, const char *status) {
    snprintf(out->status, sizeof out->status, "%s", status);
}

static void result_set_error(runtime_result_t *out, const char *name, const char *msg) {
    json_decref(out->error);
    out->error = json_pack("{s:s,s:s}", "name", name, "message", msg);
}

/* Fills out from a "done" frame; returns true when the worker asked to be recycled. */
static bool result_from_done(runtime_result_t *out, ipc_msg_t *m) {
    json_t *h = m->header;
    const char *status = json_string_value(json_object_get(h, "status"));
    result_set_status(out, status ? status : "error");
    out->cold = json_is_true(json_object_get(h, "cold"));
    out->duration_us = (uint64_t)json_integer_value(json_object_get(h, "duration_us"));
    out->logs_truncated = json_is_true(json_object_get(h, "logs_truncated"));
    json_t *logs = json_object_get(h, "logs");
    if (json_is_array(logs)) {
        json_decref(out->logs);
        out->logs = json_incref(logs);
    }
    json_t *e = json_object_get(h, "error");
    if (json_is_object(e)) {
        json_decref(out->error);
        out->error = json_incref(e);
    }
    if (m->payload_len > 0) {
        out->result_json = m->payload; /* take ownership */
        out->result_len = m->payload_len;
        m->payload = NULL;
        m->payload_len = 0;
    }
    return json_is_true(json_object_get(h, "recycle"));
}

/* Builds the invoke header with snprintf: every field is either a number, a name from a
 * safe alphabet (validated at deploy), hex, a ULID, or JSON text stored by the server.
 * Defaults are left out (isolation "warm", env {}, the default limits): the worker fills
 * them in, and a shorter header is cheaper for it to parse on every invocation. */
static char *invoke_header(const runtime_request_t *req, const runtime_limits_t *lim, size_t *len) {
    const store_version_t *v = req->version;
    const char *env = v->env_json && *v->env_json ? v->env_json : "{}";
    bool has_env = strcmp(env, "{}") != 0;
    bool fresh = strcmp(v->isolation, "fresh") == 0;
    runtime_limits_t dl;
    runtime_limits_default(&dl);
    bool dflt = lim->max_log_bytes == dl.max_log_bytes &&
                lim->max_result_bytes == dl.max_result_bytes &&
                lim->max_fetches == dl.max_fetches && lim->max_fetch_bytes == dl.max_fetch_bytes;
    size_t cap = 512 + strlen(env);
    char *buf = malloc(cap);
    if (!buf) abort();
    int n = snprintf(buf, cap,
                     "{\"t\":\"invoke\",\"exec_id\":\"%s\",\"fn\":\"%s\",\"version\":%u,"
                     "\"hash\":\"%s\",\"timeout_ms\":%u,\"memory_mb\":%u%s%s%s",
                     req->exec_id, v->name, v->version, v->code_hash,
                     v->timeout_ms ? v->timeout_ms : 10000, v->memory_mb ? v->memory_mb : 128,
                     fresh ? ",\"isolation\":\"fresh\"" : "", has_env ? ",\"env\":" : "",
                     has_env ? env : "");
    if (!dflt)
        n += snprintf(buf + n, cap - (size_t)n,
                      ",\"limits\":{\"max_log_bytes\":%zu,\"max_result_bytes\":%zu,"
                      "\"max_fetches\":%d,\"max_fetch_bytes\":%zu}",
                      lim->max_log_bytes, lim->max_result_bytes, lim->max_fetches,
                      lim->max_fetch_bytes);
    buf[n++] = '}';
    buf[n] = '\0';
    *len = (size_t)n;
    return buf;
}

/* ---------------------------------------------------------------------------------- */
/* secrets (issue 4): decrypted per invocation, redacted from everything that comes back */

/* Appends ,"secrets":{…} to an invoke header (which ends with '}'). The old header is
 * wiped and freed; the new one must be wiped by the caller (secrets_wipe). */
static char *secrets_header(char *header, size_t *len, const vault_bundle_t *b) {
    size_t n = *len - 1 + strlen(",\"secrets\":") + b->json_len + 2;
    char *h = malloc(n);
    if (!h) abort();
    memcpy(h, header, *len - 1);
    size_t k = *len - 1;
    memcpy(h + k, ",\"secrets\":", 11);
    k += 11;
    memcpy(h + k, b->json, b->json_len);
    k += b->json_len;
    h[k++] = '}';
    h[k] = '\0';
    explicit_bzero(header, *len);
    free(header);
    *len = k;
    return h;
}

/* Replaces *text (malloc'ed) by its redacted copy when a secret value occurs in it. */
static void redact_text(const vault_redactor_t *r, char **text, size_t *len) {
    if (!*text) return;
    char *red = NULL;
    size_t rl = 0;
    long hits = vault_redactor_apply(r, *text, *len, &red, &rl);
    if (hits > 0) {
        free(*text);
        *text = red;
        *len = rl;
    } else {
        free(red);
    }
}

/* Redacts string members of a JSON object in place (error fields, log lines). */
static void redact_json_strings(const vault_redactor_t *r, json_t *o) {
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v) {
        if (!json_is_string(v)) continue;
        char *red = NULL;
        size_t rl = 0;
        if (vault_redactor_apply(r, json_string_value(v), json_string_length(v), &red, &rl) > 0)
            json_string_setn(v, red, rl);
        free(red);
    }
}

static void result_redact(runtime_result_t *out, const vault_bundle_t *b) {
    vault_redactor_t *r = vault_redactor_new(b->values, b->lens, b->n);
    if (!r) return;
    redact_text(r, &out->result_json, &out->result_len);
    if (json_is_object(out->error)) redact_json_strings(r, out->error);
    size_t i;
    json_t *line;
    json_array_foreach(out->logs, i, line) {
        if (json_is_object(line)) redact_json_strings(r, line);
    }
    vault_redactor_free(r);
}

int runtime_invoke(runtime_t *rt, const runtime_request_t *req, runtime_result_t *out, err_t *err) {
    const store_version_t *v = req->version;
    memset(out, 0, sizeof *out);
    out->logs = json_array();

    uint32_t limit = v->concurrency ? v->concurrency : rt->cfg.default_concurrency;
    pthread_mutex_lock(&rt->mu);
    if (rt->stopping) {
        pthread_mutex_unlock(&rt->mu);
        return err_set(err, R3E_EUNAVAIL, "server is shutting down");
    }
    if (!conc_take(rt, v->ns, v->name, limit)) {
        pthread_mutex_unlock(&rt->mu);
        return err_set(err, R3E_ELIMIT, "function %s has reached its concurrency limit of %u",
                       v->name, limit);
    }
    rt->inflight++;
    pthread_mutex_unlock(&rt->mu);
    metrics_inflight_add(1);

    runtime_limits_t lim;
    runtime_limits_default(&lim);
    size_t hlen;
    char *header = invoke_header(req, &lim, &hlen);
    vault_bundle_t secrets = {0};
    if (rt->cfg.vault) {
        err_t verr = {0};
        if (vault_get_all_for_function(rt->cfg.vault, v->ns, v->name, &secrets, &verr) != 0)
            log_msg(LOG_ERROR, NULL, "secrets of %s unavailable: %s", v->name, verr.msg);
        else if (secrets.n > 0)
            header = secrets_header(header, &hlen, &secrets);
    }
    int rc = -1;
    log_ctx_t lc = {
        .request_id = req->request_id, .function = v->name, .execution_id = req->exec_id};

    /* A worker that turns out to be dead before the invocation reached it is replaced and
     * the invocation retried: the function never ran, so this is safe. */
    for (int attempt = 0; attempt < 3; attempt++) {
        int idx = worker_acquire(rt, v->code_hash, err);
        if (idx < 0) break;
        int fd = rt->workers[idx].fd;
        int pid = rt->workers[idx].pid;
        if (ipc_send_raw(fd, header, hlen, req->event_json, req->event_len) != 0) {
            worker_release(rt, idx, NULL, true, false);
            continue;
        }
        out->worker_pid = pid;
        uint64_t t0 = util_now_us();
        uint64_t deadline =
            t0 + ((uint64_t)(v->timeout_ms ? v->timeout_ms : 10000) + RT_GRACE_MS) * 1000u;
        const char *fatal_reason = NULL;
        char fatal_buf[16] = "";
        char fatal_syscall[32] = ""; /* a syscall outside the worker's seccomp allow-list */
        bool dead = false, planned = false, finished = false;
        while (!finished) {
            uint64_t now = util_now_us();
            int left = now >= deadline ? 0 : (int)((deadline - now) / 1000) + 1;
            ipc_msg_t m;
            int r = ipc_recv(fd, &m, left);
            if (r < 0 && errno == ETIMEDOUT) {
                /* the in-engine watchdog should have fired long ago: the worker is stuck
                 * outside JS (or hostile); kill it from outside */
                log_msg(LOG_WARN, &lc, "worker %d overran its deadline; killing it", pid);
                worker_kill(rt, idx);
                result_set_status(out, "timeout");
                result_set_error(out, "TimeoutError", "function exceeded its time limit");
                dead = true;
                break;
            }
            if (r <= 0) {
                bool memory = fatal_reason && strcmp(fatal_reason, "memory") == 0;
                result_set_status(out, memory ? "memory_limit" : "crashed");
                result_set_error(out, memory ? "MemoryError" : "WorkerCrash",
                                 memory ? "function exceeded its memory limit"
                                        : "the worker running this function crashed");
                json_t *why = json_pack("{s:i,s:s}", "pid", pid, "signal", fatal_buf);
                if (fatal_syscall[0]) {
                    json_object_set_new(why, "syscall", json_string(fatal_syscall));
                    char msg[96];
                    snprintf(msg, sizeof msg,
                             "the worker running this function crashed (forbidden syscall %s)",
                             fatal_syscall);
                    result_set_error(out, "WorkerCrash", msg);
                }
                log_json(LOG_WARN, &lc, why, "worker died during invocation");
                dead = true;
                break;
            }
            const char *t = ipc_type(&m);
            int send_rc = 0;
            if (strcmp(t, "done") == 0) {
                planned = result_from_done(out, &m);
                dead = planned;
                finished = true;
            } else if (strcmp(t, "kv") == 0) {
                send_rc = broker_kv(rt, fd, v, &m);
            } else if (strcmp(t, "host") == 0) {
                send_rc = broker_host(rt, fd, v, req->exec_id, deadline - RT_GRACE_MS * 1000u, &m);
            } else if (strcmp(t, "need_code") == 0) {
                send_rc = broker_code(rt, fd, &m);
            } else if (strcmp(t, "fatal") == 0) {
                const char *reason = json_string_value(json_object_get(m.header, "reason"));
                fatal_reason = reason && strcmp(reason, "memory") == 0 ? "memory" : "crash";
                const char *sc = json_string_value(json_object_get(m.header, "syscall"));
                if (sc) snprintf(fatal_syscall, sizeof fatal_syscall, "%s", sc);
                snprintf(fatal_buf, sizeof fatal_buf, "%s",
                         signal_name((int)json_integer_value(json_object_get(m.header, "signal"))));
            } else {
                log_msg(LOG_WARN, &lc, "unexpected message '%s' from worker %d", t, pid);
            }
            ipc_msg_free(&m);
            if (send_rc != 0) {
                /* the worker went away while we answered; the next recv sees EOF */
                continue;
            }
        }
        if (!out->duration_us) out->duration_us = util_now_us() - t0;
        worker_release(rt, idx, v->code_hash, dead, planned);
        rc = 0;
        break;
    }
    if (rc != 0 && err && err->code == R3E_OK)
        err_set(err, R3E_EUNAVAIL, "no healthy worker could take the invocation");
    if (!out->result_json && rc == 0) {
        out->result_json = strdup("null");
        out->result_len = 4;
    }
    if (secrets.n > 0) {
        result_redact(out, &secrets);
        explicit_bzero(header, hlen);
    }
    vault_bundle_free(&secrets);
    free(header);

    pthread_mutex_lock(&rt->mu);
    conc_give(rt, v->ns, v->name);
    rt->inflight--;
    if (rt->inflight == 0) pthread_cond_broadcast(&rt->idle_cv);
    pthread_mutex_unlock(&rt->mu);
    metrics_inflight_add(-1);
    return rc;
}

void runtime_result_free(runtime_result_t *r) {
    if (!r) return;
    free(r->result_json);
    json_decref(r->error);
    json_decref(r->logs);
    memset(r, 0, sizeof *r);
}

int runtime_check_syntax(runtime_t *rt, const char *code, size_t len, json_t **error_out,
                         err_t *err) {
    *error_out = NULL;
    for (int attempt = 0; attempt < 3; attempt++) {
        int idx = worker_acquire(rt, NULL, err);
        if (idx < 0) return -1;
        int fd = rt->workers[idx].fd;
        if (ipc_send_raw(fd, "{\"t\":\"check\"}", 13, code, len) != 0) {
            worker_release(rt, idx, NULL, true, false);
            continue;
        }
        ipc_msg_t m;
        int r = ipc_recv(fd, &m, RT_READY_TIMEOUT_MS);
        if (r <= 0) {
            if (r < 0 && errno == ETIMEDOUT) worker_kill(rt, idx);
            worker_release(rt, idx, NULL, true, false);
            if (r < 0 && errno == ETIMEDOUT)
                return err_set(err, R3E_EINTERNAL, "syntax check timed out");
            continue;
        }
        int result = 0;
        if (strcmp(ipc_type(&m), "check_r") != 0) {
            result = err_set(err, R3E_EINTERNAL, "worker answered '%s' to a check", ipc_type(&m));
        } else if (!json_is_true(json_object_get(m.header, "ok"))) {
            json_t *e = json_object_get(m.header, "error");
            *error_out = json_is_object(e) ? json_incref(e)
                                           : json_pack("{s:s,s:s}", "name", "SyntaxError",
                                                       "message", "invalid code");
            result = 1;
        }
        ipc_msg_free(&m);
        worker_release(rt, idx, NULL, false, false);
        return result;
    }
    return err_set(err, R3E_EUNAVAIL, "no healthy worker could check the code");
}

/* ---------------------------------------------------------------------------------- */
/* lifecycle                                                                           */

runtime_t *runtime_start(const runtime_config_t *cfg, err_t *err) {
    runtime_t *rt = calloc(1, sizeof *rt);
    rt->cfg = *cfg;
    if (rt->cfg.workers <= 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        rt->cfg.workers = n < 2 ? 2 : (int)n;
    }
    if (rt->cfg.default_concurrency == 0) rt->cfg.default_concurrency = 1000;
    if (rt->cfg.warm_contexts == 0) {
        /* operators size the per-worker LRU with R3E_WARM_CONTEXTS (default 256) */
        const char *wc = getenv("R3E_WARM_CONTEXTS");
        long n = wc ? strtol(wc, NULL, 10) : 0;
        rt->cfg.warm_contexts = n > 0 ? (size_t)n : 256;
    }
    if (cfg->exe) {
        snprintf(rt->exe, sizeof rt->exe, "%s", cfg->exe);
    } else {
        ssize_t n = readlink("/proc/self/exe", rt->exe, sizeof rt->exe - 1);
        if (n <= 0) {
            free(rt);
            err_set(err, R3E_EINTERNAL, "cannot resolve /proc/self/exe: %s", strerror(errno));
            return NULL;
        }
        rt->exe[n] = '\0';
    }
    size_t elen =
        strlen("R3E_EGRESS_ALLOW=") + (cfg->egress_allow ? strlen(cfg->egress_allow) : 0) + 1;
    rt->egress_env = malloc(elen);
    snprintf(rt->egress_env, elen, "R3E_EGRESS_ALLOW=%s",
             cfg->egress_allow ? cfg->egress_allow : "");
    rt->warm_env = malloc(64);
    snprintf(rt->warm_env, 64, "R3E_WARM_CONTEXTS=%zu", rt->cfg.warm_contexts);
    pthread_mutex_init(&rt->mu, NULL);
    pthread_cond_init(&rt->idle_cv, NULL);
    pthread_cond_init(&rt->super_cv, NULL);
    rt->nworkers = rt->cfg.workers;
    rt->workers = calloc((size_t)rt->nworkers, sizeof *rt->workers);
    for (int i = 0; i < rt->nworkers; i++) {
        rt->workers[i].fd = -1;
        if (worker_spawn(rt, &rt->workers[i], err) != 0) {
            for (int j = 0; j < i; j++) {
                close(rt->workers[j].fd);
                kill(rt->workers[j].pid, SIGKILL);
                waitpid(rt->workers[j].pid, NULL, 0);
            }
            free(rt->workers);
            free(rt->egress_env);
            free(rt->warm_env);
            free(rt);
            return NULL;
        }
        rt->workers[i].state = W_IDLE;
    }
    pthread_create(&rt->supervisor, NULL, supervisor_main, rt);
    log_json(LOG_INFO, NULL, json_pack("{s:i}", "workers", rt->nworkers), "worker pool started");
    return rt;
}

void runtime_stop(runtime_t *rt, int drain_ms) {
    if (!rt) return;
    pthread_mutex_lock(&rt->mu);
    rt->stopping = true;
    pthread_cond_broadcast(&rt->idle_cv);
    pthread_cond_broadcast(&rt->super_cv);
    uint64_t until = util_now_us() + (uint64_t)(drain_ms > 0 ? drain_ms : 0) * 1000u;
    while (rt->inflight > 0 && util_now_us() < until) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 50 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&rt->idle_cv, &rt->mu, &ts);
    }
    pthread_mutex_unlock(&rt->mu);
    pthread_join(rt->supervisor, NULL);

    /* Closing the socket tells an idle worker to exit; busy ones past the drain are killed. */
    pthread_mutex_lock(&rt->mu);
    for (int i = 0; i < rt->nworkers; i++) {
        worker_t *w = &rt->workers[i];
        if (w->state == W_BUSY && w->pid > 0)
            kill(w->pid, SIGKILL);
        else
            worker_close(w);
    }
    pthread_mutex_unlock(&rt->mu);
    uint64_t kill_at = util_now_us() + 2000000u;
    for (int i = 0; i < rt->nworkers; i++) {
        worker_t *w = &rt->workers[i];
        if (w->pid <= 0) continue;
        while (waitpid(w->pid, NULL, WNOHANG) == 0) {
            if (util_now_us() > kill_at) {
                kill(w->pid, SIGKILL);
                waitpid(w->pid, NULL, 0);
                break;
            }
            usleep(5000);
        }
        worker_close(w);
    }
    for (int b = 0; b < RT_CONC_BUCKETS; b++)
        for (conc_entry_t *e = rt->conc[b], *n; e; e = n) {
            n = e->next;
            free(e);
        }
    pthread_mutex_destroy(&rt->mu);
    pthread_cond_destroy(&rt->idle_cv);
    pthread_cond_destroy(&rt->super_cv);
    free(rt->workers);
    free(rt->egress_env);
    free(rt->warm_env);
    free(rt);
}

void runtime_stats(runtime_t *rt, runtime_stats_t *out) {
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&rt->mu);
    for (int i = 0; i < rt->nworkers; i++) {
        worker_state_t s = rt->workers[i].state;
        if (s == W_IDLE) out->workers_idle++;
        if (s == W_BUSY) out->workers_busy++;
        if (s == W_IDLE || s == W_BUSY) out->workers_total++;
    }
    out->restarts = rt->restarts;
    out->inflight = rt->inflight;
    pthread_mutex_unlock(&rt->mu);
}

int runtime_worker_pids(runtime_t *rt, int *pids, int max) {
    int n = 0;
    pthread_mutex_lock(&rt->mu);
    for (int i = 0; i < rt->nworkers && n < max; i++)
        if (rt->workers[i].pid > 0) pids[n++] = rt->workers[i].pid;
    pthread_mutex_unlock(&rt->mu);
    return n;
}
