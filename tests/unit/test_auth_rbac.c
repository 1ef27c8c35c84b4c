/* RBAC: role permission sets, namespace scoping, 401 vs 403, and the route table (deny by
 * default, explicit public routes, and every route the server serves is listed). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "api/api.h"
#include "auth/rbac.h"

#include <stdio.h>
#include <string.h>

static auth_principal_t principal(auth_role_t role, const char *ns) {
    auth_principal_t p;
    memset(&p, 0, sizeof p);
    snprintf(p.id, sizeof p.id, "test");
    snprintf(p.ns, sizeof p.ns, "%s", ns);
    p.role = role;
    return p;
}

static void roles_parse_and_name_roundtrip(void **state) {
    (void)state;
    const char *names[] = {"admin", "developer", "invoker", "viewer"};
    for (int i = 0; i < 4; i++)
        assert_string_equal(auth_role_name(auth_role_parse(names[i])), names[i]);
    assert_int_equal(auth_role_parse("root"), AUTH_ROLE_NONE);
    assert_int_equal(auth_role_parse("Admin"), AUTH_ROLE_NONE);
    assert_int_equal(auth_role_parse(NULL), AUTH_ROLE_NONE);
    assert_int_equal(auth_role_perms(AUTH_ROLE_NONE), 0);
}

static void roles_are_nested_and_documented(void **state) {
    (void)state;
    uint32_t v = auth_role_perms(AUTH_ROLE_VIEWER), i = auth_role_perms(AUTH_ROLE_INVOKER),
             d = auth_role_perms(AUTH_ROLE_DEVELOPER), a = auth_role_perms(AUTH_ROLE_ADMIN);
    assert_int_equal(v & ~i, 0);
    assert_int_equal(i & ~d, 0);
    assert_int_equal(d & ~a, 0);
    assert_true(v & AUTH_PERM_SECRETS_READ);
    assert_false(v & AUTH_PERM_FUNCTIONS_INVOKE);
    assert_true(i & AUTH_PERM_FUNCTIONS_INVOKE);
    assert_true(i & AUTH_PERM_EVENTS_PUBLISH);
    assert_false(i & AUTH_PERM_FUNCTIONS_WRITE);
    assert_true(d & AUTH_PERM_FUNCTIONS_WRITE);
    assert_true(d & AUTH_PERM_SECRETS_WRITE);
    assert_false(d & AUTH_PERM_KEYS_ADMIN);
    assert_false(d & AUTH_PERM_AUDIT_READ);
    assert_true(a & AUTH_PERM_KEYS_ADMIN);
    assert_true(a & AUTH_PERM_AUDIT_READ);
    assert_true(a & AUTH_PERM_METRICS_READ);
    /* no role holds the pseudo permissions */
    assert_false(a & (AUTH_PUBLIC | AUTH_AUTHENTICATED));
}

static void check_allows_role_permission_in_own_namespace(void **state) {
    (void)state;
    err_t err;
    auth_principal_t dev = principal(AUTH_ROLE_DEVELOPER, "team-a");
    assert_int_equal(auth_check(&dev, AUTH_PERM_FUNCTIONS_WRITE, "team-a", &err), 0);
    auth_principal_t def = principal(AUTH_ROLE_VIEWER, "default");
    assert_int_equal(auth_check(&def, AUTH_PERM_FUNCTIONS_READ, NULL, &err), 0);
    assert_int_equal(auth_check(&def, AUTH_PERM_FUNCTIONS_READ, "", &err), 0);
}

static void missing_permission_is_403(void **state) {
    (void)state;
    err_t err;
    auth_principal_t viewer = principal(AUTH_ROLE_VIEWER, "team-a");
    assert_int_equal(auth_check(&viewer, AUTH_PERM_FUNCTIONS_INVOKE, "team-a", &err), -1);
    assert_int_equal(err.code, R3E_EFORBIDDEN);
    assert_int_equal(err_http_status(err.code), 403);
    assert_non_null(strstr(err.msg, "functions:invoke"));
    auth_principal_t dev = principal(AUTH_ROLE_DEVELOPER, "team-a");
    assert_int_equal(auth_check(&dev, AUTH_PERM_KEYS_ADMIN, "team-a", &err), -1);
    assert_int_equal(err.code, R3E_EFORBIDDEN);
}

static void other_namespace_is_403(void **state) {
    (void)state;
    err_t err;
    auth_principal_t dev = principal(AUTH_ROLE_DEVELOPER, "team-a");
    assert_int_equal(auth_check(&dev, AUTH_PERM_FUNCTIONS_READ, "team-b", &err), -1);
    assert_int_equal(err.code, R3E_EFORBIDDEN);
    assert_int_equal(auth_check(&dev, AUTH_PERM_FUNCTIONS_READ, "team-ab", &err), -1);
    assert_int_equal(auth_check(&dev, AUTH_PERM_FUNCTIONS_READ, "default", &err), -1);
    /* a namespace admin is not a global admin */
    auth_principal_t nsadmin = principal(AUTH_ROLE_ADMIN, "team-a");
    assert_int_equal(auth_check(&nsadmin, AUTH_PERM_KEYS_ADMIN, "team-a", &err), 0);
    assert_int_equal(auth_check(&nsadmin, AUTH_PERM_KEYS_ADMIN, "team-b", &err), -1);
    assert_int_equal(auth_check(&nsadmin, AUTH_PERM_AUDIT_READ, "*", &err), -1);
    assert_int_equal(err.code, R3E_EFORBIDDEN);
}

static void global_admin_reaches_every_namespace(void **state) {
    (void)state;
    err_t err;
    auth_principal_t root = principal(AUTH_ROLE_ADMIN, "*");
    assert_int_equal(auth_check(&root, AUTH_PERM_FUNCTIONS_WRITE, "team-a", &err), 0);
    assert_int_equal(auth_check(&root, AUTH_PERM_AUDIT_READ, "*", &err), 0);
    assert_int_equal(auth_check(&root, AUTH_PERM_KEYS_ADMIN, "anything", &err), 0);
}

static void star_namespace_grants_nothing_to_non_admins(void **state) {
    (void)state;
    err_t err;
    auth_principal_t dev = principal(AUTH_ROLE_DEVELOPER, "*");
    assert_int_equal(auth_check(&dev, AUTH_PERM_FUNCTIONS_READ, "default", &err), -1);
    assert_int_equal(err.code, R3E_EFORBIDDEN);
    assert_int_equal(auth_check(&dev, AUTH_PERM_FUNCTIONS_READ, "*", &err), -1);
}

static void no_principal_is_401_unless_public(void **state) {
    (void)state;
    err_t err;
    assert_int_equal(auth_check(NULL, AUTH_PERM_FUNCTIONS_READ, "default", &err), -1);
    assert_int_equal(err.code, R3E_EUNAUTH);
    assert_int_equal(err_http_status(err.code), 401);
    assert_int_equal(auth_check(NULL, AUTH_AUTHENTICATED, "default", &err), -1);
    assert_int_equal(err.code, R3E_EUNAUTH);
    assert_int_equal(auth_check(NULL, AUTH_PUBLIC, "default", &err), 0);
    auth_principal_t none = principal(AUTH_ROLE_NONE, "default");
    assert_int_equal(auth_check(&none, AUTH_PERM_FUNCTIONS_READ, "default", &err), -1);
    assert_int_equal(err.code, R3E_EUNAUTH);
    auth_principal_t viewer = principal(AUTH_ROLE_VIEWER, "x");
    assert_int_equal(auth_check(&viewer, AUTH_AUTHENTICATED, "y", &err), 0);
    /* a zero permission is never granted */
    assert_int_equal(auth_check(&viewer, 0, "x", &err), -1);
    assert_int_equal(err.code, R3E_EFORBIDDEN);
}

static void route_permissions_match_the_documented_table(void **state) {
    (void)state;
    err_t err;
    uint32_t perm;
    struct {
        const char *m, *p;
        uint32_t want;
    } cases[] = {
        {"GET", "/healthz", AUTH_PUBLIC},
        {"HEAD", "/readyz", AUTH_PUBLIC},
        {"GET", "/metrics", AUTH_PERM_METRICS_READ},
        {"POST", "/v1/functions", AUTH_PERM_FUNCTIONS_WRITE},
        {"GET", "/v1/functions", AUTH_PERM_FUNCTIONS_READ},
        {"GET", "/v1/functions/hello", AUTH_PERM_FUNCTIONS_READ},
        {"PUT", "/v1/functions/hello", AUTH_PERM_FUNCTIONS_WRITE},
        {"DELETE", "/v1/functions/hello", AUTH_PERM_FUNCTIONS_WRITE},
        {"POST", "/v1/functions/hello/invoke", AUTH_PERM_FUNCTIONS_INVOKE},
        {"GET", "/v1/functions/hello/logs", AUTH_PERM_LOGS_READ},
        {"GET", "/v1/functions/hello/secrets", AUTH_PERM_SECRETS_READ},
        {"PUT", "/v1/functions/hello/secrets/API_KEY", AUTH_PERM_SECRETS_WRITE},
        {"GET", "/v1/executions/01JABC", AUTH_PERM_EXECUTIONS_READ},
        {"POST", "/v1/events", AUTH_PERM_EVENTS_PUBLISH},
        {"DELETE", "/v1/triggers/t1", AUTH_PERM_TRIGGERS_WRITE},
        {"POST", "/v1/keys", AUTH_PERM_KEYS_ADMIN},
        {"POST", "/v1/auth/token", AUTH_AUTHENTICATED},
        {"GET", "/v1/audit", AUTH_PERM_AUDIT_READ},
        {"POST", "/fn/hello/any/path", AUTH_PUBLIC},
        {"GET", "/fn/hello", AUTH_PUBLIC},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_equal(auth_route_permission(cases[i].m, cases[i].p, &perm, &err), 0);
        if (perm != cases[i].want)
            fail_msg("%s %s: got %s", cases[i].m, cases[i].p, auth_perm_name(perm));
    }
}

static void unlisted_routes_are_denied(void **state) {
    (void)state;
    err_t err;
    uint32_t perm = 0;
    const char *cases[][2] = {
        {"GET", "/v1/secrets"},
        {"DELETE", "/v1/functions"},
        {"POST", "/v1/functions/x/logs"},
        {"GET", "/v1/functions/x/unknown"},
        {"GET", "/v1/oracle/price"},
        {"GET", "/healthz/extra"},
        {"GET", "/"},
        {"GET", ""},
        {"GET", "/v1/functions//invoke"},
        {"PATCH", "/v1/keys"},
        {"GET", "/fn"},
        {"POST", "/V1/FUNCTIONS"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (auth_route_permission(cases[i][0], cases[i][1], &perm, &err) != -1)
            fail_msg("%s %s was allowed as %s", cases[i][0], cases[i][1], auth_perm_name(perm));
        assert_int_equal(err.code, R3E_ENOTFOUND);
    }
}

static void public_routes_are_exactly_health_and_http_triggers(void **state) {
    (void)state;
    size_t n;
    const auth_route_t *t = auth_route_table(&n);
    for (size_t i = 0; i < n; i++) {
        if (t[i].perm != AUTH_PUBLIC) continue;
        bool ok = strcmp(t[i].pattern, "/healthz") == 0 || strcmp(t[i].pattern, "/readyz") == 0 ||
                  strcmp(t[i].pattern, "/fn/{name}/*") == 0 ||
                  strcmp(t[i].pattern, "/ns/{ns}/fn/{name}/*") == 0 ||
                  strcmp(t[i].pattern, "/hooks/{id}") == 0; /* webhooks: own HMAC check */
        if (!ok) fail_msg("unexpected public route %s %s", t[i].method, t[i].pattern);
    }
}

static void every_entry_names_one_permission(void **state) {
    (void)state;
    size_t n;
    const auth_route_t *t = auth_route_table(&n);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(__builtin_popcount(t[i].perm), 1);
        assert_string_not_equal(auth_perm_name(t[i].perm), "?");
    }
}

/* The guard against a new server route shipping without a permission: every route in the
 * server's table must have an entry here with the same method and pattern. */
static void every_server_route_has_a_permission(void **state) {
    (void)state;
    size_t ns, na;
    const route_t *srv = api_route_table(&ns);
    const auth_route_t *t = auth_route_table(&na);
    for (size_t i = 0; i < ns; i++) {
        bool found = false;
        for (size_t j = 0; j < na && !found; j++)
            found = strcmp(srv[i].method, t[j].method) == 0 &&
                    strcmp(srv[i].pattern, t[j].pattern) == 0;
        if (!found) fail_msg("server route %s %s has no permission", srv[i].method, srv[i].pattern);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(roles_parse_and_name_roundtrip),
        cmocka_unit_test(roles_are_nested_and_documented),
        cmocka_unit_test(check_allows_role_permission_in_own_namespace),
        cmocka_unit_test(missing_permission_is_403),
        cmocka_unit_test(other_namespace_is_403),
        cmocka_unit_test(global_admin_reaches_every_namespace),
        cmocka_unit_test(star_namespace_grants_nothing_to_non_admins),
        cmocka_unit_test(no_principal_is_401_unless_public),
        cmocka_unit_test(route_permissions_match_the_documented_table),
        cmocka_unit_test(unlisted_routes_are_denied),
        cmocka_unit_test(public_routes_are_exactly_health_and_http_triggers),
        cmocka_unit_test(every_entry_names_one_permission),
        cmocka_unit_test(every_server_route_has_a_permission),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
