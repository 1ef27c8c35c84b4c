/* Roles, permissions and the route -> permission table. The table is written once as an
 * X-macro list and expanded twice: into router_match's route_t array (so path matching is
 * the very same code the HTTP router runs, no second matcher to drift) and into the
 * auth_route_t array callers inspect. */
#include "auth/rbac.h"

#include "api/router.h"
#include "core/util.h"

#include <stdio.h>
#include <string.h>

#define VIEWER_PERMS                                                                               \
    (AUTH_PERM_FUNCTIONS_READ | AUTH_PERM_EXECUTIONS_READ | AUTH_PERM_LOGS_READ |                  \
     AUTH_PERM_TRIGGERS_READ | AUTH_PERM_EVENTS_READ | AUTH_PERM_SECRETS_READ)
#define INVOKER_PERMS (VIEWER_PERMS | AUTH_PERM_FUNCTIONS_INVOKE | AUTH_PERM_EVENTS_PUBLISH)
#define DEVELOPER_PERMS                                                                            \
    (INVOKER_PERMS | AUTH_PERM_FUNCTIONS_WRITE | AUTH_PERM_SECRETS_WRITE | AUTH_PERM_TRIGGERS_WRITE)
#define ADMIN_PERMS                                                                                \
    (DEVELOPER_PERMS | AUTH_PERM_KEYS_ADMIN | AUTH_PERM_AUDIT_READ | AUTH_PERM_METRICS_READ)

/* Every route of the v1 API (docs/api.md and DESIGN.md), in router order: the first
 * pattern that matches wins, so specific patterns come before general ones. Routes of
 * the built-in services (/v1/oracle, /v1/gasbank, …) get entries when they exist; until
 * then they are denied like any unlisted route. */
#define RBAC_ROUTES(X)                                                                             \
    X("GET", "/healthz", AUTH_PUBLIC)                                                              \
    X("GET", "/readyz", AUTH_PUBLIC)                                                               \
    X("GET", "/metrics", AUTH_PERM_METRICS_READ)                                                   \
    X("POST", "/v1/functions", AUTH_PERM_FUNCTIONS_WRITE)                                          \
    X("GET", "/v1/functions", AUTH_PERM_FUNCTIONS_READ)                                            \
    X("GET", "/v1/functions/{name}", AUTH_PERM_FUNCTIONS_READ)                                     \
    X("PUT", "/v1/functions/{name}", AUTH_PERM_FUNCTIONS_WRITE)                                    \
    X("DELETE", "/v1/functions/{name}", AUTH_PERM_FUNCTIONS_WRITE)                                 \
    X("PUT", "/v1/functions/{name}/active", AUTH_PERM_FUNCTIONS_WRITE)                             \
    X("POST", "/v1/functions/{name}/invoke", AUTH_PERM_FUNCTIONS_INVOKE)                           \
    X("GET", "/v1/functions/{name}/executions", AUTH_PERM_EXECUTIONS_READ)                         \
    X("GET", "/v1/functions/{name}/logs", AUTH_PERM_LOGS_READ)                                     \
    X("GET", "/v1/functions/{name}/secrets", AUTH_PERM_SECRETS_READ)                               \
    X("GET", "/v1/functions/{name}/secrets/{key}", AUTH_PERM_SECRETS_READ)                         \
    X("PUT", "/v1/functions/{name}/secrets/{key}", AUTH_PERM_SECRETS_WRITE)                        \
    X("DELETE", "/v1/functions/{name}/secrets/{key}", AUTH_PERM_SECRETS_WRITE)                     \
    X("GET", "/v1/executions/{id}", AUTH_PERM_EXECUTIONS_READ)                                     \
    X("POST", "/v1/triggers", AUTH_PERM_TRIGGERS_WRITE)                                            \
    X("GET", "/v1/triggers", AUTH_PERM_TRIGGERS_READ)                                              \
    X("GET", "/v1/triggers/{id}", AUTH_PERM_TRIGGERS_READ)                                         \
    X("DELETE", "/v1/triggers/{id}", AUTH_PERM_TRIGGERS_WRITE)                                     \
    X("POST", "/v1/triggers/{id}/enable", AUTH_PERM_TRIGGERS_WRITE)                                \
    X("POST", "/v1/triggers/{id}/disable", AUTH_PERM_TRIGGERS_WRITE)                               \
    X("GET", "/v1/relayer/neo/{network}", AUTH_PERM_FUNCTIONS_READ)                                \
    X("POST", "/v1/relayer/neo/{network}/transactions", AUTH_PERM_FUNCTIONS_WRITE)                 \
    X("GET", "/v1/relayer/neo/{network}/transactions", AUTH_PERM_FUNCTIONS_READ)                   \
    X("GET", "/v1/relayer/neo/{network}/transactions/{id}", AUTH_PERM_FUNCTIONS_READ)              \
    X("GET", "/v1/dlq", AUTH_PERM_TRIGGERS_READ)                                                   \
    X("POST", "/v1/dlq/{id}/replay", AUTH_PERM_TRIGGERS_WRITE)                                     \
    X("DELETE", "/v1/dlq/{id}", AUTH_PERM_TRIGGERS_WRITE)                                          \
    X("POST", "/v1/events", AUTH_PERM_EVENTS_PUBLISH)                                              \
    X("GET", "/v1/events", AUTH_PERM_EVENTS_READ)                                                  \
    X("GET", "/v1/events/{id}", AUTH_PERM_EVENTS_READ)                                             \
    X("*", "/hooks/{id}", AUTH_PUBLIC) /* webhooks: their own HMAC check per trigger */            \
    X("GET", "/v1/relayer/eth/{network}", AUTH_PERM_FUNCTIONS_READ)                                \
    /* sending through the relayer is what a deployed function calling ctx.eth.relay can do */     \
    X("POST", "/v1/relayer/eth/{network}/transactions", AUTH_PERM_FUNCTIONS_WRITE)                 \
    X("GET", "/v1/relayer/eth/{network}/transactions", AUTH_PERM_FUNCTIONS_READ)                   \
    X("GET", "/v1/relayer/eth/{network}/transactions/{id}", AUTH_PERM_FUNCTIONS_READ)              \
    X("GET", "/v1/ws", AUTH_PERM_EVENTS_READ)                                                      \
    X("POST", "/v1/graphql", AUTH_PERM_FUNCTIONS_READ)                                             \
    X("POST", "/v1/keys", AUTH_PERM_KEYS_ADMIN)                                                    \
    X("GET", "/v1/keys", AUTH_PERM_KEYS_ADMIN)                                                     \
    X("GET", "/v1/keys/{id}", AUTH_PERM_KEYS_ADMIN)                                                \
    X("DELETE", "/v1/keys/{id}", AUTH_PERM_KEYS_ADMIN)                                             \
    X("POST", "/v1/auth/token", AUTH_AUTHENTICATED)                                                \
    X("GET", "/v1/audit", AUTH_PERM_AUDIT_READ)                                                    \
    X("POST", "/v1/admin/rotate-master", AUTH_PERM_KEYS_ADMIN)                                     \
    X("*", "/fn/{name}/*", AUTH_PUBLIC) /* HTTP triggers: per-function auth (public|key|jwt) */    \
    X("*", "/ns/{ns}/fn/{name}/*", AUTH_PUBLIC) /* the same, in namespace {ns} */

#define AS_ROUTER(m, p, perm) {m, p, NULL},
#define AS_AUTH(m, p, perm) {m, p, perm},
static const route_t rbac_router[] = {RBAC_ROUTES(AS_ROUTER)};
static const auth_route_t rbac_routes[] = {RBAC_ROUTES(AS_AUTH)};
#define RBAC_NROUTES (sizeof rbac_routes / sizeof rbac_routes[0])

static const struct {
    uint32_t bit;
    const char *name;
} rbac_perm_names[] = {
    {AUTH_PERM_FUNCTIONS_READ, "functions:read"},
    {AUTH_PERM_FUNCTIONS_WRITE, "functions:write"},
    {AUTH_PERM_FUNCTIONS_INVOKE, "functions:invoke"},
    {AUTH_PERM_EXECUTIONS_READ, "executions:read"},
    {AUTH_PERM_LOGS_READ, "logs:read"},
    {AUTH_PERM_SECRETS_READ, "secrets:read"},
    {AUTH_PERM_SECRETS_WRITE, "secrets:write"},
    {AUTH_PERM_TRIGGERS_READ, "triggers:read"},
    {AUTH_PERM_TRIGGERS_WRITE, "triggers:write"},
    {AUTH_PERM_EVENTS_PUBLISH, "events:publish"},
    {AUTH_PERM_EVENTS_READ, "events:read"},
    {AUTH_PERM_KEYS_ADMIN, "keys:admin"},
    {AUTH_PERM_AUDIT_READ, "audit:read"},
    {AUTH_PERM_METRICS_READ, "metrics:read"},
    {AUTH_AUTHENTICATED, "authenticated"},
    {AUTH_PUBLIC, "public"},
};

auth_role_t auth_role_parse(const char *s) {
    if (!s) return AUTH_ROLE_NONE;
    if (strcmp(s, "admin") == 0) return AUTH_ROLE_ADMIN;
    if (strcmp(s, "developer") == 0) return AUTH_ROLE_DEVELOPER;
    if (strcmp(s, "invoker") == 0) return AUTH_ROLE_INVOKER;
    if (strcmp(s, "viewer") == 0) return AUTH_ROLE_VIEWER;
    return AUTH_ROLE_NONE;
}

const char *auth_role_name(auth_role_t r) {
    switch (r) {
    case AUTH_ROLE_ADMIN:
        return "admin";
    case AUTH_ROLE_DEVELOPER:
        return "developer";
    case AUTH_ROLE_INVOKER:
        return "invoker";
    case AUTH_ROLE_VIEWER:
        return "viewer";
    default:
        return "none";
    }
}

uint32_t auth_role_perms(auth_role_t r) {
    switch (r) {
    case AUTH_ROLE_ADMIN:
        return ADMIN_PERMS;
    case AUTH_ROLE_DEVELOPER:
        return DEVELOPER_PERMS;
    case AUTH_ROLE_INVOKER:
        return INVOKER_PERMS;
    case AUTH_ROLE_VIEWER:
        return VIEWER_PERMS;
    default:
        return 0;
    }
}

const char *auth_perm_name(uint32_t perm) {
    for (size_t i = 0; i < sizeof rbac_perm_names / sizeof rbac_perm_names[0]; i++)
        if (rbac_perm_names[i].bit == perm) return rbac_perm_names[i].name;
    return "?";
}

bool auth_ns_valid(const char *ns) {
    return ns && (strcmp(ns, AUTH_NS_ANY) == 0 || util_valid_name(ns));
}

const auth_route_t *auth_route_table(size_t *n) {
    *n = RBAC_NROUTES;
    return rbac_routes;
}

int auth_route_permission(const char *method, const char *path, uint32_t *perm, err_t *err) {
    if (!method || !path || !perm) return err_set(err, R3E_EINVAL, "route: missing argument");
    route_match_t m;
    if (router_match(rbac_router, RBAC_NROUTES, method, path, &m) != ROUTE_FOUND)
        return err_set(err, R3E_ENOTFOUND, "no route %s %s", method, path);
    *perm = rbac_routes[m.route - rbac_router].perm;
    return 0;
}

/* A principal reaches namespace ns when it is exactly its own namespace, or when it is a
 * global admin. "*" as the requested namespace (global resources: audit log, metrics,
 * keys of every namespace) is reached only by a global admin. */
static bool rbac_ns_reaches(const auth_principal_t *p, const char *ns) {
    if (p->role == AUTH_ROLE_ADMIN && strcmp(p->ns, AUTH_NS_ANY) == 0) return true;
    if (strcmp(ns, AUTH_NS_ANY) == 0) return false;
    return strcmp(p->ns, ns) == 0;
}

int auth_check(const auth_principal_t *p, uint32_t perm, const char *ns, err_t *err) {
    if (perm == AUTH_PUBLIC) return 0;
    if (!p || p->role == AUTH_ROLE_NONE)
        return err_set(err, R3E_EUNAUTH, "authentication required");
    if (perm == AUTH_AUTHENTICATED) return 0;
    if (!ns || !*ns) ns = "default";
    if (perm == 0 || (perm & (AUTH_PUBLIC | AUTH_AUTHENTICATED)))
        return err_set(err, R3E_EFORBIDDEN, "no such permission");
    if ((auth_role_perms(p->role) & perm) != perm)
        return err_set(err, R3E_EFORBIDDEN, "role %s lacks %s", auth_role_name(p->role),
                       auth_perm_name(perm));
    if (!rbac_ns_reaches(p, ns))
        return err_set(err, R3E_EFORBIDDEN, "%s is not granted in namespace %s",
                       auth_perm_name(perm), ns);
    return 0;
}
