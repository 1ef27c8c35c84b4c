/* secp256k1 keys, signatures and EIP-55 addresses on top of libsecp256k1. Signing uses the
 * library's RFC 6979 nonces, which is also what ethers (noble-curves) uses, so signatures are
 * identical byte for byte. */
#include "chain/eth/eth.h"

#include "core/util.h"

#include <pthread.h>
#include <secp256k1.h>
#include <secp256k1_recovery.h>
#include <stdlib.h>
#include <string.h>

static secp256k1_context *g_ctx;
static pthread_once_t g_ctx_once = PTHREAD_ONCE_INIT;

/* One context for the process: creation precomputes tables, and after randomization the
 * context is only read, which libsecp256k1 documents as thread-safe. */
static void ctx_init(void) {
    g_ctx = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
    uint8_t seed[32];
    util_random(seed, sizeof seed);
    if (!secp256k1_context_randomize(g_ctx, seed)) abort();
}

static secp256k1_context *ctx(void) {
    pthread_once(&g_ctx_once, ctx_init);
    return g_ctx;
}

/* n/2 for the low-s rule (EIP-2). */
static const uint8_t half_n[32] = {0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                   0xff, 0xff, 0xff, 0xff, 0xff, 0x5d, 0x57, 0x6e, 0x73, 0x57, 0xa4,
                                   0x50, 0x1d, 0xdf, 0xe9, 0x2f, 0x46, 0x68, 0x1b, 0x20, 0xa0};

void eth_address_from_public(const uint8_t pub[65], uint8_t addr[20]) {
    uint8_t h[32];
    eth_keccak256(pub + 1, 64, h);
    memcpy(addr, h + 12, 20);
}

int eth_key_public(const uint8_t priv[32], uint8_t pub[65], err_t *err) {
    secp256k1_pubkey pk;
    if (!secp256k1_ec_seckey_verify(ctx(), priv))
        return err_set(err, R3E_EINVAL, "private key: zero or not below the curve order");
    if (!secp256k1_ec_pubkey_create(ctx(), &pk, priv))
        return err_set(err, R3E_EINVAL, "private key: invalid");
    size_t len = 65;
    secp256k1_ec_pubkey_serialize(ctx(), pub, &len, &pk, SECP256K1_EC_UNCOMPRESSED);
    return 0;
}

int eth_key_address(const uint8_t priv[32], uint8_t addr[20], err_t *err) {
    uint8_t pub[65];
    if (eth_key_public(priv, pub, err) < 0) return -1;
    eth_address_from_public(pub, addr);
    return 0;
}

int eth_sign_digest(const uint8_t priv[32], const uint8_t digest[32], eth_sig_t *sig, err_t *err) {
    secp256k1_ecdsa_recoverable_signature rs;
    if (!secp256k1_ec_seckey_verify(ctx(), priv))
        return err_set(err, R3E_EINVAL, "private key: zero or not below the curve order");
    if (!secp256k1_ecdsa_sign_recoverable(ctx(), &rs, digest, priv, NULL, NULL))
        return err_set(err, R3E_EINTERNAL, "secp256k1 signing failed");
    uint8_t rs64[64];
    int recid;
    secp256k1_ecdsa_recoverable_signature_serialize_compact(ctx(), rs64, &recid, &rs);
    memcpy(sig->r, rs64, 32);
    memcpy(sig->s, rs64 + 32, 32);
    sig->y_parity = recid & 1;
    return 0;
}

int eth_recover_public(const uint8_t digest[32], const eth_sig_t *sig, uint8_t pub[65],
                       err_t *err) {
    static const uint8_t zero[32] = {0};
    if (sig->y_parity != 0 && sig->y_parity != 1)
        return err_set(err, R3E_EINVAL, "signature: yParity must be 0 or 1");
    if (!memcmp(sig->r, zero, 32) || !memcmp(sig->s, zero, 32))
        return err_set(err, R3E_EINVAL, "signature: r and s must be non-zero");
    if (memcmp(sig->s, half_n, 32) > 0)
        return err_set(err, R3E_EINVAL, "signature: non-canonical s (above n/2, EIP-2)");
    uint8_t rs64[64];
    memcpy(rs64, sig->r, 32);
    memcpy(rs64 + 32, sig->s, 32);
    secp256k1_ecdsa_recoverable_signature rs;
    if (!secp256k1_ecdsa_recoverable_signature_parse_compact(ctx(), &rs, rs64, sig->y_parity))
        return err_set(err, R3E_EINVAL, "signature: r or s not below the curve order");
    secp256k1_pubkey pk;
    if (!secp256k1_ecdsa_recover(ctx(), &pk, &rs, digest))
        return err_set(err, R3E_EINVAL, "signature: no public key recovers from it");
    size_t len = 65;
    secp256k1_ec_pubkey_serialize(ctx(), pub, &len, &pk, SECP256K1_EC_UNCOMPRESSED);
    return 0;
}

int eth_recover_address(const uint8_t digest[32], const eth_sig_t *sig, uint8_t addr[20],
                        err_t *err) {
    uint8_t pub[65];
    if (eth_recover_public(digest, sig, pub, err) < 0) return -1;
    eth_address_from_public(pub, addr);
    return 0;
}

void eth_sig_serialize(const eth_sig_t *sig, uint8_t out[65]) {
    memcpy(out, sig->r, 32);
    memcpy(out + 32, sig->s, 32);
    out[64] = (uint8_t)(27 + sig->y_parity);
}

int eth_sig_parse(const uint8_t in[65], eth_sig_t *sig, err_t *err) {
    uint8_t v = in[64];
    if (v == 27 || v == 28)
        v -= 27;
    else if (v > 1)
        return err_set(err, R3E_EINVAL, "signature: v must be 27, 28, 0 or 1 (got %u)", v);
    memcpy(sig->r, in, 32);
    memcpy(sig->s, in + 32, 32);
    sig->y_parity = v;
    return 0;
}

/* ---- EIP-55 ---- */

void eth_address_checksum(const uint8_t addr[20], char out[43]) {
    char lower[41];
    util_hex_encode(addr, 20, lower);
    uint8_t h[32];
    eth_keccak256(lower, 40, h);
    out[0] = '0';
    out[1] = 'x';
    for (int i = 0; i < 40; i++) {
        int nib = (i % 2) ? (h[i / 2] & 15) : (h[i / 2] >> 4);
        char c = lower[i];
        out[2 + i] = (c >= 'a' && nib >= 8) ? (char)(c - 32) : c;
    }
    out[42] = '\0';
}

int eth_address_parse(const char *s, uint8_t addr[20], err_t *err) {
    if (!s) return err_set(err, R3E_EINVAL, "address: expected a string");
    if (s[0] != '0' || (s[1] != 'x' && s[1] != 'X') || strlen(s) != 42)
        return err_set(err, R3E_EINVAL, "address: expected 0x followed by 40 hex digits");
    if (eth_hex_decode_fixed(s, addr, 20, "address", err) < 0) return -1;
    bool has_lower = false, has_upper = false;
    for (int i = 2; i < 42; i++) {
        if (s[i] >= 'a' && s[i] <= 'f') has_lower = true;
        if (s[i] >= 'A' && s[i] <= 'F') has_upper = true;
    }
    if (has_lower && has_upper) {
        char want[43];
        eth_address_checksum(addr, want);
        if (strcmp(want + 2, s + 2) != 0)
            return err_set(err, R3E_EINVAL, "address: bad EIP-55 checksum (expected %s)", want);
    }
    return 0;
}
