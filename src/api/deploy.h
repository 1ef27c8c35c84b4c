/* Deploy payload validation, separate from the handler so unit tests and the fuzzer can
 * drive it without a server. */
#ifndef R3E_API_DEPLOY_H
#define R3E_API_DEPLOY_H

#include "core/err.h"
#include "store/store.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define DEPLOY_MAX_CODE (1024u * 1024)
#define DEPLOY_MAX_ENV (64u * 1024)

typedef struct {
    store_version_t spec; /* ns, name, limits, isolation, env_json (malloc'ed or NULL) */
    const char *code;     /* borrowed from the parsed body (json_t) passed in */
    size_t code_len;
} deploy_req_t;

/* Validates a parsed deploy body. path_name: the {name} from PUT /v1/functions/{name}
 * (NULL for POST, where "name" is required). Fills *out; code points into body, so body
 * must outlive out. Returns 0, or -1 with R3E_EINVAL and a message naming the field.
 * Release with deploy_req_free. */
int deploy_parse(json_t *body, const char *path_name, deploy_req_t *out, err_t *err);
void deploy_req_free(deploy_req_t *d);

/* The version object of the API: {name, version, code_sha256, code_size, timeout_ms,
 * memory_mb, isolation, concurrency, created_at}. New reference. */
json_t *deploy_version_json(const store_version_t *v, bool with_name);

#endif
