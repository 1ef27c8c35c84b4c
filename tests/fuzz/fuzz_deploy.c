/* Fuzzes deploy payload validation: any bytes that parse as JSON go through deploy_parse
 * as a POST body and as a PUT body; accepted payloads must satisfy the documented limits. */
#include "api/deploy.h"

#include "core/util.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void check(json_t *body, const char *path_name) {
    deploy_req_t d;
    err_t e;
    if (deploy_parse(body, path_name, &d, &e) < 0) {
        if (e.code != R3E_EINVAL && e.code != R3E_EINTERNAL) abort();
        if (!e.msg[0]) abort();
        return;
    }
    const store_version_t *s = &d.spec;
    if (!util_valid_name(s->name)) abort();
    if (s->timeout_ms < 1 || s->timeout_ms > 300000) abort();
    if (s->memory_mb < 16 || s->memory_mb > 2048) abort();
    if (strcmp(s->isolation, "warm") != 0 && strcmp(s->isolation, "fresh") != 0) abort();
    if (!d.code || d.code_len == 0 || d.code_len > DEPLOY_MAX_CODE) abort();
    if (s->env_json) {
        json_t *env = json_loads(s->env_json, JSON_ALLOW_NUL, NULL);
        if (!json_is_object(env)) abort();
        json_decref(env);
    }
    json_t *vj = deploy_version_json(s, true);
    json_decref(vj);
    deploy_req_free(&d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    json_t *body = json_loadb((const char *)data, size, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    if (!body) return 0;
    check(body, NULL);
    check(body, "fuzzed-name");
    json_t *name = json_object_get(body, "name");
    if (json_is_string(name)) check(body, json_string_value(name));
    json_decref(body);
    return 0;
}
