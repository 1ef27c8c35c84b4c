/* The store front door: picks a backend from the URL at open time and forwards every call
 * through the backend's ops table (the libuv pattern: callers never see which backend runs).
 * Argument checks shared by all backends live here so each backend can trust its inputs:
 * names follow util_valid_name, a NULL or empty namespace means "default". */
#include "store/store.h"

#include "core/util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define STORE_DEFAULT_NS "default"
#define STORE_ID_MAX 128   /* execution ids: ULIDs are 26 chars; leave room for others */
#define STORE_KEY_MAX 1024 /* KV keys */

/* mkdir -p: RocksDB creates only the last path component itself. */
static int store_mkdirs(const char *dir, err_t *err) {
    size_t n = strlen(dir);
    char *p = malloc(n + 1);
    if (!p) return err_set(err, R3E_EINTERNAL, "out of memory");
    memcpy(p, dir, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (p[i] != '/' && p[i] != '\0') continue;
        char saved = p[i];
        p[i] = '\0';
        if (mkdir(p, 0700) != 0 && errno != EEXIST) {
            int e = errno;
            free(p);
            return err_set(err, R3E_EIO, "cannot create %s: %s", dir, strerror(e));
        }
        p[i] = saved;
    }
    free(p);
    return 0;
}

store_t *store_open(const char *url, err_t *err) {
    if (!url || !*url) {
        err_set(err, R3E_EINVAL, "store url is empty");
        return NULL;
    }
    const char *dir = url;
    if (strncmp(url, "rocksdb:", 8) == 0) {
        dir = url + 8;
    } else if (strstr(url, "://")) {
        /* postgres:// and friends: the distributed backend is not built yet */
        err_set(err, R3E_EINVAL, "unsupported store url %s (only rocksdb:DIR or a directory)", url);
        return NULL;
    }
    if (!*dir) {
        err_set(err, R3E_EINVAL, "store url %s names no directory", url);
        return NULL;
    }
    if (store_mkdirs(dir, err) != 0) return NULL;
    return store_rocks_open(dir, err);
}

void store_close(store_t *s) {
    if (s) s->ops->close(s);
}

/* --- argument checks --------------------------------------------------------------- */

static const char *store_ns(const char *ns) {
    return (ns && *ns) ? ns : STORE_DEFAULT_NS;
}

static int store_check_name(const char *what, const char *v, err_t *err) {
    if (!v || !util_valid_name(v))
        return err_set(err, R3E_EINVAL, "invalid %s \"%s\" (want [a-z0-9][a-z0-9-]{0,62})", what,
                       v ? v : "");
    return 0;
}

static int store_check_fn(const char *ns, const char *name, err_t *err) {
    if (store_check_name("namespace", ns, err) != 0) return -1;
    return store_check_name("function name", name, err);
}

static int store_check_str(const char *what, const char *v, size_t max, err_t *err) {
    if (!v || !*v) return err_set(err, R3E_EINVAL, "%s is empty", what);
    if (strlen(v) > max) return err_set(err, R3E_EINVAL, "%s longer than %zu bytes", what, max);
    return 0;
}

/* --- functions and versions ------------------------------------------------------- */

int store_deploy(store_t *s, const store_version_t *spec, const char *code, size_t code_len,
                 store_version_t *out, err_t *err) {
    if (!spec || !code || !out) return err_set(err, R3E_EINVAL, "deploy: missing argument");
    store_version_t v = *spec;
    snprintf(v.ns, sizeof v.ns, "%s", store_ns(spec->ns));
    if (store_check_fn(v.ns, v.name, err) != 0) return -1;
    if (v.isolation[0] && strcmp(v.isolation, "warm") != 0 && strcmp(v.isolation, "fresh") != 0)
        return err_set(err, R3E_EINVAL, "isolation must be \"warm\" or \"fresh\"");
    if (v.trigger_auth[0] && strcmp(v.trigger_auth, "public") != 0 &&
        strcmp(v.trigger_auth, "key") != 0 && strcmp(v.trigger_auth, "jwt") != 0)
        return err_set(err, R3E_EINVAL, "auth must be \"public\", \"key\" or \"jwt\"");
    return s->ops->deploy(s, &v, code, code_len, out, err);
}

int store_get_function(store_t *s, const char *ns, const char *name, store_function_t *out,
                       err_t *err) {
    ns = store_ns(ns);
    if (store_check_fn(ns, name, err) != 0) return -1;
    return s->ops->get_function(s, ns, name, out, err);
}

int store_list_functions(store_t *s, const char *ns, store_function_t **out, size_t *n,
                         err_t *err) {
    ns = store_ns(ns);
    if (store_check_name("namespace", ns, err) != 0) return -1;
    return s->ops->list_functions(s, ns, out, n, err);
}

int store_get_version(store_t *s, const char *ns, const char *name, uint32_t version,
                      store_version_t *out, err_t *err) {
    ns = store_ns(ns);
    if (store_check_fn(ns, name, err) != 0) return -1;
    return s->ops->get_version(s, ns, name, version, out, err);
}

int store_list_versions(store_t *s, const char *ns, const char *name, store_version_t **out,
                        size_t *n, err_t *err) {
    ns = store_ns(ns);
    if (store_check_fn(ns, name, err) != 0) return -1;
    return s->ops->list_versions(s, ns, name, out, n, err);
}

int store_set_active(store_t *s, const char *ns, const char *name, uint32_t version, err_t *err) {
    ns = store_ns(ns);
    if (store_check_fn(ns, name, err) != 0) return -1;
    return s->ops->set_active(s, ns, name, version, err);
}

int store_delete_function(store_t *s, const char *ns, const char *name, err_t *err) {
    ns = store_ns(ns);
    if (store_check_fn(ns, name, err) != 0) return -1;
    return s->ops->delete_function(s, ns, name, err);
}

int store_get_code(store_t *s, const char *hash, char **code, size_t *len, err_t *err) {
    if (!hash || strlen(hash) != 64) return err_set(err, R3E_EINVAL, "code hash must be 64 hex");
    return s->ops->get_code(s, hash, code, len, err);
}

void store_version_free(store_version_t *v) {
    if (!v) return;
    free(v->env_json);
    v->env_json = NULL;
}

void store_versions_free(store_version_t *v, size_t n) {
    if (!v) return;
    for (size_t i = 0; i < n; i++)
        store_version_free(&v[i]);
    free(v);
}

/* --- executions ------------------------------------------------------------------- */

int store_put_execution(store_t *s, const char *ns, const char *function, const char *exec_id,
                        const char *record_json, err_t *err) {
    ns = store_ns(ns);
    if (store_check_fn(ns, function, err) != 0) return -1;
    if (store_check_str("execution id", exec_id, STORE_ID_MAX, err) != 0) return -1;
    if (!record_json) return err_set(err, R3E_EINVAL, "execution record is missing");
    return s->ops->put_execution(s, ns, function, exec_id, record_json, err);
}

int store_get_execution(store_t *s, const char *ns, const char *exec_id, char **record_json,
                        err_t *err) {
    ns = store_ns(ns);
    if (store_check_name("namespace", ns, err) != 0) return -1;
    if (store_check_str("execution id", exec_id, STORE_ID_MAX, err) != 0) return -1;
    return s->ops->get_execution(s, ns, exec_id, record_json, err);
}

int store_list_executions(store_t *s, const char *ns, const char *function, const char *before,
                          size_t limit, char ***records, size_t *n, err_t *err) {
    ns = store_ns(ns);
    if (store_check_fn(ns, function, err) != 0) return -1;
    if (before && !*before) before = NULL;
    if (before && store_check_str("before", before, STORE_ID_MAX, err) != 0) return -1;
    if (limit == 0) limit = STORE_LIST_DEFAULT;
    return s->ops->list_executions(s, ns, function, before, limit, records, n, err);
}

/* --- per-function key-value state --------------------------------------------------- */

int store_kv_get(store_t *s, const char *ns, const char *function, const char *key, char **val,
                 size_t *len, err_t *err) {
    ns = store_ns(ns);
    if (store_check_fn(ns, function, err) != 0) return -1;
    if (store_check_str("key", key, STORE_KEY_MAX, err) != 0) return -1;
    return s->ops->kv_get(s, ns, function, key, val, len, err);
}

int store_kv_put(store_t *s, const char *ns, const char *function, const char *key, const char *val,
                 size_t len, err_t *err) {
    ns = store_ns(ns);
    if (store_check_fn(ns, function, err) != 0) return -1;
    if (store_check_str("key", key, STORE_KEY_MAX, err) != 0) return -1;
    if (!val && len) return err_set(err, R3E_EINVAL, "value is missing");
    return s->ops->kv_put(s, ns, function, key, val ? val : "", len, err);
}

int store_kv_delete(store_t *s, const char *ns, const char *function, const char *key, err_t *err) {
    ns = store_ns(ns);
    if (store_check_fn(ns, function, err) != 0) return -1;
    if (store_check_str("key", key, STORE_KEY_MAX, err) != 0) return -1;
    return s->ops->kv_delete(s, ns, function, key, err);
}

int store_kv_list(store_t *s, const char *ns, const char *function, const char *prefix,
                  const char *start_after, size_t limit, char ***keys, size_t *n, err_t *err) {
    ns = store_ns(ns);
    if (store_check_fn(ns, function, err) != 0) return -1;
    if (prefix && !*prefix) prefix = NULL;
    if (start_after && !*start_after) start_after = NULL;
    if (limit == 0) limit = STORE_LIST_DEFAULT;
    return s->ops->kv_list(s, ns, function, prefix, start_after, limit, keys, n, err);
}

void store_strv_free(char **v, size_t n) {
    if (!v) return;
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/* --- generic metadata records ------------------------------------------------------- */

static int store_check_meta(const char *kind, const char *key, err_t *err) {
    if (store_check_name("kind", kind, err) != 0) return -1;
    return store_check_str("key", key, STORE_KEY_MAX, err);
}

int store_meta_put(store_t *s, const char *kind, const char *key, const char *val, size_t len,
                   err_t *err) {
    if (store_check_meta(kind, key, err) != 0) return -1;
    if (!val && len) return err_set(err, R3E_EINVAL, "value is missing");
    return s->ops->meta_put(s, kind, key, val ? val : "", len, false, err);
}

int store_meta_insert(store_t *s, const char *kind, const char *key, const char *val, size_t len,
                      err_t *err) {
    if (store_check_meta(kind, key, err) != 0) return -1;
    if (!val && len) return err_set(err, R3E_EINVAL, "value is missing");
    return s->ops->meta_put(s, kind, key, val ? val : "", len, true, err);
}

int store_meta_get(store_t *s, const char *kind, const char *key, char **val, size_t *len,
                   err_t *err) {
    if (store_check_meta(kind, key, err) != 0) return -1;
    return s->ops->meta_get(s, kind, key, val, len, err);
}

int store_meta_delete(store_t *s, const char *kind, const char *key, err_t *err) {
    if (store_check_meta(kind, key, err) != 0) return -1;
    return s->ops->meta_delete(s, kind, key, err);
}

int store_meta_list(store_t *s, const char *kind, const char *start_after, size_t limit,
                    char ***keys, char ***vals, size_t *n, err_t *err) {
    if (store_check_name("kind", kind, err) != 0) return -1;
    if (start_after && !*start_after) start_after = NULL;
    if (start_after && strlen(start_after) > STORE_KEY_MAX)
        return err_set(err, R3E_EINVAL, "start_after longer than %d bytes", STORE_KEY_MAX);
    if (!keys || !n) return err_set(err, R3E_EINVAL, "meta list: missing argument");
    if (limit == 0) limit = STORE_LIST_DEFAULT;
    return s->ops->meta_list(s, kind, start_after, limit, keys, vals, n, err);
}

int store_meta_write(store_t *s, const store_meta_op_t *ops, size_t n, err_t *err) {
    return store_meta_write_execs(s, ops, n, NULL, 0, err);
}

int store_meta_write_execs(store_t *s, const store_meta_op_t *ops, size_t n,
                           const store_exec_put_t *execs, size_t m, err_t *err) {
    if ((n && !ops) || (m && !execs)) return err_set(err, R3E_EINVAL, "meta write: missing ops");
    for (size_t i = 0; i < n; i++)
        if (store_check_meta(ops[i].kind, ops[i].key, err) != 0) return -1;
    for (size_t i = 0; i < m; i++) {
        if (store_check_fn(store_ns(execs[i].ns), execs[i].function, err) != 0 ||
            store_check_str("execution id", execs[i].exec_id, STORE_ID_MAX, err) != 0)
            return -1;
        if (!execs[i].record_json) return err_set(err, R3E_EINVAL, "execution record is missing");
    }
    if (n == 0 && m == 0) return 0;
    return s->ops->meta_write(s, ops, n, execs, m, err);
}

int store_meta_range(store_t *s, const char *kind, const char *from, const char *to, bool reverse,
                     size_t limit, char ***keys, char ***vals, size_t *n, err_t *err) {
    if (store_check_name("kind", kind, err) != 0) return -1;
    if (from && !*from) from = NULL;
    if (to && !*to) to = NULL;
    if ((from && strlen(from) > STORE_KEY_MAX + 1) || (to && strlen(to) > STORE_KEY_MAX + 1))
        return err_set(err, R3E_EINVAL, "range bound longer than %d bytes", STORE_KEY_MAX + 1);
    if (!keys || !n) return err_set(err, R3E_EINVAL, "meta range: missing argument");
    if (limit == 0) limit = STORE_LIST_DEFAULT;
    return s->ops->meta_range(s, kind, from, to, reverse, limit, keys, vals, n, err);
}
