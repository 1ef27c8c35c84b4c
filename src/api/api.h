/* Internal to src/api: the server-wide context every handler sees and the handler entry
 * points the route table in server.c refers to. */
#ifndef R3E_API_API_H
#define R3E_API_API_H

#include "api/config.h"
#include "api/fncache.h"
#include "api/http.h"
#include "api/logbus.h"
#include "api/router.h"
#include "runtime/runtime.h"
#include "store/store.h"

#include <stdatomic.h>
#include <stdbool.h>

#define API_NS "default"

typedef struct api {
    api_config_t cfg;
    store_t *store;    /* owned by server.c */
    runtime_t *rt;     /* owned by server.c */
    logbus_t *bus;     /* owned by server.c */
    fncache_t *fns;    /* active versions for the invoke path; owned by server.c */
    atomic_int active; /* requests between first call and completion */
    atomic_bool stopping;
} api_t;

typedef void (*api_handler_fn)(http_req_t *r, const route_match_t *m);

/* handlers_functions.c */
void api_h_deploy(http_req_t *r, const route_match_t *m);   /* POST /v1/functions */
void api_h_redeploy(http_req_t *r, const route_match_t *m); /* PUT /v1/functions/{name} */
void api_h_list_functions(http_req_t *r, const route_match_t *m);
void api_h_get_function(http_req_t *r, const route_match_t *m);
void api_h_delete_function(http_req_t *r, const route_match_t *m);
void api_h_set_active(http_req_t *r, const route_match_t *m);

/* handlers_invoke.c */
void api_h_invoke(http_req_t *r, const route_match_t *m);  /* POST …/{name}/invoke */
void api_h_trigger(http_req_t *r, const route_match_t *m); /* ANY /fn/{name}/… */

/* handlers_executions.c */
void api_h_get_execution(http_req_t *r, const route_match_t *m);
void api_h_list_executions(http_req_t *r, const route_match_t *m);
void api_h_logs(http_req_t *r, const route_match_t *m);

/* One NDJSON log line {time, level, msg, execution_id, function} from a runtime log entry
 * {t, level, msg}: t is wall-clock ms, or ms since the start when small, or already a
 * string. New reference. */
json_t *api_log_line(json_t *entry, const char *exec_id, const char *function, uint64_t started_ms);

/* server.c */
/* The route table (for tests and fuzzers). */
const route_t *api_route_table(size_t *n);
void api_h_healthz(http_req_t *r, const route_match_t *m);
void api_h_readyz(http_req_t *r, const route_match_t *m);
void api_h_metrics(http_req_t *r, const route_match_t *m);

/* Raises this connection's idle timeout while a handler blocks for up to `ms` (an
 * invocation): MHD counts the time spent in the handler as idleness. */
void api_conn_extend_timeout(http_req_t *r, uint64_t ms);

/* Looks up the active version of a function: 0, or -1 (R3E_ENOTFOUND with a message that
 * names the function). *v released with store_version_free. */
int api_active_version(api_t *api, const char *name, store_version_t *v, err_t *err);

#endif
