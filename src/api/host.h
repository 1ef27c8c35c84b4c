/* Host services: the server-side halves of platform APIs that functions reach through
 * `host(svc, args)` in the sandbox (ctx.eth, ctx.neo, relayers, …). Components register a
 * service by name at start-up; the runtime calls api_host_dispatch on the invoking thread
 * while the function waits for the answer. */
#ifndef R3E_API_HOST_H
#define R3E_API_HOST_H

#include "api/api.h"
#include "runtime/runtime.h"

#include <jansson.h>

/* args is borrowed. Returns an owned result or NULL with err (R3E_EUPSTREAM plus *rpc_error
 * for a node's own error answer). */
typedef json_t *(*host_svc_fn)(void *ud, const runtime_caller_t *who, const json_t *args,
                               json_t **rpc_error, err_t *err);

/* Registers svc (copied). Thread-safe; a second registration of a name replaces it. */
int api_host_register(api_t *api, const char *svc, host_svc_fn fn, void *ud, err_t *err);
/* The runtime_host_fn the server installs (ud = api_t *). */
json_t *api_host_dispatch(void *ud, const runtime_caller_t *who, const char *svc,
                          const json_t *args, json_t **rpc_error, err_t *err);
void api_host_free(api_t *api);

/* host_chain.c: eth.rpc, eth.batch, eth.network, neo.rpc, neo.batch, neo.network over the
 * networks in api->chains, and eth.nonce / eth.nonce_release (nonce reservations for function
 * wallets, chain/eth/eth_nonce.h; api->eth_nonces, freed by api_host_chain_free). */
int api_host_chain_register(api_t *api, err_t *err);
void api_host_chain_free(api_t *api);

#endif
