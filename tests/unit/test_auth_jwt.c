/* JWT issue/verify with real tokens. Tokens under attack are built by hand here with
 * OpenSSL (HMAC, ECDSA + DER->raw conversion), not with libjwt, so the tests check the
 * verifier against the JOSE formats themselves and cover tokens libjwt would refuse to
 * produce (alg "none", algorithm confusion). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "auth/jwt.h"

#include <jwt.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ISS "https://r3e.test"
#define AUD "r3e-api"
#define EXT_ISS "https://idp.example"
#define NOW 1790000000LL

static const unsigned char HS_SECRET[] = "0123456789abcdef0123456789abcdef-server";

/* --- token building ---------------------------------------------------------------------- */

static char *b64url(const void *data, size_t n) {
    size_t cap = sodium_base64_encoded_len(n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    char *out = malloc(cap);
    sodium_bin2base64(out, cap, data, n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    return out;
}

/* "b64(header).b64(payload)" */
static char *signing_input(const char *header, const char *payload) {
    char *h = b64url(header, strlen(header)), *p = b64url(payload, strlen(payload));
    size_t n = strlen(h) + strlen(p) + 2;
    char *s = malloc(n);
    snprintf(s, n, "%s.%s", h, p);
    free(h);
    free(p);
    return s;
}

static char *join(const char *input, const unsigned char *sig, size_t siglen) {
    char *sb = siglen ? b64url(sig, siglen) : strdup("");
    size_t n = strlen(input) + strlen(sb) + 2;
    char *t = malloc(n);
    snprintf(t, n, "%s.%s", input, sb);
    free(sb);
    return t;
}

static char *make_hs256(const char *header, const char *payload, const void *key, size_t klen) {
    char *in = signing_input(header, payload);
    unsigned char mac[32];
    unsigned int ml = 0;
    HMAC(EVP_sha256(), key, (int)klen, (const unsigned char *)in, strlen(in), mac, &ml);
    char *t = join(in, mac, ml);
    free(in);
    return t;
}

/* ECDSA P-256 over SHA-256, signature as JOSE wants it: r || s, 32 bytes each. */
static char *make_es256(const char *header, const char *payload, EVP_PKEY *key) {
    char *in = signing_input(header, payload);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned char der[128];
    size_t dl = sizeof der;
    assert_int_equal(EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key), 1);
    assert_int_equal(EVP_DigestSign(md, der, &dl, (const unsigned char *)in, strlen(in)), 1);
    EVP_MD_CTX_free(md);
    const unsigned char *p = der;
    ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)dl);
    unsigned char raw[64];
    BN_bn2binpad(ECDSA_SIG_get0_r(es), raw, 32);
    BN_bn2binpad(ECDSA_SIG_get0_s(es), raw + 32, 32);
    ECDSA_SIG_free(es);
    char *t = join(in, raw, 64);
    free(in);
    return t;
}

static char *claims(const char *iss, const char *aud_json, long long iat, long long nbf,
                    long long exp) {
    char *s = malloc(512);
    snprintf(s, 512,
             "{\"iss\":\"%s\",\"aud\":%s,\"sub\":\"abcdefghijkl\",\"role\":\"developer\","
             "\"ns\":\"team-a\",\"iat\":%lld,\"nbf\":%lld,\"exp\":%lld,\"jti\":\"j1\"}",
             iss, aud_json, iat, nbf, exp);
    return s;
}

static char *good_claims(void) {
    return claims(ISS, "\"" AUD "\"", NOW, NOW, NOW + 600);
}

/* --- keys ------------------------------------------------------------------------------ */

static char *pubkey_pem(EVP_PKEY *k) {
    BIO *b = BIO_new(BIO_s_mem());
    PEM_write_bio_PUBKEY(b, k);
    char *d;
    long n = BIO_get_mem_data(b, &d);
    char *s = strndup(d, (size_t)n);
    BIO_free(b);
    return s;
}

static char *privkey_pem(EVP_PKEY *k) {
    BIO *b = BIO_new(BIO_s_mem());
    PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL);
    char *d;
    long n = BIO_get_mem_data(b, &d);
    char *s = strndup(d, (size_t)n);
    BIO_free(b);
    return s;
}

/* {"kty":"EC","crv":"P-256","kid":kid,"x":…,"y":…} for k's public point. */
static char *jwk_ec(EVP_PKEY *k, const char *kid) {
    unsigned char pt[65];
    size_t pl = 0;
    assert_int_equal(
        EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_PUB_KEY, pt, sizeof pt, &pl), 1);
    assert_int_equal(pl, 65);
    char *x = b64url(pt + 1, 32), *y = b64url(pt + 33, 32);
    char *s = malloc(512);
    snprintf(s, 512,
             "{\"kty\":\"EC\",\"crv\":\"P-256\",\"use\":\"sig\",\"alg\":\"ES256\",\"kid\":\"%s\","
             "\"x\":\"%s\",\"y\":\"%s\"}",
             kid, x, y);
    free(x);
    free(y);
    return s;
}

typedef struct {
    EVP_PKEY *server_es; /* the server's signing key */
    EVP_PKEY *ext_es;    /* an external issuer's key, trusted through the JWKS */
    EVP_PKEY *stranger;  /* trusted by nobody */
    char *server_pem;
    char *jwks;
    auth_jwt_t *j; /* server ES256 + HS256 + JWKS (ext-ec, ext-oct) */
} fx_t;

static const char EXT_OCT[] = "an-external-hmac-key-of-32-bytes+"; /* 33 bytes */

static int setup(void **state) {
    fx_t *fx = calloc(1, sizeof *fx);
    fx->server_es = EVP_EC_gen("P-256");
    fx->ext_es = EVP_EC_gen("P-256");
    fx->stranger = EVP_EC_gen("P-256");
    fx->server_pem = privkey_pem(fx->server_es);
    char *ec = jwk_ec(fx->ext_es, "ext-ec");
    char *k = b64url(EXT_OCT, strlen(EXT_OCT));
    fx->jwks = malloc(2048);
    snprintf(fx->jwks, 2048,
             "{\"keys\":[%s,{\"kty\":\"oct\",\"kid\":\"ext-oct\",\"alg\":\"HS256\",\"k\":\"%s\"},"
             "{\"kty\":\"RSA\",\"kid\":\"rsa-skipped\",\"n\":\"AQAB\",\"e\":\"AQAB\"}]}",
             ec, k);
    free(ec);
    free(k);
    err_t err;
    auth_jwt_config_t cfg = {.issuer = ISS,
                             .audience = AUD,
                             .leeway_s = -1,
                             .hs256_secret = HS_SECRET,
                             .hs256_secret_len = sizeof HS_SECRET - 1,
                             .es256_private_pem = fx->server_pem,
                             .jwks_json = fx->jwks,
                             .jwks_issuer = EXT_ISS};
    fx->j = auth_jwt_new(&cfg, &err);
    if (!fx->j) {
        fprintf(stderr, "auth_jwt_new: %s\n", err.msg);
        return -1;
    }
    *state = fx;
    return 0;
}

static int teardown(void **state) {
    fx_t *fx = *state;
    auth_jwt_free(fx->j);
    EVP_PKEY_free(fx->server_es);
    EVP_PKEY_free(fx->ext_es);
    EVP_PKEY_free(fx->stranger);
    free(fx->server_pem);
    free(fx->jwks);
    free(fx);
    return 0;
}

static void expect_accept(const auth_jwt_t *j, const char *tok, int64_t now) {
    err_t err;
    auth_principal_t p;
    if (auth_jwt_verify(j, tok, now, &p, &err) != 0) fail_msg("rejected: %s", err.msg);
}

static void expect_reject(const auth_jwt_t *j, const char *tok, int64_t now, const char *why) {
    err_t err;
    auth_principal_t p;
    if (auth_jwt_verify(j, tok, now, &p, &err) == 0) fail_msg("accepted a token that %s", why);
    assert_int_equal(err.code, R3E_EUNAUTH);
}

static char *es_header(const char *kid) {
    char *h = malloc(128);
    snprintf(h, 128, "{\"alg\":\"ES256\",\"typ\":\"JWT\",\"kid\":\"%s\"}", kid);
    return h;
}

/* --- tests ----------------------------------------------------------------------------- */

static void issued_es256_token_verifies_with_all_claims(void **state) {
    fx_t *fx = *state;
    err_t err;
    auth_principal_t in = {.id = "abcdefghijkl", .role = AUTH_ROLE_INVOKER, .ns = "team-a"}, out;
    char *tok;
    assert_int_equal(auth_jwt_issue(fx->j, &in, NOW, &tok, &err), 0);
    assert_int_equal(auth_jwt_verify(fx->j, tok, NOW + 10, &out, &err), 0);
    assert_string_equal(out.id, "abcdefghijkl");
    assert_string_equal(out.ns, "team-a");
    assert_int_equal(out.role, AUTH_ROLE_INVOKER);
    assert_true(out.via_jwt);
    /* header and claims as documented */
    jwt_t *t;
    char *pub = pubkey_pem(fx->server_es);
    assert_int_equal(jwt_decode(&t, tok, (const unsigned char *)pub, (int)strlen(pub)), 0);
    free(pub);
    assert_int_equal(jwt_get_alg(t), JWT_ALG_ES256);
    assert_string_equal(jwt_get_header(t, "kid"), auth_jwt_signing_kid(fx->j));
    assert_string_equal(jwt_get_grant(t, "iss"), ISS);
    assert_string_equal(jwt_get_grant(t, "aud"), AUD);
    assert_string_equal(jwt_get_grant(t, "role"), "invoker");
    assert_int_equal(jwt_get_grant_int(t, "iat"), NOW);
    assert_int_equal(jwt_get_grant_int(t, "nbf"), NOW);
    assert_int_equal(jwt_get_grant_int(t, "exp"), NOW + AUTH_JWT_DEFAULT_TTL_S);
    assert_int_equal(strlen(jwt_get_grant(t, "jti")), 26);
    jwt_free(t);
    /* and it expires after ttl + leeway */
    assert_int_equal(auth_jwt_verify(fx->j, tok, NOW + 900 + 61, &out, &err), -1);
    assert_int_equal(err.code, R3E_EUNAUTH);
    free(tok);
}

static void issued_hs256_token_verifies(void **state) {
    (void)state;
    err_t err;
    auth_jwt_config_t cfg = {.issuer = ISS,
                             .audience = AUD,
                             .ttl_s = 60,
                             .leeway_s = 0,
                             .hs256_secret = HS_SECRET,
                             .hs256_secret_len = sizeof HS_SECRET - 1};
    auth_jwt_t *j = auth_jwt_new(&cfg, &err);
    assert_non_null(j);
    auth_principal_t in = {.id = "k1", .role = AUTH_ROLE_ADMIN, .ns = "*"}, out;
    char *tok;
    assert_int_equal(auth_jwt_issue(j, &in, NOW, &tok, &err), 0);
    assert_int_equal(auth_jwt_verify(j, tok, NOW + 59, &out, &err), 0);
    assert_string_equal(out.ns, "*");
    assert_int_equal(auth_jwt_verify(j, tok, NOW + 60, &out, &err), -1); /* no leeway */
    free(tok);
    auth_jwt_free(j);
}

static void hand_built_es256_token_from_jwks_key_verifies(void **state) {
    fx_t *fx = *state;
    char *c = claims(EXT_ISS, "[\"other\",\"" AUD "\"]", NOW, NOW, NOW + 300);
    char *h = es_header("ext-ec");
    char *tok = make_es256(h, c, fx->ext_es);
    expect_accept(fx->j, tok, NOW);
    free(tok);
    /* the external issuer must use its own iss */
    char *c2 = good_claims();
    tok = make_es256(h, c2, fx->ext_es);
    expect_reject(fx->j, tok, NOW, "carries the server's iss under an external key");
    free(tok);
    free(c2);
    free(h);
    free(c);
}

static void hand_built_hs256_token_from_jwks_oct_key_verifies(void **state) {
    fx_t *fx = *state;
    char *c = claims(EXT_ISS, "\"" AUD "\"", NOW, NOW, NOW + 300);
    char *tok = make_hs256("{\"alg\":\"HS256\",\"kid\":\"ext-oct\"}", c, EXT_OCT, strlen(EXT_OCT));
    expect_accept(fx->j, tok, NOW);
    free(tok);
    free(c);
}

static void hand_built_server_tokens_without_kid_use_the_server_key(void **state) {
    fx_t *fx = *state;
    char *c = good_claims();
    char *tok =
        make_hs256("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", c, HS_SECRET, sizeof HS_SECRET - 1);
    expect_accept(fx->j, tok, NOW);
    free(tok);
    tok = make_es256("{\"alg\":\"ES256\"}", c, fx->server_es);
    expect_accept(fx->j, tok, NOW);
    free(tok);
    /* a JWKS key is never chosen without a kid */
    char *ce = claims(EXT_ISS, "\"" AUD "\"", NOW, NOW, NOW + 300);
    tok = make_es256("{\"alg\":\"ES256\"}", ce, fx->ext_es);
    expect_reject(fx->j, tok, NOW, "names no kid but is signed by a JWKS key");
    free(tok);
    free(ce);
    free(c);
}

static void alg_none_is_rejected(void **state) {
    fx_t *fx = *state;
    char *c = good_claims();
    const char *headers[] = {"{\"alg\":\"none\",\"typ\":\"JWT\"}",
                             "{\"alg\":\"None\"}",
                             "{\"alg\":\"NONE\"}",
                             "{\"alg\":\"\"}",
                             "{\"typ\":\"JWT\"}",
                             "{\"alg\":null}"};
    for (size_t i = 0; i < sizeof headers / sizeof headers[0]; i++) {
        char *in = signing_input(headers[i], c);
        char *unsigned_tok = join(in, NULL, 0); /* "h.p." */
        expect_reject(fx->j, unsigned_tok, NOW, "is unsigned");
        /* and with some signature bytes attached */
        char *with_sig = join(in, (const unsigned char *)"sig", 3);
        expect_reject(fx->j, with_sig, NOW, "claims alg none");
        free(unsigned_tok);
        free(with_sig);
        free(in);
    }
    /* a duplicate alg must not let "none" (or anything) slip past the allow-list */
    char *dup =
        make_hs256("{\"alg\":\"HS256\",\"alg\":\"none\"}", c, HS_SECRET, sizeof HS_SECRET - 1);
    expect_reject(fx->j, dup, NOW, "has two alg members");
    free(dup);
    free(c);
}

static void other_algorithms_are_rejected(void **state) {
    fx_t *fx = *state;
    char *c = good_claims();
    const char *algs[] = {"HS384", "HS512", "RS256", "ES384", "ES512", "PS256", "EdDSA", "hs256"};
    for (size_t i = 0; i < sizeof algs / sizeof algs[0]; i++) {
        char h[64];
        snprintf(h, sizeof h, "{\"alg\":\"%s\"}", algs[i]);
        char *tok = make_hs256(h, c, HS_SECRET, sizeof HS_SECRET - 1);
        expect_reject(fx->j, tok, NOW, "uses a forbidden alg");
        free(tok);
    }
    free(c);
}

/* The classic confusion: an HS256 token whose HMAC key is the server's ES256 public key
 * (which is public). libjwt on its own accepts it when handed that PEM as "the key" —
 * the verifier's own key choice is what stops it. */
static void hs256_signed_with_es256_public_key_is_rejected(void **state) {
    fx_t *fx = *state;
    char *c = good_claims();
    char *pub = pubkey_pem(fx->server_es);
    char h[160];
    snprintf(h, sizeof h, "{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"%s\"}",
             auth_jwt_signing_kid(fx->j));
    char *tok = make_hs256(h, c, pub, strlen(pub));

    jwt_t *t = NULL;
    int lib = jwt_decode(&t, tok, (const unsigned char *)pub, (int)strlen(pub));
    jwt_free(t);
    if (lib != 0) print_message("note: libjwt itself also refuses this token (%d)\n", lib);

    expect_reject(fx->j, tok, NOW, "is HS256 under an ES256 key id");
    free(tok);
    /* without kid: checked against the HS256 server secret, so the signature fails */
    tok = make_hs256("{\"alg\":\"HS256\"}", c, pub, strlen(pub));
    expect_reject(fx->j, tok, NOW, "is HMAC'd with the public key");
    free(tok);
    /* same against an external JWKS EC key */
    char *ce = claims(EXT_ISS, "\"" AUD "\"", NOW, NOW, NOW + 300);
    char *extpub = pubkey_pem(fx->ext_es);
    tok = make_hs256("{\"alg\":\"HS256\",\"kid\":\"ext-ec\"}", ce, extpub, strlen(extpub));
    expect_reject(fx->j, tok, NOW, "is HS256 under a JWKS EC key id");
    free(tok);
    /* and the reverse: ES256 naming the HMAC key */
    tok = make_es256("{\"alg\":\"ES256\",\"kid\":\"ext-oct\"}", ce, fx->ext_es);
    expect_reject(fx->j, tok, NOW, "is ES256 under an oct key id");
    free(tok);
    free(extpub);
    free(ce);
    free(pub);
    free(c);
}

static void es_only_server_rejects_hs256_tokens_outright(void **state) {
    fx_t *fx = *state;
    err_t err;
    auth_jwt_config_t cfg = {
        .issuer = ISS, .audience = AUD, .leeway_s = -1, .es256_private_pem = fx->server_pem};
    auth_jwt_t *j = auth_jwt_new(&cfg, &err);
    assert_non_null(j);
    char *c = good_claims();
    char *pub = pubkey_pem(fx->server_es);
    char *tok = make_hs256("{\"alg\":\"HS256\"}", c, pub, strlen(pub));
    expect_reject(j, tok, NOW, "is HS256 on a server without an HS256 key");
    free(tok);
    free(pub);
    free(c);
    auth_jwt_free(j);
}

static void bad_signatures_are_rejected(void **state) {
    fx_t *fx = *state;
    char *c = good_claims();
    /* HS256 with another secret */
    char *tok = make_hs256("{\"alg\":\"HS256\"}", c, "another-secret-another-secret-xx", 32);
    expect_reject(fx->j, tok, NOW, "has a wrong HMAC");
    free(tok);
    /* ES256 by a key nobody trusts, under a trusted kid */
    char *h = es_header(auth_jwt_signing_kid(fx->j));
    tok = make_es256(h, c, fx->stranger);
    expect_reject(fx->j, tok, NOW, "is signed by a stranger");
    free(tok);
    /* a valid token with one signature character changed, and with a changed payload */
    tok = make_es256(h, c, fx->server_es);
    expect_accept(fx->j, tok, NOW);
    size_t n = strlen(tok);
    tok[n - 5] = tok[n - 5] == 'A' ? 'B' : 'A';
    expect_reject(fx->j, tok, NOW, "has a flipped signature bit");
    free(tok);
    char *in = signing_input(h, c);
    char *other = claims(ISS, "\"" AUD "\"", NOW, NOW, NOW + 99999);
    char *tampered_in = signing_input(h, other);
    tok = make_es256(h, c, fx->server_es);
    char *sig = strrchr(tok, '.');
    size_t tn = strlen(tampered_in) + strlen(sig) + 1;
    char *tampered = malloc(tn);
    snprintf(tampered, tn, "%s%s", tampered_in, sig);
    expect_reject(fx->j, tampered, NOW, "has a payload the signature does not cover");
    free(tampered);
    free(tampered_in);
    free(other);
    free(in);
    free(tok);
    /* an unknown kid */
    tok = make_hs256("{\"alg\":\"HS256\",\"kid\":\"nobody\"}", c, HS_SECRET, sizeof HS_SECRET - 1);
    expect_reject(fx->j, tok, NOW, "names an unknown kid");
    free(tok);
    free(h);
    free(c);
}

static char *server_hs(const char *claims_json) {
    return make_hs256("{\"alg\":\"HS256\"}", claims_json, HS_SECRET, sizeof HS_SECRET - 1);
}

static void expiry_and_not_before_honour_60s_leeway(void **state) {
    fx_t *fx = *state;
    struct {
        long long iat, nbf, exp;
        bool ok;
        const char *why;
    } cases[] = {
        {NOW - 700, NOW - 700, NOW - 61, false, "expired 61 s ago"},
        {NOW - 700, NOW - 700, NOW - 59, true, "expired 59 s ago (leeway)"},
        {NOW, NOW + 61, NOW + 600, false, "becomes valid in 61 s"},
        {NOW, NOW + 59, NOW + 600, true, "becomes valid in 59 s (leeway)"},
        {NOW + 120, NOW, NOW + 600, false, "was issued 2 minutes in the future"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *c = claims(ISS, "\"" AUD "\"", cases[i].iat, cases[i].nbf, cases[i].exp);
        char *tok = server_hs(c);
        if (cases[i].ok)
            expect_accept(fx->j, tok, NOW);
        else
            expect_reject(fx->j, tok, NOW, cases[i].why);
        free(tok);
        free(c);
    }
}

static void wrong_issuer_or_audience_is_rejected(void **state) {
    fx_t *fx = *state;
    const char *bad[][2] = {
        {"https://evil.example", "\"" AUD "\""},
        {EXT_ISS, "\"" AUD "\""}, /* the external issuer under the server key */
        {ISS, "\"other-api\""},
        {ISS, "[\"other-api\"]"},
        {ISS, "[]"},
        {ISS, "42"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *c = claims(bad[i][0], bad[i][1], NOW, NOW, NOW + 600);
        char *tok = server_hs(c);
        expect_reject(fx->j, tok, NOW, "has a wrong iss or aud");
        free(tok);
        free(c);
    }
}

static void missing_or_mistyped_claims_are_rejected(void **state) {
    fx_t *fx = *state;
    const char *base = "\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"sub\":\"k\",\"role\":\"viewer\","
                       "\"ns\":\"default\",\"iat\":1790000000,\"exp\":1790000600";
    /* the base itself is fine (nbf and jti are optional) */
    char buf[512];
    snprintf(buf, sizeof buf, "{%s}", base);
    char *tok = server_hs(buf);
    expect_accept(fx->j, tok, NOW);
    free(tok);
    const char *omit[] = {"\"iss\"", "\"aud\"", "\"sub\"", "\"role\"",
                          "\"ns\"",  "\"iat\"", "\"exp\""};
    for (size_t i = 0; i < sizeof omit / sizeof omit[0]; i++) {
        /* rename the claim so it is missing */
        snprintf(buf, sizeof buf, "{%s}", base);
        char *at = strstr(buf, omit[i]);
        at[1] = 'X';
        tok = server_hs(buf);
        expect_reject(fx->j, tok, NOW, "lacks a required claim");
        free(tok);
    }
    const char *mistyped[] = {
        "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"sub\":\"k\",\"role\":\"viewer\",\"ns\":"
        "\"default\",\"iat\":1790000000,\"exp\":\"1790000600\"}",
        "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"sub\":\"k\",\"role\":\"viewer\",\"ns\":"
        "\"default\",\"iat\":1790000000,\"exp\":1790000600.5}",
        "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"sub\":\"\",\"role\":\"viewer\",\"ns\":"
        "\"default\",\"iat\":1790000000,\"exp\":1790000600}",
        "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"sub\":\"k\",\"role\":\"root\",\"ns\":"
        "\"default\",\"iat\":1790000000,\"exp\":1790000600}",
        "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"sub\":\"k\",\"role\":\"developer\",\"ns\":"
        "\"*\",\"iat\":1790000000,\"exp\":1790000600}",
        "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"sub\":\"k\",\"role\":\"viewer\",\"ns\":"
        "\"Bad NS\",\"iat\":1790000000,\"exp\":1790000600}",
        "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"sub\":\"k\",\"role\":\"viewer\",\"ns\":"
        "\"default\",\"iat\":1790000000,\"exp\":1790000600,\"nbf\":\"0\"}",
        "[1,2,3]",
    };
    for (size_t i = 0; i < sizeof mistyped / sizeof mistyped[0]; i++) {
        tok = server_hs(mistyped[i]);
        expect_reject(fx->j, tok, NOW, "has a mistyped claim");
        free(tok);
    }
}

static void malformed_tokens_are_rejected(void **state) {
    fx_t *fx = *state;
    char *c = good_claims();
    char *good = server_hs(c);
    expect_accept(fx->j, good, NOW);
    char buf[4096];
    const char *bad[] = {"", ".", "..", "a.b", "a.b.c.d", "a..c", ".b.c", "a.b.", "a b.c.d"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        expect_reject(fx->j, bad[i], NOW, "is malformed");
    expect_reject(fx->j, NULL, NOW, "is NULL");
    /* padding, standard-base64 characters, whitespace, a trailing dot */
    snprintf(buf, sizeof buf, "%s=", good);
    expect_reject(fx->j, buf, NOW, "has padding");
    snprintf(buf, sizeof buf, " %s", good);
    expect_reject(fx->j, buf, NOW, "has whitespace");
    snprintf(buf, sizeof buf, "%s.", good);
    expect_reject(fx->j, buf, NOW, "has four segments");
    snprintf(buf, sizeof buf, "%s", good);
    buf[3] = '+';
    expect_reject(fx->j, buf, NOW, "uses the standard alphabet");
    /* headers that are not a JSON object, kid not a string, crit, foreign typ */
    const char *headers[] = {"not json",
                             "[\"HS256\"]",
                             "{\"alg\":\"HS256\",\"kid\":7}",
                             "{\"alg\":\"HS256\",\"crit\":[\"b64\"],\"b64\":false}",
                             "{\"alg\":\"HS256\",\"typ\":\"JWE\"}",
                             "{\"alg\":\"HS256\""};
    for (size_t i = 0; i < sizeof headers / sizeof headers[0]; i++) {
        char *tok = make_hs256(headers[i], c, HS_SECRET, sizeof HS_SECRET - 1);
        expect_reject(fx->j, tok, NOW, "has a bad header");
        free(tok);
    }
    /* an oversized token */
    char *huge = malloc(AUTH_JWT_MAX_LEN + 64);
    memset(huge, 'A', AUTH_JWT_MAX_LEN + 10);
    huge[10] = '.';
    huge[20] = '.';
    huge[AUTH_JWT_MAX_LEN + 10] = '\0';
    expect_reject(fx->j, huge, NOW, "is oversized");
    free(huge);
    free(good);
    free(c);
}

static void bad_configurations_are_refused(void **state) {
    fx_t *fx = *state;
    err_t err;
    auth_jwt_config_t cfg = {.issuer = ISS, .audience = AUD};
    assert_null(auth_jwt_new(&cfg, &err)); /* no key */
    assert_int_equal(err.code, R3E_EINVAL);
    cfg.hs256_secret = (const unsigned char *)"short";
    cfg.hs256_secret_len = 5;
    assert_null(auth_jwt_new(&cfg, &err));
    cfg = (auth_jwt_config_t){.audience = AUD, .hs256_secret = HS_SECRET, .hs256_secret_len = 32};
    assert_null(auth_jwt_new(&cfg, &err)); /* no issuer */
    /* an ES key on the wrong curve */
    EVP_PKEY *p384 = EVP_EC_gen("P-384");
    char *pem = privkey_pem(p384);
    cfg = (auth_jwt_config_t){.issuer = ISS, .audience = AUD, .es256_private_pem = pem};
    assert_null(auth_jwt_new(&cfg, &err));
    assert_non_null(strstr(err.msg, "P-256"));
    free(pem);
    EVP_PKEY_free(p384);
    cfg.es256_private_pem = "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n";
    assert_null(auth_jwt_new(&cfg, &err));

    /* JWKS problems */
    char *ec = jwk_ec(fx->ext_es, "dup");
    char jwks[2048];
    const char *bad_jwks[] = {
        "not json",
        "{\"keys\":{}}",
        "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-384\",\"kid\":\"a\",\"x\":\"AA\",\"y\":\"AA\"}]}",
        "{\"keys\":[{\"kty\":\"oct\",\"kid\":\"a\",\"k\":\"c2hvcnQ\"}]}",
        "{\"keys\":[{\"kty\":\"oct\",\"k\":\"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY\"}]}",
        "{\"keys\":[{\"kty\":\"oct\",\"kid\":\"a\",\"alg\":\"HS512\","
        "\"k\":\"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY\"}]}",
        /* x, y of right length but not a point on the curve */
        "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"a\","
        "\"x\":\"AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE\","
        "\"y\":\"AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE\"}]}",
    };
    for (size_t i = 0; i < sizeof bad_jwks / sizeof bad_jwks[0]; i++) {
        cfg = (auth_jwt_config_t){.issuer = ISS, .audience = AUD, .jwks_json = bad_jwks[i]};
        if (auth_jwt_new(&cfg, &err)) fail_msg("accepted JWKS %zu", i);
        assert_int_equal(err.code, R3E_EINVAL);
    }
    snprintf(jwks, sizeof jwks, "{\"keys\":[%s,%s]}", ec, ec);
    cfg.jwks_json = jwks;
    assert_null(auth_jwt_new(&cfg, &err));
    assert_non_null(strstr(err.msg, "duplicate"));
    free(ec);
}

static void jwks_file_is_loaded_from_a_path(void **state) {
    fx_t *fx = *state;
    char path[] = "/tmp/r3e-jwks-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, fx->jwks, strlen(fx->jwks)), (ssize_t)strlen(fx->jwks));
    close(fd);
    err_t err;
    auth_jwt_config_t cfg = {
        .issuer = ISS, .audience = AUD, .leeway_s = -1, .jwks_path = path, .jwks_issuer = EXT_ISS};
    auth_jwt_t *j = auth_jwt_new(&cfg, &err);
    unlink(path);
    assert_non_null(j);
    char *c = claims(EXT_ISS, "\"" AUD "\"", NOW, NOW, NOW + 300);
    char *h = es_header("ext-ec");
    char *tok = make_es256(h, c, fx->ext_es);
    expect_accept(j, tok, NOW);
    /* verify-only: this server cannot issue */
    auth_principal_t p = {.id = "k", .role = AUTH_ROLE_VIEWER, .ns = "default"};
    char *issued;
    assert_int_equal(auth_jwt_issue(j, &p, NOW, &issued, &err), -1);
    assert_int_equal(err.code, R3E_EINVAL);
    free(tok);
    free(h);
    free(c);
    auth_jwt_free(j);
    cfg.jwks_path = "/nonexistent/jwks.json";
    assert_null(auth_jwt_new(&cfg, &err));
}

static void generated_server_key_signs_tokens_it_verifies(void **state) {
    (void)state;
    err_t err;
    char *pem;
    assert_int_equal(auth_jwt_generate_es256(&pem, &err), 0);
    assert_non_null(strstr(pem, "BEGIN PRIVATE KEY"));
    auth_jwt_config_t cfg = {
        .issuer = ISS, .audience = AUD, .leeway_s = -1, .es256_private_pem = pem};
    auth_jwt_t *j = auth_jwt_new(&cfg, &err);
    assert_non_null(j);
    assert_memory_equal(auth_jwt_signing_kid(j), "r3e-es-", 7);
    auth_principal_t in = {.id = "k", .role = AUTH_ROLE_VIEWER, .ns = "default"}, out;
    char *tok;
    assert_int_equal(auth_jwt_issue(j, &in, NOW, &tok, &err), 0);
    assert_int_equal(auth_jwt_verify(j, tok, NOW, &out, &err), 0);
    /* incomplete principals are not issued tokens */
    auth_principal_t bad = {.id = "", .role = AUTH_ROLE_VIEWER, .ns = "default"};
    char *t2;
    assert_int_equal(auth_jwt_issue(j, &bad, NOW, &t2, &err), -1);
    free(tok);
    free(pem);
    auth_jwt_free(j);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(issued_es256_token_verifies_with_all_claims, setup,
                                        teardown),
        cmocka_unit_test(issued_hs256_token_verifies),
        cmocka_unit_test_setup_teardown(hand_built_es256_token_from_jwks_key_verifies, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(hand_built_hs256_token_from_jwks_oct_key_verifies, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(hand_built_server_tokens_without_kid_use_the_server_key,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(alg_none_is_rejected, setup, teardown),
        cmocka_unit_test_setup_teardown(other_algorithms_are_rejected, setup, teardown),
        cmocka_unit_test_setup_teardown(hs256_signed_with_es256_public_key_is_rejected, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(es_only_server_rejects_hs256_tokens_outright, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(bad_signatures_are_rejected, setup, teardown),
        cmocka_unit_test_setup_teardown(expiry_and_not_before_honour_60s_leeway, setup, teardown),
        cmocka_unit_test_setup_teardown(wrong_issuer_or_audience_is_rejected, setup, teardown),
        cmocka_unit_test_setup_teardown(missing_or_mistyped_claims_are_rejected, setup, teardown),
        cmocka_unit_test_setup_teardown(malformed_tokens_are_rejected, setup, teardown),
        cmocka_unit_test_setup_teardown(bad_configurations_are_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(jwks_file_is_loaded_from_a_path, setup, teardown),
        cmocka_unit_test(generated_server_key_signs_tokens_it_verifies),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
