/* Webhook HMAC secrets, sealed in the secret vault (issue 4 follow-up).
 *
 * A webhook trigger's secret never lives in its trigger record: creating the trigger seals
 * it as the platform-owned vault secret ("webhook", <trigger id>) and the record keeps
 * only "source.has_secret": true. The hook reads and decrypts it for each delivery (one
 * store point read; nothing is cached, so no extra plain-text copy lives in memory);
 * deleting the trigger deletes it; master key rotation re-wraps it like every other record.
 *
 * Records written before this (with "source.secret" in plain text) are migrated at start
 * (webhook_secret_migrate): the sealed secret is written first, then the record without it,
 * so a crash between the two loses nothing (the next start seals it again). */
#ifndef R3E_API_WEBHOOK_SECRET_H
#define R3E_API_WEBHOOK_SECRET_H

#include "core/err.h"
#include "store/store.h"
#include "vault/vault.h"

#include <jansson.h>
#include <stddef.h>

#define WEBHOOK_SECRET_OWNER "webhook"

/* For a new or migrated record rec ({"id", "source": {...}}): when source.secret is a
 * string, seals it under rec.id, then replaces it in rec with "has_secret": true. A record
 * without a secret is left alone. R3E_EUNAVAIL (with a message for the API caller) when v
 * is NULL (no master key) and there is a secret to seal. */
int webhook_secret_seal(vault_t *v, json_t *rec, err_t *err);

/* The secret of trigger id: *secret sodium_malloc'd (vault_plaintext_free). R3E_EUNAVAIL
 * when v is NULL, R3E_ENOTFOUND when absent, else as vault_get_system. */
int webhook_secret_get(vault_t *v, const char *id, char **secret, size_t *len, err_t *err);

/* Deletes the secret of trigger id (absent is fine; v NULL does nothing). */
int webhook_secret_delete(vault_t *v, const char *id, err_t *err);

/* Seals every plain-text webhook secret still stored in a trigger record and rewrites the
 * record. *migrated (may be NULL) receives how many. With v NULL nothing can be sealed:
 * those records are counted in *left (may be NULL) and stay as they are (their webhooks
 * keep verifying with the plain-text secret) and the caller should warn. */
int webhook_secret_migrate(store_t *s, vault_t *v, size_t *migrated, size_t *left, err_t *err);

#endif
