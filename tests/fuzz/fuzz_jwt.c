/* libFuzzer target: the JWT verifier and the JWKS parser must never crash or leak, and
 * must fail only with the documented codes.
 * Input: first byte selects the mode; the rest is the text.
 *   'J' -> the rest is a JWKS document given to auth_jwt_new (must give an object or
 *          R3E_EINVAL);
 *   anything else -> the rest is a token given to auth_jwt_verify against a fixed HS256
 *          secret, a per-process ES256 key and a JWKS with one EC and one oct key (must
 *          give a complete principal or R3E_EUNAUTH).
 * Seeds (tests/fuzz/corpus/fuzz_jwt) include valid HS256 tokens for the fixed secret so the
 * fuzzer reaches the claim checks. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/jwt.h"

#define FUZZ_SECRET "fuzz-secret-fuzz-secret-fuzz-secret!"
#define FUZZ_NOW 1790000000

static const char fuzz_jwks[] = "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"ec1\","
                                "\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\","
                                "\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\"},"
                                "{\"kty\":\"oct\",\"kid\":\"oct1\",\"k\":"
                                "\"ZnV6ei1zZWNyZXQtZnV6ei1zZWNyZXQtZnV6ei1zZWNyZXQh\"}]}";

static auth_jwt_t *fuzz_verifier(void) {
    static auth_jwt_t *j;
    if (j) return j;
    err_t err;
    char *pem;
    if (auth_jwt_generate_es256(&pem, &err) != 0) abort();
    auth_jwt_config_t cfg = {.issuer = "https://r3e.test",
                             .audience = "r3e-api",
                             .leeway_s = -1,
                             .hs256_secret = (const unsigned char *)FUZZ_SECRET,
                             .hs256_secret_len = strlen(FUZZ_SECRET),
                             .es256_private_pem = pem,
                             .jwks_json = fuzz_jwks};
    j = auth_jwt_new(&cfg, &err);
    free(pem);
    if (!j) abort();
    return j;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1 || size > 16384) return 0;
    char *text = malloc(size);
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';
    err_t err;
    if (data[0] == 'J') {
        auth_jwt_config_t cfg = {.issuer = "i", .audience = "a", .jwks_json = text};
        auth_jwt_t *j = auth_jwt_new(&cfg, &err);
        if (j)
            auth_jwt_free(j);
        else if (err.code != R3E_EINVAL && err.code != R3E_EINTERNAL)
            abort();
    } else {
        auth_principal_t p;
        if (auth_jwt_verify(fuzz_verifier(), text, FUZZ_NOW, &p, &err) == 0) {
            if (p.role == AUTH_ROLE_NONE || !auth_ns_valid(p.ns) || !p.id[0] || !p.via_jwt) abort();
        } else if (err.code != R3E_EUNAUTH || !err.msg[0]) {
            abort();
        }
    }
    free(text);
    return 0;
}
