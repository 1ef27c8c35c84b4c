/* The runtime as the server sees it: a supervised pool of pre-started worker processes
 * (fork+exec of this binary as `r3e __worker`), each owning one JavaScriptCore VM.
 * The server never touches the engine itself, so a crash in it costs one worker.
 *
 * runtime_invoke() is blocking and thread-safe: it takes an idle worker (preferring one
 * that has a warm context for this version), sends the invocation, brokers the worker's
 * KV and code requests against the store, and returns the outcome. A worker that dies
 * mid-invocation is reaped and replaced; the invocation ends as "crashed" (or
 * "memory_limit" when the worker reported memory exhaustion). */
#ifndef R3E_RUNTIME_RUNTIME_H
#define R3E_RUNTIME_RUNTIME_H

#include "core/err.h"
#include "store/store.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct runtime runtime_t;

/* Who is asking, for a host service call (ctx.eth, ctx.neo, …) from a running function. */
typedef struct {
    const char *ns, *fn, *exec_id;
    uint64_t deadline_us; /* CLOCK_MONOTONIC µs when the invocation's time is up */
} runtime_caller_t;

/* A host service: the server-side half of a platform API that functions reach through
 * `host(svc, args)` inside the sandbox. args is the JSON the function passed (borrowed).
 * Returns the result (owned; any JSON value) or NULL with err, whose code name and message
 * reach the function as the rejection (node errors: R3E_EUPSTREAM, with *rpc_error set to the
 * node's error object). Runs on the invoking thread, while the function waits. */
typedef json_t *(*runtime_host_fn)(void *ud, const runtime_caller_t *who, const char *svc,
                                   const json_t *args, json_t **rpc_error, err_t *err);

typedef struct {
    int workers;                  /* worker processes; <= 0 -> number of CPUs (min 2) */
    const char *exe;              /* binary to exec for workers; NULL -> /proc/self/exe */
    store_t *store;               /* for code and KV brokering; not owned */
    const char *egress_allow;     /* operator allow-list (comma-separated CIDRs, hosts,
                                     host:port); NULL = default deny of private ranges */
    int queue_timeout_ms;         /* how long an invocation waits for an idle worker (-> 503) */
    uint32_t default_concurrency; /* per-function in-flight cap when a version says 0 */
    size_t warm_contexts;         /* LRU bound of warm contexts per worker */
    struct vault *vault;          /* secrets for ctx.secrets (decrypted per invocation, sent
                                     only to the worker running it, redacted from its result,
                                     error and logs); NULL = none; not owned */
    runtime_host_fn host;         /* host services (NULL: every host call is refused) */
    void *host_ud;
} runtime_config_t;

/* Per-invocation limits sent to the worker (defaults in runtime_limits_default). */
typedef struct {
    size_t max_log_bytes;    /* captured console output; default 64 KiB */
    size_t max_result_bytes; /* serialised result; default 6 MiB */
    int max_fetches;         /* fetch() calls per invocation; default 50 */
    size_t max_fetch_bytes;  /* response body cap per fetch; default 10 MiB */
} runtime_limits_t;

typedef struct {
    const store_version_t *version; /* what to run (ns, name, version, hash, limits) */
    const char *exec_id;
    const char *request_id; /* for logs; may be NULL */
    const char *event_json; /* the event as JSON text */
    size_t event_len;
} runtime_request_t;

typedef struct {
    char status[16];   /* ok | error | timeout | memory_limit | crashed */
    char *result_json; /* malloc'ed JSON text ("null" when the function returned nothing) */
    size_t result_len;
    json_t *error; /* {name, message, stack} or NULL; owned */
    json_t *logs;  /* array of {t, level, msg}; owned, never NULL after success */
    bool logs_truncated;
    bool cold; /* a new context was created for this invocation */
    uint64_t duration_us;
    int worker_pid;
} runtime_result_t;

runtime_t *runtime_start(const runtime_config_t *cfg, err_t *err);
/* Waits up to drain_ms for in-flight invocations, then stops every worker. NULL is fine. */
void runtime_stop(runtime_t *rt, int drain_ms);

void runtime_limits_default(runtime_limits_t *lim);

/* Returns 0 when the function ran, whatever its outcome (see out->status); -1 with
 * R3E_ELIMIT (function concurrency reached), R3E_EUNAVAIL (no worker free within the queue
 * timeout, or shutting down). out must be released with runtime_result_free. */
int runtime_invoke(runtime_t *rt, const runtime_request_t *req, runtime_result_t *out, err_t *err);
void runtime_result_free(runtime_result_t *r);

/* Syntax-checks code in a worker. Returns 0 when valid, 1 on a syntax error with
 * *error_out = {name, message, line, column} (owned by caller), -1 with err otherwise. */
int runtime_check_syntax(runtime_t *rt, const char *code, size_t len, json_t **error_out,
                         err_t *err);

/* Pool facts for /readyz and /metrics. */
typedef struct {
    int workers_total, workers_idle, workers_busy;
    uint64_t restarts;
    int inflight;
} runtime_stats_t;
void runtime_stats(runtime_t *rt, runtime_stats_t *out);
/* pids of live workers (for tests and the admin view); returns the count written. */
int runtime_worker_pids(runtime_t *rt, int *pids, int max);

#endif
