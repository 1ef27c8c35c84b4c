/* Keyring accessors shared by the vault's own files; not part of the public API. */
#ifndef R3E_VAULT_INTERNAL_H
#define R3E_VAULT_INTERNAL_H

#include "vault/vault.h"

/* The key of `version`, or NULL when it is not loaded. */
const uint8_t *vault_keyring_key(const vault_keyring_t *kr, uint32_t version);
size_t vault_keyring_count(const vault_keyring_t *kr);
/* The i-th key (i < count) and its version. */
const uint8_t *vault_keyring_at(const vault_keyring_t *kr, size_t i, uint32_t *version);

#endif
