/* JWT issue/verify. libjwt does the signing and signature checks; everything that
 * decides *whether* a token may be checked and *with which key* happens here first, so a
 * token can never steer libjwt to an algorithm or key we did not choose. */
#include "auth/jwt.h"

#include "core/util.h"

#include <jansson.h>
#include <jwt.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define JWT_KID_MAX 128
#define JWT_HEADER_MAX 1024
#define JWT_HS_MIN 32

typedef struct {
    char kid[JWT_KID_MAX];
    jwt_alg_t alg;             /* JWT_ALG_HS256 or JWT_ALG_ES256 */
    unsigned char *verify_key; /* HS: the secret; ES: public key PEM (NUL-terminated) */
    size_t verify_len;
    bool from_jwks; /* issuer rule: jwks_issuer instead of issuer */
} jwt_key_t;

struct auth_jwt {
    char *issuer, *audience, *jwks_issuer;
    uint32_t ttl_s;
    int64_t leeway_s;
    jwt_key_t *keys;
    size_t nkeys, cap;
    int sign_idx;   /* index of the signing key, -1 = cannot issue */
    char *sign_pem; /* ES256 private key PEM, or NULL when signing with HS256 */
};

/* --- small helpers ------------------------------------------------------------------- */

/* Decodes unpadded base64url exactly (no padding, no whitespace, no other alphabet).
 * Returns the length or -1. */
static long jwt_b64url_decode(const char *in, size_t n, unsigned char *out, size_t cap) {
    size_t len;
    const char *end;
    if (sodium_base642bin(out, cap, in, n, NULL, &len, &end,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
        end != in + n)
        return -1;
    return (long)len;
}

static int jwt_key_add(auth_jwt_t *j, const char *kid, jwt_alg_t alg, const void *key, size_t len,
                       bool from_jwks, err_t *err) {
    if (strlen(kid) == 0 || strlen(kid) >= JWT_KID_MAX)
        return err_set(err, R3E_EINVAL, "jwt: key id must be 1..%d chars", JWT_KID_MAX - 1);
    for (size_t i = 0; i < j->nkeys; i++)
        if (strcmp(j->keys[i].kid, kid) == 0)
            return err_set(err, R3E_EINVAL, "jwt: duplicate key id \"%s\"", kid);
    if (j->nkeys == j->cap) {
        size_t nc = j->cap ? j->cap * 2 : 4;
        jwt_key_t *k = realloc(j->keys, nc * sizeof *k);
        if (!k) return err_set(err, R3E_EINTERNAL, "out of memory");
        j->keys = k;
        j->cap = nc;
    }
    jwt_key_t *k = &j->keys[j->nkeys];
    memset(k, 0, sizeof *k);
    snprintf(k->kid, sizeof k->kid, "%s", kid);
    k->alg = alg;
    k->from_jwks = from_jwks;
    k->verify_key = malloc(len + 1);
    if (!k->verify_key) return err_set(err, R3E_EINTERNAL, "out of memory");
    memcpy(k->verify_key, key, len);
    k->verify_key[len] = '\0';
    k->verify_len = len;
    j->nkeys++;
    return 0;
}

static const jwt_key_t *jwt_key_find(const auth_jwt_t *j, const char *kid) {
    for (size_t i = 0; i < j->nkeys; i++)
        if (strcmp(j->keys[i].kid, kid) == 0) return &j->keys[i];
    return NULL;
}

/* The server key of an algorithm (tokens without "kid" are checked only against these). */
static const jwt_key_t *jwt_key_server(const auth_jwt_t *j, jwt_alg_t alg) {
    for (size_t i = 0; i < j->nkeys; i++)
        if (!j->keys[i].from_jwks && j->keys[i].alg == alg) return &j->keys[i];
    return NULL;
}

/* --- EC keys (OpenSSL 3) --------------------------------------------------------------- */

static int jwt_no_passphrase(char *buf, int size, int rw, void *u) {
    (void)buf, (void)size, (void)rw, (void)u;
    return 0; /* never prompt on a terminal for an encrypted key */
}

static bool jwt_is_p256(EVP_PKEY *pk) {
    char group[64];
    size_t gl = 0;
    return EVP_PKEY_is_a(pk, "EC") &&
           EVP_PKEY_get_utf8_string_param(pk, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group,
                                          &gl) == 1 &&
           strcmp(group, "prime256v1") == 0;
}

/* Public key as PEM (malloc'ed) plus a kid derived from its DER encoding. */
static char *jwt_pubkey_pem(EVP_PKEY *pk, char kid[JWT_KID_MAX], size_t *len) {
    BIO *b = BIO_new(BIO_s_mem());
    char *out = NULL;
    if (b && PEM_write_bio_PUBKEY(b, pk) == 1) {
        char *data;
        long n = BIO_get_mem_data(b, &data);
        if (n > 0 && (out = malloc((size_t)n + 1))) {
            memcpy(out, data, (size_t)n);
            out[n] = '\0';
            *len = (size_t)n;
        }
    }
    BIO_free(b);
    unsigned char *der = NULL;
    int dl = out ? i2d_PUBKEY(pk, &der) : -1;
    if (dl <= 0) {
        free(out);
        return NULL;
    }
    char hex[65];
    util_sha256_hex(der, (size_t)dl, hex);
    OPENSSL_free(der);
    snprintf(kid, JWT_KID_MAX, "r3e-es-%.16s", hex);
    return out;
}

static int jwt_load_server_es(auth_jwt_t *j, const char *pem, err_t *err) {
    BIO *b = BIO_new_mem_buf(pem, -1);
    EVP_PKEY *pk = b ? PEM_read_bio_PrivateKey(b, NULL, jwt_no_passphrase, NULL) : NULL;
    BIO_free(b);
    if (!pk) return err_set(err, R3E_EINVAL, "jwt: cannot read the ES256 private key PEM");
    int rc = -1;
    char kid[JWT_KID_MAX];
    size_t len = 0;
    char *pub = NULL;
    if (!jwt_is_p256(pk)) {
        err_set(err, R3E_EINVAL, "jwt: the ES256 key must be an EC key on P-256");
    } else if (!(pub = jwt_pubkey_pem(pk, kid, &len))) {
        err_set(err, R3E_EINTERNAL, "jwt: cannot encode the public key");
    } else if (jwt_key_add(j, kid, JWT_ALG_ES256, pub, len, false, err) == 0) {
        j->sign_pem = strdup(pem);
        j->sign_idx = (int)j->nkeys - 1;
        rc = j->sign_pem ? 0 : err_set(err, R3E_EINTERNAL, "out of memory");
    }
    free(pub);
    EVP_PKEY_free(pk);
    return rc;
}

int auth_jwt_generate_es256(char **pem, err_t *err) {
    EVP_PKEY *pk = EVP_EC_gen("P-256");
    BIO *b = BIO_new(BIO_s_mem());
    int rc = -1;
    if (pk && b && PEM_write_bio_PrivateKey(b, pk, NULL, NULL, 0, NULL, NULL) == 1) {
        char *data;
        long n = BIO_get_mem_data(b, &data);
        if (n > 0 && (*pem = malloc((size_t)n + 1))) {
            memcpy(*pem, data, (size_t)n);
            (*pem)[n] = '\0';
            rc = 0;
        }
    }
    BIO_free(b);
    EVP_PKEY_free(pk);
    if (rc != 0) err_set(err, R3E_EINTERNAL, "jwt: cannot generate a P-256 key");
    return rc;
}

/* --- JWKS ------------------------------------------------------------------------------ */

/* x, y (32 bytes each) -> public key PEM, after checking the point is on P-256. */
static char *jwt_ec_point_pem(const unsigned char x[32], const unsigned char y[32], size_t *len,
                              err_t *err) {
    unsigned char pub[65];
    pub[0] = 0x04; /* uncompressed point */
    memcpy(pub + 1, x, 32);
    memcpy(pub + 33, y, 32);
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0),
        OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, pub, sizeof pub),
        OSSL_PARAM_construct_end(),
    };
    EVP_PKEY *pk = NULL;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    if (!ctx || EVP_PKEY_fromdata_init(ctx) != 1 ||
        EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_PUBLIC_KEY, params) != 1) {
        EVP_PKEY_CTX_free(ctx);
        err_set(err, R3E_EINVAL, "not a valid P-256 point");
        return NULL;
    }
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_CTX *cc = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL);
    bool ok = cc && EVP_PKEY_public_check(cc) == 1;
    EVP_PKEY_CTX_free(cc);
    char kid[JWT_KID_MAX];
    char *pem = ok ? jwt_pubkey_pem(pk, kid, len) : NULL;
    EVP_PKEY_free(pk);
    if (!pem) err_set(err, R3E_EINVAL, "not a valid P-256 point");
    return pem;
}

static int jwt_jwks_ec(auth_jwt_t *j, json_t *k, const char *kid, err_t *err) {
    const char *crv = json_string_value(json_object_get(k, "crv"));
    const char *xs = json_string_value(json_object_get(k, "x"));
    const char *ys = json_string_value(json_object_get(k, "y"));
    const char *alg = json_string_value(json_object_get(k, "alg"));
    if (!crv || strcmp(crv, "P-256") != 0)
        return err_set(err, R3E_EINVAL, "jwks key \"%s\": only crv P-256 is supported", kid);
    if (json_object_get(k, "alg") && (!alg || strcmp(alg, "ES256") != 0))
        return err_set(err, R3E_EINVAL, "jwks key \"%s\": EC P-256 keys are ES256", kid);
    unsigned char x[33], y[33];
    if (!xs || !ys || jwt_b64url_decode(xs, strlen(xs), x, sizeof x) != 32 ||
        jwt_b64url_decode(ys, strlen(ys), y, sizeof y) != 32)
        return err_set(err, R3E_EINVAL, "jwks key \"%s\": x and y must be 32-byte base64url", kid);
    size_t len;
    err_t e;
    char *pem = jwt_ec_point_pem(x, y, &len, &e);
    if (!pem) return err_set(err, R3E_EINVAL, "jwks key \"%s\": %s", kid, e.msg);
    int rc = jwt_key_add(j, kid, JWT_ALG_ES256, pem, len, true, err);
    free(pem);
    return rc;
}

static int jwt_jwks_oct(auth_jwt_t *j, json_t *k, const char *kid, err_t *err) {
    const char *ks = json_string_value(json_object_get(k, "k"));
    const char *alg = json_string_value(json_object_get(k, "alg"));
    if (json_object_get(k, "alg") && (!alg || strcmp(alg, "HS256") != 0))
        return err_set(err, R3E_EINVAL, "jwks key \"%s\": oct keys are accepted for HS256 only",
                       kid);
    unsigned char sec[512];
    long n = ks ? jwt_b64url_decode(ks, strlen(ks), sec, sizeof sec) : -1;
    if (n < JWT_HS_MIN)
        return err_set(err, R3E_EINVAL, "jwks key \"%s\": k must be >= %d bytes of base64url", kid,
                       JWT_HS_MIN);
    int rc = jwt_key_add(j, kid, JWT_ALG_HS256, sec, (size_t)n, true, err);
    sodium_memzero(sec, sizeof sec);
    return rc;
}

static int jwt_load_jwks(auth_jwt_t *j, const char *text, err_t *err) {
    json_error_t je;
    json_t *root = json_loads(text, JSON_REJECT_DUPLICATES, &je);
    json_t *keys = json_object_get(root, "keys");
    if (!json_is_array(keys)) {
        json_decref(root);
        return err_set(err, R3E_EINVAL, "jwks: expected {\"keys\":[...]}");
    }
    int rc = 0;
    size_t i;
    json_t *k;
    json_array_foreach(keys, i, k) {
        const char *kty = json_string_value(json_object_get(k, "kty"));
        const char *kid = json_string_value(json_object_get(k, "kid"));
        const char *use = json_string_value(json_object_get(k, "use"));
        if (!kty) {
            rc = err_set(err, R3E_EINVAL, "jwks: key %zu has no kty", i);
        } else if (strcmp(kty, "EC") != 0 && strcmp(kty, "oct") != 0) {
            continue; /* RSA, OKP…: not accepted here, skipped */
        } else if (!kid) {
            rc = err_set(err, R3E_EINVAL, "jwks: key %zu has no kid", i);
        } else if (use && strcmp(use, "sig") != 0) {
            continue; /* an encryption key is never a signature key */
        } else {
            rc =
                strcmp(kty, "EC") == 0 ? jwt_jwks_ec(j, k, kid, err) : jwt_jwks_oct(j, k, kid, err);
        }
        if (rc != 0) break;
    }
    json_decref(root);
    return rc;
}

/* --- lifecycle ------------------------------------------------------------------------- */

void auth_jwt_free(auth_jwt_t *j) {
    if (!j) return;
    for (size_t i = 0; i < j->nkeys; i++) {
        sodium_memzero(j->keys[i].verify_key, j->keys[i].verify_len);
        free(j->keys[i].verify_key);
    }
    free(j->keys);
    if (j->sign_pem) {
        sodium_memzero(j->sign_pem, strlen(j->sign_pem));
        free(j->sign_pem);
    }
    free(j->issuer);
    free(j->audience);
    free(j->jwks_issuer);
    free(j);
}

static int jwt_load_keys(auth_jwt_t *j, const auth_jwt_config_t *cfg, err_t *err) {
    if (cfg->es256_private_pem && jwt_load_server_es(j, cfg->es256_private_pem, err) != 0)
        return -1;
    if (cfg->hs256_secret) {
        if (cfg->hs256_secret_len < JWT_HS_MIN)
            return err_set(err, R3E_EINVAL, "jwt: the HS256 secret must be at least %d bytes",
                           JWT_HS_MIN);
        /* kid: a hash of a domain tag and the secret, so rotating the secret rotates it */
        crypto_generichash_state st;
        unsigned char h[16];
        crypto_generichash_init(&st, NULL, 0, sizeof h);
        crypto_generichash_update(&st, (const unsigned char *)"r3e-hs256-kid", 13);
        crypto_generichash_update(&st, cfg->hs256_secret, cfg->hs256_secret_len);
        crypto_generichash_final(&st, h, sizeof h);
        char hex[33], kid[JWT_KID_MAX];
        util_hex_encode(h, 8, hex);
        snprintf(kid, sizeof kid, "r3e-hs-%s", hex);
        if (jwt_key_add(j, kid, JWT_ALG_HS256, cfg->hs256_secret, cfg->hs256_secret_len, false,
                        err) != 0)
            return -1;
        if (j->sign_idx < 0) j->sign_idx = (int)j->nkeys - 1;
    }
    if (cfg->jwks_json && jwt_load_jwks(j, cfg->jwks_json, err) != 0) return -1;
    if (cfg->jwks_path) {
        size_t len;
        char *text = util_read_file(cfg->jwks_path, &len);
        if (!text) return err_set(err, R3E_EINVAL, "jwks: cannot read %s", cfg->jwks_path);
        int rc = jwt_load_jwks(j, text, err);
        free(text);
        if (rc != 0) return -1;
    }
    if (j->nkeys == 0) return err_set(err, R3E_EINVAL, "jwt: no key configured");
    return 0;
}

auth_jwt_t *auth_jwt_new(const auth_jwt_config_t *cfg, err_t *err) {
    if (!cfg || !cfg->issuer || !*cfg->issuer || !cfg->audience || !*cfg->audience) {
        err_set(err, R3E_EINVAL, "jwt: issuer and audience are required");
        return NULL;
    }
    if (sodium_init() < 0) {
        err_set(err, R3E_EINTERNAL, "libsodium failed to initialise");
        return NULL;
    }
    auth_jwt_t *j = calloc(1, sizeof *j);
    if (!j) {
        err_set(err, R3E_EINTERNAL, "out of memory");
        return NULL;
    }
    j->sign_idx = -1;
    j->ttl_s = cfg->ttl_s ? cfg->ttl_s : AUTH_JWT_DEFAULT_TTL_S;
    j->leeway_s = cfg->leeway_s < 0 ? AUTH_JWT_DEFAULT_LEEWAY_S : cfg->leeway_s;
    j->issuer = strdup(cfg->issuer);
    j->audience = strdup(cfg->audience);
    j->jwks_issuer = strdup(cfg->jwks_issuer ? cfg->jwks_issuer : cfg->issuer);
    if (!j->issuer || !j->audience || !j->jwks_issuer) {
        err_set(err, R3E_EINTERNAL, "out of memory");
        auth_jwt_free(j);
        return NULL;
    }
    if (jwt_load_keys(j, cfg, err) != 0) {
        auth_jwt_free(j);
        return NULL;
    }
    return j;
}

const char *auth_jwt_signing_kid(const auth_jwt_t *j) {
    return j->sign_idx >= 0 ? j->keys[j->sign_idx].kid : "";
}

/* --- issue ----------------------------------------------------------------------------- */

int auth_jwt_issue(const auth_jwt_t *j, const auth_principal_t *p, int64_t now_s, char **token,
                   err_t *err) {
    if (j->sign_idx < 0) return err_set(err, R3E_EINVAL, "jwt: no server signing key");
    if (!p || !p->id[0] || p->role == AUTH_ROLE_NONE || !auth_ns_valid(p->ns))
        return err_set(err, R3E_EINVAL, "jwt: incomplete principal");
    const jwt_key_t *k = &j->keys[j->sign_idx];
    const unsigned char *key =
        k->alg == JWT_ALG_ES256 ? (const unsigned char *)j->sign_pem : k->verify_key;
    size_t klen = k->alg == JWT_ALG_ES256 ? strlen(j->sign_pem) : k->verify_len;
    char jti[27];
    util_ulid(jti);
    jwt_t *t = NULL;
    int rc = jwt_new(&t);
    if (rc == 0) rc = jwt_add_header(t, "kid", k->kid);
    if (rc == 0) rc = jwt_add_grant(t, "iss", j->issuer);
    if (rc == 0) rc = jwt_add_grant(t, "aud", j->audience);
    if (rc == 0) rc = jwt_add_grant(t, "sub", p->id);
    if (rc == 0) rc = jwt_add_grant(t, "role", auth_role_name(p->role));
    if (rc == 0) rc = jwt_add_grant(t, "ns", p->ns);
    if (rc == 0) rc = jwt_add_grant(t, "jti", jti);
    if (rc == 0) rc = jwt_add_grant_int(t, "iat", (long)now_s);
    if (rc == 0) rc = jwt_add_grant_int(t, "nbf", (long)now_s);
    if (rc == 0) rc = jwt_add_grant_int(t, "exp", (long)(now_s + j->ttl_s));
    if (rc == 0) rc = jwt_set_alg(t, k->alg, key, (int)klen);
    char *s = rc == 0 ? jwt_encode_str(t) : NULL;
    jwt_free(t);
    if (!s) return err_set(err, R3E_EINTERNAL, "jwt: cannot encode the token");
    *token = s;
    return 0;
}

/* --- verify ---------------------------------------------------------------------------- */

#define JWT_DENY(...) err_set(err, R3E_EUNAUTH, __VA_ARGS__)

/* Shape check: three non-empty base64url segments. Sets the header segment. */
static int jwt_split(const char *tok, size_t *hlen, err_t *err) {
    size_t n = strlen(tok), dots = 0, seg = 0;
    if (n == 0 || n > AUTH_JWT_MAX_LEN) return JWT_DENY("malformed token");
    for (size_t i = 0; i < n; i++) {
        char c = tok[i];
        if (c == '.') {
            if (seg == 0) return JWT_DENY("malformed token");
            if (dots++ == 0) *hlen = i;
            seg = 0;
        } else if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                   c == '-' || c == '_') {
            seg++;
        } else {
            return JWT_DENY("malformed token");
        }
    }
    if (dots != 2 || seg == 0) return JWT_DENY("malformed token");
    return 0;
}

/* Parses the header ourselves and picks the key: the alg allow-list and the key choice
 * never depend on libjwt's reading of the token. */
static const jwt_key_t *jwt_pick_key(const auth_jwt_t *j, const char *tok, size_t hlen,
                                     err_t *err) {
    unsigned char hdr[JWT_HEADER_MAX + 1];
    long n = jwt_b64url_decode(tok, hlen, hdr, JWT_HEADER_MAX);
    if (n <= 0) {
        JWT_DENY("malformed token header");
        return NULL;
    }
    json_t *h = json_loadb((const char *)hdr, (size_t)n, JSON_REJECT_DUPLICATES, NULL);
    const char *alg = json_string_value(json_object_get(h, "alg"));
    const char *typ = json_string_value(json_object_get(h, "typ"));
    json_t *kidv = json_object_get(h, "kid");
    const jwt_key_t *k = NULL;
    jwt_alg_t want = JWT_ALG_INVAL;
    if (!json_is_object(h) || !alg) {
        JWT_DENY("malformed token header");
    } else if (strcmp(alg, "HS256") != 0 && strcmp(alg, "ES256") != 0) {
        JWT_DENY("token algorithm \"%.16s\" is not accepted", alg);
    } else if (json_object_get(h, "crit")) {
        JWT_DENY("token header has unsupported critical extensions");
    } else if (json_object_get(h, "typ") && (!typ || strcasecmp(typ, "JWT") != 0)) {
        JWT_DENY("token type is not JWT");
    } else if (kidv && !json_is_string(kidv)) {
        JWT_DENY("malformed token header");
    } else {
        want = strcmp(alg, "HS256") == 0 ? JWT_ALG_HS256 : JWT_ALG_ES256;
        k = kidv ? jwt_key_find(j, json_string_value(kidv)) : jwt_key_server(j, want);
        if (!k)
            JWT_DENY("token signed with an unknown key");
        else if (k->alg != want) {
            JWT_DENY("token algorithm %s does not match its key", alg);
            k = NULL;
        }
    }
    json_decref(h);
    return k;
}

static bool jwt_aud_ok(json_t *aud, const char *want) {
    if (json_is_string(aud)) return strcmp(json_string_value(aud), want) == 0;
    size_t i;
    json_t *v;
    if (!json_is_array(aud)) return false;
    json_array_foreach(aud, i, v) if (json_is_string(v) &&
                                      strcmp(json_string_value(v), want) == 0) return true;
    return false;
}

static int jwt_check_claims(const auth_jwt_t *j, const jwt_key_t *k, json_t *c, int64_t now,
                            auth_principal_t *p, err_t *err) {
    static const char *const need[] = {"iss", "aud", "sub", "role", "ns", "iat", "exp"};
    for (size_t i = 0; i < sizeof need / sizeof need[0]; i++)
        if (!json_object_get(c, need[i])) return JWT_DENY("token lacks the %s claim", need[i]);
    const char *iss = json_string_value(json_object_get(c, "iss"));
    const char *sub = json_string_value(json_object_get(c, "sub"));
    const char *role = json_string_value(json_object_get(c, "role"));
    const char *ns = json_string_value(json_object_get(c, "ns"));
    json_t *iat = json_object_get(c, "iat"), *exp = json_object_get(c, "exp");
    json_t *nbf = json_object_get(c, "nbf");
    if (!iss || strcmp(iss, k->from_jwks ? j->jwks_issuer : j->issuer) != 0)
        return JWT_DENY("token has the wrong issuer");
    if (!jwt_aud_ok(json_object_get(c, "aud"), j->audience))
        return JWT_DENY("token has the wrong audience");
    if (!json_is_integer(iat) || !json_is_integer(exp) || (nbf && !json_is_integer(nbf)))
        return JWT_DENY("token time claims must be integers");
    if (now >= json_integer_value(exp) + j->leeway_s) return JWT_DENY("token expired");
    if (nbf && now + j->leeway_s < json_integer_value(nbf)) return JWT_DENY("token not yet valid");
    if (now + j->leeway_s < json_integer_value(iat)) return JWT_DENY("token issued in the future");
    if (!sub || !*sub || strlen(sub) >= sizeof p->id) return JWT_DENY("token has a bad sub claim");
    auth_role_t r = auth_role_parse(role);
    if (r == AUTH_ROLE_NONE) return JWT_DENY("token has an unknown role");
    if (!auth_ns_valid(ns) || (strcmp(ns, AUTH_NS_ANY) == 0 && r != AUTH_ROLE_ADMIN))
        return JWT_DENY("token has a bad ns claim");
    memset(p, 0, sizeof *p);
    snprintf(p->id, sizeof p->id, "%s", sub);
    snprintf(p->ns, sizeof p->ns, "%s", ns);
    p->role = r;
    p->via_jwt = true;
    return 0;
}

int auth_jwt_verify(const auth_jwt_t *j, const char *token, int64_t now_s, auth_principal_t *p,
                    err_t *err) {
    size_t hlen = 0;
    if (!token) return JWT_DENY("missing token");
    if (jwt_split(token, &hlen, err) != 0) return -1;
    const jwt_key_t *k = jwt_pick_key(j, token, hlen, err);
    if (!k) return -1;
    jwt_t *t = NULL;
    if (jwt_decode(&t, token, k->verify_key, (int)k->verify_len) != 0 || !t) {
        jwt_free(t);
        return JWT_DENY("token signature is invalid");
    }
    if (jwt_get_alg(t) != k->alg) { /* belt and braces: libjwt read the same alg we did */
        jwt_free(t);
        return JWT_DENY("token algorithm does not match its key");
    }
    char *claims = jwt_get_grants_json(t, NULL);
    jwt_free(t);
    json_t *c = claims ? json_loads(claims, JSON_REJECT_DUPLICATES, NULL) : NULL;
    free(claims);
    int rc = json_is_object(c) ? jwt_check_claims(j, k, c, now_s, p, err)
                               : JWT_DENY("malformed token claims");
    json_decref(c);
    return rc;
}
