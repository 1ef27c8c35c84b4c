/* RocksDB backend of the store (the embedded shape).
 *
 * One column family per record kind, binary keys whose byte order is the order we list in:
 *
 *   functions   ns \0 name                  -> {"active","latest","created_ms","updated_ms"}
 *   versions    ns \0 name \0 be32(version) -> {"hash","size","timeout_ms",...,"env":{}}
 *   code        sha256-hex                  -> code bytes (content-addressed, shared)
 *   executions  ns \0 exec_id               -> function \0 record-json
 *   exec_index  ns \0 function \0 exec_id   -> "" (ULIDs sort by time: newest = last key)
 *   kv          ns \0 function \0 key       -> value bytes
 *   meta        kind \0 key                 -> value bytes (API keys, audit log, ...)
 *
 * Names, namespaces and ids are NUL-free C strings (checked in store.c), so the \0
 * separators make every "ns \0 name \0" a prefix of exactly that function's keys and of no
 * other's ("a" vs "ab"). Records are compact JSON; every encode/decode is in the "records"
 * section below.
 *
 * Durability: writes go through the write-ahead log (RocksDB's default). A write returns
 * once it is in the WAL file, i.e. in the OS page cache, so a kill -9 of the server loses
 * nothing acknowledged: the kernel still writes those pages out and the next open replays
 * the WAL. A machine crash or power loss can lose the last writes unless R3E_SYNC=1, which
 * makes every write fsync the WAL before it is acknowledged (much slower).
 *
 * Concurrency: RocksDB calls are thread-safe. The read-modify-write of a function record
 * (deploy, set_active, delete) is serialised by meta_lock held for writing, which makes
 * "read latest, write latest+1" atomic with respect to concurrent deploys. KV writes hold
 * it for reading so that a delete_function never interleaves with a KV write of the same
 * moment (no orphaned keys survive a delete). Plain reads take no lock.
 * The PostgreSQL backend does the same with one transaction per deploy:
 *   BEGIN; INSERT INTO functions ... ON CONFLICT DO NOTHING;
 *   SELECT latest_version FROM functions WHERE ns=$1 AND name=$2 FOR UPDATE;
 *   INSERT INTO code ... ON CONFLICT DO NOTHING; INSERT INTO versions (..., latest+1);
 *   UPDATE functions SET latest_version=..., active_version=...; COMMIT;
 * where the row lock serialises deploys of one name across API replicas, and a unique key
 * on (ns, name, version) turns any remaining race into a retryable conflict. */
#include "store/store.h"

#include "core/util.h"

#include <assert.h>
#include <jansson.h>
#include <pthread.h>
#include <rocksdb/c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    CF_DEFAULT, /* RocksDB requires it; unused */
    CF_FUNCTIONS,
    CF_VERSIONS,
    CF_CODE,
    CF_EXECUTIONS,
    CF_EXEC_INDEX,
    CF_KV,
    CF_META, /* added later: create_missing_column_families adds it to older stores */
    CF_COUNT
};

static const char *const rocks_cf_names[CF_COUNT] = {
    "default", "functions", "versions", "code", "executions", "exec_index", "kv", "meta",
};

typedef struct {
    rocksdb_t *db;
    rocksdb_options_t *opts;
    rocksdb_writeoptions_t *wopts;
    rocksdb_readoptions_t *ropts; /* point reads; iterators get their own (bounds) */
    rocksdb_column_family_handle_t *cf[CF_COUNT];
    pthread_rwlock_t meta_lock;
} rocks_t;

#define ROCKS(s) ((rocks_t *)(s)->impl)

/* --- keys --------------------------------------------------------------------------- */

/* Keys are built on the stack: store.c bounds every component (names 63, ids 128, KV keys
 * 1024 bytes), so the longest key, ns \0 function \0 kv-key, fits with room to spare. */
typedef struct {
    char b[1280];
    size_t n;
} rkey_t;

static void rkey_bytes(rkey_t *k, const void *p, size_t n) {
    assert(k->n + n <= sizeof k->b);
    memcpy(k->b + k->n, p, n);
    k->n += n;
}

static void rkey_str(rkey_t *k, const char *s) {
    rkey_bytes(k, s, strlen(s));
}

static void rkey_sep(rkey_t *k) {
    rkey_bytes(k, "", 1);
}

/* Big-endian so that versions sort numerically as bytes. */
static void rkey_u32(rkey_t *k, uint32_t v) {
    uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    rkey_bytes(k, b, 4);
}

/* ns \0 name \0 : the prefix of everything that belongs to one function. */
static rkey_t rkey_fn(const char *ns, const char *name) {
    rkey_t k = {.n = 0};
    rkey_str(&k, ns);
    rkey_sep(&k);
    rkey_str(&k, name);
    rkey_sep(&k);
    return k;
}

/* The function record key is the same without the trailing separator. */
static rkey_t rkey_fn_record(const char *ns, const char *name) {
    rkey_t k = rkey_fn(ns, name);
    k.n--;
    return k;
}

static rkey_t rkey_ns(const char *ns) {
    rkey_t k = {.n = 0};
    rkey_str(&k, ns);
    rkey_sep(&k);
    return k;
}

/* The smallest key greater than every key starting with k: the upper bound of a prefix
 * scan. Our prefixes always contain a byte below 0xff (a separator), so it exists. */
static rkey_t rkey_successor(const rkey_t *k) {
    rkey_t u = *k;
    while (u.n > 0 && (uint8_t)u.b[u.n - 1] == 0xff)
        u.n--;
    assert(u.n > 0);
    u.b[u.n - 1] = (char)((uint8_t)u.b[u.n - 1] + 1);
    return u;
}

/* --- records (the only place that knows the value encodings) ------------------------ */

static char *rec_function_encode(const store_function_t *f) {
    json_t *o = json_pack("{s:I,s:I,s:I,s:I}", "active", (json_int_t)f->active_version, "latest",
                          (json_int_t)f->latest_version, "created_ms", (json_int_t)f->created_ms,
                          "updated_ms", (json_int_t)f->updated_ms);
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return s;
}

static int rec_function_decode(const char *buf, size_t len, store_function_t *f) {
    json_t *o = json_loadb(buf, len, 0, NULL);
    json_int_t active = 0, latest = 0, created = 0, updated = 0;
    int rc = json_unpack(o, "{s:I,s:I,s:I,s:I}", "active", &active, "latest", &latest, "created_ms",
                         &created, "updated_ms", &updated);
    json_decref(o);
    if (rc != 0) return -1;
    f->active_version = (uint32_t)active;
    f->latest_version = (uint32_t)latest;
    f->created_ms = (uint64_t)created;
    f->updated_ms = (uint64_t)updated;
    return 0;
}

/* env is the parsed env object (borrowed). */
static char *rec_version_encode(const store_version_t *v, json_t *env) {
    json_t *o =
        json_pack("{s:s,s:I,s:I,s:I,s:I,s:s,s:O,s:I}", "hash", v->code_hash, "size",
                  (json_int_t)v->code_size, "timeout_ms", (json_int_t)v->timeout_ms, "memory_mb",
                  (json_int_t)v->memory_mb, "concurrency", (json_int_t)v->concurrency, "isolation",
                  v->isolation, "env", env, "created_ms", (json_int_t)v->created_ms);
    /* written only when not public, so records of older versions stay byte-identical */
    if (o && v->trigger_auth[0] && strcmp(v->trigger_auth, "public") != 0)
        json_object_set_new(o, "trigger_auth", json_string(v->trigger_auth));
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return s;
}

/* Fills everything but ns/name/version (those come from the key). */
static int rec_version_decode(const char *buf, size_t len, store_version_t *v) {
    json_t *o = json_loadb(buf, len, 0, NULL);
    const char *hash = NULL, *isolation = NULL;
    json_t *env = NULL;
    json_int_t size = 0, timeout = 0, memory = 0, conc = 0, created = 0;
    int rc = json_unpack(o, "{s:s,s:I,s:I,s:I,s:I,s:s,s:o,s:I}", "hash", &hash, "size", &size,
                         "timeout_ms", &timeout, "memory_mb", &memory, "concurrency", &conc,
                         "isolation", &isolation, "env", &env, "created_ms", &created);
    if (rc == 0) {
        snprintf(v->code_hash, sizeof v->code_hash, "%s", hash);
        snprintf(v->isolation, sizeof v->isolation, "%s", isolation);
        v->code_size = (uint64_t)size;
        v->timeout_ms = (uint32_t)timeout;
        v->memory_mb = (uint32_t)memory;
        v->concurrency = (uint32_t)conc;
        v->created_ms = (uint64_t)created;
        v->env_json = json_dumps(env, JSON_COMPACT);
        if (!v->env_json) rc = -1;
        const char *ta = json_string_value(json_object_get(o, "trigger_auth"));
        snprintf(v->trigger_auth, sizeof v->trigger_auth, "%s", ta ? ta : "public");
    }
    json_decref(o);
    return rc;
}

/* An execution row remembers its function so that a replaced record can drop a stale
 * index entry: function \0 record-json. */
static char *rec_exec_encode(const char *function, const char *record_json, size_t *len) {
    size_t fl = strlen(function), rl = strlen(record_json);
    char *b = malloc(fl + 1 + rl);
    if (!b) return NULL;
    memcpy(b, function, fl + 1);
    memcpy(b + fl + 1, record_json, rl);
    *len = fl + 1 + rl;
    return b;
}

/* Points *function (NUL-terminated inside buf) and *json, *json_len into buf. */
static int rec_exec_decode(const char *buf, size_t len, const char **function, const char **json,
                           size_t *json_len) {
    const char *nul = memchr(buf, '\0', len);
    if (!nul) return -1;
    *function = buf;
    *json = nul + 1;
    *json_len = len - (size_t)(nul + 1 - buf);
    return 0;
}

/* --- small helpers ------------------------------------------------------------------ */

/* Converts a RocksDB error string (freed here) into R3E_EIO. */
static int rocks_fail(err_t *err, char *rerr, const char *what) {
    err_set(err, R3E_EIO, "store: %s: %s", what, rerr ? rerr : "unknown error");
    rocksdb_free(rerr);
    return -1;
}

static char *dup_bytes(const char *p, size_t n) {
    char *d = malloc(n + 1);
    if (!d) return NULL;
    if (n) memcpy(d, p, n);
    d[n] = '\0';
    return d;
}

/* Point read. Returns 1 found (*val malloc'ed by RocksDB: rocksdb_free), 0 absent, -1 error. */
static int rocks_get(rocks_t *r, int cf, const rkey_t *k, char **val, size_t *len, err_t *err) {
    char *rerr = NULL;
    *val = rocksdb_get_cf(r->db, r->ropts, r->cf[cf], k->b, k->n, len, &rerr);
    if (rerr) return rocks_fail(err, rerr, "read");
    return *val ? 1 : 0;
}

/* Existence check without copying the value (code blobs can be large). */
static int rocks_exists(rocks_t *r, int cf, const rkey_t *k, err_t *err) {
    char *rerr = NULL;
    rocksdb_pinnableslice_t *p =
        rocksdb_get_pinned_cf(r->db, r->ropts, r->cf[cf], k->b, k->n, &rerr);
    if (rerr) return rocks_fail(err, rerr, "read");
    rocksdb_pinnableslice_destroy(p);
    return p ? 1 : 0;
}

static int rocks_write(rocks_t *r, rocksdb_writebatch_t *b, err_t *err) {
    char *rerr = NULL;
    rocksdb_write(r->db, r->wopts, b, &rerr);
    rocksdb_writebatch_destroy(b);
    if (rerr) return rocks_fail(err, rerr, "write");
    return 0;
}

/* Grows a malloc'ed vector to hold at least n+1 elements. */
static int vec_reserve(void **v, size_t *cap, size_t n, size_t elem, err_t *err) {
    if (n < *cap) return 0;
    size_t nc = *cap ? *cap * 2 : 16;
    void *p = realloc(*v, nc * elem);
    if (!p) return err_set(err, R3E_EINTERNAL, "out of memory");
    *v = p;
    *cap = nc;
    return 0;
}

/* A bounded range scan over [lo, hi). The bounds live in the struct because RocksDB keeps
 * pointers to them for the iterator's lifetime: keep the scan where it was opened. */
typedef struct {
    rkey_t lo, hi;
    rocksdb_readoptions_t *ro;
    rocksdb_iterator_t *it;
} rscan_t;

static void rscan_open(rocks_t *r, int cf, rscan_t *sc) {
    sc->ro = rocksdb_readoptions_create();
    rocksdb_readoptions_set_iterate_lower_bound(sc->ro, sc->lo.b, sc->lo.n);
    rocksdb_readoptions_set_iterate_upper_bound(sc->ro, sc->hi.b, sc->hi.n);
    sc->it = rocksdb_create_iterator_cf(r->db, sc->ro, r->cf[cf]);
}

/* Closes the scan; returns -1 with err filled if the iterator stopped on an error. */
static int rscan_close(rscan_t *sc, err_t *err) {
    char *rerr = NULL;
    rocksdb_iter_get_error(sc->it, &rerr);
    rocksdb_iter_destroy(sc->it);
    rocksdb_readoptions_destroy(sc->ro);
    if (rerr) return rocks_fail(err, rerr, "scan");
    return 0;
}

/* A scan over every key that starts with prefix. */
static void rscan_prefix(rocks_t *r, int cf, rscan_t *sc, const rkey_t *prefix) {
    sc->lo = *prefix;
    sc->hi = rkey_successor(prefix);
    rscan_open(r, cf, sc);
}

/* --- functions and versions ----------------------------------------------------------- */

static int rocks_read_function(rocks_t *r, const char *ns, const char *name, store_function_t *f,
                               err_t *err) {
    rkey_t k = rkey_fn_record(ns, name);
    char *val;
    size_t len;
    int found = rocks_get(r, CF_FUNCTIONS, &k, &val, &len, err);
    if (found < 0) return -1;
    if (!found) return err_set(err, R3E_ENOTFOUND, "function %s not found", name);
    memset(f, 0, sizeof *f);
    int rc = rec_function_decode(val, len, f);
    rocksdb_free(val);
    if (rc != 0) return err_set(err, R3E_EIO, "store: corrupt function record %s", name);
    snprintf(f->ns, sizeof f->ns, "%s", ns);
    snprintf(f->name, sizeof f->name, "%s", name);
    return 0;
}

static void rocks_batch_put_function(rocks_t *r, rocksdb_writebatch_t *b, const store_function_t *f,
                                     const char *enc) {
    rkey_t k = rkey_fn_record(f->ns, f->name);
    rocksdb_writebatch_put_cf(b, r->cf[CF_FUNCTIONS], k.b, k.n, enc, strlen(enc));
}

static rkey_t rkey_version(const char *ns, const char *name, uint32_t version) {
    rkey_t k = rkey_fn(ns, name);
    rkey_u32(&k, version);
    return k;
}

/* Parses spec->env_json into a new object reference; NULL/"" is {}. */
static json_t *rocks_parse_env(const char *env_json, err_t *err) {
    if (!env_json || !*env_json) return json_object();
    json_error_t je;
    json_t *env = json_loads(env_json, 0, &je);
    if (!env || !json_is_object(env)) {
        json_decref(env);
        err_set(err, R3E_EINVAL, "env must be a JSON object");
        return NULL;
    }
    return env;
}

/* The version as it will be stored: limits defaulted, code identity filled in. */
static void rocks_fill_version(store_version_t *v, const store_version_t *spec, const char *code,
                               size_t code_len) {
    *v = *spec;
    v->env_json = NULL;
    util_sha256_hex(code, code_len, v->code_hash);
    v->code_size = code_len;
    if (!v->timeout_ms) v->timeout_ms = 10000;
    if (!v->memory_mb) v->memory_mb = 128;
    if (!v->isolation[0]) snprintf(v->isolation, sizeof v->isolation, "warm");
    v->created_ms = util_wall_ms();
}

/* Under meta_lock: decide the version number and write code + version + function record in
 * one batch, so a reader never sees a version without its code or a function pointing at
 * a version that is not there. */
static int rocks_deploy_locked(rocks_t *r, store_version_t *v, json_t *env, const char *code,
                               size_t code_len, bool code_known, err_t *err) {
    store_function_t f;
    err_t e;
    if (rocks_read_function(r, v->ns, v->name, &f, &e) != 0) {
        if (e.code != R3E_ENOTFOUND) {
            if (err) *err = e;
            return -1;
        }
        memset(&f, 0, sizeof f);
        snprintf(f.ns, sizeof f.ns, "%s", v->ns);
        snprintf(f.name, sizeof f.name, "%s", v->name);
        f.created_ms = v->created_ms;
    }
    if (f.latest_version == UINT32_MAX)
        return err_set(err, R3E_ELIMIT, "function %s has too many versions", v->name);
    v->version = f.latest_version + 1;
    f.latest_version = f.active_version = v->version;
    f.updated_ms = v->created_ms;

    char *venc = rec_version_encode(v, env), *fenc = rec_function_encode(&f);
    if (!venc || !fenc) {
        free(venc);
        free(fenc);
        return err_set(err, R3E_EINTERNAL, "out of memory");
    }
    rocksdb_writebatch_t *b = rocksdb_writebatch_create();
    if (!code_known) {
        rkey_t ck = {.n = 0};
        rkey_str(&ck, v->code_hash);
        rocksdb_writebatch_put_cf(b, r->cf[CF_CODE], ck.b, ck.n, code, code_len);
    }
    rkey_t vk = rkey_version(v->ns, v->name, v->version);
    rocksdb_writebatch_put_cf(b, r->cf[CF_VERSIONS], vk.b, vk.n, venc, strlen(venc));
    rocks_batch_put_function(r, b, &f, fenc);
    free(venc);
    free(fenc);
    return rocks_write(r, b, err);
}

static int rocks_deploy(store_t *s, const store_version_t *spec, const char *code, size_t code_len,
                        store_version_t *out, err_t *err) {
    rocks_t *r = ROCKS(s);
    json_t *env = rocks_parse_env(spec->env_json, err);
    if (!env) return -1;
    store_version_t v;
    rocks_fill_version(&v, spec, code, code_len);

    /* Code is content-addressed and never deleted, so checking outside the lock is safe;
     * two racing deploys of new identical code both write the same bytes. */
    rkey_t ck = {.n = 0};
    rkey_str(&ck, v.code_hash);
    int known = rocks_exists(r, CF_CODE, &ck, err);
    if (known < 0) {
        json_decref(env);
        return -1;
    }
    pthread_rwlock_wrlock(&r->meta_lock);
    int rc = rocks_deploy_locked(r, &v, env, code, code_len, known == 1, err);
    pthread_rwlock_unlock(&r->meta_lock);
    if (rc == 0) {
        v.env_json = json_dumps(env, JSON_COMPACT);
        *out = v;
    }
    json_decref(env);
    return rc;
}

static int rocks_get_function(store_t *s, const char *ns, const char *name, store_function_t *out,
                              err_t *err) {
    return rocks_read_function(ROCKS(s), ns, name, out, err);
}

static int rocks_list_functions(store_t *s, const char *ns, store_function_t **out, size_t *n,
                                err_t *err) {
    rocks_t *r = ROCKS(s);
    rkey_t p = rkey_ns(ns);
    rscan_t sc;
    rscan_prefix(r, CF_FUNCTIONS, &sc, &p);
    store_function_t *v = NULL;
    size_t cnt = 0, cap = 0;
    int rc = 0;
    for (rocksdb_iter_seek(sc.it, sc.lo.b, sc.lo.n); rocksdb_iter_valid(sc.it);
         rocksdb_iter_next(sc.it)) {
        size_t kl, vl;
        const char *k = rocksdb_iter_key(sc.it, &kl);
        const char *val = rocksdb_iter_value(sc.it, &vl);
        if ((rc = vec_reserve((void **)&v, &cap, cnt, sizeof *v, err)) != 0) break;
        store_function_t *f = &v[cnt];
        memset(f, 0, sizeof *f);
        if (rec_function_decode(val, vl, f) != 0 || kl - p.n >= sizeof f->name) {
            rc = err_set(err, R3E_EIO, "store: corrupt function record in %s", ns);
            break;
        }
        snprintf(f->ns, sizeof f->ns, "%s", ns);
        memcpy(f->name, k + p.n, kl - p.n);
        cnt++;
    }
    if (rscan_close(&sc, rc ? NULL : err) != 0) rc = -1;
    if (rc != 0) {
        free(v);
        return -1;
    }
    *out = v;
    *n = cnt;
    return 0;
}

static int rocks_get_version(store_t *s, const char *ns, const char *name, uint32_t version,
                             store_version_t *out, err_t *err) {
    rocks_t *r = ROCKS(s);
    rkey_t k = rkey_version(ns, name, version);
    char *val;
    size_t len;
    int found = rocks_get(r, CF_VERSIONS, &k, &val, &len, err);
    if (found < 0) return -1;
    if (!found) return err_set(err, R3E_ENOTFOUND, "version %u of %s not found", version, name);
    memset(out, 0, sizeof *out);
    int rc = rec_version_decode(val, len, out);
    rocksdb_free(val);
    if (rc != 0) {
        store_version_free(out);
        return err_set(err, R3E_EIO, "store: corrupt version record %s/%u", name, version);
    }
    snprintf(out->ns, sizeof out->ns, "%s", ns);
    snprintf(out->name, sizeof out->name, "%s", name);
    out->version = version;
    return 0;
}

static uint32_t be32_read(const char *p) {
    const uint8_t *b = (const uint8_t *)p;
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static int rocks_list_versions(store_t *s, const char *ns, const char *name, store_version_t **out,
                               size_t *n, err_t *err) {
    rocks_t *r = ROCKS(s);
    rkey_t p = rkey_fn(ns, name);
    rscan_t sc;
    rscan_prefix(r, CF_VERSIONS, &sc, &p);
    store_version_t *v = NULL;
    size_t cnt = 0, cap = 0;
    int rc = 0;
    for (rocksdb_iter_seek(sc.it, sc.lo.b, sc.lo.n); rocksdb_iter_valid(sc.it);
         rocksdb_iter_next(sc.it)) {
        size_t kl, vl;
        const char *k = rocksdb_iter_key(sc.it, &kl);
        const char *val = rocksdb_iter_value(sc.it, &vl);
        if ((rc = vec_reserve((void **)&v, &cap, cnt, sizeof *v, err)) != 0) break;
        store_version_t *ver = &v[cnt];
        memset(ver, 0, sizeof *ver);
        if (kl != p.n + 4 || rec_version_decode(val, vl, ver) != 0) {
            store_version_free(ver);
            rc = err_set(err, R3E_EIO, "store: corrupt version record of %s", name);
            break;
        }
        snprintf(ver->ns, sizeof ver->ns, "%s", ns);
        snprintf(ver->name, sizeof ver->name, "%s", name);
        ver->version = be32_read(k + p.n);
        cnt++;
    }
    if (rscan_close(&sc, rc ? NULL : err) != 0) rc = -1;
    if (rc != 0) {
        store_versions_free(v, cnt);
        return -1;
    }
    *out = v;
    *n = cnt;
    return 0;
}

static int rocks_set_active_locked(rocks_t *r, const char *ns, const char *name, uint32_t version,
                                   err_t *err) {
    store_function_t f;
    if (rocks_read_function(r, ns, name, &f, err) != 0) return -1;
    rkey_t vk = rkey_version(ns, name, version);
    int found = rocks_exists(r, CF_VERSIONS, &vk, err);
    if (found < 0) return -1;
    if (!found) return err_set(err, R3E_ENOTFOUND, "version %u of %s not found", version, name);
    f.active_version = version;
    f.updated_ms = util_wall_ms();
    char *enc = rec_function_encode(&f);
    if (!enc) return err_set(err, R3E_EINTERNAL, "out of memory");
    rocksdb_writebatch_t *b = rocksdb_writebatch_create();
    rocks_batch_put_function(r, b, &f, enc);
    free(enc);
    return rocks_write(r, b, err);
}

static int rocks_set_active(store_t *s, const char *ns, const char *name, uint32_t version,
                            err_t *err) {
    rocks_t *r = ROCKS(s);
    pthread_rwlock_wrlock(&r->meta_lock);
    int rc = rocks_set_active_locked(r, ns, name, version, err);
    pthread_rwlock_unlock(&r->meta_lock);
    return rc;
}

/* One batch: the function record, then range deletions over all its versions and all its
 * KV keys (both live under ns \0 name \0). Executions stay: they are the audit trail. */
static int rocks_delete_function(store_t *s, const char *ns, const char *name, err_t *err) {
    rocks_t *r = ROCKS(s);
    pthread_rwlock_wrlock(&r->meta_lock);
    store_function_t f;
    int rc = rocks_read_function(r, ns, name, &f, err);
    if (rc == 0) {
        rkey_t fk = rkey_fn_record(ns, name), lo = rkey_fn(ns, name), hi = rkey_successor(&lo);
        rocksdb_writebatch_t *b = rocksdb_writebatch_create();
        rocksdb_writebatch_delete_cf(b, r->cf[CF_FUNCTIONS], fk.b, fk.n);
        rocksdb_writebatch_delete_range_cf(b, r->cf[CF_VERSIONS], lo.b, lo.n, hi.b, hi.n);
        rocksdb_writebatch_delete_range_cf(b, r->cf[CF_KV], lo.b, lo.n, hi.b, hi.n);
        rc = rocks_write(r, b, err);
    }
    pthread_rwlock_unlock(&r->meta_lock);
    return rc;
}

static int rocks_get_code(store_t *s, const char *hash, char **code, size_t *len, err_t *err) {
    rocks_t *r = ROCKS(s);
    rkey_t k = {.n = 0};
    rkey_str(&k, hash);
    char *val;
    size_t vl;
    int found = rocks_get(r, CF_CODE, &k, &val, &vl, err);
    if (found < 0) return -1;
    if (!found) return err_set(err, R3E_ENOTFOUND, "code %s not found", hash);
    *code = dup_bytes(val, vl);
    rocksdb_free(val);
    if (!*code) return err_set(err, R3E_EINTERNAL, "out of memory");
    *len = vl;
    return 0;
}

/* --- executions ----------------------------------------------------------------------- */

static rkey_t rkey_exec(const char *ns, const char *exec_id) {
    rkey_t k = rkey_ns(ns);
    rkey_str(&k, exec_id);
    return k;
}

static rkey_t rkey_exec_index(const char *ns, const char *function, const char *exec_id) {
    rkey_t k = rkey_fn(ns, function);
    rkey_str(&k, exec_id);
    return k;
}

static int rocks_put_execution(store_t *s, const char *ns, const char *function,
                               const char *exec_id, const char *record_json, err_t *err) {
    rocks_t *r = ROCKS(s);
    rkey_t ek = rkey_exec(ns, exec_id), ik = rkey_exec_index(ns, function, exec_id);
    char *old;
    size_t old_len;
    int found = rocks_get(r, CF_EXECUTIONS, &ek, &old, &old_len, err);
    if (found < 0) return -1;

    size_t len;
    char *enc = rec_exec_encode(function, record_json, &len);
    if (!enc) {
        rocksdb_free(old);
        return err_set(err, R3E_EINTERNAL, "out of memory");
    }
    rocksdb_writebatch_t *b = rocksdb_writebatch_create();
    const char *old_fn, *json;
    size_t json_len;
    if (found && rec_exec_decode(old, old_len, &old_fn, &json, &json_len) == 0 &&
        strcmp(old_fn, function) != 0) {
        rkey_t stale = rkey_exec_index(ns, old_fn, exec_id);
        rocksdb_writebatch_delete_cf(b, r->cf[CF_EXEC_INDEX], stale.b, stale.n);
    }
    rocksdb_free(old);
    rocksdb_writebatch_put_cf(b, r->cf[CF_EXECUTIONS], ek.b, ek.n, enc, len);
    rocksdb_writebatch_put_cf(b, r->cf[CF_EXEC_INDEX], ik.b, ik.n, "", 0);
    free(enc);
    return rocks_write(r, b, err);
}

/* Adds a new execution record and its index entry to batch b (store_meta_write). */
static int rocks_batch_execution(rocks_t *r, rocksdb_writebatch_t *b, const char *ns,
                                 const char *function, const char *exec_id, const char *record_json,
                                 err_t *err) {
    ns = ns && *ns ? ns : "default";
    rkey_t ek = rkey_exec(ns, exec_id), ik = rkey_exec_index(ns, function, exec_id);
    size_t len;
    char *enc = rec_exec_encode(function, record_json, &len);
    if (!enc) return err_set(err, R3E_EINTERNAL, "out of memory");
    rocksdb_writebatch_put_cf(b, r->cf[CF_EXECUTIONS], ek.b, ek.n, enc, len);
    rocksdb_writebatch_put_cf(b, r->cf[CF_EXEC_INDEX], ik.b, ik.n, "", 0);
    free(enc);
    return 0;
}

/* Reads one execution's JSON into a fresh malloc'ed string. 1 found, 0 absent, -1 error. */
static int rocks_read_execution(rocks_t *r, const rkey_t *ek, char **record_json, err_t *err) {
    char *val;
    size_t len;
    int found = rocks_get(r, CF_EXECUTIONS, ek, &val, &len, err);
    if (found <= 0) return found;
    const char *fn, *json;
    size_t json_len;
    int rc = rec_exec_decode(val, len, &fn, &json, &json_len);
    if (rc == 0) *record_json = dup_bytes(json, json_len);
    rocksdb_free(val);
    if (rc != 0) return err_set(err, R3E_EIO, "store: corrupt execution record");
    if (!*record_json) return err_set(err, R3E_EINTERNAL, "out of memory");
    return 1;
}

static int rocks_get_execution(store_t *s, const char *ns, const char *exec_id, char **record_json,
                               err_t *err) {
    rkey_t ek = rkey_exec(ns, exec_id);
    int found = rocks_read_execution(ROCKS(s), &ek, record_json, err);
    if (found < 0) return -1;
    if (!found) return err_set(err, R3E_ENOTFOUND, "execution %s not found", exec_id);
    return 0;
}

/* Walks the function's index backwards from the end of its prefix (or from just before
 * `before`) and loads each record. */
static int rocks_list_executions(store_t *s, const char *ns, const char *function,
                                 const char *before, size_t limit, char ***records, size_t *n,
                                 err_t *err) {
    rocks_t *r = ROCKS(s);
    rkey_t p = rkey_fn(ns, function);
    rscan_t sc;
    rscan_prefix(r, CF_EXEC_INDEX, &sc, &p);
    rkey_t start = sc.hi;
    if (before) start = rkey_exec_index(ns, function, before);
    /* seek_for_prev lands on the last key <= start; both start keys are exclusive. */
    rocksdb_iter_seek_for_prev(sc.it, start.b, start.n);
    if (rocksdb_iter_valid(sc.it)) {
        size_t kl;
        const char *k = rocksdb_iter_key(sc.it, &kl);
        if (kl == start.n && memcmp(k, start.b, kl) == 0) rocksdb_iter_prev(sc.it);
    }
    char **v = NULL;
    size_t cnt = 0, cap = 0;
    int rc = 0;
    for (; cnt < limit && rocksdb_iter_valid(sc.it); rocksdb_iter_prev(sc.it)) {
        size_t kl;
        const char *k = rocksdb_iter_key(sc.it, &kl);
        if ((rc = vec_reserve((void **)&v, &cap, cnt, sizeof *v, err)) != 0) break;
        rkey_t ek = rkey_ns(ns);
        rkey_bytes(&ek, k + p.n, kl - p.n);
        int found = rocks_read_execution(r, &ek, &v[cnt], err);
        if (found < 0) {
            rc = -1;
            break;
        }
        if (found) cnt++; /* an index entry without a row is skipped, not fatal */
    }
    if (rscan_close(&sc, rc ? NULL : err) != 0) rc = -1;
    if (rc != 0) {
        store_strv_free(v, cnt);
        return -1;
    }
    *records = v;
    *n = cnt;
    return 0;
}

/* --- per-function key-value state ----------------------------------------------------- */

static rkey_t rkey_kv(const char *ns, const char *function, const char *key) {
    rkey_t k = rkey_fn(ns, function);
    rkey_str(&k, key);
    return k;
}

static int rocks_kv_get(store_t *s, const char *ns, const char *function, const char *key,
                        char **val, size_t *len, err_t *err) {
    rocks_t *r = ROCKS(s);
    rkey_t k = rkey_kv(ns, function, key);
    char *v;
    size_t vl;
    int found = rocks_get(r, CF_KV, &k, &v, &vl, err);
    if (found < 0) return -1;
    if (!found) return err_set(err, R3E_ENOTFOUND, "key %s not found", key);
    *val = dup_bytes(v, vl);
    rocksdb_free(v);
    if (!*val) return err_set(err, R3E_EINTERNAL, "out of memory");
    *len = vl;
    return 0;
}

static int rocks_kv_put(store_t *s, const char *ns, const char *function, const char *key,
                        const char *val, size_t len, err_t *err) {
    rocks_t *r = ROCKS(s);
    rkey_t k = rkey_kv(ns, function, key);
    char *rerr = NULL;
    pthread_rwlock_rdlock(&r->meta_lock);
    rocksdb_put_cf(r->db, r->wopts, r->cf[CF_KV], k.b, k.n, val, len, &rerr);
    pthread_rwlock_unlock(&r->meta_lock);
    return rerr ? rocks_fail(err, rerr, "kv put") : 0;
}

static int rocks_kv_delete(store_t *s, const char *ns, const char *function, const char *key,
                           err_t *err) {
    rocks_t *r = ROCKS(s);
    rkey_t k = rkey_kv(ns, function, key);
    char *rerr = NULL;
    pthread_rwlock_rdlock(&r->meta_lock);
    rocksdb_delete_cf(r->db, r->wopts, r->cf[CF_KV], k.b, k.n, &rerr);
    pthread_rwlock_unlock(&r->meta_lock);
    return rerr ? rocks_fail(err, rerr, "kv delete") : 0;
}

static int rocks_kv_list(store_t *s, const char *ns, const char *function, const char *prefix,
                         const char *start_after, size_t limit, char ***keys, size_t *n,
                         err_t *err) {
    rocks_t *r = ROCKS(s);
    rkey_t base = rkey_fn(ns, function);
    rkey_t p = rkey_kv(ns, function, prefix ? prefix : "");
    rscan_t sc;
    rscan_prefix(r, CF_KV, &sc, &p);
    /* Start at start_after when it lies inside or past the prefix range, else at the prefix;
     * start_after itself is skipped (exclusive). */
    rkey_t seek = p;
    if (start_after && strcmp(start_after, prefix ? prefix : "") > 0)
        seek = rkey_kv(ns, function, start_after);
    char **v = NULL;
    size_t cnt = 0, cap = 0;
    int rc = 0;
    for (rocksdb_iter_seek(sc.it, seek.b, seek.n); cnt < limit && rocksdb_iter_valid(sc.it);
         rocksdb_iter_next(sc.it)) {
        size_t kl;
        const char *k = rocksdb_iter_key(sc.it, &kl);
        const char *user = k + base.n;
        size_t ul = kl - base.n;
        if (start_after && strlen(start_after) == ul && memcmp(user, start_after, ul) == 0)
            continue;
        if ((rc = vec_reserve((void **)&v, &cap, cnt, sizeof *v, err)) != 0) break;
        if (!(v[cnt] = dup_bytes(user, ul))) {
            rc = err_set(err, R3E_EINTERNAL, "out of memory");
            break;
        }
        cnt++;
    }
    if (rscan_close(&sc, rc ? NULL : err) != 0) rc = -1;
    if (rc != 0) {
        store_strv_free(v, cnt);
        return -1;
    }
    *keys = v;
    *n = cnt;
    return 0;
}

/* --- generic metadata records --------------------------------------------------------- */

static rkey_t rkey_meta(const char *kind, const char *key) {
    rkey_t k = rkey_ns(kind); /* kind \0: same shape as a namespace prefix */
    rkey_str(&k, key);
    return k;
}

/* Writers hold meta_lock for reading; a create-only insert holds it for writing so that
 * its "absent?" check and its put are one step with respect to every other meta write. */
static int rocks_meta_put(store_t *s, const char *kind, const char *key, const char *val,
                          size_t len, bool create_only, err_t *err) {
    rocks_t *r = ROCKS(s);
    rkey_t k = rkey_meta(kind, key);
    char *rerr = NULL;
    int rc = 0;
    if (create_only) {
        pthread_rwlock_wrlock(&r->meta_lock);
        int found = rocks_exists(r, CF_META, &k, err);
        if (found != 0) {
            rc = found < 0 ? -1 : err_set(err, R3E_EEXIST, "%s %s already exists", kind, key);
            pthread_rwlock_unlock(&r->meta_lock);
            return rc;
        }
    } else {
        pthread_rwlock_rdlock(&r->meta_lock);
    }
    rocksdb_put_cf(r->db, r->wopts, r->cf[CF_META], k.b, k.n, val, len, &rerr);
    pthread_rwlock_unlock(&r->meta_lock);
    return rerr ? rocks_fail(err, rerr, "meta put") : 0;
}

static int rocks_meta_get(store_t *s, const char *kind, const char *key, char **val, size_t *len,
                          err_t *err) {
    rocks_t *r = ROCKS(s);
    rkey_t k = rkey_meta(kind, key);
    char *v;
    size_t vl;
    int found = rocks_get(r, CF_META, &k, &v, &vl, err);
    if (found < 0) return -1;
    if (!found) return err_set(err, R3E_ENOTFOUND, "%s %s not found", kind, key);
    *val = dup_bytes(v, vl);
    rocksdb_free(v);
    if (!*val) return err_set(err, R3E_EINTERNAL, "out of memory");
    if (len) *len = vl;
    return 0;
}

static int rocks_meta_delete(store_t *s, const char *kind, const char *key, err_t *err) {
    rocks_t *r = ROCKS(s);
    rkey_t k = rkey_meta(kind, key);
    char *rerr = NULL;
    pthread_rwlock_rdlock(&r->meta_lock);
    rocksdb_delete_cf(r->db, r->wopts, r->cf[CF_META], k.b, k.n, &rerr);
    pthread_rwlock_unlock(&r->meta_lock);
    return rerr ? rocks_fail(err, rerr, "meta delete") : 0;
}

static int rocks_meta_list(store_t *s, const char *kind, const char *start_after, size_t limit,
                           char ***keys, char ***vals, size_t *n, err_t *err) {
    rocks_t *r = ROCKS(s);
    rkey_t p = rkey_ns(kind);
    rscan_t sc;
    rscan_prefix(r, CF_META, &sc, &p);
    rkey_t seek = start_after ? rkey_meta(kind, start_after) : p;
    char **kv = NULL, **vv = NULL;
    size_t cnt = 0, kcap = 0, vcap = 0;
    int rc = 0;
    for (rocksdb_iter_seek(sc.it, seek.b, seek.n); cnt < limit && rocksdb_iter_valid(sc.it);
         rocksdb_iter_next(sc.it)) {
        size_t kl, vl;
        const char *k = rocksdb_iter_key(sc.it, &kl);
        if (start_after && kl == seek.n && memcmp(k, seek.b, kl) == 0) continue; /* exclusive */
        if ((rc = vec_reserve((void **)&kv, &kcap, cnt, sizeof *kv, err)) != 0) break;
        if (vals && (rc = vec_reserve((void **)&vv, &vcap, cnt, sizeof *vv, err)) != 0) break;
        if (!(kv[cnt] = dup_bytes(k + p.n, kl - p.n))) {
            rc = err_set(err, R3E_EINTERNAL, "out of memory");
            break;
        }
        if (vals) {
            const char *v = rocksdb_iter_value(sc.it, &vl);
            if (!(vv[cnt] = dup_bytes(v, vl))) {
                free(kv[cnt]);
                rc = err_set(err, R3E_EINTERNAL, "out of memory");
                break;
            }
        }
        cnt++;
    }
    if (rscan_close(&sc, rc ? NULL : err) != 0) rc = -1;
    if (rc != 0) {
        store_strv_free(kv, cnt);
        store_strv_free(vv, cnt);
        return -1;
    }
    *keys = kv;
    if (vals) *vals = vv;
    *n = cnt;
    return 0;
}

/* One RocksDB write batch: atomic and durable together (the WAL record is the batch), with
 * the execution records first (meta ops cannot touch their families).
 * Holds meta_lock for reading like every other meta writer. */
static int rocks_meta_write(store_t *s, const store_meta_op_t *ops, size_t n,
                            const store_exec_put_t *execs, size_t m, err_t *err) {
    rocks_t *r = ROCKS(s);
    rocksdb_writebatch_t *b = rocksdb_writebatch_create();
    for (size_t i = 0; i < m; i++)
        if (rocks_batch_execution(r, b, execs[i].ns, execs[i].function, execs[i].exec_id,
                                  execs[i].record_json, err) != 0) {
            rocksdb_writebatch_destroy(b);
            return -1;
        }
    for (size_t i = 0; i < n; i++) {
        rkey_t k = rkey_meta(ops[i].kind, ops[i].key);
        if (ops[i].val)
            rocksdb_writebatch_put_cf(b, r->cf[CF_META], k.b, k.n, ops[i].val, ops[i].len);
        else
            rocksdb_writebatch_delete_cf(b, r->cf[CF_META], k.b, k.n);
    }
    pthread_rwlock_rdlock(&r->meta_lock);
    int rc = rocks_write(r, b, err);
    pthread_rwlock_unlock(&r->meta_lock);
    return rc;
}

/* Appends the iterator's current record to the output vectors. */
static int rocks_range_take(rocksdb_iterator_t *it, size_t skip, char ***kv, char ***vv,
                            size_t *kcap, size_t *vcap, size_t cnt, bool want_vals, err_t *err) {
    size_t kl, vl;
    const char *k = rocksdb_iter_key(it, &kl);
    if (vec_reserve((void **)kv, kcap, cnt, sizeof **kv, err) != 0) return -1;
    if (want_vals && vec_reserve((void **)vv, vcap, cnt, sizeof **vv, err) != 0) return -1;
    if (!((*kv)[cnt] = dup_bytes(k + skip, kl - skip)))
        return err_set(err, R3E_EINTERNAL, "out of memory");
    if (want_vals) {
        const char *v = rocksdb_iter_value(it, &vl);
        if (!((*vv)[cnt] = dup_bytes(v, vl))) {
            free((*kv)[cnt]);
            return err_set(err, R3E_EINTERNAL, "out of memory");
        }
    }
    return 0;
}

/* The iterator bounds are the range itself, so RocksDB never walks outside [from, to). */
static int rocks_meta_range(store_t *s, const char *kind, const char *from, const char *to,
                            bool reverse, size_t limit, char ***keys, char ***vals, size_t *n,
                            err_t *err) {
    rocks_t *r = ROCKS(s);
    rkey_t p = rkey_ns(kind);
    rscan_t sc;
    sc.lo = from ? rkey_meta(kind, from) : p;
    sc.hi = to ? rkey_meta(kind, to) : rkey_successor(&p);
    char **kv = NULL, **vv = NULL;
    size_t cnt = 0, kcap = 0, vcap = 0;
    int rc = 0;
    if (memcmp(sc.lo.b, sc.hi.b, sc.lo.n < sc.hi.n ? sc.lo.n : sc.hi.n) > 0 ||
        (sc.lo.n >= sc.hi.n && memcmp(sc.lo.b, sc.hi.b, sc.hi.n) == 0)) {
        *keys = NULL; /* empty range: from >= to */
        if (vals) *vals = NULL;
        *n = 0;
        return 0;
    }
    rscan_open(r, CF_META, &sc);
    if (reverse)
        rocksdb_iter_seek_to_last(sc.it);
    else
        rocksdb_iter_seek_to_first(sc.it);
    while (cnt < limit && rocksdb_iter_valid(sc.it)) {
        if ((rc = rocks_range_take(sc.it, p.n, &kv, &vv, &kcap, &vcap, cnt, vals != NULL, err)))
            break;
        cnt++;
        if (reverse)
            rocksdb_iter_prev(sc.it);
        else
            rocksdb_iter_next(sc.it);
    }
    if (rscan_close(&sc, rc ? NULL : err) != 0) rc = -1;
    if (rc != 0) {
        store_strv_free(kv, cnt);
        store_strv_free(vv, cnt);
        return -1;
    }
    *keys = kv;
    if (vals) *vals = vv;
    *n = cnt;
    return 0;
}

/* --- open / close --------------------------------------------------------------------- */

static void rocks_destroy(rocks_t *r) {
    for (int i = 0; i < CF_COUNT; i++)
        if (r->cf[i]) rocksdb_column_family_handle_destroy(r->cf[i]);
    if (r->db) rocksdb_close(r->db);
    if (r->ropts) rocksdb_readoptions_destroy(r->ropts);
    if (r->wopts) rocksdb_writeoptions_destroy(r->wopts);
    if (r->opts) rocksdb_options_destroy(r->opts);
    pthread_rwlock_destroy(&r->meta_lock);
    free(r);
}

/* No explicit flush: every acknowledged write is already in the WAL, which the next open
 * replays; closing releases the directory's LOCK for the next process. */
static void rocks_close(store_t *s) {
    rocks_destroy(ROCKS(s));
    free(s);
}

static const store_ops_t rocks_ops = {
    .name = "rocksdb",
    .close = rocks_close,
    .deploy = rocks_deploy,
    .get_function = rocks_get_function,
    .list_functions = rocks_list_functions,
    .get_version = rocks_get_version,
    .list_versions = rocks_list_versions,
    .set_active = rocks_set_active,
    .delete_function = rocks_delete_function,
    .get_code = rocks_get_code,
    .put_execution = rocks_put_execution,
    .get_execution = rocks_get_execution,
    .list_executions = rocks_list_executions,
    .kv_get = rocks_kv_get,
    .kv_put = rocks_kv_put,
    .kv_delete = rocks_kv_delete,
    .kv_list = rocks_kv_list,
    .meta_put = rocks_meta_put,
    .meta_get = rocks_meta_get,
    .meta_delete = rocks_meta_delete,
    .meta_list = rocks_meta_list,
    .meta_write = rocks_meta_write,
    .meta_range = rocks_meta_range,
};

static bool rocks_sync_wanted(void) {
    const char *v = getenv("R3E_SYNC");
    return v && (strcmp(v, "1") == 0 || strcmp(v, "true") == 0);
}

store_t *store_rocks_open(const char *dir, err_t *err) {
    rocks_t *r = calloc(1, sizeof *r);
    store_t *s = calloc(1, sizeof *s);
    if (!r || !s) {
        free(r);
        free(s);
        err_set(err, R3E_EINTERNAL, "out of memory");
        return NULL;
    }
    pthread_rwlock_init(&r->meta_lock, NULL);
    r->opts = rocksdb_options_create();
    rocksdb_options_set_create_if_missing(r->opts, 1);
    rocksdb_options_set_create_missing_column_families(r->opts, 1);
    rocksdb_options_set_keep_log_file_num(r->opts, 4); /* RocksDB's own LOG files, not WAL */
    /* Memory and disk bounds for a small embedded server: RocksDB's defaults allow 64 MiB
     * memtables per column family (8 here); cap them together at 64 MiB. With several
     * column families a rarely written one (functions) would otherwise pin old WAL files;
     * the WAL cap makes RocksDB flush it so those files can go. */
    rocksdb_options_set_write_buffer_size(r->opts, 16u << 20);
    rocksdb_options_set_db_write_buffer_size(r->opts, 64u << 20);
    rocksdb_options_set_max_total_wal_size(r->opts, 128u << 20);
    const rocksdb_options_t *cf_opts[CF_COUNT];
    for (int i = 0; i < CF_COUNT; i++)
        cf_opts[i] = r->opts;

    char *rerr = NULL;
    r->db =
        rocksdb_open_column_families(r->opts, dir, CF_COUNT, rocks_cf_names, cf_opts, r->cf, &rerr);
    if (rerr) {
        err_set(err, R3E_EIO, "store: cannot open %s: %s", dir, rerr);
        rocksdb_free(rerr);
        memset(r->cf, 0, sizeof r->cf);
        r->db = NULL;
        rocks_destroy(r);
        free(s);
        return NULL;
    }
    r->wopts = rocksdb_writeoptions_create();
    rocksdb_writeoptions_set_sync(r->wopts, rocks_sync_wanted());
    r->ropts = rocksdb_readoptions_create();
    s->ops = &rocks_ops;
    s->impl = r;
    return s;
}
