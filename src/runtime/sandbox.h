/* The JavaScript side of a worker: one context per function version with the r3e
 * globals (console, timers, queueMicrotask, the module loader, ctx.kv) on top of the web
 * globals from webapi.h, and one invocation at a time driven to completion by an event
 * loop (timers, fetch via webapi_wait, KV replies over the IPC socket).
 *
 * Single-threaded by design: a worker process runs one invocation at a time, so the
 * current invocation is process state (sbx_* functions are not reentrant). */
#ifndef R3E_RUNTIME_SANDBOX_H
#define R3E_RUNTIME_SANDBOX_H

#include "runtime/jsc_private.h"
#include "runtime/webapi.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SBX_USER_URL "index.js" /* source URL of user code in stacks */

/* Growable text buffer for building JSON frames without a DOM (hot path). Aborts on OOM. */
typedef struct {
    char *p;
    size_t len, cap;
} sbx_buf_t;

void sbx_buf_put(sbx_buf_t *b, const char *s, size_t n);
void sbx_buf_cstr(sbx_buf_t *b, const char *s);
void sbx_buf_printf(sbx_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends s as a JSON string literal (quotes included); invalid UTF-8 becomes U+FFFD. */
void sbx_buf_jstr(sbx_buf_t *b, const char *s, size_t n);
void sbx_buf_free(sbx_buf_t *b);

/* Process-wide sandbox state; call once after engine start. fd is the IPC socket used for
 * KV requests. */
void sbx_init(JSContextGroupRef group, webapi_env_t *web, int fd);

/* A function context: a global context with the r3e globals installed and the user's
 * module evaluated. Owned by the worker's LRU (or released right after a fresh run). */
typedef struct sbx_ctx sbx_ctx_t;

typedef enum { SBX_OK, SBX_ERROR, SBX_TIMEOUT, SBX_MEMORY } sbx_status_t;

typedef struct {
    uint64_t deadline_us; /* util_now_us() clock */
    size_t memory_limit;  /* bytes of RSS growth allowed for this invocation */
    size_t max_log_bytes;
    size_t max_result_bytes;
    int max_fetches;
    size_t max_fetch_bytes;
    int timeout_ms, memory_mb; /* for messages */
} sbx_limits_t;

/* Outcome of one invocation; buffers are reused across invocations. */
typedef struct {
    sbx_status_t status;
    sbx_buf_t error;  /* JSON object text {name,message,stack} when status != OK */
    sbx_buf_t result; /* JSON text when OK */
    sbx_buf_t logs;   /* JSON array text */
    bool logs_truncated;
} sbx_outcome_t;

/* Starts an invocation's accounting (limits, logs, timers). Must bracket context creation
 * too, because module top-level code is user code under the same limits. */
void sbx_begin(const sbx_limits_t *lim, sbx_outcome_t *out);

/* Creates a context, evaluates the parsed module (script from the worker's code cache)
 * and resolves its handler. NULL on failure with the outcome set (error/timeout/memory). */
sbx_ctx_t *sbx_ctx_create(JSScriptRef script, size_t prefix_cols);
void sbx_ctx_destroy(sbx_ctx_t *c);

/* Prepares a blank context (globals installed, no user code) for the next cold start, so
 * that cost is paid between invocations. Call when idle; no-op when one is ready. */
void sbx_prewarm(void);

/* Runs the handler with the event (JSON text, NUL-terminated) and drives the event loop
 * until the promise settles or a limit ends it; fills the outcome given to sbx_begin.
 * version_json is the version as JSON text (number or string). */
void sbx_run(sbx_ctx_t *c, const char *event_json, const char *fn, const char *version_json,
             const char *exec_id, json_t *env);

/* Secrets for the next sbx_run ({"NAME":"value",…}, borrowed until sbx_end, which forgets
 * them): exposed as a frozen ctx.secrets for that invocation only. NULL = none. */
void sbx_set_secrets(json_t *secrets);

/* Ends the invocation: drops pending timers and KV requests, closes the log array. */
void sbx_end(void);

/* Syntax check of wrapped source (module.h) in a private context. Returns 1 when valid,
 * 0 with message/line/column (wrapped-source coordinates, column best effort). skip: the
 * wrapper prefix length, never cut into while locating the column. code is modified
 * temporarily (restored before return). */
int sbx_check_syntax(char *code, size_t len, size_t skip, char *msg, size_t msglen, int *line,
                     int *column);

/* Drops every capability and installs the worker's seccomp filter (sandbox_lockdown.c):
 * process creation, debugging, identity changes, mounts/namespaces and filesystem
 * structure changes fail with EPERM from then on, for every thread. Returns 0, or -1 when
 * the filter could not be installed (logged). */
int sbx_lockdown(void);

/* The same with a choice of filter: OFF (limits and capabilities only), LOG (the
 * allow-list with SCMP_ACT_LOG as default: syscalls outside it are logged by the kernel
 * audit, not refused; for finding what a new library needs) or ENFORCE (default action
 * SIGSYS: the worker's handler reports the syscall name and dies). The worker picks it
 * from R3E_WORKER_SECCOMP ("0", "log", anything else = enforce). */
typedef enum { SBX_LOCK_OFF, SBX_LOCK_LOG, SBX_LOCK_ENFORCE } sbx_lock_mode_t;
int sbx_lockdown_mode(sbx_lock_mode_t mode);
/* Only the seccomp filter (unit tests install it in a forked child). */
int sbx_lockdown_filter(sbx_lock_mode_t mode);
/* Name of syscall nr on this architecture, from a table filled when the filter was
 * installed; async-signal-safe (for the SIGSYS handler). NULL when unknown. */
const char *sbx_lockdown_syscall_name(int nr);
/* The unconditionally allowed syscalls (NULL-terminated); clone, openat, socket, prctl
 * and tgkill are allowed with argument checks on top (see sandbox_lockdown.c). */
extern const char *const sbx_lockdown_allowed[];

/* RSS in bytes (from /proc/self/statm; async-signal-safe). */
size_t sbx_rss_bytes(void);

#endif
