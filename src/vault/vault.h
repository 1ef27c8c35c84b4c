/* The secret vault: per-function secrets sealed with envelope encryption (libsodium).
 *
 * Each secret value is encrypted with its own random 256-bit data key; the data key is
 * wrapped by a master key (see vault_record.h for the record format and the associated
 * data that binds a record to its id "ns/function/NAME" and its versions). Master keys come
 * from files, the environment or a Kubernetes Secret mount (vault_keyring_from_env), never
 * from the store. The store holds, in its metadata family:
 *   kind "secret": key "ns/function/NAME" -> record bytes
 *   kind "vault":  "kcv/<version>"        -> key check value of master key <version> (hex)
 *                  "state"                -> {"current":C,"sealed":S}: C is the newest
 *                                            master version ever used, every record is
 *                                            wrapped with a version >= S
 *                  "rotation"             -> {"to":V,"after":"<last key done>"} while a
 *                                            rotation is in progress
 *
 * Names: [A-Za-z_][A-Za-z0-9_]{0,127}. Values: UTF-8 text without NUL bytes, at most
 * 64 KiB (ctx.secrets gives the function strings). ns NULL or "" means "default"; ns and
 * function must pass util_valid_name.
 *
 * Threads: every call is thread-safe. Writes (put, delete, one record's re-wrap during
 * rotation) are serialised by the vault's lock, reads are not blocked. Two processes
 * writing the same store's secrets concurrently are not coordinated (the store has no
 * compare-and-set yet): in the distributed shape run writes and rotation on one role.
 *
 * Memory: master keys live in sodium_malloc'd memory; data keys on the stack, zeroed after
 * use; plaintexts handed out are sodium_malloc'd and must be released with
 * vault_plaintext_free / vault_bundle_free, which zero them. */
#ifndef R3E_VAULT_VAULT_H
#define R3E_VAULT_VAULT_H

#include "core/err.h"
#include "store/store.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VAULT_NAME_MAX 128           /* secret name length */
#define VAULT_SECRET_VALUE_MAX 65536 /* bytes */
#define VAULT_REDACT_MIN 4           /* shorter values are not redacted */

/* --- keyring: the master keys this process holds --------------------------------------- */

typedef struct vault_keyring vault_keyring_t;

vault_keyring_t *vault_keyring_new(void);
void vault_keyring_free(vault_keyring_t *kr); /* zeroes the keys; NULL is fine */
/* Adds a raw 32-byte key as `version` (>= 1); R3E_EEXIST when that version is present. */
int vault_keyring_add(vault_keyring_t *kr, uint32_t version, const uint8_t key[32], err_t *err);
/* Adds a key given as text or bytes: exactly 32 raw bytes, or (surrounding whitespace
 * ignored) 64 hex characters, or standard/URL-safe base64 of 32 bytes. */
int vault_keyring_add_encoded(vault_keyring_t *kr, uint32_t version, const char *data, size_t len,
                              err_t *err);
/* Reads a key file (same encodings). Permissions are the operator's to set (a Kubernetes
 * Secret mount is 0644 unless defaultMode says otherwise; 0400 is recommended). */
int vault_keyring_add_file(vault_keyring_t *kr, uint32_t version, const char *path, err_t *err);
/* Adds every file of dir whose name is a decimal version ("1", "2", ...; other names, such
 * as Kubernetes' "..data" entries, are ignored). R3E_EINVAL when none is found. */
int vault_keyring_add_dir(vault_keyring_t *kr, const char *dir, err_t *err);
/* The keyring the server uses, from the environment (exactly one source for the current key):
 *   R3E_MASTER_KEY_DIR=/var/run/secrets/r3e/master-key   versioned files; highest = current
 *   R3E_MASTER_KEY_FILE=path | R3E_MASTER_KEY=hex/base64  current key, version
 *        R3E_MASTER_KEY_VERSION (default 1); during a rotation the previous key in
 *        R3E_MASTER_KEY_OLD_FILE=path | R3E_MASTER_KEY_OLD=hex/base64, version
 *        R3E_MASTER_KEY_OLD_VERSION (default current - 1)
 * R3E_ENOTFOUND when no source is set (the server then runs without a vault).
 * R3E_MASTER_KEY / R3E_MASTER_KEY_OLD are wiped and removed from the environment once
 * read, so processes started later (workers) do not inherit them. Not thread-safe
 * (setenv/unsetenv): call at start-up, before other threads run. */
int vault_keyring_from_env(vault_keyring_t **out, err_t *err);
uint32_t vault_keyring_current(const vault_keyring_t *kr); /* highest version; 0 if empty */
bool vault_keyring_has(const vault_keyring_t *kr, uint32_t version);

/* --- the vault ------------------------------------------------------------------------- */

typedef struct vault vault_t;

/* Opens the vault over s with the keys of kr (the vault takes ownership of kr, also on
 * failure). Checks every loaded key against its key check value in the store, recording it
 * on first use, and fails loudly (R3E_EINVAL) with
 *   "master key does not match the key this store was sealed with (version N)"
 * for a wrong key, or when the store still holds records wrapped with a version kr lacks.
 * s must outlive the vault. */
int vault_open(store_t *s, vault_keyring_t *kr, vault_t **out, err_t *err);
void vault_close(vault_t *v); /* NULL is fine */

/* Sets a secret (creates or replaces); *version (may be NULL) receives its new version
 * (1 for a new secret, previous + 1 otherwise). Sealed with the current master key. */
int vault_put(vault_t *v, const char *ns, const char *fn, const char *name, const void *value,
              size_t len, uint32_t *version, err_t *err);
/* Decrypts a secret. *value is sodium_malloc'd and NUL-terminated (release with
 * vault_plaintext_free); *len and *version (each may be NULL) receive its length and
 * version. R3E_ENOTFOUND when absent; R3E_EIO when the stored record is corrupt or does not
 * authenticate (tampered, moved from another id); R3E_EUNAVAIL when its master key version
 * is not loaded. */
int vault_get(vault_t *v, const char *ns, const char *fn, const char *name, char **value,
              size_t *len, uint32_t *version, err_t *err);
void vault_plaintext_free(char *value); /* zeroes and frees; NULL is fine */
/* R3E_ENOTFOUND when absent. */
int vault_delete(vault_t *v, const char *ns, const char *fn, const char *name, err_t *err);
/* Platform-owned secrets (e.g. the Ethereum relayer's signing keys), sealed and rotated like
 * every other record but under ids no function, namespace or secrets route can name.
 * owner and name: [A-Za-z0-9_-]{1,63}. get: as vault_get (R3E_ENOTFOUND when absent). */
int vault_put_system(vault_t *v, const char *owner, const char *name, const void *value, size_t len,
                     err_t *err);
int vault_get_system(vault_t *v, const char *owner, const char *name, char **value, size_t *len,
                     err_t *err);
/* Deletes a platform-owned secret; an absent one is not an error. */
int vault_delete_system(vault_t *v, const char *owner, const char *name, err_t *err);
/* Deletes every secret of a function (call when the function is deleted). */
int vault_delete_all_for_function(vault_t *v, const char *ns, const char *fn, err_t *err);

typedef struct {
    char name[VAULT_NAME_MAX + 1];
    uint32_t version;        /* secret version */
    uint32_t master_version; /* master key version that wraps it */
    uint64_t created_ms;     /* when this version was set */
} vault_entry_t;

/* Names and versions of a function's secrets, sorted by name; never values. A record that
 * does not decode is listed with version 0. *out malloc'ed (free()); *n may be 0 (then *out
 * is NULL). */
int vault_list(vault_t *v, const char *ns, const char *fn, vault_entry_t **out, size_t *n,
               err_t *err);

/* Every secret of one function, for the worker that runs it. Only the server calls this,
 * and only for the function being invoked: the JSON goes to that worker (ctx.secrets), the
 * values to a redactor for that execution's logs and result. */
typedef struct {
    char *json; /* {"NAME":"value",…}, NUL-terminated, inside values_mem ("{}" static when n = 0) */
    size_t json_len;
    size_t n;         /* number of secrets */
    char **names;     /* n names (malloc'd; not secret) */
    char **values;    /* n values, NUL-terminated, pointing into values_mem */
    size_t *lens;     /* n value lengths */
    char *values_mem; /* internal: the one sodium_malloc'd block holding values and json */
} vault_bundle_t;
int vault_get_all_for_function(vault_t *v, const char *ns, const char *fn, vault_bundle_t *out,
                               err_t *err);
void vault_bundle_free(vault_bundle_t *b); /* zeroes and frees the contents; NULL is fine */

/* --- master key rotation --------------------------------------------------------------- */

typedef struct {
    uint32_t current;          /* newest master key version in use for writes */
    uint32_t sealed;           /* every record is wrapped with a version >= this */
    bool rotating;             /* a rotation to `current` has started and not finished */
    size_t scanned, rewrapped; /* counts of the last vault_rotate_master call */
} vault_status_t;

/* Re-wraps every data key wrapped with an older master version under the current one
 * (vault_keyring_current), record by record, each an atomic store write; secret values are
 * not re-encrypted. Online: readers and writers keep working; every record stays readable
 * with the version it names. Progress (the last key done) is persisted, so a rotation that
 * is interrupted (crash, restart, or max_records reached) resumes where it stopped at the
 * next call. max_records 0 = no limit. *status (may be NULL) tells whether it finished
 * (rotating == false); from then on only the current key is needed.
 * R3E_EUNAVAIL when a record names a master version that is not loaded. */
int vault_rotate_master(vault_t *v, size_t max_records, vault_status_t *status, err_t *err);
int vault_status(vault_t *v, vault_status_t *status, err_t *err);

/* --- redaction ------------------------------------------------------------------------- */

/* Replaces every occurrence of any secret value (values shorter than VAULT_REDACT_MIN are
 * ignored) with "***". Overlapping or adjacent occurrences become one "***", so no part of
 * either secret survives. Build once per execution, use on every log line and the result.
 * The redactor borrows the values: keep them alive while it is used. Cost: one pass over
 * the text with a hash lookup of the 4 bytes at each position, plus a comparison per
 * candidate whose first 4 bytes match. */
typedef struct vault_redactor vault_redactor_t;
vault_redactor_t *vault_redactor_new(char *const *values, const size_t *lens, size_t n);
void vault_redactor_free(vault_redactor_t *r);
/* *out malloc'ed, NUL-terminated copy of text with secrets replaced; *out_len may be NULL.
 * Returns the number of redacted runs (0 = unchanged copy), -1 on allocation failure. */
long vault_redactor_apply(const vault_redactor_t *r, const char *text, size_t len, char **out,
                          size_t *out_len);
/* One-shot form: builds a redactor, applies it, frees it. */
long vault_redact(const char *text, size_t len, char *const *values, const size_t *lens, size_t n,
                  char **out, size_t *out_len);

/* True when name matches [A-Za-z_][A-Za-z0-9_]{0,127}. */
bool vault_valid_name(const char *name);

#endif
