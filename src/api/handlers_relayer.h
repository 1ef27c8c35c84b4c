/* The platform's relayers as API routes and as the "eth.relay" host service:
 *   GET  /v1/relayer/eth/{network}                      address, chain id, nonce, balance
 *   POST /v1/relayer/eth/{network}/transactions         send -> 202 record
 *   GET  /v1/relayer/eth/{network}/transactions         newest first (?limit=1..100)
 *   GET  /v1/relayer/eth/{network}/transactions/{id}    one record
 * Records are scoped by the request's namespace (a function's own for eth.relay). */
#ifndef R3E_API_HANDLERS_RELAYER_H
#define R3E_API_HANDLERS_RELAYER_H

#include "api/api.h"
#include "vault/vault.h"

/* Starts one relayer per --eth network (chain/eth/relayer.h) and registers "eth.relay".
 * Call after api->chains, the store and the vault are set up. vault may be NULL. */
int api_relayer_start(api_t *api, vault_t *vault, err_t *err);
/* Joins the relayers' trackers; call after the HTTP daemon and the runtime stopped and
 * before the store closes. Safe to call twice. */
void api_relayer_stop(api_t *api);

void api_h_relayer_eth_info(http_req_t *r, const route_match_t *m);
void api_h_relayer_eth_send(http_req_t *r, const route_match_t *m);
void api_h_relayer_eth_list(http_req_t *r, const route_match_t *m);
void api_h_relayer_eth_get(http_req_t *r, const route_match_t *m);

#endif
