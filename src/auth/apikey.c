/* API keys: generation, hashed storage in the store's metadata family, verification. */
#include "auth/apikey.h"

#include "core/util.h"

#include <jansson.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define APIKEY_KIND "apikey"
#define APIKEY_PREFIX "r3e_"
#define APIKEY_BAD "invalid API key"

static const char apikey_b32[] = "abcdefghijklmnopqrstuvwxyz234567";

static bool apikey_b32_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= '2' && c <= '7');
}

/* RFC 4648 base32, lowercase, no padding: n bytes -> ceil(8n/5) chars + NUL. */
static void apikey_b32_encode(const uint8_t *in, size_t n, char *out) {
    uint32_t acc = 0;
    int bits = 0;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        acc = (acc << 8) | in[i];
        bits += 8;
        while (bits >= 5) {
            out[o++] = apikey_b32[(acc >> (bits - 5)) & 31];
            bits -= 5;
        }
    }
    if (bits > 0) out[o++] = apikey_b32[(acc << (5 - bits)) & 31];
    out[o] = '\0';
}

bool auth_apikey_looks_like(const char *s) {
    if (!s || strncmp(s, APIKEY_PREFIX, 4) != 0 || strlen(s) != AUTH_APIKEY_LEN) return false;
    for (size_t i = 4; i < AUTH_APIKEY_LEN; i++) {
        if (i == 4 + AUTH_APIKEY_ID_LEN) {
            if (s[i] != '_') return false;
        } else if (!apikey_b32_char(s[i])) {
            return false;
        }
    }
    return true;
}

static bool apikey_name_ok(const char *name) {
    if (strlen(name) >= AUTH_APIKEY_NAME_MAX) return false;
    for (const char *c = name; *c; c++)
        if (*c < 0x20 || *c > 0x7e) return false;
    return true;
}

/* --- records ------------------------------------------------------------------------- */

static char *apikey_encode(const auth_apikey_t *k, const char *hash_hex) {
    json_t *o =
        json_pack("{s:s,s:s,s:s,s:I,s:I,s:b,s:s}", "name", k->name, "role", auth_role_name(k->role),
                  "ns", k->ns, "created_ms", (json_int_t)k->created_ms, "expires_ms",
                  (json_int_t)k->expires_ms, "revoked", k->revoked, "hash", hash_hex);
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return s;
}

/* Decodes a record; hash_hex (65 bytes) may be NULL. */
static int apikey_decode(const char *id, const char *val, auth_apikey_t *k, char *hash_hex,
                         err_t *err) {
    json_t *o = json_loads(val, 0, NULL);
    const char *name = NULL, *role = NULL, *ns = NULL, *hash = NULL;
    json_int_t created = 0, expires = 0;
    int revoked = 0;
    int rc = json_unpack(o, "{s:s,s:s,s:s,s:I,s:I,s:b,s:s}", "name", &name, "role", &role, "ns",
                         &ns, "created_ms", &created, "expires_ms", &expires, "revoked", &revoked,
                         "hash", &hash);
    if (rc == 0 && (strlen(hash) != 64 || auth_role_parse(role) == AUTH_ROLE_NONE ||
                    !auth_ns_valid(ns) || strlen(name) >= sizeof k->name))
        rc = -1;
    if (rc == 0) {
        memset(k, 0, sizeof *k);
        snprintf(k->id, sizeof k->id, "%s", id);
        snprintf(k->name, sizeof k->name, "%s", name);
        snprintf(k->ns, sizeof k->ns, "%s", ns);
        k->role = auth_role_parse(role);
        k->created_ms = (uint64_t)created;
        k->expires_ms = (uint64_t)expires;
        k->revoked = revoked != 0;
        if (hash_hex) memcpy(hash_hex, hash, 65);
    }
    json_decref(o);
    if (rc != 0) return err_set(err, R3E_EIO, "store: corrupt API key record %s", id);
    return 0;
}

/* Reads a record and its stored hash. */
static int apikey_read(store_t *s, const char *id, auth_apikey_t *k, char hash_hex[65],
                       err_t *err) {
    char *val;
    if (store_meta_get(s, APIKEY_KIND, id, &val, NULL, err) != 0) return -1;
    int rc = apikey_decode(id, val, k, hash_hex, err);
    free(val);
    return rc;
}

/* --- API ----------------------------------------------------------------------------- */

int auth_apikey_create(store_t *s, const char *name, auth_role_t role, const char *ns,
                       uint64_t expires_ms, auth_apikey_t *out, char plaintext[AUTH_APIKEY_BUF],
                       err_t *err) {
    if (!name) name = "";
    if (!apikey_name_ok(name))
        return err_set(err, R3E_EINVAL, "key name must be at most 63 printable ASCII chars");
    if (role == AUTH_ROLE_NONE || auth_role_perms(role) == 0)
        return err_set(err, R3E_EINVAL, "unknown role");
    if (!auth_ns_valid(ns)) return err_set(err, R3E_EINVAL, "invalid namespace");
    if (strcmp(ns, AUTH_NS_ANY) == 0 && role != AUTH_ROLE_ADMIN)
        return err_set(err, R3E_EINVAL, "only admin keys may be global (namespace \"*\")");
    uint64_t now = util_wall_ms();
    if (expires_ms && expires_ms <= now)
        return err_set(err, R3E_EINVAL, "expiry must be in the future");

    auth_apikey_t k = {.role = role, .created_ms = now, .expires_ms = expires_ms};
    snprintf(k.name, sizeof k.name, "%s", name);
    snprintf(k.ns, sizeof k.ns, "%s", ns);
    /* ids are 60 random bits: a collision is astronomically rare, but insert is
     * create-only, so one would be retried rather than overwrite another key */
    for (int attempt = 0; attempt < 4; attempt++) {
        uint8_t idr[AUTH_APIKEY_ID_LEN], secret[32];
        util_random(idr, sizeof idr);
        util_random(secret, sizeof secret);
        for (int i = 0; i < AUTH_APIKEY_ID_LEN; i++)
            k.id[i] = apikey_b32[idr[i] & 31];
        k.id[AUTH_APIKEY_ID_LEN] = '\0';
        char sec[AUTH_APIKEY_SECRET_LEN + 1];
        apikey_b32_encode(secret, sizeof secret, sec);
        OPENSSL_cleanse(secret, sizeof secret);
        char key[AUTH_APIKEY_BUF];
        snprintf(key, sizeof key, APIKEY_PREFIX "%s_%s", k.id, sec);
        OPENSSL_cleanse(sec, sizeof sec);
        char hash[65];
        util_sha256_hex(key, strlen(key), hash);
        char *enc = apikey_encode(&k, hash);
        if (!enc) return err_set(err, R3E_EINTERNAL, "out of memory");
        err_t e;
        int rc = store_meta_insert(s, APIKEY_KIND, k.id, enc, strlen(enc), &e);
        free(enc);
        if (rc == 0) {
            memcpy(plaintext, key, sizeof key);
            OPENSSL_cleanse(key, sizeof key);
            if (out) *out = k;
            return 0;
        }
        OPENSSL_cleanse(key, sizeof key);
        if (e.code != R3E_EEXIST) {
            if (err) *err = e;
            return -1;
        }
    }
    return err_set(err, R3E_EINTERNAL, "could not allocate a unique key id");
}

int auth_apikey_verify(store_t *s, const char *presented, uint64_t now_ms, auth_principal_t *p,
                       auth_apikey_t *rec, err_t *err) {
    if (!auth_apikey_looks_like(presented)) return err_set(err, R3E_EUNAUTH, APIKEY_BAD);
    char id[AUTH_APIKEY_ID_LEN + 1];
    memcpy(id, presented + 4, AUTH_APIKEY_ID_LEN);
    id[AUTH_APIKEY_ID_LEN] = '\0';
    auth_apikey_t k;
    char stored_hex[65];
    err_t e;
    if (apikey_read(s, id, &k, stored_hex, &e) != 0) {
        if (e.code == R3E_ENOTFOUND) return err_set(err, R3E_EUNAUTH, APIKEY_BAD);
        if (err) *err = e;
        return -1;
    }
    uint8_t stored[32], got[32];
    if (util_hex_decode(stored_hex, 64, stored, sizeof stored) != 32)
        return err_set(err, R3E_EIO, "store: corrupt API key record %s", id);
    util_sha256(presented, AUTH_APIKEY_LEN, got);
    bool match = CRYPTO_memcmp(stored, got, sizeof got) == 0;
    if (!match || k.revoked || (k.expires_ms && now_ms >= k.expires_ms))
        return err_set(err, R3E_EUNAUTH, APIKEY_BAD);
    memset(p, 0, sizeof *p);
    snprintf(p->id, sizeof p->id, "%s", k.id);
    snprintf(p->ns, sizeof p->ns, "%s", k.ns);
    p->role = k.role;
    if (rec) *rec = k;
    return 0;
}

static bool apikey_id_ok(const char *id) {
    if (!id || strlen(id) != AUTH_APIKEY_ID_LEN) return false;
    for (const char *c = id; *c; c++)
        if (!apikey_b32_char(*c)) return false;
    return true;
}

int auth_apikey_get(store_t *s, const char *id, auth_apikey_t *out, err_t *err) {
    if (!apikey_id_ok(id)) return err_set(err, R3E_EINVAL, "invalid key id");
    return apikey_read(s, id, out, NULL, err);
}

int auth_apikey_list(store_t *s, const char *ns, const char *start_after, size_t limit,
                     auth_apikey_t **out, size_t *n, err_t *err) {
    if (limit == 0) limit = STORE_LIST_DEFAULT;
    if (limit > AUTH_APIKEY_LIST_MAX) limit = AUTH_APIKEY_LIST_MAX; /* limit may come from a URL */
    auth_apikey_t *v = malloc(limit * sizeof *v);
    if (!v) return err_set(err, R3E_EINTERNAL, "out of memory");
    size_t cnt = 0;
    char cursor[AUTH_APIKEY_ID_LEN + 1] = "";
    if (start_after) snprintf(cursor, sizeof cursor, "%s", start_after);
    /* page through the family; a namespace filter may skip records, so keep reading until
     * limit matches or the family ends */
    for (;;) {
        char **keys, **vals;
        size_t got;
        if (store_meta_list(s, APIKEY_KIND, cursor, limit, &keys, &vals, &got, err) != 0) {
            free(v);
            return -1;
        }
        int rc = 0;
        for (size_t i = 0; i < got && cnt < limit && rc == 0; i++) {
            snprintf(cursor, sizeof cursor, "%s", keys[i]);
            rc = apikey_decode(keys[i], vals[i], &v[cnt], NULL, err);
            if (rc == 0 && (!ns || strcmp(v[cnt].ns, ns) == 0)) cnt++;
        }
        store_strv_free(keys, got);
        store_strv_free(vals, got);
        if (rc != 0) {
            free(v);
            return -1;
        }
        if (got < limit || cnt == limit) break;
    }
    *out = v;
    *n = cnt;
    return 0;
}

int auth_apikey_revoke(store_t *s, const char *id, err_t *err) {
    auth_apikey_t k;
    char hash[65];
    if (!apikey_id_ok(id)) return err_set(err, R3E_EINVAL, "invalid key id");
    if (apikey_read(s, id, &k, hash, err) != 0) return -1;
    if (k.revoked) return 0;
    k.revoked = true;
    char *enc = apikey_encode(&k, hash);
    if (!enc) return err_set(err, R3E_EINTERNAL, "out of memory");
    int rc = store_meta_put(s, APIKEY_KIND, id, enc, strlen(enc), err);
    free(enc);
    return rc;
}

int auth_bootstrap_admin(store_t *s, bool *created, char plaintext[AUTH_APIKEY_BUF], err_t *err) {
    *created = false;
    plaintext[0] = '\0';
    char **keys;
    size_t n;
    if (store_meta_list(s, APIKEY_KIND, NULL, 1, &keys, NULL, &n, err) != 0) return -1;
    store_strv_free(keys, n);
    if (n > 0) return 0;
    if (auth_apikey_create(s, "bootstrap-admin", AUTH_ROLE_ADMIN, AUTH_NS_ANY, 0, NULL, plaintext,
                           err) != 0)
        return -1;
    *created = true;
    return 0;
}
