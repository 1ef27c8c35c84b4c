/* libFuzzer target: the route -> permission matcher and auth_check.
 * Input: "<method>\n<path>". Invariants: a match names exactly one permission; only
 * /healthz, /readyz, /fn/{name}/…, /ns/{ns}/fn/{name}/… and /hooks/{id} (webhooks, with
 * their own HMAC check) are public; the roles stay nested (whatever a viewer
 * may do, an invoker may, and so on up to admin), a global admin may do everything, and
 * nobody may act in a namespace other than their own. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/rbac.h"

static auth_principal_t fuzz_principal(auth_role_t role, const char *ns) {
    auth_principal_t p;
    memset(&p, 0, sizeof p);
    strcpy(p.id, "fuzz");
    strcpy(p.ns, ns);
    p.role = role;
    return p;
}

/* "/ns/<seg>/fn/…": an HTTP trigger in another namespace */
static bool fuzz_ns_trigger(const char *path) {
    if (strncmp(path, "/ns/", 4) != 0) return false;
    const char *slash = strchr(path + 4, '/');
    return slash && slash > path + 4 && strncmp(slash, "/fn/", 4) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > 4096) return 0;
    char *buf = malloc(size + 1);
    memcpy(buf, data, size);
    buf[size] = '\0';
    char *path = strchr(buf, '\n');
    if (!path) {
        free(buf);
        return 0;
    }
    *path++ = '\0';
    err_t err;
    uint32_t perm = 0;
    if (auth_route_permission(buf, path, &perm, &err) == 0) {
        if (__builtin_popcount(perm) != 1) abort();
        if (perm == AUTH_PUBLIC && strcmp(path, "/healthz") != 0 && strcmp(path, "/readyz") != 0 &&
            strncmp(path, "/fn/", 4) != 0 && !fuzz_ns_trigger(path) &&
            strncmp(path, "/hooks/", 7) != 0)
            abort();
        auth_principal_t root = fuzz_principal(AUTH_ROLE_ADMIN, "*");
        if (auth_check(&root, perm, "team-a", &err) != 0) abort();
        bool prev = false;
        for (auth_role_t r = AUTH_ROLE_VIEWER; r <= AUTH_ROLE_ADMIN; r++) {
            auth_principal_t p = fuzz_principal(r, "team-a");
            bool ok = auth_check(&p, perm, "team-a", &err) == 0;
            if (!ok && err.code != R3E_EFORBIDDEN) abort();
            if (prev && !ok) abort(); /* nesting */
            prev = ok;
            bool other = auth_check(&p, perm, "team-b", &err) == 0;
            if (other && perm != AUTH_PUBLIC && perm != AUTH_AUTHENTICATED) abort();
        }
        bool anon = auth_check(NULL, perm, "team-a", &err) == 0;
        if (anon != (perm == AUTH_PUBLIC)) abort();
        if (!anon && err.code != R3E_EUNAUTH) abort();
    } else if (err.code != R3E_ENOTFOUND) {
        abort();
    }
    free(buf);
    return 0;
}
