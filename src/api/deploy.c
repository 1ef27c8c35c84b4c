/* Deploy payload validation: strict (unknown fields are errors) so a typo such as
 * "timeout" instead of "timeout_ms" is reported, not silently ignored. */
#include "api/deploy.h"

#include "core/util.h"

#include <stdlib.h>
#include <string.h>

static int deploy_uint(json_t *v, const char *field, long long lo, long long hi, uint32_t *out,
                       err_t *err) {
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
        return err_set(err, R3E_EINVAL, "%s must be an integer in %lld..%lld", field, lo, hi);
    *out = (uint32_t)json_integer_value(v);
    return 0;
}

/* Bodies are parsed with U+0000 allowed (code and env may hold it); identifiers may not. */
static bool deploy_plain_string(json_t *v) {
    return strlen(json_string_value(v)) == json_string_length(v);
}

static int deploy_env(json_t *v, deploy_req_t *out, err_t *err) {
    if (!json_is_object(v)) return err_set(err, R3E_EINVAL, "env must be an object of strings");
    size_t total = 0;
    const char *k;
    json_t *s;
    json_object_foreach(v, k, s) {
        if (!json_is_string(s)) return err_set(err, R3E_EINVAL, "env.%.64s must be a string", k);
        if (!*k) return err_set(err, R3E_EINVAL, "env keys must be non-empty");
        total += strlen(k) + json_string_length(s);
    }
    if (total > DEPLOY_MAX_ENV)
        return err_set(err, R3E_EINVAL, "env is too large (%zu bytes, limit %u)", total,
                       DEPLOY_MAX_ENV);
    out->spec.env_json = json_dumps(v, JSON_COMPACT);
    if (!out->spec.env_json) return err_set(err, R3E_EINTERNAL, "could not encode env");
    return 0;
}

static int deploy_field(const char *key, json_t *v, const char *path_name, deploy_req_t *out,
                        err_t *err) {
    store_version_t *s = &out->spec;
    if (strcmp(key, "name") == 0) {
        if (!json_is_string(v) || !deploy_plain_string(v) || !util_valid_name(json_string_value(v)))
            return err_set(err, R3E_EINVAL,
                           "name must be a string matching [a-z0-9][a-z0-9-]{0,62}");
        if (path_name && strcmp(path_name, json_string_value(v)) != 0)
            return err_set(err, R3E_EINVAL, "name in the body differs from the name in the URL");
        strcpy(s->name, json_string_value(v));
    } else if (strcmp(key, "code") == 0) {
        if (!json_is_string(v) || json_string_length(v) == 0)
            return err_set(err, R3E_EINVAL, "code must be a non-empty string");
        if (json_string_length(v) > DEPLOY_MAX_CODE)
            return err_set(err, R3E_EINVAL, "code is too large (%zu bytes, limit %u)",
                           json_string_length(v), DEPLOY_MAX_CODE);
        out->code = json_string_value(v);
        out->code_len = json_string_length(v);
    } else if (strcmp(key, "timeout_ms") == 0) {
        return deploy_uint(v, key, 1, 300000, &s->timeout_ms, err);
    } else if (strcmp(key, "memory_mb") == 0) {
        return deploy_uint(v, key, 16, 2048, &s->memory_mb, err);
    } else if (strcmp(key, "concurrency") == 0) {
        return deploy_uint(v, key, 0, 100000, &s->concurrency, err);
    } else if (strcmp(key, "isolation") == 0) {
        const char *iso = json_string_value(v);
        if (!iso || !deploy_plain_string(v) ||
            (strcmp(iso, "warm") != 0 && strcmp(iso, "fresh") != 0))
            return err_set(err, R3E_EINVAL, "isolation must be \"warm\" or \"fresh\"");
        strcpy(s->isolation, iso);
    } else if (strcmp(key, "env") == 0) {
        return deploy_env(v, out, err);
    } else if (strcmp(key, "auth") == 0) { /* who may call the HTTP trigger */
        const char *a = json_string_value(v);
        if (!a || !deploy_plain_string(v) ||
            (strcmp(a, "public") != 0 && strcmp(a, "key") != 0 && strcmp(a, "jwt") != 0))
            return err_set(err, R3E_EINVAL, "auth must be \"public\", \"key\" or \"jwt\"");
        strcpy(s->trigger_auth, a);
    } else {
        return err_set(err, R3E_EINVAL,
                       "unknown field \"%.64s\" (allowed: name, code, timeout_ms, memory_mb, "
                       "isolation, env, concurrency, auth)",
                       key);
    }
    return 0;
}

int deploy_parse(json_t *body, const char *path_name, deploy_req_t *out, err_t *err) {
    memset(out, 0, sizeof *out);
    store_version_t *s = &out->spec;
    strcpy(s->ns, "default");
    s->timeout_ms = 10000;
    s->memory_mb = 128;
    strcpy(s->isolation, "warm");
    strcpy(s->trigger_auth, "public");
    if (!json_is_object(body))
        return err_set(err, R3E_EINVAL, "request body must be a JSON object");
    if (path_name) {
        if (!util_valid_name(path_name))
            return err_set(err, R3E_EINVAL, "function name must match [a-z0-9][a-z0-9-]{0,62}");
        strcpy(s->name, path_name);
    }
    const char *key;
    json_t *v;
    json_object_foreach(body, key, v) {
        if (deploy_field(key, v, path_name, out, err) < 0) {
            deploy_req_free(out);
            return -1;
        }
    }
    const char *missing = !s->name[0] ? "name" : !out->code ? "code" : NULL;
    if (missing) {
        deploy_req_free(out);
        return err_set(err, R3E_EINVAL, "%s is required", missing);
    }
    return 0;
}

void deploy_req_free(deploy_req_t *d) {
    free(d->spec.env_json);
    d->spec.env_json = NULL;
}

json_t *deploy_version_json(const store_version_t *v, bool with_name) {
    char ts[40];
    util_rfc3339(v->created_ms, ts, sizeof ts);
    json_t *o = json_object();
    if (with_name) json_object_set_new(o, "name", json_string(v->name));
    json_object_set_new(o, "version", json_integer(v->version));
    json_object_set_new(o, "code_sha256", json_string(v->code_hash));
    json_object_set_new(o, "code_size", json_integer((json_int_t)v->code_size));
    json_object_set_new(o, "timeout_ms", json_integer(v->timeout_ms));
    json_object_set_new(o, "memory_mb", json_integer(v->memory_mb));
    json_object_set_new(o, "isolation", json_string(v->isolation));
    json_object_set_new(o, "concurrency", json_integer(v->concurrency));
    json_object_set_new(o, "auth", json_string(v->trigger_auth[0] ? v->trigger_auth : "public"));
    json_object_set_new(o, "created_at", json_string(ts));
    return o;
}
