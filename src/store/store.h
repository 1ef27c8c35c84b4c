/* The store: durable state behind one interface (libuv-style: one header, backends behind
 * a vtable chosen at start-up). Backends: RocksDB (embedded, store_rocks.c); PostgreSQL
 * comes later and must slot in without touching callers.
 *
 * Everything is scoped by a namespace `ns` ("default" unless given: NULL or "" means
 * "default"). All functions are thread-safe. Functions returning int return 0 on success or
 * -1 with *err filled (R3E_ENOTFOUND when a record is absent, R3E_EINVAL for a malformed
 * name/ns/key/id, R3E_EIO on storage failure). Namespaces and function names must pass
 * util_valid_name. Acknowledged writes survive a crash of the process (WAL); set
 * R3E_SYNC=1 to also survive a machine crash (fsync per write).
 * Ownership: out-structs with pointers are released with the matching *_free call;
 * string vectors with store_strv_free. */
#ifndef R3E_STORE_STORE_H
#define R3E_STORE_STORE_H

#include "core/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct store store_t;

#define STORE_NAME_MAX 64      /* names are [a-z0-9][a-z0-9-]{0,62} */
#define STORE_LIST_DEFAULT 100 /* list calls: limit 0 means this many */

typedef struct {
    char ns[STORE_NAME_MAX];
    char name[STORE_NAME_MAX];
    uint32_t active_version; /* the version invocations run */
    uint32_t latest_version; /* highest version ever deployed */
    uint64_t created_ms, updated_ms;
} store_function_t;

/* One immutable deployed version. */
typedef struct {
    char ns[STORE_NAME_MAX];
    char name[STORE_NAME_MAX];
    uint32_t version;
    char code_hash[65]; /* SHA-256 hex of the code */
    uint64_t code_size;
    uint32_t timeout_ms;  /* default 10000 */
    uint32_t memory_mb;   /* default 128 */
    uint32_t concurrency; /* max in-flight invocations; 0 = platform default */
    char isolation[8];    /* "warm" | "fresh" */
    char *env_json;       /* JSON object text, malloc'ed; NULL = {} (reads always fill it) */
    uint64_t created_ms;
    char trigger_auth[8]; /* HTTP trigger auth: "public" | "key" | "jwt"; "" = public */
} store_version_t;

/* Opens the backend named by url: "rocksdb:/path/to/dir" or a bare directory path. */
store_t *store_open(const char *url, err_t *err);
/* Flushes and closes; NULL is fine. */
void store_close(store_t *s);

/* --- functions and versions ------------------------------------------------------- */

/* Atomically: stores the code under its SHA-256 (if new), adds version latest+1 from
 * `spec` (ns, name, limits, isolation, env_json are read; version/hash/size/created are
 * assigned), makes it active, creates the function record if needed. *out receives the
 * stored version (free with store_version_free). */
int store_deploy(store_t *s, const store_version_t *spec, const char *code, size_t code_len,
                 store_version_t *out, err_t *err);
int store_get_function(store_t *s, const char *ns, const char *name, store_function_t *out,
                       err_t *err);
/* All functions of ns sorted by name; *out malloc'ed array (free()). */
int store_list_functions(store_t *s, const char *ns, store_function_t **out, size_t *n, err_t *err);
int store_get_version(store_t *s, const char *ns, const char *name, uint32_t version,
                      store_version_t *out, err_t *err);
/* Versions ascending; free with store_versions_free. */
int store_list_versions(store_t *s, const char *ns, const char *name, store_version_t **out,
                        size_t *n, err_t *err);
/* Makes an existing version active (rollback / roll forward); R3E_ENOTFOUND when the
 * function or that version does not exist. */
int store_set_active(store_t *s, const char *ns, const char *name, uint32_t version, err_t *err);
/* Deletes the function, its versions and its KV data in one atomic batch; R3E_ENOTFOUND
 * when absent. Execution records are kept (they are the audit trail). Code blobs are
 * content-addressed, may be shared and are kept. */
int store_delete_function(store_t *s, const char *ns, const char *name, err_t *err);
/* Code by hash; *code malloc'ed and NUL-terminated. */
int store_get_code(store_t *s, const char *hash, char **code, size_t *len, err_t *err);
void store_version_free(store_version_t *v);
void store_versions_free(store_version_t *v, size_t n);

/* --- executions ------------------------------------------------------------------- */

/* Stores (or replaces) an execution record: `record_json` is a JSON object text.
 * Indexed by (ns, function, exec_id); exec ids are ULIDs so they sort by time. */
int store_put_execution(store_t *s, const char *ns, const char *function, const char *exec_id,
                        const char *record_json, err_t *err);
/* *record_json malloc'ed. */
int store_get_execution(store_t *s, const char *ns, const char *exec_id, char **record_json,
                        err_t *err);
/* Newest first; `before` (an exec id, exclusive) pages backwards; NULL starts at the newest.
 * limit 0 = STORE_LIST_DEFAULT.
 * *records: malloc'ed vector of malloc'ed JSON texts (store_strv_free). */
int store_list_executions(store_t *s, const char *ns, const char *function, const char *before,
                          size_t limit, char ***records, size_t *n, err_t *err);

/* --- per-function key-value state --------------------------------------------------- */

/* *val malloc'ed, NUL-terminated. R3E_ENOTFOUND when absent. */
int store_kv_get(store_t *s, const char *ns, const char *function, const char *key, char **val,
                 size_t *len, err_t *err);
int store_kv_put(store_t *s, const char *ns, const char *function, const char *key, const char *val,
                 size_t len, err_t *err);
/* Deleting an absent key is not an error. */
int store_kv_delete(store_t *s, const char *ns, const char *function, const char *key, err_t *err);
/* Keys with `prefix` (NULL/"" = all) after `start_after` (exclusive, NULL = from the start),
 * ascending by bytes, at most limit (0 = STORE_LIST_DEFAULT). Keys are non-empty C strings
 * of at most 1024 bytes; values are binary-safe. */
int store_kv_list(store_t *s, const char *ns, const char *function, const char *prefix,
                  const char *start_after, size_t limit, char ***keys, size_t *n, err_t *err);

void store_strv_free(char **v, size_t n);

/* --- generic metadata records ------------------------------------------------------- */

/* A small key-value family for platform metadata that is not per-function: API keys, the
 * audit log, and later triggers and other records. Records are grouped by `kind` (a name
 * that passes util_valid_name, e.g. "apikey", "audit"); keys are non-empty C strings of at
 * most 1024 bytes and sort by bytes within a kind (use ULIDs for time order); values are
 * binary-safe. Kinds are global (not namespaced): a record that belongs to a namespace
 * carries it in its key or value. */

/* Creates or replaces. */
int store_meta_put(store_t *s, const char *kind, const char *key, const char *val, size_t len,
                   err_t *err);
/* Creates only: R3E_EEXIST when the key is already there (atomic w.r.t. other writers of
 * this store). */
int store_meta_insert(store_t *s, const char *kind, const char *key, const char *val, size_t len,
                      err_t *err);
/* *val malloc'ed and NUL-terminated. R3E_ENOTFOUND when absent. */
int store_meta_get(store_t *s, const char *kind, const char *key, char **val, size_t *len,
                   err_t *err);
/* Deleting an absent key is not an error. */
int store_meta_delete(store_t *s, const char *kind, const char *key, err_t *err);
/* Records of `kind` with key > start_after (exclusive; NULL/"" = from the first), ascending,
 * at most limit (0 = STORE_LIST_DEFAULT). *keys and *vals are parallel malloc'ed vectors
 * of malloc'ed NUL-terminated strings (store_strv_free each, with *n); vals may be NULL
 * when the caller wants keys only. */
int store_meta_list(store_t *s, const char *kind, const char *start_after, size_t limit,
                    char ***keys, char ***vals, size_t *n, err_t *err);

/* One step of an atomic metadata write (store_meta_write): val NULL deletes the record. */
typedef struct {
    const char *kind, *key;
    const char *val;
    size_t len;
} store_meta_op_t;

/* An execution record written by store_meta_write_execs, as store_put_execution(ns,
 * function, exec_id, record_json) would store it. */
typedef struct {
    const char *ns, *function, *exec_id, *record_json;
} store_exec_put_t;

/* Applies all n ops or none, as one atomic, durable write (what the event log and the
 * embedded queue build on: "an event is acknowledged only once durable, together with its
 * queue entries"). Later ops on the same key win. n may be 0. */
int store_meta_write(store_t *s, const store_meta_op_t *ops, size_t n, err_t *err);
/* store_meta_write plus m execution records in the same atomic write (a queue job and the
 * execution record it starts with). It does not look for an older record of an id under
 * another function: use it for ids whose function never changes (a job's id). */
int store_meta_write_execs(store_t *s, const store_meta_op_t *ops, size_t n,
                           const store_exec_put_t *execs, size_t m, err_t *err);
/* Records of `kind` with from <= key < to (from NULL/"" = the first, to NULL/"" = past the
 * last), ascending, or descending when `reverse`, at most limit (0 = STORE_LIST_DEFAULT).
 * Outputs as store_meta_list. For an exclusive start, pass the previous key with "\x01"
 * appended (the smallest C string after it). Cost is proportional to the records returned
 * (plus not-yet-compacted deletions inside the range), never to the whole kind. */
int store_meta_range(store_t *s, const char *kind, const char *from, const char *to, bool reverse,
                     size_t limit, char ***keys, char ***vals, size_t *n, err_t *err);

/* --- backend vtable (for backend implementers only) ------------------------------- */
typedef struct store_ops {
    const char *name;
    void (*close)(store_t *s);
    int (*deploy)(store_t *, const store_version_t *, const char *, size_t, store_version_t *,
                  err_t *);
    int (*get_function)(store_t *, const char *, const char *, store_function_t *, err_t *);
    int (*list_functions)(store_t *, const char *, store_function_t **, size_t *, err_t *);
    int (*get_version)(store_t *, const char *, const char *, uint32_t, store_version_t *, err_t *);
    int (*list_versions)(store_t *, const char *, const char *, store_version_t **, size_t *,
                         err_t *);
    int (*set_active)(store_t *, const char *, const char *, uint32_t, err_t *);
    int (*delete_function)(store_t *, const char *, const char *, err_t *);
    int (*get_code)(store_t *, const char *, char **, size_t *, err_t *);
    int (*put_execution)(store_t *, const char *, const char *, const char *, const char *,
                         err_t *);
    int (*get_execution)(store_t *, const char *, const char *, char **, err_t *);
    int (*list_executions)(store_t *, const char *, const char *, const char *, size_t, char ***,
                           size_t *, err_t *);
    int (*kv_get)(store_t *, const char *, const char *, const char *, char **, size_t *, err_t *);
    int (*kv_put)(store_t *, const char *, const char *, const char *, const char *, size_t,
                  err_t *);
    int (*kv_delete)(store_t *, const char *, const char *, const char *, err_t *);
    int (*kv_list)(store_t *, const char *, const char *, const char *, const char *, size_t,
                   char ***, size_t *, err_t *);
    /* generic metadata (kind/key already checked by store.c); insert: create-only */
    int (*meta_put)(store_t *, const char *, const char *, const char *, size_t, bool, err_t *);
    int (*meta_get)(store_t *, const char *, const char *, char **, size_t *, err_t *);
    int (*meta_delete)(store_t *, const char *, const char *, err_t *);
    int (*meta_list)(store_t *, const char *, const char *, size_t, char ***, char ***, size_t *,
                     err_t *);
    int (*meta_write)(store_t *, const store_meta_op_t *, size_t, const store_exec_put_t *, size_t,
                      err_t *); /* ops and execs checked */
    int (*meta_range)(store_t *, const char *, const char *, const char *, bool, size_t, char ***,
                      char ***, size_t *, err_t *);
} store_ops_t;

struct store {
    const store_ops_t *ops;
    void *impl;
};

/* Backend constructors (used by store_open). */
store_t *store_rocks_open(const char *dir, err_t *err);

#endif
