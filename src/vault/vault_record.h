/* The secret record: one sealed secret value as stored, in a compact, versioned binary
 * encoding with a strict decoder (the piece tests/fuzz/fuzz_secret_record.c fuzzes).
 *
 * Layout, format 1 (integers big-endian, every field fixed-size except the ciphertext):
 *
 *   off  size  field
 *     0     4  magic "R3SV"
 *     4     1  format version (1)
 *     5     1  flags (0; reserved)
 *     6     4  master key version (>= 1) that wrapped the data key
 *    10     4  secret version (>= 1), incremented on every set
 *    14     8  created_ms (wall clock of this secret version)
 *    22    24  wrap nonce
 *    46    48  wrapped data key (32-byte key + 16-byte Poly1305 tag)
 *    94    24  value nonce
 *   118     4  ciphertext length L (16 .. 65536 + 16)
 *   122     L  ciphertext (value + 16-byte tag)
 *
 * The decoder accepts exactly 122 + L bytes and nothing else.
 *
 * Envelope encryption (libsodium, XChaCha20-Poly1305 IETF for both layers):
 *   value  = AEAD(data key, value nonce, plaintext,
 *                 AD = "r3e/secret/v1" 0 id 0 u32(secret version) u64(created_ms) u8(flags))
 *   wrapped= AEAD(master key, wrap nonce, data key,
 *                 AD = "r3e/dek/v1" 0 id 0 u32(secret version) u32(master key version))
 * where id is "ns/function/NAME". Every byte of a record is therefore authenticated
 * (the header fields through the AD, magic/format/length through the strict decoder), and a
 * record copied under another id, secret version or master key version does not open.
 * Rotation re-wraps the data key only: the value's AD holds nothing that rotation changes. */
#ifndef R3E_VAULT_RECORD_H
#define R3E_VAULT_RECORD_H

#include "core/err.h"

#include <stddef.h>
#include <stdint.h>

#define VAULT_RECORD_FORMAT 1
#define VAULT_KEY_BYTES 32
#define VAULT_NONCE_BYTES 24
#define VAULT_TAG_BYTES 16
#define VAULT_WRAPPED_BYTES (VAULT_KEY_BYTES + VAULT_TAG_BYTES)
#define VAULT_VALUE_MAX 65536
#define VAULT_RECORD_HEADER 122
#define VAULT_RECORD_MAX (VAULT_RECORD_HEADER + VAULT_VALUE_MAX + VAULT_TAG_BYTES)

typedef struct {
    uint8_t format, flags;
    uint32_t master_version;
    uint32_t secret_version;
    uint64_t created_ms;
    uint8_t wrap_nonce[VAULT_NONCE_BYTES];
    uint8_t wrapped_key[VAULT_WRAPPED_BYTES];
    uint8_t value_nonce[VAULT_NONCE_BYTES];
    const uint8_t *ciphertext; /* borrowed: points into the decoded (or sealed) buffer */
    uint32_t ciphertext_len;
} vault_record_t;

/* Strict decode; rec->ciphertext points into buf (keep buf alive). R3E_EINVAL with a reason
 * for anything but a well-formed format-1 record. */
int vault_record_decode(const uint8_t *buf, size_t len, vault_record_t *rec, err_t *err);
size_t vault_record_encoded_len(const vault_record_t *rec);
/* Writes vault_record_encoded_len(rec) bytes to out. */
void vault_record_encode(const vault_record_t *rec, uint8_t *out);

/* Seals `value` (len <= VAULT_VALUE_MAX) under a fresh random data key wrapped by mk
 * (version mkv). *out is malloc'ed encoded record bytes (free()); it holds no plaintext. */
int vault_record_seal(const uint8_t mk[VAULT_KEY_BYTES], uint32_t mkv, const char *id,
                      uint32_t secret_version, uint64_t created_ms, const void *value, size_t len,
                      uint8_t **out, size_t *out_len, err_t *err);
/* Opens rec with the master key it names (caller picks mk by rec->master_version) into
 * plain (capacity >= rec->ciphertext_len - VAULT_TAG_BYTES); *plain_len receives the length.
 * R3E_EFORBIDDEN when authentication fails (wrong key, wrong id, tampered). */
int vault_record_open(const vault_record_t *rec, const uint8_t mk[VAULT_KEY_BYTES], const char *id,
                      uint8_t *plain, size_t *plain_len, err_t *err);
/* Re-wraps rec's data key from old_mk to new_mk (version new_mkv) in place; the ciphertext
 * is untouched. R3E_EFORBIDDEN when the old wrap does not authenticate. */
int vault_record_rewrap(vault_record_t *rec, const uint8_t old_mk[VAULT_KEY_BYTES],
                        const uint8_t new_mk[VAULT_KEY_BYTES], uint32_t new_mkv, const char *id,
                        err_t *err);

#endif
