/* Function management: deploy (new version), list, describe, delete, roll back/forward. */
#include "api/api.h"
#include "api/deploy.h"
#include "api/secrets.h"

#include "core/util.h"
#include "obs/log.h"

#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void fn_time(json_t *o, const char *key, uint64_t ms) {
    char ts[40];
    util_rfc3339(ms, ts, sizeof ts);
    json_object_set_new(o, key, json_string(ts));
}

static json_t *fn_summary_json(const store_function_t *f) {
    json_t *o = json_object();
    json_object_set_new(o, "name", json_string(f->name));
    json_object_set_new(o, "active_version", json_integer(f->active_version));
    json_object_set_new(o, "latest_version", json_integer(f->latest_version));
    fn_time(o, "created_at", f->created_ms);
    fn_time(o, "updated_at", f->updated_ms);
    return o;
}

/* Syntax check in a worker. Returns 0 when the code parses; otherwise the 400 (with
 * line/column details) or the runtime's failure has been sent. */
static int fn_check_syntax(http_req_t *r, const deploy_req_t *d) {
    json_t *se = NULL;
    err_t e;
    int rc = runtime_check_syntax(r->api->rt, d->code, d->code_len, &se, &e);
    if (rc < 0) {
        http_send_err(r, &e);
        return -1;
    }
    if (rc == 0) return 0;
    const char *name = json_string_value(json_object_get(se, "name"));
    const char *msg = json_string_value(json_object_get(se, "message"));
    json_int_t line = json_integer_value(json_object_get(se, "line"));
    json_int_t col = json_integer_value(json_object_get(se, "column"));
    char text[1024];
    snprintf(text, sizeof text, "%s: %s (line %lld, column %lld)", name ? name : "SyntaxError",
             msg ? msg : "invalid code", (long long)line, (long long)col);
    http_send_error_ex(r, 400, err_code_name(R3E_EINVAL), text,
                       json_pack("{s:I,s:I}", "line", line, "column", col));
    json_decref(se);
    return -1;
}

/* True when the function exists; on a storage error the error response is sent. */
static bool fn_exists(http_req_t *r, const char *name) {
    store_function_t f;
    err_t e;
    if (store_get_function(r->api->store, r->ns, name, &f, &e) == 0) return true;
    if (e.code != R3E_ENOTFOUND) http_send_err(r, &e);
    return false;
}

static void fn_deploy(http_req_t *r, const char *path_name) {
    json_t *body = http_require_json_object(r);
    if (!body) return;
    deploy_req_t d;
    err_t e;
    if (deploy_parse(body, path_name, &d, &e) < 0) {
        http_send_err(r, &e);
        json_decref(body);
        return;
    }
    snprintf(d.spec.ns, sizeof d.spec.ns, "%s", r->ns); /* the request's namespace */
    snprintf(r->function_buf, sizeof r->function_buf, "%s", d.spec.name);
    r->function = r->function_buf;
    if (!path_name && fn_exists(r, d.spec.name)) {
        /* POST creates; new versions go through PUT. Checked before the syntax check so a
         * conflicting name costs no worker round trip. (Two racing POSTs can both pass:
         * the store has no create-only deploy; the later one becomes version 2.) */
        http_send_error(r, R3E_EEXIST,
                        "function \"%s\" already exists (PUT /v1/functions/%s deploys a new "
                        "version)",
                        d.spec.name, d.spec.name);
    } else if (!r->status && fn_check_syntax(r, &d) == 0) {
        store_version_t v;
        if (store_deploy(r->api->store, &d.spec, d.code, d.code_len, &v, &e) < 0) {
            http_send_err(r, &e);
        } else {
            fncache_invalidate(r->api->fns, v.name);
            log_msg(LOG_INFO, &(log_ctx_t){.request_id = r->request_id, .function = v.name},
                    "deployed version %u (%s, %llu bytes)", v.version, v.code_hash,
                    (unsigned long long)v.code_size);
            json_t *o = deploy_version_json(&v, true);
            char *text = json_dumps(o, JSON_COMPACT);
            json_decref(o);
            struct MHD_Response *resp =
                text ? MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE)
                     : NULL;
            if (resp) {
                char loc[128];
                snprintf(loc, sizeof loc, "/v1/functions/%s", v.name);
                MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
                MHD_add_response_header(resp, MHD_HTTP_HEADER_LOCATION, loc);
                http_queue(r, 201, resp);
            } else {
                free(text);
                http_send_error(r, R3E_EINTERNAL, "could not encode the response");
            }
            store_version_free(&v);
        }
    }
    deploy_req_free(&d);
    json_decref(body);
}

void api_h_deploy(http_req_t *r, const route_match_t *m) {
    (void)m;
    fn_deploy(r, NULL);
}

void api_h_redeploy(http_req_t *r, const route_match_t *m) {
    fn_deploy(r, m->params[0]);
}

void api_h_list_functions(http_req_t *r, const route_match_t *m) {
    (void)m;
    store_function_t *fs = NULL;
    size_t n = 0;
    err_t e;
    if (store_list_functions(r->api->store, r->ns, &fs, &n, &e) < 0) {
        http_send_err(r, &e);
        return;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, fn_summary_json(&fs[i]));
    free(fs);
    http_send_json(r, 200, json_pack("{s:o}", "functions", arr));
}

/* 400 for names that cannot exist, so lookups never reach the store with junk. */
static int fn_get(http_req_t *r, const char *name, store_function_t *f) {
    err_t e;
    if (!util_valid_name(name)) {
        http_send_error(r, R3E_EINVAL, "function name must match [a-z0-9][a-z0-9-]{0,62}");
        return -1;
    }
    if (store_get_function(r->api->store, r->ns, name, f, &e) < 0) {
        if (e.code == R3E_ENOTFOUND)
            http_send_error(r, R3E_ENOTFOUND, "function \"%s\" not found", name);
        else
            http_send_err(r, &e);
        return -1;
    }
    return 0;
}

/* The describe view: the function, its active version (also as "limits") and all versions. */
static void fn_describe(http_req_t *r, const store_function_t *f0) {
    store_function_t f = *f0;
    store_version_t *vs = NULL;
    size_t n = 0;
    err_t e;
    if (store_list_versions(r->api->store, r->ns, f.name, &vs, &n, &e) < 0) {
        http_send_err(r, &e);
        return;
    }
    json_t *o = fn_summary_json(&f);
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        json_array_append_new(arr, deploy_version_json(&vs[i], true));
        if (vs[i].version == f.active_version) {
            json_object_set_new(o, "active", deploy_version_json(&vs[i], true));
            json_object_set_new(o, "limits",
                                json_pack("{s:i,s:i,s:s,s:i}", "timeout_ms", vs[i].timeout_ms,
                                          "memory_mb", vs[i].memory_mb, "isolation",
                                          vs[i].isolation, "concurrency", vs[i].concurrency));
        }
    }
    store_versions_free(vs, n);
    json_object_set_new(o, "versions", arr);
    http_send_json(r, 200, o);
}

void api_h_get_function(http_req_t *r, const route_match_t *m) {
    store_function_t f;
    if (fn_get(r, m->params[0], &f) < 0) return;
    fn_describe(r, &f);
}

void api_h_delete_function(http_req_t *r, const route_match_t *m) {
    store_function_t f;
    if (fn_get(r, m->params[0], &f) < 0) return;
    err_t e;
    if (store_delete_function(r->api->store, r->ns, f.name, &e) < 0) {
        http_send_err(r, &e);
        return;
    }
    fncache_invalidate(r->api->fns, f.name);
    /* a function created later under the same name must not inherit these secrets */
    if (api_secrets_vault() &&
        vault_delete_all_for_function(api_secrets_vault(), r->ns, f.name, &e) < 0)
        log_warn("secrets of deleted function %s not removed: %s", f.name, e.msg);
    log_msg(LOG_INFO, &(log_ctx_t){.request_id = r->request_id, .function = f.name},
            "deleted function");
    http_send_json(r, 200, json_pack("{s:s}", "deleted", f.name));
}

void api_h_set_active(http_req_t *r, const route_match_t *m) {
    store_function_t f;
    if (fn_get(r, m->params[0], &f) < 0) return;
    json_t *body = http_require_json_object(r);
    if (!body) return;
    json_t *v = json_object_get(body, "version");
    if (json_object_size(body) != 1 || !json_is_integer(v) || json_integer_value(v) < 1 ||
        json_integer_value(v) > UINT32_MAX) {
        json_decref(body);
        http_send_error(r, R3E_EINVAL, "body must be {\"version\": N} with N >= 1");
        return;
    }
    uint32_t ver = (uint32_t)json_integer_value(v);
    json_decref(body);
    err_t e;
    store_version_t sv;
    if (store_get_version(r->api->store, r->ns, f.name, ver, &sv, &e) < 0) {
        if (e.code == R3E_ENOTFOUND)
            http_send_error(r, R3E_ENOTFOUND, "function \"%s\" has no version %u", f.name, ver);
        else
            http_send_err(r, &e);
        return;
    }
    store_version_free(&sv);
    if (store_set_active(r->api->store, r->ns, f.name, ver, &e) < 0) {
        if (e.code == R3E_ENOTFOUND)
            http_send_error(r, R3E_ENOTFOUND, "function \"%s\" has no version %u", f.name, ver);
        else
            http_send_err(r, &e);
        return;
    }
    fncache_invalidate(r->api->fns, f.name);
    log_msg(LOG_INFO, &(log_ctx_t){.request_id = r->request_id, .function = f.name},
            "active version set to %u", ver);
    store_function_t now; /* not into f: the store may clear *out before reading name */
    if (store_get_function(r->api->store, r->ns, f.name, &now, &e) < 0) {
        http_send_err(r, &e);
        return;
    }
    fn_describe(r, &now);
}
