/* JWT bearer tokens (RFC 7519, JWS compact form) on top of libjwt 1.10.
 *
 * Issuing: auth_jwt_issue() turns an authenticated principal (normally an API key, via
 * POST /v1/auth/token) into a short-lived token signed with the server key — ES256 when a
 * server P-256 key is configured, else HS256 with the server secret. Header: alg, typ,
 * kid. Claims: iss, aud, sub (key id), role, ns, iat, nbf, exp, jti (a ULID).
 *
 * Verifying: auth_jwt_verify() accepts a token only when all of these hold:
 *   - compact form: three non-empty base64url segments, at most 8 KiB;
 *   - the header (parsed here, before libjwt sees the token) is a JSON object whose "alg"
 *     is "HS256" or "ES256" — never "none" or anything else — without "crit";
 *   - the key is chosen by the verifier: by "kid" among the configured keys (server keys
 *     and the operator's JWKS file), or, without "kid", the server key for that alg. The
 *     key's own algorithm must equal the header's alg: an HS256 token naming an ES256 key
 *     (the classic "public key as HMAC secret" confusion) is rejected before any
 *     signature check, and libjwt is then asked to verify with that key only;
 *   - the signature verifies;
 *   - iss equals the configured issuer (cfg.jwks_issuer for JWKS keys), aud equals or
 *     contains the configured audience;
 *   - sub, role (a known role), ns (a namespace, "*" for admin only), iat and exp are
 *     present with the right types; exp > now - leeway, nbf (if present) <= now +
 *     leeway, iat <= now + leeway.
 * Every rejection is R3E_EUNAUTH (HTTP 401) with a message naming the reason.
 *
 * JWKS (RFC 7517): {"keys":[…]} with EC P-256 keys (kty "EC", crv "P-256", x, y; alg, if
 * given, "ES256") and symmetric keys (kty "oct", k of at least 32 bytes; alg, if given,
 * "HS256"). Every key needs a unique "kid"; other key types are skipped. Private parts
 * ("d") are ignored: only public keys are used.
 *
 * An auth_jwt_t is immutable after auth_jwt_new and safe to share between threads. */
#ifndef R3E_AUTH_JWT_H
#define R3E_AUTH_JWT_H

#include "auth/rbac.h"
#include "core/err.h"

#include <stddef.h>
#include <stdint.h>

#define AUTH_JWT_MAX_LEN 8192
#define AUTH_JWT_DEFAULT_TTL_S 900
#define AUTH_JWT_DEFAULT_LEEWAY_S 60

typedef struct auth_jwt auth_jwt_t;

typedef struct {
    const char *issuer;   /* required: "iss" we issue and require */
    const char *audience; /* required: "aud" we issue and require */
    uint32_t ttl_s;       /* lifetime of issued tokens; 0 -> AUTH_JWT_DEFAULT_TTL_S */
    int leeway_s;         /* clock skew allowed; < 0 -> AUTH_JWT_DEFAULT_LEEWAY_S, 0 = none */
    /* server HS256 secret, at least 32 bytes (optional) */
    const unsigned char *hs256_secret;
    size_t hs256_secret_len;
    /* server ES256 private key, PEM (PKCS#8 or SEC1) on P-256 (optional); preferred for
     * issuing when both are set */
    const char *es256_private_pem;
    /* operator-supplied trusted keys: a JWKS file path, or the JSON text (optional) */
    const char *jwks_path;
    const char *jwks_json;
    /* "iss" required of tokens verified with a JWKS key; NULL -> issuer */
    const char *jwks_issuer;
} auth_jwt_config_t;

/* Loads and checks every key. NULL with R3E_EINVAL naming the problem (short secret,
 * wrong curve, bad JWKS entry, duplicate kid, no key at all). */
auth_jwt_t *auth_jwt_new(const auth_jwt_config_t *cfg, err_t *err);
void auth_jwt_free(auth_jwt_t *j); /* NULL is fine */

/* Issues a token for p at wall time now_s (seconds since the epoch). *token malloc'ed
 * (free()). R3E_EINVAL when p is not a complete principal or no server key is configured. */
int auth_jwt_issue(const auth_jwt_t *j, const auth_principal_t *p, int64_t now_s, char **token,
                   err_t *err);

/* Verifies a token at wall time now_s. 0 with *p filled (id = sub, role, ns, via_jwt),
 * or -1 with R3E_EUNAUTH. */
int auth_jwt_verify(const auth_jwt_t *j, const char *token, int64_t now_s, auth_principal_t *p,
                    err_t *err);

/* The kid issued tokens carry ("" when the server has no signing key). */
const char *auth_jwt_signing_kid(const auth_jwt_t *j);

/* Generates a fresh P-256 private key as PKCS#8 PEM (malloc'ed, free()), for a server
 * that has no key configured yet. */
int auth_jwt_generate_es256(char **pem, err_t *err);

#endif
