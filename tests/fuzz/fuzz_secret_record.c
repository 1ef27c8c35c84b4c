/* libFuzzer target: the secret record decoder (vault_record_decode) and the AEAD layers
 * behind it must never crash, read out of bounds or leak, whatever the store hands back.
 * Input: the record bytes, as stored under id "default/fn/KEY".
 * Checks: decoding fails only with R3E_EINVAL; a decoded record re-encodes to exactly the
 * input (the format has one encoding); opening fails only with R3E_EFORBIDDEN, and a record
 * that opens yields ciphertext_len - 16 bytes; a re-wrapped record opens with the new key
 * exactly when the original opened with the old one.
 * Seeds (tests/fuzz/corpus/fuzz_secret_record) are genuine records sealed with FUZZ_KEY as
 * master key version 1, so the fuzzer reaches the authenticated paths. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vault/vault_record.h"

#include <sodium.h>

static const uint8_t fuzz_key[VAULT_KEY_BYTES] = "r3e-fuzz-master-key-0123456789!";
static const uint8_t fuzz_key2[VAULT_KEY_BYTES] = "r3e-fuzz-master-key-second-one!";
static const char fuzz_id[] = "default/fn/KEY";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static int init;
    if (!init) {
        if (sodium_init() < 0) abort();
        init = 1;
    }
    vault_record_t rec;
    err_t err;
    if (vault_record_decode(data, size, &rec, &err) != 0) {
        if (err.code != R3E_EINVAL) abort();
        return 0;
    }
    if (vault_record_encoded_len(&rec) != size) abort();
    uint8_t *enc = malloc(size);
    if (!enc) abort();
    vault_record_encode(&rec, enc);
    if (memcmp(enc, data, size) != 0) abort();
    free(enc);

    size_t cap = rec.ciphertext_len - VAULT_TAG_BYTES;
    uint8_t *plain = malloc(cap + 1);
    if (!plain) abort();
    size_t pl = 0;
    int opened = vault_record_open(&rec, fuzz_key, fuzz_id, plain, &pl, &err) == 0;
    if (!opened && err.code != R3E_EFORBIDDEN) abort();
    if (opened && pl != cap) abort();

    vault_record_t next = rec;
    uint32_t nv = rec.master_version == UINT32_MAX ? 1 : rec.master_version + 1;
    if (vault_record_rewrap(&next, fuzz_key, fuzz_key2, nv, fuzz_id, &err) == 0) {
        size_t pl2 = 0;
        int reopened = vault_record_open(&next, fuzz_key2, fuzz_id, plain, &pl2, &err) == 0;
        if (reopened != opened) abort();
        if (vault_record_open(&next, fuzz_key, fuzz_id, plain, &pl2, &err) == 0) abort();
    } else if (err.code != R3E_EFORBIDDEN) {
        abort();
    }
    free(plain);
    return 0;
}
