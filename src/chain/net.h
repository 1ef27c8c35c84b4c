/* The blockchain networks an operator configured (`--eth NAME=URL[,CHAIN_ID]`,
 * `--neo NAME=URL`): one JSON-RPC client per network, and its chain id (Ethereum) or
 * network magic (Neo N3), resolved from the node on first use when not configured.
 * The first network of each kind is that kind's default. Immutable after start-up except
 * for the lazily resolved id, which is guarded. */
#ifndef R3E_CHAIN_NET_H
#define R3E_CHAIN_NET_H

#include "chain/rpc.h"
#include "core/err.h"

#include <stdbool.h>
#include <stdint.h>

typedef enum { CHAIN_ETH, CHAIN_NEO } chain_kind_t;

typedef struct {
    chain_kind_t kind;
    char name[64];
    char url[512];
    uint64_t chain_id; /* eth: chain id; neo: network magic */
    bool id_known;
    rpc_client_t *rpc; /* owned */
} chain_net_t;

typedef struct chain_nets chain_nets_t;

chain_nets_t *chain_nets_new(void);
void chain_nets_free(chain_nets_t *n);
/* Adds one network from its flag value: "NAME=URL" or, for eth, "NAME=URL,CHAIN_ID". */
int chain_nets_add(chain_nets_t *n, chain_kind_t kind, const char *spec, err_t *err);
/* Adds every entry of a ';'-separated list (environment form). */
int chain_nets_add_list(chain_nets_t *n, chain_kind_t kind, const char *list, err_t *err);

/* name NULL or "" = the kind's default. NULL when there is no such network. */
chain_net_t *chain_nets_find(chain_nets_t *n, chain_kind_t kind, const char *name);
size_t chain_nets_count(const chain_nets_t *n, chain_kind_t kind);
chain_net_t *chain_nets_at(chain_nets_t *n, chain_kind_t kind, size_t i);

/* The chain id / magic, asking the node (eth_chainId, getversion) the first time. */
int chain_net_id(chain_net_t *net, uint64_t *out, err_t *err);

const char *chain_kind_name(chain_kind_t kind); /* "eth" | "neo" */

/* Prometheus text for every network's node calls: r3e_chain_rpc_calls_total{chain,network,
 * outcome} and r3e_chain_rpc_duration_seconds{chain,network}. malloc'ed; "" when none. */
char *chain_nets_metrics_text(chain_nets_t *n);

#endif
