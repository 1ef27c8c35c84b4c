/* Internal to src/api: the server-wide context every handler sees and the handler entry
 * points the route table in server.c refers to. */
#ifndef R3E_API_API_H
#define R3E_API_API_H

#include "api/config.h"
#include "api/fncache.h"
#include "api/http.h"
#include "api/logbus.h"
#include "api/router.h"
#include "auth/rbac.h"
#include "runtime/runtime.h"
#include "store/store.h"

#include <stdatomic.h>
#include <stdbool.h>

#define API_NS "default"

struct auth_jwt;
struct auth_ratelimit;
struct auth_audit_pruner;
struct api_host;
struct chain_nets;

typedef struct api {
    api_config_t cfg;
    store_t *store;    /* owned by server.c */
    runtime_t *rt;     /* owned by server.c */
    logbus_t *bus;     /* owned by server.c */
    fncache_t *fns;    /* active versions for the invoke path; owned by server.c */
    atomic_int active; /* requests between first call and completion */
    atomic_bool stopping;
    /* authn.c: authentication state; auth_on false only for --dev on loopback */
    bool auth_on;
    struct auth_jwt *jwt;                   /* NULL when no signing/verifying key is configured */
    struct auth_ratelimit *rl_key;          /* per principal */
    struct auth_ratelimit *rl_ns;           /* per namespace */
    struct auth_ratelimit *rl_ip;           /* per client IP, unauthenticated traffic; NULL = off */
    struct auth_audit_pruner *audit_pruner; /* audit log retention; NULL = keep forever */
    struct evsys *ev; /* evsys.c: queue, triggers, sources; owned by server.c */
    char *tls_cert_pem, *tls_key_pem, *tls_ca_pem; /* server.c: TLS material, malloc'ed */
    struct api_host *host;                         /* host.c: services for functions */
    struct chain_nets *chains;                     /* --eth / --neo networks; owned by server.c */
    struct eth_relayers *eth_relayers;             /* handlers_relayer.c: one per --eth net */
    struct neo_source *neo_src;                    /* chain/neo/neo_source.c: neo triggers */
    struct eth_source *eth_src;                    /* chain/eth/eth_source.c: eth triggers */
    struct neo_relayer *neo_relayer;               /* chain/neo/neo_relayer.c */
    struct eth_nonces *eth_nonces;                 /* host_chain.c: function wallet nonces */
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

/* authn.c */
/* Sets up authentication at start-up (admin key bootstrap, JWT keys, rate limiters) from
 * api->cfg; prints a freshly created admin key once. 0 or -1 with err. */
int api_authn_init(api_t *api, err_t *err);
void api_authn_free(api_t *api);
/* Stops the background work that uses the store (audit retention): before store_close. */
void api_authn_stop(api_t *api);
/* `r3e server init …` (argv[0] = "init"): creates and prints the admin key. Exit code. */
int api_authn_init_main(int argc, char **argv);
/* Runs before every routed handler: picks the namespace, authenticates, authorizes the
 * route's permission, applies rate limits. Returns true to proceed; false after queueing
 * the 401/403/429 (and auditing it). */
bool api_authn_request(http_req_t *r, const route_match_t *m);
/* Records the request in the audit log when it was a write or was refused (called from the
 * completion callback). */
void api_authn_audit(http_req_t *r);
/* HTTP trigger check for a function's `auth` setting ("public", "key", "jwt"): true to
 * proceed, false after queueing 401/403. */
bool api_authn_trigger(http_req_t *r, const char *mode);
/* The authenticated principal of r (role NONE when anonymous). */
void api_authn_principal(const http_req_t *r, auth_principal_t *p);
void api_h_keys_create(http_req_t *r, const route_match_t *m); /* POST /v1/keys */
void api_h_keys_list(http_req_t *r, const route_match_t *m);   /* GET /v1/keys */
void api_h_keys_get(http_req_t *r, const route_match_t *m);    /* GET /v1/keys/{id} */
void api_h_keys_revoke(http_req_t *r, const route_match_t *m); /* DELETE /v1/keys/{id} */
void api_h_auth_token(http_req_t *r, const route_match_t *m);  /* POST /v1/auth/token */
void api_h_audit(http_req_t *r, const route_match_t *m);       /* GET /v1/audit */
void api_h_trigger_ns(http_req_t *r, const route_match_t *m);  /* ANY /ns/{ns}/fn/{name}/… */

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
/* The same in namespace ns. */
int api_active_version_in(api_t *api, const char *ns, const char *name, store_version_t *v,
                          err_t *err);

#endif
