/* The vault: secrets per (namespace, function, name) sealed with envelope encryption and
 * kept in the store's metadata family; the master key check, and online rotation.
 * Record format and crypto: vault_record.c. Master keys: vault_keyring.c. */
#include "vault/vault.h"
#include "vault/vault_internal.h"
#include "vault/vault_record.h"

#include "core/util.h"
#include "obs/log.h"

#include <glib.h>
#include <jansson.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KIND_SECRET "secret"
#define KIND_VAULT "vault"
#define ID_MAX (STORE_NAME_MAX * 2 + VAULT_NAME_MAX + 4)
#define PAGE 100
#define EMPTY_SLOTS 256 /* functions remembered as having no secrets */

static const char kcv_label[] = "r3e vault key check v1";

/* "This function has no secrets" as of put generation `gen` (0: slot unused). Every secret
 * write bumps the vault's generation after it is stored, which invalidates every slot; a
 * function's bundle is only remembered as empty under the generation read before its
 * scan, so a put racing the scan either shows in the scan or outdates the slot. */
typedef struct {
    uint64_t gen;
    char prefix[ID_MAX];
} empty_slot_t;

struct vault {
    store_t *s;
    vault_keyring_t *kr;
    pthread_mutex_t lock;     /* serialises writes and state changes */
    uint32_t current;         /* master version new records are wrapped with */
    _Atomic uint64_t put_gen; /* bumped after every secret record write; starts at 1 */
    pthread_mutex_t empty_mu; /* guards empty[] (the invoke path's cache) */
    empty_slot_t empty[EMPTY_SLOTS];
};

static uint32_t prefix_slot(const char *prefix) {
    uint32_t h = 2166136261u;
    for (const char *p = prefix; *p; p++)
        h = (h ^ (uint8_t)*p) * 16777619u;
    return h % EMPTY_SLOTS;
}

/* Called after a secret record was written (or a write was attempted). */
static void put_gen_bump(vault_t *v) {
    atomic_fetch_add_explicit(&v->put_gen, 1, memory_order_release);
}

static bool empty_cached(vault_t *v, const char *prefix) {
    uint64_t now = atomic_load_explicit(&v->put_gen, memory_order_acquire);
    empty_slot_t *e = &v->empty[prefix_slot(prefix)];
    pthread_mutex_lock(&v->empty_mu);
    bool hit = e->gen == now && strcmp(e->prefix, prefix) == 0;
    pthread_mutex_unlock(&v->empty_mu);
    return hit;
}

static void empty_remember(vault_t *v, const char *prefix, uint64_t gen) {
    empty_slot_t *e = &v->empty[prefix_slot(prefix)];
    pthread_mutex_lock(&v->empty_mu);
    e->gen = gen;
    snprintf(e->prefix, sizeof e->prefix, "%s", prefix);
    pthread_mutex_unlock(&v->empty_mu);
}

bool vault_valid_name(const char *name) {
    if (!name || !(g_ascii_isalpha(*name) || *name == '_')) return false;
    size_t n = 1;
    for (const char *p = name + 1; *p; p++, n++)
        if (!(g_ascii_isalnum(*p) || *p == '_')) return false;
    return n <= VAULT_NAME_MAX;
}

/* "ns/fn/" (name NULL) or "ns/fn/NAME": the store key and the record id. */
static int make_id(const char *ns, const char *fn, const char *name, char out[ID_MAX], err_t *err) {
    if (!ns || !*ns) ns = "default";
    if (!util_valid_name(ns)) return err_set(err, R3E_EINVAL, "invalid namespace");
    if (!fn || !util_valid_name(fn)) return err_set(err, R3E_EINVAL, "invalid function name");
    if (name && !vault_valid_name(name))
        return err_set(err, R3E_EINVAL, "invalid secret name: use [A-Za-z_][A-Za-z0-9_]{0,127}");
    snprintf(out, ID_MAX, "%s/%s/%s", ns, fn, name ? name : "");
    return 0;
}

/* --- state in the store ---------------------------------------------------------------- */

static void kcv_hex(const uint8_t *key, char hex[65]) {
    uint8_t mac[32];
    crypto_generichash(mac, sizeof mac, (const uint8_t *)kcv_label, sizeof kcv_label - 1, key,
                       VAULT_KEY_BYTES);
    util_hex_encode(mac, sizeof mac, hex);
}

/* Compares key against the check value recorded for its version. An absent value is
 * recorded when `record` is set, else accepted: vault_open first checks every key, then
 * records new ones only once the keyring as a whole was accepted, so a refused start-up
 * never pins a key version. */
static int check_key(store_t *s, uint32_t version, const uint8_t *key, bool record, err_t *err) {
    char want[65], name[32], *got = NULL;
    size_t len;
    kcv_hex(key, want);
    snprintf(name, sizeof name, "kcv/%u", version);
    err_t e2;
    if (store_meta_get(s, KIND_VAULT, name, &got, &len, &e2) != 0) {
        if (e2.code != R3E_ENOTFOUND) return err_set(err, e2.code, "%s", e2.msg);
        if (!record) return 0;
        if (store_meta_insert(s, KIND_VAULT, name, want, 64, &e2) == 0) return 0;
        if (e2.code != R3E_EEXIST) return err_set(err, e2.code, "%s", e2.msg);
        if (store_meta_get(s, KIND_VAULT, name, &got, &len, err) != 0) return -1;
    }
    int same = len == 64 && sodium_memcmp(got, want, 64) == 0;
    free(got);
    if (!same)
        return err_set(err, R3E_EINVAL,
                       "master key does not match the key this store was sealed with (version %u)",
                       version);
    return 0;
}

typedef struct {
    uint32_t current, sealed;
} vstate_t;

static int state_get(store_t *s, vstate_t *st, bool *found, err_t *err) {
    char *txt;
    size_t len;
    err_t e2;
    *found = false;
    if (store_meta_get(s, KIND_VAULT, "state", &txt, &len, &e2) != 0) {
        if (e2.code == R3E_ENOTFOUND) return 0;
        return err_set(err, e2.code, "%s", e2.msg);
    }
    json_t *j = json_loadb(txt, len, 0, NULL);
    free(txt);
    json_int_t c = json_integer_value(json_object_get(j, "current"));
    json_int_t sl = json_integer_value(json_object_get(j, "sealed"));
    json_decref(j);
    if (c < 1 || sl < 1 || sl > c || c > UINT32_MAX)
        return err_set(err, R3E_EIO, "vault state in the store is corrupt");
    st->current = (uint32_t)c;
    st->sealed = (uint32_t)sl;
    *found = true;
    return 0;
}

static int state_put(store_t *s, const vstate_t *st, err_t *err) {
    char txt[64];
    int n = snprintf(txt, sizeof txt, "{\"current\":%u,\"sealed\":%u}", st->current, st->sealed);
    return store_meta_put(s, KIND_VAULT, "state", txt, (size_t)n, err);
}

static int any_secret(store_t *s, bool *any, err_t *err) {
    char **keys;
    size_t n;
    if (store_meta_list(s, KIND_SECRET, NULL, 1, &keys, NULL, &n, err) != 0) return -1;
    store_strv_free(keys, n);
    *any = n > 0;
    return 0;
}

/* Decides which master versions the store uses and refuses a keyring that cannot read
 * them. Records are always wrapped with `sealed` or `current` (a new key is accepted only
 * once the previous rotation finished), so those two versions must be loaded. */
static int state_reconcile(vault_t *v, err_t *err) {
    uint32_t k = vault_keyring_current(v->kr);
    vstate_t st;
    bool found, any;
    if (state_get(v->s, &st, &found, err) != 0) return -1;
    if (!found) {
        st = (vstate_t){k, k};
        if (state_put(v->s, &st, err) != 0) return -1;
    } else if (k < st.current) {
        return err_set(err, R3E_EINVAL,
                       "this store uses master key version %u, but the newest key loaded is "
                       "version %u",
                       st.current, k);
    } else if (k > st.current) {
        if (any_secret(v->s, &any, err) != 0) return -1;
        if (!any) {
            st = (vstate_t){k, k}; /* nothing sealed yet: just switch */
        } else if (st.sealed != st.current) {
            return err_set(err, R3E_EINVAL,
                           "a rotation from master key version %u to %u has not finished; "
                           "finish it before adding version %u",
                           st.sealed, st.current, k);
        } else if (!vault_keyring_has(v->kr, st.current)) {
            return err_set(err, R3E_EINVAL,
                           "master key version %u is not loaded, but secrets are sealed with it: "
                           "load it as the old key until the rotation to version %u completes",
                           st.current, k);
        } else {
            st.current = k; /* a rotation starts: new writes use k */
        }
        if (state_put(v->s, &st, err) != 0) return -1;
    }
    if (!vault_keyring_has(v->kr, st.sealed))
        return err_set(err, R3E_EINVAL,
                       "master key version %u is not loaded, but secrets are still sealed with "
                       "it: load it as the old key until the rotation to version %u completes",
                       st.sealed, st.current);
    v->current = st.current;
    if (st.sealed != st.current)
        log_info("vault: master key rotation from version %u to %u pending; run "
                 "`r3e secrets rotate-master`",
                 st.sealed, st.current);
    return 0;
}

int vault_open(store_t *s, vault_keyring_t *kr, vault_t **out, err_t *err) {
    if (sodium_init() < 0) {
        vault_keyring_free(kr);
        return err_set(err, R3E_EINTERNAL, "libsodium failed to initialise");
    }
    if (!s || !kr || !out || vault_keyring_count(kr) == 0) {
        vault_keyring_free(kr);
        return err_set(err, R3E_EINVAL, "vault: a store and at least one master key are needed");
    }
    vault_t *v = calloc(1, sizeof *v);
    if (!v) {
        vault_keyring_free(kr);
        return err_set(err, R3E_EINTERNAL, "out of memory");
    }
    v->s = s;
    v->kr = kr;
    pthread_mutex_init(&v->lock, NULL);
    pthread_mutex_init(&v->empty_mu, NULL);
    atomic_init(&v->put_gen, 1);
    int rc = 0;
    for (int record = 0; record < 2; record++) {
        for (size_t i = 0; rc == 0 && i < vault_keyring_count(kr); i++) {
            uint32_t ver;
            const uint8_t *key = vault_keyring_at(kr, i, &ver);
            rc = check_key(s, ver, key, record, err);
        }
        if (rc == 0 && !record) {
            pthread_mutex_lock(&v->lock);
            rc = state_reconcile(v, err);
            pthread_mutex_unlock(&v->lock);
        }
    }
    if (rc != 0) {
        vault_close(v);
        return -1;
    }
    *out = v;
    return 0;
}

void vault_close(vault_t *v) {
    if (!v) return;
    vault_keyring_free(v->kr);
    pthread_mutex_destroy(&v->lock);
    pthread_mutex_destroy(&v->empty_mu);
    free(v);
}

/* --- records ------------------------------------------------------------------------- */

/* The stored record of id; *raw malloc'ed (rec points into it). A record that does not
 * decode is R3E_EIO with *corrupt set (corrupt may be NULL), so callers can tell it from a
 * storage failure. */
static int load_record(vault_t *v, const char *id, uint8_t **raw, vault_record_t *rec,
                       bool *corrupt, err_t *err) {
    char *buf;
    size_t len;
    if (corrupt) *corrupt = false;
    if (store_meta_get(v->s, KIND_SECRET, id, &buf, &len, err) != 0) {
        if (err && err->code == R3E_ENOTFOUND) err_set(err, R3E_ENOTFOUND, "secret not found");
        return -1;
    }
    err_t e2;
    if (vault_record_decode((uint8_t *)buf, len, rec, &e2) != 0) {
        free(buf);
        if (corrupt) *corrupt = true;
        return err_set(err, R3E_EIO, "secret %s: record is corrupt (%s)", id, e2.msg);
    }
    *raw = (uint8_t *)buf;
    return 0;
}

static const uint8_t *key_for(vault_t *v, uint32_t version, const char *id, err_t *err) {
    const uint8_t *k = vault_keyring_key(v->kr, version);
    if (!k)
        err_set(err, R3E_EUNAVAIL,
                "secret %s is sealed with master key version %u, which is not loaded", id, version);
    return k;
}

/* Decrypts id into a sodium_malloc'd NUL-terminated buffer. */
static int open_record(vault_t *v, const char *id, char **value, size_t *len, uint32_t *version,
                       err_t *err) {
    uint8_t *raw;
    vault_record_t rec;
    if (load_record(v, id, &raw, &rec, NULL, err) != 0) return -1;
    const uint8_t *mk = key_for(v, rec.master_version, id, err);
    char *plain = mk ? sodium_malloc(rec.ciphertext_len - VAULT_TAG_BYTES + 1) : NULL;
    size_t pl = 0;
    int rc = -1;
    if (mk && !plain) err_set(err, R3E_EINTERNAL, "out of memory");
    if (plain) {
        rc = vault_record_open(&rec, mk, id, (uint8_t *)plain, &pl, err);
        /* not the caller's fault: the stored record failed its integrity check */
        if (rc != 0 && err && err->code == R3E_EFORBIDDEN) err->code = R3E_EIO;
    }
    free(raw);
    if (rc != 0) {
        if (plain) sodium_free(plain);
        return -1;
    }
    plain[pl] = '\0';
    *value = plain;
    if (len) *len = pl;
    if (version) *version = rec.secret_version;
    return 0;
}

/* "_sys/owner/name": platform-owned secrets. No namespace starts with '_', so these ids are
 * out of reach of every per-function call (put, get, list, bundles). */
static bool sys_part_ok(const char *s) {
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n >= STORE_NAME_MAX) return false;
    for (const char *p = s; *p; p++)
        if (!(g_ascii_isalnum(*p) || *p == '-' || *p == '_')) return false;
    return true;
}

static int make_sys_id(const char *owner, const char *name, char out[ID_MAX], err_t *err) {
    if (!sys_part_ok(owner) || !sys_part_ok(name))
        return err_set(err, R3E_EINVAL, "invalid system secret name");
    snprintf(out, ID_MAX, "_sys/%s/%s", owner, name);
    return 0;
}

static int put_id(vault_t *v, const char *id, const void *value, size_t len, uint32_t *version,
                  err_t *err);

int vault_put(vault_t *v, const char *ns, const char *fn, const char *name, const void *value,
              size_t len, uint32_t *version, err_t *err) {
    char id[ID_MAX];
    if (!v) return err_set(err, R3E_EINVAL, "vault: not open");
    if (make_id(ns, fn, name, id, err) != 0) return -1;
    return put_id(v, id, value, len, version, err);
}

int vault_put_system(vault_t *v, const char *owner, const char *name, const void *value, size_t len,
                     err_t *err) {
    char id[ID_MAX];
    if (!v) return err_set(err, R3E_EINVAL, "vault: not open");
    if (make_sys_id(owner, name, id, err) != 0) return -1;
    return put_id(v, id, value, len, NULL, err);
}

int vault_get_system(vault_t *v, const char *owner, const char *name, char **value, size_t *len,
                     err_t *err) {
    char id[ID_MAX];
    if (!v || !value) return err_set(err, R3E_EINVAL, "vault get: missing argument");
    if (make_sys_id(owner, name, id, err) != 0) return -1;
    return open_record(v, id, value, len, NULL, err);
}

int vault_delete_system(vault_t *v, const char *owner, const char *name, err_t *err) {
    char id[ID_MAX];
    if (!v) return err_set(err, R3E_EINVAL, "vault: not open");
    if (make_sys_id(owner, name, id, err) != 0) return -1;
    pthread_mutex_lock(&v->lock); /* not in the middle of a re-wrap of this record */
    int rc = store_meta_delete(v->s, KIND_SECRET, id, err);
    pthread_mutex_unlock(&v->lock);
    return rc;
}

static int put_id(vault_t *v, const char *id, const void *value, size_t len, uint32_t *version,
                  err_t *err) {
    if (!value && len) return err_set(err, R3E_EINVAL, "secret value is missing");
    if (len > VAULT_SECRET_VALUE_MAX)
        return err_set(err, R3E_ETOOBIG, "secret value is %zu bytes, the limit is %d", len,
                       VAULT_SECRET_VALUE_MAX);
    if (len && !g_utf8_validate_len(value, len, NULL))
        return err_set(err, R3E_EINVAL, "secret value must be UTF-8 text without NUL bytes");
    pthread_mutex_lock(&v->lock);
    uint32_t next = 1;
    uint8_t *raw;
    vault_record_t old;
    err_t e2;
    bool corrupt;
    int rc = 0;
    if (load_record(v, id, &raw, &old, &corrupt, &e2) == 0) {
        free(raw);
        if (old.secret_version == UINT32_MAX)
            rc = err_set(err, R3E_ELIMIT, "secret %s: version overflow", id);
        else
            next = old.secret_version + 1;
    } else if (e2.code != R3E_ENOTFOUND && !corrupt) {
        rc = err_set(err, e2.code, "%s", e2.msg); /* a corrupt record is simply replaced */
    }
    uint8_t *rec = NULL;
    size_t rec_len = 0;
    if (rc == 0)
        rc = vault_record_seal(vault_keyring_key(v->kr, v->current), v->current, id, next,
                               util_wall_ms(), value ? value : "", len, &rec, &rec_len, err);
    if (rc == 0) rc = store_meta_put(v->s, KIND_SECRET, id, (char *)rec, rec_len, err);
    put_gen_bump(v);
    pthread_mutex_unlock(&v->lock);
    free(rec);
    if (rc == 0 && version) *version = next;
    return rc;
}

int vault_get(vault_t *v, const char *ns, const char *fn, const char *name, char **value,
              size_t *len, uint32_t *version, err_t *err) {
    char id[ID_MAX];
    if (!v || !value) return err_set(err, R3E_EINVAL, "vault get: missing argument");
    if (make_id(ns, fn, name, id, err) != 0) return -1;
    return open_record(v, id, value, len, version, err);
}

void vault_plaintext_free(char *value) {
    if (value) sodium_free(value);
}

int vault_delete(vault_t *v, const char *ns, const char *fn, const char *name, err_t *err) {
    char id[ID_MAX], *buf;
    size_t len;
    if (!v) return err_set(err, R3E_EINVAL, "vault: not open");
    if (make_id(ns, fn, name, id, err) != 0) return -1;
    pthread_mutex_lock(&v->lock);
    int rc = store_meta_get(v->s, KIND_SECRET, id, &buf, &len, err);
    if (rc == 0) {
        free(buf);
        rc = store_meta_delete(v->s, KIND_SECRET, id, err);
    } else if (err && err->code == R3E_ENOTFOUND) {
        err_set(err, R3E_ENOTFOUND, "secret not found");
    }
    pthread_mutex_unlock(&v->lock);
    return rc;
}

/* Calls fn for every store key starting with prefix, in order, after `after` (NULL = the
 * prefix itself, which is never a key). Stops at the first non-zero return of fn. */
typedef int (*key_fn)(vault_t *v, const char *key, void *arg, err_t *err);

static int scan_keys(vault_t *v, const char *prefix, const char *after, key_fn fn, void *arg,
                     err_t *err) {
    char cursor[ID_MAX];
    snprintf(cursor, sizeof cursor, "%s", after ? after : prefix);
    size_t pl = strlen(prefix);
    for (;;) {
        char **keys;
        size_t n;
        if (store_meta_list(v->s, KIND_SECRET, cursor, PAGE, &keys, NULL, &n, err) != 0) return -1;
        int rc = 0;
        bool done = n < PAGE;
        for (size_t i = 0; rc == 0 && i < n; i++) {
            if (strncmp(keys[i], prefix, pl) != 0) {
                done = true;
                break;
            }
            rc = fn(v, keys[i], arg, err);
        }
        if (n) snprintf(cursor, sizeof cursor, "%s", keys[n - 1]);
        store_strv_free(keys, n);
        if (rc != 0) return rc;
        if (done) return 0;
    }
}

typedef struct {
    vault_entry_t *e;
    size_t n, cap;
    size_t prefix_len;
} list_acc_t;

static int list_one(vault_t *v, const char *key, void *arg, err_t *err) {
    list_acc_t *a = arg;
    uint8_t *raw;
    vault_record_t rec;
    err_t e2;
    bool corrupt;
    if (load_record(v, key, &raw, &rec, &corrupt, &e2) != 0) {
        if (e2.code == R3E_ENOTFOUND) return 0; /* deleted meanwhile */
        if (!corrupt) return err_set(err, e2.code, "%s", e2.msg);
        memset(&rec, 0, sizeof rec); /* corrupt: list the name with version 0 */
        raw = NULL;
    }
    free(raw);
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 16;
        vault_entry_t *e = realloc(a->e, cap * sizeof *e);
        if (!e) return err_set(err, R3E_EINTERNAL, "out of memory");
        a->e = e;
        a->cap = cap;
    }
    vault_entry_t *e = &a->e[a->n++];
    snprintf(e->name, sizeof e->name, "%s", key + a->prefix_len);
    e->version = rec.secret_version;
    e->master_version = rec.master_version;
    e->created_ms = rec.created_ms;
    return 0;
}

int vault_list(vault_t *v, const char *ns, const char *fn, vault_entry_t **out, size_t *n,
               err_t *err) {
    char prefix[ID_MAX];
    if (!v || !out || !n) return err_set(err, R3E_EINVAL, "vault list: missing argument");
    if (make_id(ns, fn, NULL, prefix, err) != 0) return -1;
    list_acc_t a = {.prefix_len = strlen(prefix)};
    if (scan_keys(v, prefix, NULL, list_one, &a, err) != 0) {
        free(a.e);
        return -1;
    }
    *out = a.e;
    *n = a.n;
    return 0;
}

static int delete_one(vault_t *v, const char *key, void *arg, err_t *err) {
    (void)arg;
    return store_meta_delete(v->s, KIND_SECRET, key, err);
}

int vault_delete_all_for_function(vault_t *v, const char *ns, const char *fn, err_t *err) {
    char prefix[ID_MAX];
    if (!v) return err_set(err, R3E_EINVAL, "vault: not open");
    if (make_id(ns, fn, NULL, prefix, err) != 0) return -1;
    pthread_mutex_lock(&v->lock);
    int rc = scan_keys(v, prefix, NULL, delete_one, NULL, err);
    pthread_mutex_unlock(&v->lock);
    return rc;
}

/* --- the bundle for one invocation ------------------------------------------------------ */

/* Two passes so that all plaintexts share one sodium_malloc'd block: a guarded allocation
 * costs several system calls (~25 us measured), too much to pay per secret per invocation.
 * Pass 1 loads the sealed records, pass 2 opens them into the block. */
typedef struct {
    vault_bundle_t *b;
    size_t cap, prefix_len;
    uint8_t **raws;       /* sealed record bytes, parallel to b->names */
    vault_record_t *recs; /* decoded, pointing into raws */
    size_t json_mem_off;  /* where the JSON starts in values_mem */
} bundle_acc_t;

static int bundle_collect(vault_t *v, const char *key, void *arg, err_t *err) {
    bundle_acc_t *a = arg;
    vault_bundle_t *b = a->b;
    if (b->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 8;
        char **names = realloc(b->names, cap * sizeof *names);
        if (names) b->names = names;
        char **values = realloc(b->values, cap * sizeof *values);
        if (values) b->values = values;
        size_t *lens = realloc(b->lens, cap * sizeof *lens);
        if (lens) b->lens = lens;
        uint8_t **raws = realloc(a->raws, cap * sizeof *raws);
        if (raws) a->raws = raws;
        vault_record_t *recs = realloc(a->recs, cap * sizeof *recs);
        if (recs) a->recs = recs;
        if (!names || !values || !lens || !raws || !recs)
            return err_set(err, R3E_EINTERNAL, "out of memory");
        a->cap = cap;
    }
    err_t e2;
    if (load_record(v, key, &a->raws[b->n], &a->recs[b->n], NULL, &e2) != 0) {
        if (e2.code == R3E_ENOTFOUND) return 0; /* deleted meanwhile */
        return err_set(err, e2.code, "%s", e2.msg);
    }
    if (!(b->names[b->n] = strdup(key + a->prefix_len))) {
        free(a->raws[b->n]);
        return err_set(err, R3E_EINTERNAL, "out of memory");
    }
    b->values[b->n] = NULL;
    b->lens[b->n] = 0;
    b->n++;
    return 0;
}

static int bundle_open_all(vault_t *v, bundle_acc_t *a, const char *prefix, err_t *err) {
    vault_bundle_t *b = a->b;
    /* values, then room for the JSON: each byte escapes to at most 6 ("\u00XX") */
    size_t total = 1, json_max = 3;
    for (size_t i = 0; i < b->n; i++) {
        size_t vl = a->recs[i].ciphertext_len - VAULT_TAG_BYTES;
        total += vl + 1;
        json_max += strlen(b->names[i]) + 6 + 6 * vl;
    }
    a->json_mem_off = total;
    if (!(b->values_mem = sodium_malloc(total + json_max)))
        return err_set(err, R3E_EINTERNAL, "out of memory");
    char *p = b->values_mem;
    for (size_t i = 0; i < b->n; i++) {
        char id[ID_MAX];
        snprintf(id, sizeof id, "%s%s", prefix, b->names[i]);
        const uint8_t *mk = key_for(v, a->recs[i].master_version, id, err);
        size_t pl;
        if (!mk) return -1;
        if (vault_record_open(&a->recs[i], mk, id, (uint8_t *)p, &pl, err) != 0) {
            if (err) err->code = R3E_EIO; /* the stored record failed its integrity check */
            return -1;
        }
        p[pl] = '\0';
        b->values[i] = p;
        b->lens[i] = pl;
        p += pl + 1;
    }
    return 0;
}

/* Writes the JSON string body of s (without quotes) to out; returns its length. Values are
 * valid UTF-8 (checked on put), so only quotes, backslashes and control characters need
 * escapes: at most 6 bytes out per byte in. */
static size_t json_escape(const char *s, size_t n, char *out) {
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            out[o++] = '\\';
            out[o++] = (char)c;
        } else if (c < 0x20) {
            memcpy(out + o, "\\u00", 4);
            out[o + 4] = hex[c >> 4];
            out[o + 5] = hex[c & 15];
            o += 6;
        } else {
            out[o++] = (char)c;
        }
    }
    return o;
}

/* Writes the JSON into values_mem after the values (bundle_open_all sized it). */
static void bundle_json(vault_bundle_t *b, size_t off) {
    char *j = b->values_mem + off;
    size_t o = 0;
    j[o++] = '{';
    for (size_t i = 0; i < b->n; i++) {
        if (i) j[o++] = ',';
        o += (size_t)sprintf(j + o, "\"%s\":\"", b->names[i]); /* names need no escaping */
        o += json_escape(b->values[i], b->lens[i], j + o);
        j[o++] = '"';
    }
    j[o++] = '}';
    j[o] = '\0';
    b->json = j;
    b->json_len = o;
}

int vault_get_all_for_function(vault_t *v, const char *ns, const char *fn, vault_bundle_t *out,
                               err_t *err) {
    char prefix[ID_MAX];
    if (!v || !out) return err_set(err, R3E_EINVAL, "vault: missing argument");
    memset(out, 0, sizeof *out);
    if (make_id(ns, fn, NULL, prefix, err) != 0) return -1;
    /* the common case on the invoke path: no secrets, so no guarded allocation (each
     * sodium_malloc is an mmap + mprotect + mlock, which doubled warm invoke CPU), and once
     * known, no store scan either (a RocksDB iterator and up to a page of keys, ~3-4 us) */
    static char empty_json[] = "{}"; /* never written to; not freed (values_mem NULL) */
    if (empty_cached(v, prefix)) {
        out->json = empty_json;
        out->json_len = 2;
        return 0;
    }
    uint64_t gen = atomic_load_explicit(&v->put_gen, memory_order_acquire);
    bundle_acc_t a = {.b = out, .prefix_len = strlen(prefix)};
    int rc = scan_keys(v, prefix, NULL, bundle_collect, &a, err);
    if (rc == 0 && out->n == 0) {
        free(a.raws);
        free(a.recs);
        out->json = empty_json;
        out->json_len = 2;
        empty_remember(v, prefix, gen);
        return 0;
    }
    if (rc == 0) rc = bundle_open_all(v, &a, prefix, err);
    if (rc == 0) bundle_json(out, a.json_mem_off);
    for (size_t i = 0; i < out->n; i++)
        free(a.raws[i]); /* sealed bytes: nothing secret */
    free(a.raws);
    free(a.recs);
    if (rc != 0) vault_bundle_free(out);
    return rc;
}

void vault_bundle_free(vault_bundle_t *b) {
    if (!b) return;
    for (size_t i = 0; i < b->n; i++)
        free(b->names[i]);
    free(b->names);
    free(b->values); /* pointers into values_mem */
    free(b->lens);
    if (b->values_mem) sodium_free(b->values_mem); /* also holds the JSON; zeroes it all */
    memset(b, 0, sizeof *b);
}

/* --- rotation ---------------------------------------------------------------------------- */

static int rotation_get(vault_t *v, uint32_t to, char after[ID_MAX], err_t *err) {
    char *txt;
    size_t len;
    err_t e2;
    after[0] = '\0';
    if (store_meta_get(v->s, KIND_VAULT, "rotation", &txt, &len, &e2) != 0)
        return e2.code == R3E_ENOTFOUND ? 0 : err_set(err, e2.code, "%s", e2.msg);
    json_t *j = json_loadb(txt, len, 0, NULL);
    free(txt);
    const char *a = json_string_value(json_object_get(j, "after"));
    if (json_integer_value(json_object_get(j, "to")) == to && a && strlen(a) < ID_MAX)
        snprintf(after, ID_MAX, "%s", a); /* progress towards another version is stale */
    json_decref(j);
    return 0;
}

static int rotation_put(vault_t *v, uint32_t to, const char *after, err_t *err) {
    json_t *j = json_pack("{s:i,s:s}", "to", (json_int_t)to, "after", after);
    char *txt = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!txt) return err_set(err, R3E_EINTERNAL, "out of memory");
    int rc = store_meta_put(v->s, KIND_VAULT, "rotation", txt, strlen(txt), err);
    free(txt);
    return rc;
}

typedef struct {
    uint32_t to;
    size_t max, scanned, rewrapped, failed;
    char last[ID_MAX];
    bool stopped;
} rotate_acc_t;

/* Re-wraps one record under the lock, so a concurrent put cannot be overwritten by a stale
 * re-wrapped copy. Records that are corrupt or do not authenticate are unreadable with any
 * key; they are logged and left alone rather than blocking the rotation forever. */
static int rotate_one(vault_t *v, const char *key, void *arg, err_t *err) {
    rotate_acc_t *a = arg;
    if (a->max && a->scanned == a->max) {
        a->stopped = true;
        return 1;
    }
    pthread_mutex_lock(&v->lock);
    uint8_t *raw = NULL, *enc = NULL;
    vault_record_t rec;
    err_t e2;
    bool corrupt;
    int rc = 0;
    if (load_record(v, key, &raw, &rec, &corrupt, &e2) != 0) {
        if (corrupt) {
            a->failed++;
            log_error("vault rotation: skipping %s: %s", key, e2.msg);
        } else if (e2.code != R3E_ENOTFOUND) {
            rc = err_set(err, e2.code, "%s", e2.msg);
        }
    } else if (rec.master_version != a->to) {
        const uint8_t *old = key_for(v, rec.master_version, key, err);
        if (!old) {
            rc = -1;
        } else if (vault_record_rewrap(&rec, old, vault_keyring_key(v->kr, a->to), a->to, key,
                                       &e2) != 0) {
            a->failed++;
            log_error("vault rotation: skipping %s: %s", key, e2.msg);
        } else if (!(enc = malloc(vault_record_encoded_len(&rec)))) {
            rc = err_set(err, R3E_EINTERNAL, "out of memory");
        } else {
            vault_record_encode(&rec, enc);
            rc = store_meta_put(v->s, KIND_SECRET, key, (char *)enc, vault_record_encoded_len(&rec),
                                err);
            put_gen_bump(v);
            if (rc == 0) a->rewrapped++;
        }
    }
    pthread_mutex_unlock(&v->lock);
    free(raw);
    free(enc);
    if (rc != 0) return -1;
    a->scanned++;
    snprintf(a->last, sizeof a->last, "%s", key);
    /* persist progress every page so an interrupted rotation resumes near where it was */
    if (a->scanned % PAGE == 0 && rotation_put(v, a->to, a->last, err) != 0) return -1;
    return 0;
}

int vault_status(vault_t *v, vault_status_t *status, err_t *err) {
    vstate_t st;
    bool found;
    if (!v || !status) return err_set(err, R3E_EINVAL, "vault: missing argument");
    memset(status, 0, sizeof *status);
    if (state_get(v->s, &st, &found, err) != 0) return -1;
    if (!found) return err_set(err, R3E_EIO, "vault state is missing from the store");
    status->current = st.current;
    status->sealed = st.sealed;
    status->rotating = st.sealed != st.current;
    return 0;
}

int vault_rotate_master(vault_t *v, size_t max_records, vault_status_t *status, err_t *err) {
    vault_status_t tmp;
    if (!status) status = &tmp;
    if (vault_status(v, status, err) != 0) return -1;
    if (!status->rotating) return 0;
    if (!vault_keyring_has(v->kr, status->current)) /* state changed by another process */
        return err_set(err, R3E_EUNAVAIL, "master key version %u is not loaded; restart with it",
                       status->current);
    rotate_acc_t a = {.to = status->current, .max = max_records};
    char after[ID_MAX];
    if (rotation_get(v, a.to, after, err) != 0) return -1;
    log_info("vault: re-wrapping data keys from master key version %u to %u%s%s", status->sealed,
             a.to, after[0] ? ", resuming after " : "", after);
    int rc = scan_keys(v, "", after[0] ? after : NULL, rotate_one, &a, err);
    status->scanned = a.scanned;
    status->rewrapped = a.rewrapped;
    if (rc < 0) {
        if (a.last[0]) rotation_put(v, a.to, a.last, NULL);
        return -1;
    }
    if (a.stopped) return a.last[0] ? rotation_put(v, a.to, a.last, err) : 0;
    pthread_mutex_lock(&v->lock);
    vstate_t st = {a.to, a.to};
    rc = state_put(v->s, &st, err);
    if (rc == 0) rc = store_meta_delete(v->s, KIND_VAULT, "rotation", err);
    pthread_mutex_unlock(&v->lock);
    if (rc != 0) return -1;
    status->sealed = a.to;
    status->rotating = false;
    log_info("vault: rotation to master key version %u complete (%zu records re-wrapped, %zu "
             "unreadable skipped); older master keys are no longer needed",
             a.to, a.rewrapped, a.failed);
    return 0;
}
