/* Role-based access control: who may do what, in which namespace, and which permission
 * each API route needs.
 *
 * Roles are fixed sets of permissions (see auth_role_perms and docs/security.md):
 *   viewer    functions:read executions:read logs:read triggers:read events:read
 *             secrets:read (names only)
 *   invoker   viewer + functions:invoke events:publish
 *   developer invoker + functions:write secrets:write triggers:write
 *   admin     everything, incl. keys:admin audit:read metrics:read
 * A principal holds one role in one namespace; an admin may hold namespace "*" (global).
 * A non-admin role is never global: "*" with another role grants nothing.
 *
 * The route table (rbac.c) is the single place that says which permission a route needs.
 * A route without an entry is refused (deny by default); public routes are marked
 * explicitly with AUTH_PUBLIC, and routes that need a valid principal but no particular
 * permission (token exchange, "who am I") with AUTH_AUTHENTICATED.
 *
 * 401 vs 403 (what the HTTP layer must answer):
 *   - no credentials, malformed / unknown / revoked / expired API key, a JWT that fails
 *     verification                                         -> 401 unauthenticated
 *                                                            (with WWW-Authenticate: Bearer)
 *   - a valid principal whose role lacks the permission, or whose namespace is not the
 *     request's namespace                                  -> 403 permission_denied
 *   - a route with no entry in the table                   -> 404 (router) / never allowed
 * Pure and thread-safe (no state). */
#ifndef R3E_AUTH_RBAC_H
#define R3E_AUTH_RBAC_H

#include "core/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    AUTH_ROLE_NONE = 0, /* not a role: parse failure */
    AUTH_ROLE_VIEWER,
    AUTH_ROLE_INVOKER,
    AUTH_ROLE_DEVELOPER,
    AUTH_ROLE_ADMIN,
} auth_role_t;

/* Permissions are bits so a role is a mask. */
typedef enum {
    AUTH_PERM_FUNCTIONS_READ = 1u << 0,
    AUTH_PERM_FUNCTIONS_WRITE = 1u << 1,
    AUTH_PERM_FUNCTIONS_INVOKE = 1u << 2,
    AUTH_PERM_EXECUTIONS_READ = 1u << 3,
    AUTH_PERM_LOGS_READ = 1u << 4,
    AUTH_PERM_SECRETS_READ = 1u << 5, /* secret names and versions, never values */
    AUTH_PERM_SECRETS_WRITE = 1u << 6,
    AUTH_PERM_TRIGGERS_READ = 1u << 7,
    AUTH_PERM_TRIGGERS_WRITE = 1u << 8,
    AUTH_PERM_EVENTS_PUBLISH = 1u << 9,
    AUTH_PERM_EVENTS_READ = 1u << 10,
    AUTH_PERM_KEYS_ADMIN = 1u << 11,
    AUTH_PERM_AUDIT_READ = 1u << 12,
    AUTH_PERM_METRICS_READ = 1u << 13,
    /* pseudo-permissions for the route table, never held by a role */
    AUTH_AUTHENTICATED = 1u << 30, /* any valid principal */
    AUTH_PUBLIC = 1u << 31,        /* no credentials needed */
} auth_perm_t;

#define AUTH_NS_ANY "*"
#define AUTH_NS_MAX 64
#define AUTH_ID_MAX 64

/* Who is calling, after authentication (an API key or a verified JWT). Plain data. */
typedef struct {
    char id[AUTH_ID_MAX]; /* API key id, or the JWT `sub` */
    auth_role_t role;
    char ns[AUTH_NS_MAX]; /* a namespace name, or "*" (admin only) */
    bool via_jwt;
} auth_principal_t;

/* "admin" | "developer" | "invoker" | "viewer" -> role; anything else AUTH_ROLE_NONE. */
auth_role_t auth_role_parse(const char *s);
const char *auth_role_name(auth_role_t r); /* "none" for AUTH_ROLE_NONE */
uint32_t auth_role_perms(auth_role_t r);   /* mask of auth_perm_t; 0 for NONE */

/* One permission bit -> "functions:write" etc.; "public"/"authenticated" for the pseudo
 * permissions; "?" for anything else. */
const char *auth_perm_name(uint32_t perm);

/* True when ns is a valid principal namespace: util_valid_name or "*". */
bool auth_ns_valid(const char *ns);

/* The permission the route (method, path without query string) needs. 0 and *perm set
 * when the route is in the table (*perm may be AUTH_PUBLIC or AUTH_AUTHENTICATED);
 * -1 with R3E_ENOTFOUND when it is not (the caller denies: 404). HEAD is treated as GET. */
int auth_route_permission(const char *method, const char *path, uint32_t *perm, err_t *err);

/* May principal p use `perm` (one permission bit) in namespace `ns` (NULL/"" = "default")?
 * 0 when allowed; -1 with R3E_EFORBIDDEN (message names the permission and namespace)
 * when not; -1 with R3E_EUNAUTH when p is NULL and perm is not AUTH_PUBLIC. AUTH_PUBLIC
 * is always allowed; AUTH_AUTHENTICATED is allowed for any non-NULL principal with a
 * role. */
int auth_check(const auth_principal_t *p, uint32_t perm, const char *ns, err_t *err);

/* The route table, for tests, docs and the "every server route is listed" check. */
typedef struct {
    const char *method;  /* "GET", "POST", …, or "*" */
    const char *pattern; /* router syntax: literal segments, {param}, final slash-star */
    uint32_t perm;       /* one permission bit, AUTH_PUBLIC or AUTH_AUTHENTICATED */
} auth_route_t;
const auth_route_t *auth_route_table(size_t *n);

#endif
