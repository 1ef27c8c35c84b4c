/* Secret record codec and the two AEAD layers of envelope encryption (see vault_record.h).
 * No state, no store: everything the vault persists passes through here. */
#include "vault/vault_record.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

static const uint8_t record_magic[4] = {'R', '3', 'S', 'V'};

static void put_u32(uint8_t *p, uint32_t v) {
    for (int i = 3; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

static void put_u64(uint8_t *p, uint64_t v) {
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

static uint32_t get_u32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t get_u64(const uint8_t *p) {
    return (uint64_t)get_u32(p) << 32 | get_u32(p + 4);
}

int vault_record_decode(const uint8_t *buf, size_t len, vault_record_t *rec, err_t *err) {
    if (!buf || len < VAULT_RECORD_HEADER)
        return err_set(err, R3E_EINVAL, "secret record: truncated (%zu bytes)", len);
    if (memcmp(buf, record_magic, 4) != 0)
        return err_set(err, R3E_EINVAL, "secret record: bad magic");
    if (buf[4] != VAULT_RECORD_FORMAT)
        return err_set(err, R3E_EINVAL, "secret record: unknown format %u", buf[4]);
    if (buf[5] != 0) return err_set(err, R3E_EINVAL, "secret record: unknown flags 0x%02x", buf[5]);
    memset(rec, 0, sizeof *rec);
    rec->format = buf[4];
    rec->flags = buf[5];
    rec->master_version = get_u32(buf + 6);
    rec->secret_version = get_u32(buf + 10);
    rec->created_ms = get_u64(buf + 14);
    if (rec->master_version == 0 || rec->secret_version == 0)
        return err_set(err, R3E_EINVAL, "secret record: version 0");
    memcpy(rec->wrap_nonce, buf + 22, VAULT_NONCE_BYTES);
    memcpy(rec->wrapped_key, buf + 46, VAULT_WRAPPED_BYTES);
    memcpy(rec->value_nonce, buf + 94, VAULT_NONCE_BYTES);
    uint32_t ct_len = get_u32(buf + 118);
    if (ct_len < VAULT_TAG_BYTES || ct_len > VAULT_VALUE_MAX + VAULT_TAG_BYTES)
        return err_set(err, R3E_EINVAL, "secret record: ciphertext length %u out of range", ct_len);
    if (len != VAULT_RECORD_HEADER + (size_t)ct_len)
        return err_set(err, R3E_EINVAL, "secret record: %zu bytes, header says %zu", len,
                       VAULT_RECORD_HEADER + (size_t)ct_len);
    rec->ciphertext_len = ct_len;
    rec->ciphertext = buf + VAULT_RECORD_HEADER;
    return 0;
}

size_t vault_record_encoded_len(const vault_record_t *rec) {
    return VAULT_RECORD_HEADER + rec->ciphertext_len;
}

static void encode_header(const vault_record_t *rec, uint8_t *out) {
    memcpy(out, record_magic, 4);
    out[4] = rec->format;
    out[5] = rec->flags;
    put_u32(out + 6, rec->master_version);
    put_u32(out + 10, rec->secret_version);
    put_u64(out + 14, rec->created_ms);
    memcpy(out + 22, rec->wrap_nonce, VAULT_NONCE_BYTES);
    memcpy(out + 46, rec->wrapped_key, VAULT_WRAPPED_BYTES);
    memcpy(out + 94, rec->value_nonce, VAULT_NONCE_BYTES);
    put_u32(out + 118, rec->ciphertext_len);
}

void vault_record_encode(const vault_record_t *rec, uint8_t *out) {
    encode_header(rec, out);
    memcpy(out + VAULT_RECORD_HEADER, rec->ciphertext, rec->ciphertext_len);
}

/* Associated data. The id is bounded by the vault (ns 64 + fn 64 + name 128 + slashes), so a
 * fixed buffer suffices; a longer id is refused rather than truncated. */
#define AD_MAX 512

static int value_ad(const vault_record_t *rec, const char *id, uint8_t *ad, size_t *n, err_t *err) {
    static const char label[] = "r3e/secret/v1";
    size_t idl = strlen(id), o = 0;
    if (sizeof label + idl + 1 + 4 + 8 + 1 > AD_MAX)
        return err_set(err, R3E_EINVAL, "secret id too long");
    memcpy(ad, label, sizeof label); /* includes the 0 separator */
    o = sizeof label;
    memcpy(ad + o, id, idl + 1);
    o += idl + 1;
    put_u32(ad + o, rec->secret_version);
    put_u64(ad + o + 4, rec->created_ms);
    ad[o + 12] = rec->flags;
    *n = o + 13;
    return 0;
}

static int wrap_ad(uint32_t secret_version, uint32_t mkv, const char *id, uint8_t *ad, size_t *n,
                   err_t *err) {
    static const char label[] = "r3e/dek/v1";
    size_t idl = strlen(id), o;
    if (sizeof label + idl + 1 + 8 > AD_MAX) return err_set(err, R3E_EINVAL, "secret id too long");
    memcpy(ad, label, sizeof label);
    o = sizeof label;
    memcpy(ad + o, id, idl + 1);
    o += idl + 1;
    put_u32(ad + o, secret_version);
    put_u32(ad + o + 4, mkv);
    *n = o + 8;
    return 0;
}

static int wrap_key(vault_record_t *rec, const uint8_t mk[VAULT_KEY_BYTES], uint32_t mkv,
                    const char *id, const uint8_t dek[VAULT_KEY_BYTES], err_t *err) {
    uint8_t ad[AD_MAX];
    size_t adl;
    if (wrap_ad(rec->secret_version, mkv, id, ad, &adl, err) != 0) return -1;
    randombytes_buf(rec->wrap_nonce, sizeof rec->wrap_nonce);
    crypto_aead_xchacha20poly1305_ietf_encrypt(rec->wrapped_key, NULL, dek, VAULT_KEY_BYTES, ad,
                                               adl, NULL, rec->wrap_nonce, mk);
    rec->master_version = mkv;
    return 0;
}

static int unwrap_key(const vault_record_t *rec, const uint8_t mk[VAULT_KEY_BYTES], const char *id,
                      uint8_t dek[VAULT_KEY_BYTES], err_t *err) {
    uint8_t ad[AD_MAX];
    size_t adl;
    if (wrap_ad(rec->secret_version, rec->master_version, id, ad, &adl, err) != 0) return -1;
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(dek, NULL, NULL, rec->wrapped_key,
                                                   VAULT_WRAPPED_BYTES, ad, adl, rec->wrap_nonce,
                                                   mk) != 0)
        return err_set(err, R3E_EFORBIDDEN,
                       "secret %s: data key does not authenticate (wrong master key or tampered)",
                       id);
    return 0;
}

int vault_record_seal(const uint8_t mk[VAULT_KEY_BYTES], uint32_t mkv, const char *id,
                      uint32_t secret_version, uint64_t created_ms, const void *value, size_t len,
                      uint8_t **out, size_t *out_len, err_t *err) {
    if (len > VAULT_VALUE_MAX)
        return err_set(err, R3E_ETOOBIG, "secret value is %zu bytes, the limit is %d", len,
                       VAULT_VALUE_MAX);
    if (mkv == 0 || secret_version == 0) return err_set(err, R3E_EINVAL, "version 0");
    vault_record_t rec = {.format = VAULT_RECORD_FORMAT,
                          .secret_version = secret_version,
                          .created_ms = created_ms,
                          .ciphertext_len = (uint32_t)(len + VAULT_TAG_BYTES)};
    size_t total = vault_record_encoded_len(&rec);
    uint8_t *buf = malloc(total);
    if (!buf) return err_set(err, R3E_EINTERNAL, "out of memory");
    uint8_t dek[VAULT_KEY_BYTES], ad[AD_MAX];
    size_t adl;
    crypto_aead_xchacha20poly1305_ietf_keygen(dek);
    int rc = value_ad(&rec, id, ad, &adl, err);
    if (rc == 0) rc = wrap_key(&rec, mk, mkv, id, dek, err);
    if (rc == 0) {
        /* encrypt straight into the record's ciphertext slot: no second copy */
        randombytes_buf(rec.value_nonce, sizeof rec.value_nonce);
        crypto_aead_xchacha20poly1305_ietf_encrypt(buf + VAULT_RECORD_HEADER, NULL, value, len, ad,
                                                   adl, NULL, rec.value_nonce, dek);
        encode_header(&rec, buf);
    }
    sodium_memzero(dek, sizeof dek);
    if (rc != 0) {
        free(buf);
        return -1;
    }
    *out = buf;
    *out_len = total;
    return 0;
}

int vault_record_open(const vault_record_t *rec, const uint8_t mk[VAULT_KEY_BYTES], const char *id,
                      uint8_t *plain, size_t *plain_len, err_t *err) {
    uint8_t dek[VAULT_KEY_BYTES], ad[AD_MAX];
    size_t adl;
    if (rec->ciphertext_len < VAULT_TAG_BYTES)
        return err_set(err, R3E_EINVAL, "secret record: no ciphertext");
    if (value_ad(rec, id, ad, &adl, err) != 0) return -1;
    if (unwrap_key(rec, mk, id, dek, err) != 0) return -1;
    unsigned long long pl = 0;
    int bad = crypto_aead_xchacha20poly1305_ietf_decrypt(
        plain, &pl, NULL, rec->ciphertext, rec->ciphertext_len, ad, adl, rec->value_nonce, dek);
    sodium_memzero(dek, sizeof dek);
    if (bad) {
        sodium_memzero(plain, rec->ciphertext_len - VAULT_TAG_BYTES);
        return err_set(err, R3E_EFORBIDDEN, "secret %s: value does not authenticate (tampered)",
                       id);
    }
    *plain_len = (size_t)pl;
    return 0;
}

int vault_record_rewrap(vault_record_t *rec, const uint8_t old_mk[VAULT_KEY_BYTES],
                        const uint8_t new_mk[VAULT_KEY_BYTES], uint32_t new_mkv, const char *id,
                        err_t *err) {
    uint8_t dek[VAULT_KEY_BYTES];
    if (new_mkv == 0) return err_set(err, R3E_EINVAL, "master key version 0");
    if (unwrap_key(rec, old_mk, id, dek, err) != 0) return -1;
    vault_record_t next = *rec;
    int rc = wrap_key(&next, new_mk, new_mkv, id, dek, err);
    sodium_memzero(dek, sizeof dek);
    if (rc == 0) *rec = next;
    return rc;
}
