/* API keys: long-lived credentials of the form
 *
 *     r3e_<id>_<secret>      id: 12 chars base32 (lookup handle, not secret)
 *                            secret: 32 random bytes, 52 chars base32 (256 bits)
 *
 * Only SHA-256("r3e_<id>_<secret>") is stored, never the key itself. A fast hash is the
 * right tool here: the secret is 256 bits from the kernel's CSPRNG, so there is nothing to
 * brute-force and a slow password KDF (argon2) would only cost milliseconds per request.
 * Verification looks the record up by id and compares hashes in constant time
 * (CRYPTO_memcmp); every failure (malformed, unknown id, wrong secret, revoked, expired)
 * is R3E_EUNAUTH with the same message, so a caller cannot probe which ids exist.
 *
 * Records live in the store's metadata family, kind "apikey", key = id, value = JSON
 * {"name","role","ns","created_ms","expires_ms","revoked","hash"}. Keys are revoked, never
 * deleted, so the audit trail can still name them.
 * Thread-safe (all state is in the store). */
#ifndef R3E_AUTH_APIKEY_H
#define R3E_AUTH_APIKEY_H

#include "auth/rbac.h"
#include "core/err.h"
#include "store/store.h"

#include <stdbool.h>
#include <stdint.h>

#define AUTH_APIKEY_ID_LEN 12
#define AUTH_APIKEY_SECRET_LEN 52 /* base32 of 32 bytes */
#define AUTH_APIKEY_LEN (4 + AUTH_APIKEY_ID_LEN + 1 + AUTH_APIKEY_SECRET_LEN) /* 69 */
#define AUTH_APIKEY_BUF (AUTH_APIKEY_LEN + 1)
#define AUTH_APIKEY_NAME_MAX 64
#define AUTH_APIKEY_LIST_MAX 1000

typedef struct {
    char id[AUTH_APIKEY_ID_LEN + 1];
    char name[AUTH_APIKEY_NAME_MAX]; /* free text label, printable ASCII, may be empty */
    auth_role_t role;
    char ns[AUTH_NS_MAX]; /* namespace, or "*" for a global admin key */
    uint64_t created_ms;
    uint64_t expires_ms; /* 0 = never */
    bool revoked;
} auth_apikey_t;

/* Creates a key. role must be a real role; ns a namespace name or "*" (admin only);
 * name up to 63 printable ASCII chars; expires_ms 0 = never, else must be in the future.
 * On success *out holds the record and `plaintext` the key — the only time it exists
 * outside the caller: hand it to the user once and forget it. */
int auth_apikey_create(store_t *s, const char *name, auth_role_t role, const char *ns,
                       uint64_t expires_ms, auth_apikey_t *out, char plaintext[AUTH_APIKEY_BUF],
                       err_t *err);

/* Authenticates a presented key at wall time now_ms. 0 with *p filled (id, role, ns), or
 * -1 with R3E_EUNAUTH ("invalid API key") for any bad key, R3E_EIO on storage failure.
 * *rec (may be NULL) receives the record on success. */
int auth_apikey_verify(store_t *s, const char *presented, uint64_t now_ms, auth_principal_t *p,
                       auth_apikey_t *rec, err_t *err);

/* True when s has the shape of an API key (r3e_ prefix, lengths, alphabet); cheap, no
 * store access: lets the HTTP layer tell an API key from a JWT in one header. */
bool auth_apikey_looks_like(const char *s);

/* Record by id; R3E_ENOTFOUND when absent. */
int auth_apikey_get(store_t *s, const char *id, auth_apikey_t *out, err_t *err);

/* Records sorted by id, after `start_after` (exclusive, NULL = first), at most limit
 * (0 = STORE_LIST_DEFAULT, capped at AUTH_APIKEY_LIST_MAX). When ns is non-NULL only keys
 * of that namespace are returned. *out malloc'ed (free()). */
int auth_apikey_list(store_t *s, const char *ns, const char *start_after, size_t limit,
                     auth_apikey_t **out, size_t *n, err_t *err);

/* Marks a key revoked (idempotent); R3E_ENOTFOUND when absent. Takes effect on the next
 * verification: there is no cache. */
int auth_apikey_revoke(store_t *s, const char *id, err_t *err);

/* First start: when the store holds no API key at all, creates an admin key for
 * namespace "*" named "bootstrap-admin", sets *created and fills `plaintext` (print it
 * once, like Vault's root token). When any key exists (even revoked) does nothing:
 * *created = false and plaintext = "". Call once at server start, before serving. */
int auth_bootstrap_admin(store_t *s, bool *created, char plaintext[AUTH_APIKEY_BUF], err_t *err);

#endif
