/* Neo N3 keys, hashes, encodings and ECDSA P-256 signatures.
 * OpenSSL 3 provides P-256 and SHA-256; RIPEMD-160 comes from nettle because OpenSSL 3
 * keeps it in the legacy provider, which is not always installed or loadable. */
#include <nettle/base64.h>
#include <nettle/ripemd160.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "chain/neo/neo.h"
#include "core/util.h"

/* ---- buffer --------------------------------------------------------------------------- */

void neo_buf_append(neo_buf_t *b, const void *p, size_t n) {
    buf_append(b, p, n);
}

void neo_buf_byte(neo_buf_t *b, uint8_t v) {
    buf_byte(b, v);
}

void neo_buf_free(neo_buf_t *b) {
    buf_free(b);
}

void neo_buf_varint(neo_buf_t *b, uint64_t v) {
    uint8_t t[9];
    size_t n;
    if (v < 0xfd) {
        t[0] = (uint8_t)v;
        n = 1;
    } else if (v <= 0xffff) {
        t[0] = 0xfd;
        n = 3;
    } else if (v <= 0xffffffffu) {
        t[0] = 0xfe;
        n = 5;
    } else {
        t[0] = 0xff;
        n = 9;
    }
    for (size_t i = 1; i < n; i++)
        t[i] = (uint8_t)(v >> (8 * (i - 1)));
    neo_buf_append(b, t, n);
}

/* ---- hashes --------------------------------------------------------------------------- */

void neo_hash160(const void *data, size_t n, uint8_t out[20]) {
    uint8_t sha[32];
    struct ripemd160_ctx ctx;
    SHA256(data, n, sha);
    ripemd160_init(&ctx);
    ripemd160_update(&ctx, sizeof sha, sha);
    ripemd160_digest(&ctx, RIPEMD160_DIGEST_SIZE, out);
}

void neo_hash256(const void *data, size_t n, uint8_t out[32]) {
    uint8_t sha[32];
    SHA256(data, n, sha);
    SHA256(sha, sizeof sha, out);
}

void neo_hash_to_display(const uint8_t *h, size_t n, char *out) {
    static const char digits[] = "0123456789abcdef";
    out[0] = '0';
    out[1] = 'x';
    for (size_t i = 0; i < n; i++) {
        uint8_t v = h[n - 1 - i];
        out[2 + 2 * i] = digits[v >> 4];
        out[3 + 2 * i] = digits[v & 15];
    }
    out[2 + 2 * n] = '\0';
}

int neo_hash_from_display(const char *s, uint8_t *h, size_t n, err_t *err) {
    uint8_t tmp[64];
    if (!s || n > sizeof tmp) return err_set(err, R3E_EINVAL, "hash: missing value");
    size_t len = strlen(s);
    if (len >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) len -= 2, s += 2;
    if (len != 2 * n || util_hex_decode(s, len, tmp, n) != (int)n)
        return err_set(err, R3E_EINVAL, "hash: expected %zu hex bytes", n);
    for (size_t i = 0; i < n; i++)
        h[i] = tmp[n - 1 - i];
    return 0;
}

/* ---- base58check ---------------------------------------------------------------------- */

static const char B58[] = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

/* Schoolbook base conversion: inputs here are at most a few dozen bytes. */
static int b58_encode(const uint8_t *in, size_t n, char *out, size_t outcap) {
    size_t zeros = 0;
    while (zeros < n && in[zeros] == 0)
        zeros++;
    size_t size = (n - zeros) * 138 / 100 + 1;
    uint8_t digits[256];
    if (size > sizeof digits) return -1;
    memset(digits, 0, size);
    size_t used = 0;
    for (size_t i = zeros; i < n; i++) {
        unsigned carry = in[i];
        size_t j = 0;
        for (; (carry || j < used) && j < size; j++) {
            carry += 256u * digits[size - 1 - j];
            digits[size - 1 - j] = (uint8_t)(carry % 58);
            carry /= 58;
        }
        used = j;
    }
    size_t start = size - used;
    if (zeros + used + 1 > outcap) return -1;
    size_t o = 0;
    for (size_t i = 0; i < zeros; i++)
        out[o++] = '1';
    for (size_t i = start; i < size; i++)
        out[o++] = B58[digits[i]];
    out[o] = '\0';
    return 0;
}

static int b58_value(char c) {
    const char *p = c ? strchr(B58, c) : NULL;
    return p ? (int)(p - B58) : -1;
}

static int b58_decode(const char *s, uint8_t *out, size_t outcap, size_t *outlen) {
    size_t n = strlen(s), zeros = 0;
    while (zeros < n && s[zeros] == '1')
        zeros++;
    uint8_t bytes[128];
    size_t size = n * 733 / 1000 + 1, used = 0;
    if (size > sizeof bytes) return -1;
    memset(bytes, 0, size);
    for (size_t i = zeros; i < n; i++) {
        int v = b58_value(s[i]);
        if (v < 0) return -1;
        unsigned carry = (unsigned)v;
        size_t j = 0;
        for (; (carry || j < used) && j < size; j++) {
            carry += 58u * bytes[size - 1 - j];
            bytes[size - 1 - j] = (uint8_t)(carry & 0xff);
            carry >>= 8;
        }
        if (carry) return -1;
        used = j;
    }
    if (zeros + used > outcap) return -1;
    memset(out, 0, zeros);
    memcpy(out + zeros, bytes + size - used, used);
    *outlen = zeros + used;
    return 0;
}

int neo_base58check_encode(const uint8_t *in, size_t n, char *out, size_t outcap, err_t *err) {
    uint8_t tmp[128], h[32];
    if (n + 4 > sizeof tmp) return err_set(err, R3E_EINVAL, "base58check: payload too long");
    memcpy(tmp, in, n);
    neo_hash256(in, n, h);
    memcpy(tmp + n, h, 4);
    if (b58_encode(tmp, n + 4, out, outcap) != 0)
        return err_set(err, R3E_EINVAL, "base58check: output buffer too small");
    return 0;
}

int neo_base58check_decode(const char *s, uint8_t *out, size_t outcap, size_t *outlen, err_t *err) {
    uint8_t tmp[128], h[32];
    size_t n = 0;
    if (!s || !*s) return err_set(err, R3E_EINVAL, "base58check: empty string");
    if (strlen(s) > 120) return err_set(err, R3E_EINVAL, "base58check: string too long");
    if (b58_decode(s, tmp, sizeof tmp, &n) != 0)
        return err_set(err, R3E_EINVAL, "base58check: invalid base58 character");
    if (n < 4) return err_set(err, R3E_EINVAL, "base58check: too short for a checksum");
    neo_hash256(tmp, n - 4, h);
    if (memcmp(h, tmp + n - 4, 4) != 0)
        return err_set(err, R3E_EINVAL, "base58check: checksum mismatch");
    if (n - 4 > outcap) return err_set(err, R3E_EINVAL, "base58check: payload too long");
    memcpy(out, tmp, n - 4);
    *outlen = n - 4;
    return 0;
}

int neo_base64_decode(const char *s, uint8_t *out, size_t outcap, err_t *err) {
    struct base64_decode_ctx ctx;
    size_t len = s ? strlen(s) : 0, done = 0;
    if (!s) return err_set(err, R3E_EINVAL, "base64: missing value");
    if (len / 4 * 3 > outcap + 2) return err_set(err, R3E_ETOOBIG, "base64: value too long");
    uint8_t *tmp = malloc(BASE64_DECODE_LENGTH(len) + 1);
    if (!tmp) abort();
    base64_decode_init(&ctx);
    if (len % 4 != 0 || !base64_decode_update(&ctx, &done, tmp, len, s) ||
        !base64_decode_final(&ctx)) {
        free(tmp);
        return err_set(err, R3E_EINVAL, "base64: malformed value");
    }
    if (done > outcap) {
        free(tmp);
        return err_set(err, R3E_ETOOBIG, "base64: value too long");
    }
    memcpy(out, tmp, done);
    free(tmp);
    return (int)done;
}

/* ---- curve ---------------------------------------------------------------------------- */

static EC_GROUP *g_group;
static BIGNUM *g_half_order;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void curve_init(void) {
    g_group = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
    if (!g_group) abort();
    g_half_order = BN_dup(EC_GROUP_get0_order(g_group));
    if (!g_half_order || !BN_rshift1(g_half_order, g_half_order)) abort();
}

static const EC_GROUP *curve(void) {
    pthread_once(&g_once, curve_init);
    return g_group;
}

int neo_privkey_check(const uint8_t priv[32], err_t *err) {
    BIGNUM *k = BN_bin2bn(priv, 32, NULL);
    if (!k) abort();
    int ok = !BN_is_zero(k) && BN_cmp(k, EC_GROUP_get0_order(curve())) < 0;
    BN_free(k);
    return ok ? 0 : err_set(err, R3E_EINVAL, "private key: must be in [1, n-1] of P-256");
}

int neo_pubkey_from_privkey(const uint8_t priv[32], uint8_t pub[33], err_t *err) {
    if (neo_privkey_check(priv, err) != 0) return -1;
    const EC_GROUP *g = curve();
    BIGNUM *k = BN_bin2bn(priv, 32, NULL);
    EC_POINT *p = EC_POINT_new(g);
    int rc = -1;
    if (k && p && EC_POINT_mul(g, p, k, NULL, NULL, NULL) &&
        EC_POINT_point2oct(g, p, POINT_CONVERSION_COMPRESSED, pub, 33, NULL) == 33)
        rc = 0;
    else
        err_set(err, R3E_EINTERNAL, "private key: point multiplication failed");
    BN_clear_free(k);
    EC_POINT_free(p);
    return rc;
}

static EC_POINT *point_decode(const uint8_t pub[33]) {
    if (pub[0] != 0x02 && pub[0] != 0x03) return NULL;
    EC_POINT *p = EC_POINT_new(curve());
    if (!p) abort();
    if (!EC_POINT_oct2point(curve(), p, pub, 33, NULL)) {
        EC_POINT_free(p);
        return NULL;
    }
    return p;
}

int neo_pubkey_check(const uint8_t pub[33], err_t *err) {
    EC_POINT *p = point_decode(pub);
    if (!p) return err_set(err, R3E_EINVAL, "public key: not a compressed P-256 point");
    EC_POINT_free(p);
    return 0;
}

/* ---- accounts ------------------------------------------------------------------------- */

int neo_wif_encode(const uint8_t priv[32], char out[NEO_WIF_LEN + 1], err_t *err) {
    uint8_t raw[34];
    if (neo_privkey_check(priv, err) != 0) return -1;
    raw[0] = 0x80;
    memcpy(raw + 1, priv, 32);
    raw[33] = 0x01;
    return neo_base58check_encode(raw, sizeof raw, out, NEO_WIF_LEN + 1, err);
}

int neo_wif_decode(const char *wif, uint8_t priv[32], err_t *err) {
    uint8_t raw[64];
    size_t n;
    if (neo_base58check_decode(wif, raw, sizeof raw, &n, err) != 0) return -1;
    if (n != 34 || raw[0] != 0x80 || raw[33] != 0x01)
        return err_set(err, R3E_EINVAL,
                       "wif: expected 0x80 || key || 0x01 (compressed), got %zu bytes", n);
    if (neo_privkey_check(raw + 1, err) != 0) return -1;
    memcpy(priv, raw + 1, 32);
    return 0;
}

void neo_verification_script(const uint8_t pub[33], uint8_t out[40]) {
    uint32_t id = neo_interop_id("System.Crypto.CheckSig");
    out[0] = NEO_OP_PUSHDATA1;
    out[1] = 33;
    memcpy(out + 2, pub, 33);
    out[35] = NEO_OP_SYSCALL;
    for (int i = 0; i < 4; i++)
        out[36 + i] = (uint8_t)(id >> (8 * i));
}

void neo_script_hash(const uint8_t *script, size_t n, uint8_t out[20]) {
    neo_hash160(script, n, out);
}

void neo_address_from_script_hash(const uint8_t hash[20], char out[NEO_ADDRESS_LEN + 1]) {
    uint8_t raw[21];
    raw[0] = NEO_ADDRESS_VERSION;
    memcpy(raw + 1, hash, 20);
    /* 25 bytes always encode to 34 characters with version 0x35. */
    if (neo_base58check_encode(raw, sizeof raw, out, NEO_ADDRESS_LEN + 1, NULL) != 0) abort();
}

int neo_address_to_script_hash(const char *addr, uint8_t hash[20], err_t *err) {
    uint8_t raw[64];
    size_t n;
    if (!addr || strlen(addr) != NEO_ADDRESS_LEN)
        return err_set(err, R3E_EINVAL, "address: expected %d base58 characters", NEO_ADDRESS_LEN);
    if (neo_base58check_decode(addr, raw, sizeof raw, &n, err) != 0) return -1;
    if (n != 21) return err_set(err, R3E_EINVAL, "address: payload is %zu bytes, want 21", n);
    if (raw[0] != NEO_ADDRESS_VERSION)
        return err_set(err, R3E_EINVAL, "address: version 0x%02x is not Neo N3 (0x%02x)", raw[0],
                       NEO_ADDRESS_VERSION);
    memcpy(hash, raw + 1, 20);
    return 0;
}

/* The node orders multisig keys by ECPoint.CompareTo: X first, then Y. */
static int pubkey_cmp(const void *a, const void *b) {
    const uint8_t *pa = a, *pb = b;
    int c = memcmp(pa + 1, pb + 1, 32);
    if (c != 0 || pa[0] == pb[0]) return c;
    /* Same X, opposite parity: compare the Y values. */
    EC_POINT *qa = point_decode(pa), *qb = point_decode(pb);
    BIGNUM *ya = BN_new(), *yb = BN_new();
    int r = 0;
    if (qa && qb && ya && yb && EC_POINT_get_affine_coordinates(curve(), qa, NULL, ya, NULL) &&
        EC_POINT_get_affine_coordinates(curve(), qb, NULL, yb, NULL))
        r = BN_cmp(ya, yb);
    EC_POINT_free(qa);
    EC_POINT_free(qb);
    BN_free(ya);
    BN_free(yb);
    return r;
}

int neo_multisig_script(int m, const uint8_t (*pubs)[33], size_t n, neo_buf_t *out, err_t *err) {
    if (n < 1 || n > 1024) return err_set(err, R3E_EINVAL, "multisig: need 1..1024 keys");
    if (m < 1 || (size_t)m > n)
        return err_set(err, R3E_EINVAL, "multisig: threshold %d outside 1..%zu", m, n);
    uint8_t(*sorted)[33] = malloc(n * 33);
    if (!sorted) abort();
    for (size_t i = 0; i < n; i++) {
        if (neo_pubkey_check(pubs[i], err) != 0) {
            free(sorted);
            return err_set(err, R3E_EINVAL, "multisig: key %zu is not a valid public key", i);
        }
        memcpy(sorted[i], pubs[i], 33);
    }
    qsort(sorted, n, 33, pubkey_cmp);
    neo_sb_push_int(out, m);
    for (size_t i = 0; i < n; i++)
        neo_sb_push_pubkey(out, sorted[i]);
    neo_sb_push_int(out, (int64_t)n);
    neo_sb_syscall(out, "System.Crypto.CheckMultisig");
    free(sorted);
    return 0;
}

/* ---- ECDSA ---------------------------------------------------------------------------- */

/* Builds an EVP_PKEY for P-256 from a private scalar or a compressed public key. */
static EVP_PKEY *pkey_from(const uint8_t priv[32], const uint8_t pub[33]) {
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    BIGNUM *k = priv ? BN_bin2bn(priv, 32, NULL) : NULL;
    EVP_PKEY *pkey = NULL;
    OSSL_PARAM *params = NULL;
    if (!bld) abort();
    OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0);
    if (k) OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, k);
    if (pub) OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pub, 33);
    params = OSSL_PARAM_BLD_to_param(bld);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    if (params && ctx && EVP_PKEY_fromdata_init(ctx) > 0)
        EVP_PKEY_fromdata(ctx, &pkey, priv ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY, params);
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_clear_free(k);
    return pkey;
}

struct neo_key {
    EVP_PKEY *pkey; /* keypair; read-only after creation, so shareable across threads */
    uint8_t pub[33];
};

neo_key_t *neo_key_new(const uint8_t priv[32], err_t *err) {
    uint8_t pub[33];
    if (neo_pubkey_from_privkey(priv, pub, err) != 0) return NULL;
    /* Private scalar only: importing the public point too makes OpenSSL validate it, which
     * costs more than a signature. */
    EVP_PKEY *pkey = pkey_from(priv, NULL);
    if (!pkey) {
        err_set(err, R3E_EINTERNAL, "key: OpenSSL rejected the P-256 key");
        return NULL;
    }
    neo_key_t *k = malloc(sizeof *k);
    if (!k) abort();
    k->pkey = pkey;
    memcpy(k->pub, pub, 33);
    return k;
}

void neo_key_free(neo_key_t *k) {
    if (!k) return;
    EVP_PKEY_free(k->pkey);
    free(k);
}

const uint8_t *neo_key_pubkey(const neo_key_t *k) {
    return k->pub;
}

static int pkey_sign(EVP_PKEY *pkey, const uint8_t *msg, size_t n, uint8_t sig[64], err_t *err) {
    uint8_t digest[32], der[80];
    size_t derlen = sizeof der;
    SHA256(msg, n, digest);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
    int ok = ctx && EVP_PKEY_sign_init(ctx) > 0 &&
             EVP_PKEY_sign(ctx, der, &derlen, digest, sizeof digest) > 0;
    EVP_PKEY_CTX_free(ctx);
    if (!ok) return err_set(err, R3E_EINTERNAL, "sign: OpenSSL ECDSA failed");
    const uint8_t *dp = der;
    ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &dp, (long)derlen);
    if (!es) return err_set(err, R3E_EINTERNAL, "sign: cannot parse DER signature");
    const BIGNUM *r = NULL, *s = NULL;
    ECDSA_SIG_get0(es, &r, &s);
    BIGNUM *low = BN_dup(s);
    if (!low) abort();
    /* Low-s form, as neon-js (noble, lowS: true) and most Neo wallets emit. */
    if (BN_cmp(low, g_half_order) > 0) BN_sub(low, EC_GROUP_get0_order(curve()), low);
    ok = BN_bn2binpad(r, sig, 32) == 32 && BN_bn2binpad(low, sig + 32, 32) == 32;
    BN_free(low);
    ECDSA_SIG_free(es);
    return ok ? 0 : err_set(err, R3E_EINTERNAL, "sign: bad signature size");
}

int neo_key_sign(const neo_key_t *k, const uint8_t *msg, size_t n, uint8_t sig[64], err_t *err) {
    return pkey_sign(k->pkey, msg, n, sig, err);
}

/* One-shot: skips the public key, which a signature does not need. */
int neo_sign(const uint8_t priv[32], const uint8_t *msg, size_t n, uint8_t sig[64], err_t *err) {
    if (neo_privkey_check(priv, err) != 0) return -1;
    EVP_PKEY *pkey = pkey_from(priv, NULL);
    if (!pkey) return err_set(err, R3E_EINTERNAL, "sign: OpenSSL rejected the P-256 key");
    int rc = pkey_sign(pkey, msg, n, sig, err);
    EVP_PKEY_free(pkey);
    return rc;
}

int neo_verify(const uint8_t pub[33], const uint8_t *msg, size_t n, const uint8_t sig[64],
               err_t *err) {
    uint8_t digest[32], der[80], *dp = der;
    if (neo_pubkey_check(pub, err) != 0) return -1;
    SHA256(msg, n, digest);
    ECDSA_SIG *es = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(sig, 32, NULL), *s = BN_bin2bn(sig + 32, 32, NULL);
    if (!es || !r || !s || !ECDSA_SIG_set0(es, r, s)) abort();
    int derlen = i2d_ECDSA_SIG(es, &dp);
    ECDSA_SIG_free(es);
    if (derlen <= 0) return err_set(err, R3E_EINTERNAL, "verify: cannot encode signature");
    EVP_PKEY *pkey = pkey_from(NULL, pub);
    EVP_PKEY_CTX *ctx = pkey ? EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL) : NULL;
    int rc = -1;
    if (ctx && EVP_PKEY_verify_init(ctx) > 0)
        rc = EVP_PKEY_verify(ctx, der, (size_t)derlen, digest, sizeof digest) == 1 ? 1 : 0;
    else
        err_set(err, R3E_EINTERNAL, "verify: cannot load public key");
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(pkey);
    return rc;
}
