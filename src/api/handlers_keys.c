/* API keys, token exchange and the audit log over HTTP:
 *   POST /v1/keys, GET /v1/keys, GET/DELETE /v1/keys/{id}, POST /v1/auth/token,
 *   GET /v1/audit.
 * The route gate (authn.c) already checked keys:admin / audit:read in the request's
 * namespace; the key handlers check the namespace of the key they touch too, so an admin
 * of namespace a can neither mint nor revoke keys of namespace b. */
#include "api/api.h"

#include "auth/apikey.h"
#include "auth/audit.h"
#include "auth/jwt.h"
#include "core/util.h"

#include <ctype.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* With authentication on, may this request administer keys of namespace ns? */
static bool keys_may(http_req_t *r, const char *ns) {
    if (!r->api->auth_on) return true;
    auth_principal_t p;
    api_authn_principal(r, &p);
    err_t e;
    if (auth_check(&p, AUTH_PERM_KEYS_ADMIN, ns, &e) == 0) return true;
    http_send_err(r, &e);
    return false;
}

static json_t *keys_json(const auth_apikey_t *k) {
    char created[40], expires[40];
    util_rfc3339(k->created_ms, created, sizeof created);
    json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:s,s:b}", "id", k->id, "name", k->name, "role",
                          auth_role_name(k->role), "namespace", k->ns, "created_at", created,
                          "revoked", k->revoked);
    if (k->expires_ms) {
        util_rfc3339(k->expires_ms, expires, sizeof expires);
        json_object_set_new(o, "expires_at", json_string(expires));
    } else {
        json_object_set_new(o, "expires_at", json_null());
    }
    return o;
}

/* expires_in: seconds as a number, or "<n>s|m|h|d". 0 when absent. */
static int keys_expires_in(json_t *v, uint64_t *secs, err_t *err) {
    *secs = 0;
    if (!v || json_is_null(v)) return 0;
    if (json_is_integer(v) && json_integer_value(v) > 0) {
        *secs = (uint64_t)json_integer_value(v);
    } else if (json_is_string(v)) {
        const char *s = json_string_value(v);
        char *end;
        unsigned long long n = strtoull(s, &end, 10);
        uint64_t mul = *end == 's'   ? 1
                       : *end == 'm' ? 60
                       : *end == 'h' ? 3600
                       : *end == 'd' ? 86400
                                     : 0;
        if (end == s || !isdigit((unsigned char)*s) || !mul || end[1] || n == 0) mul = 0;
        *secs = n * mul;
    }
    if (*secs == 0 || *secs > 10ull * 365 * 86400)
        return err_set(err, R3E_EINVAL,
                       "expires_in must be a positive number of seconds or like \"30d\", \"12h\", "
                       "\"15m\" (at most 10 years)");
    return 0;
}

void api_h_keys_create(http_req_t *r, const route_match_t *m) {
    (void)m;
    json_t *body = http_require_json_object(r);
    if (!body) return;
    const char *k;
    json_t *v;
    json_object_foreach(body, k, v) {
        if (strcmp(k, "name") && strcmp(k, "role") && strcmp(k, "namespace") &&
            strcmp(k, "expires_in")) {
            http_send_error(r, R3E_EINVAL,
                            "unknown field \"%.64s\" (allowed: name, role, namespace, expires_in)",
                            k);
            json_decref(body);
            return;
        }
    }
    const char *name = json_string_value(json_object_get(body, "name"));
    const char *role_s = json_string_value(json_object_get(body, "role"));
    const char *ns = json_string_value(json_object_get(body, "namespace"));
    if (!ns) ns = r->ns;
    auth_role_t role = role_s ? auth_role_parse(role_s) : AUTH_ROLE_NONE;
    uint64_t secs = 0;
    err_t e;
    if (role == AUTH_ROLE_NONE) {
        http_send_error(r, R3E_EINVAL, "role must be admin, developer, invoker or viewer");
    } else if (!auth_ns_valid(ns)) {
        http_send_error(r, R3E_EINVAL, "namespace must match [a-z0-9][a-z0-9-]{0,62} (or \"*\")");
    } else if (keys_expires_in(json_object_get(body, "expires_in"), &secs, &e) < 0) {
        http_send_err(r, &e);
    } else if (keys_may(r, ns)) {
        auth_apikey_t rec;
        char plain[AUTH_APIKEY_BUF];
        uint64_t exp = secs ? util_wall_ms() + secs * 1000 : 0;
        if (auth_apikey_create(r->api->store, name ? name : "", role, ns, exp, &rec, plain, &e) <
            0) {
            http_send_err(r, &e);
        } else {
            snprintf(r->function_buf, sizeof r->function_buf, "%s", rec.id); /* audit target */
            r->function = r->function_buf;
            json_t *o = keys_json(&rec);
            json_object_set_new(o, "key", json_string(plain));
            memset(plain, 0, sizeof plain);
            http_send_json(r, 201, o);
        }
    }
    json_decref(body);
}

void api_h_keys_list(http_req_t *r, const route_match_t *m) {
    (void)m;
    /* a global admin sees every namespace unless it names one; others see their own */
    const char *ns = r->ns;
    if (r->api->auth_on && strcmp(r->principal_ns, AUTH_NS_ANY) == 0 &&
        !http_header(r, "X-R3E-Namespace"))
        ns = NULL;
    if (!r->api->auth_on && !http_header(r, "X-R3E-Namespace")) ns = NULL;
    long limit;
    err_t e;
    if (http_query_int(http_query(r, "limit"), 1, AUTH_APIKEY_LIST_MAX, 100, &limit, &e) < 0) {
        http_send_error(r, R3E_EINVAL, "limit: %s", e.msg);
        return;
    }
    auth_apikey_t *ks = NULL;
    size_t n = 0;
    if (auth_apikey_list(r->api->store, ns, http_query(r, "after"), (size_t)limit, &ks, &n, &e) <
        0) {
        http_send_err(r, &e);
        return;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, keys_json(&ks[i]));
    free(ks);
    http_send_json(r, 200, json_pack("{s:o}", "keys", arr));
}

/* Loads key {id} and checks the caller administers its namespace; false after an error. */
static bool keys_load(http_req_t *r, const char *id, auth_apikey_t *k) {
    err_t e;
    if (auth_apikey_get(r->api->store, id, k, &e) < 0) {
        if (e.code == R3E_ENOTFOUND || e.code == R3E_EINVAL)
            http_send_error(r, R3E_ENOTFOUND, "API key \"%.32s\" not found", id);
        else
            http_send_err(r, &e);
        return false;
    }
    if (r->api->auth_on) {
        auth_principal_t p;
        api_authn_principal(r, &p);
        if (auth_check(&p, AUTH_PERM_KEYS_ADMIN, k->ns, &e) < 0) {
            /* not yours: indistinguishable from absent */
            http_send_error(r, R3E_ENOTFOUND, "API key \"%.32s\" not found", id);
            return false;
        }
    }
    return true;
}

void api_h_keys_get(http_req_t *r, const route_match_t *m) {
    auth_apikey_t k;
    if (keys_load(r, m->params[0], &k)) http_send_json(r, 200, keys_json(&k));
}

void api_h_keys_revoke(http_req_t *r, const route_match_t *m) {
    auth_apikey_t k;
    snprintf(r->function_buf, sizeof r->function_buf, "%.32s", m->params[0]);
    r->function = r->function_buf;
    if (!keys_load(r, m->params[0], &k)) return;
    err_t e;
    if (auth_apikey_revoke(r->api->store, k.id, &e) < 0) {
        http_send_err(r, &e);
        return;
    }
    k.revoked = true;
    http_send_json(r, 200, keys_json(&k));
}

void api_h_auth_token(http_req_t *r, const route_match_t *m) {
    (void)m;
    if (!r->api->auth_on || !r->authed) {
        http_send_error(r, R3E_EINVAL,
                        "authentication is off on this server: there is no "
                        "principal to issue a token for");
        return;
    }
    if (r->principal_jwt) {
        http_send_error(r, R3E_EFORBIDDEN,
                        "a token cannot be exchanged for a new token: "
                        "present an API key");
        return;
    }
    auth_principal_t p;
    api_authn_principal(r, &p);
    char *tok = NULL;
    err_t e;
    int64_t now = (int64_t)(util_wall_ms() / 1000);
    if (auth_jwt_issue(r->api->jwt, &p, now, &tok, &e) < 0) {
        http_send_err(r, &e);
        return;
    }
    json_t *o = json_pack("{s:s,s:s,s:i}", "token", tok, "token_type", "Bearer", "expires_in",
                          AUTH_JWT_DEFAULT_TTL_S);
    free(tok);
    http_send_json(r, 200, o);
}

void api_h_audit(http_req_t *r, const route_match_t *m) {
    (void)m;
    long limit;
    err_t e;
    if (http_query_int(http_query(r, "limit"), 1, 1000, 100, &limit, &e) < 0) {
        http_send_error(r, R3E_EINVAL, "limit: %s", e.msg);
        return;
    }
    const char *since_s = http_query(r, "since");
    long long since = 0;
    if (since_s) {
        char *end;
        since = strtoll(since_s, &end, 10);
        if (end == since_s || *end || since < 0) {
            http_send_error(r, R3E_EINVAL, "since must be milliseconds since the epoch");
            return;
        }
    }
    json_t *entries = NULL;
    if (auth_audit_list(r->api->store, (uint64_t)since, http_query(r, "after"), (size_t)limit,
                        &entries, &e) < 0) {
        http_send_err(r, &e);
        return;
    }
    http_send_json(r, 200, json_pack("{s:o}", "entries", entries));
}
