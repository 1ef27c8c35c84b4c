/* Secrets in the API server (issue 4 "Secret vault"): opening the vault at start-up from
 * the configured master key, and the /v1/functions/{name}/secrets endpoints. Values go in,
 * never out: the list gives names and versions only. */
#ifndef R3E_API_SECRETS_H
#define R3E_API_SECRETS_H

#include "api/api.h"
#include "core/err.h"
#include "store/store.h"
#include "vault/vault.h"

/* Opens the vault over store with the master key from (first match):
 *   master_key_file (--master-key-file), R3E_MASTER_KEY_DIR / R3E_MASTER_KEY_FILE /
 *   R3E_MASTER_KEY (vault_keyring_from_env), the Kubernetes Secret mount
 *   /var/run/secrets/r3e/master-key (a directory of versioned key files);
 *   with --dev and none of these: DATA_DIR/master.key, generated (0600) when absent, with
 *   a loud warning.
 * Without a key outside --dev: *out = NULL and 0 (secrets endpoints answer 503) unless the
 * store already holds sealed secrets, which is an error (they could not be read). A wrong
 * key is an error with the vault's message. A rotation left unfinished (or a new current
 * key) is completed before returning. The vault is then also the one the secrets
 * handlers use (api_secrets_vault). */
int api_vault_open(const char *master_key_file, bool dev, const char *data_dir, store_t *store,
                   vault_t **out, err_t *err);
vault_t *api_secrets_vault(void);

void api_h_secrets_list(http_req_t *r, const route_match_t *m);  /* GET …/{name}/secrets */
void api_h_secret_put(http_req_t *r, const route_match_t *m);    /* PUT …/secrets/{key} */
void api_h_secret_delete(http_req_t *r, const route_match_t *m); /* DELETE …/secrets/{key} */
void api_h_rotate_master(http_req_t *r, const route_match_t *m); /* POST /v1/admin/rotate-master */

#endif
