/* The blockchain networks an operator configured (`--eth NAME=URL[,CHAIN_ID]`,
 * `--neo NAME=URL`): one JSON-RPC client per network, and its chain id (Ethereum) or
 * network magic (Neo N3), resolved from the node on first use when not configured.
 * The first network of each kind is that kind's default. Immutable after start-up except
 * for the lazily resolved id, which is guarded. */
#ifndef R3E_CHAIN_NET_H
#define R3E_CHAIN_NET_H

#include "chain/rpc.h"
#include "core/err.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

typedef enum { CHAIN_ETH, CHAIN_NEO } chain_kind_t;

/* What the event source and the relayer of a network last saw, for /metrics. Written by
 * their threads, read by the scrape: atomics, so a scrape never waits for (or calls) a node.
 * Label sets stay bounded: network names and the fixed enums below, never trigger ids. */
enum { CHAIN_EV_BLOCK, CHAIN_EV_ITEM, CHAIN_EV_N }; /* item: eth.log / neo.notification */
enum { CHAIN_TX_QUEUED, CHAIN_TX_SUBMITTED, CHAIN_TX_LIVE_N };
enum { CHAIN_TX_FINAL_N = 4 }; /* eth: mined failed dropped error; neo: executed faulted error */

typedef struct {
    atomic_bool head_known;
    atomic_ullong head;               /* the last head block number / index seen */
    atomic_ullong lag;                /* max over enabled triggers of blocks still to process */
    atomic_ullong events[CHAIN_EV_N]; /* events emitted */
    atomic_ullong reorgs;             /* eth: reorgs undone (per trigger that had processed them) */
} chain_src_stats_t;

typedef struct {
    atomic_bool on;                        /* an enabled relayer runs on this network */
    atomic_ullong live[CHAIN_TX_LIVE_N];   /* records by state at the tracker's last round */
    atomic_ullong final[CHAIN_TX_FINAL_N]; /* records that reached a final state (this run) */
    atomic_ullong resubmits;               /* re-signed and sent again (fee bump / expiry) */
    atomic_bool balance_known;
    _Atomic double balance; /* eth: wei, from the tracker's last eth_getBalance */
} chain_relayer_stats_t;

typedef struct {
    chain_kind_t kind;
    char name[64];
    char url[512];
    uint64_t chain_id; /* eth: chain id; neo: network magic */
    bool id_known;
    rpc_client_t *rpc; /* owned */
    chain_src_stats_t src;
    chain_relayer_stats_t relayer;
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

/* The names of the final relayer states of a kind, CHAIN_TX_FINAL_N entries (NULL-padded). */
const char *const *chain_relayer_final_states(chain_kind_t kind);
/* Index of a final state name in chain_relayer_final_states, -1 when it is not one. */
int chain_relayer_final_index(chain_kind_t kind, const char *state);

/* Prometheus text for every network: node calls (r3e_chain_rpc_calls_total{chain,network,
 * outcome}, r3e_chain_rpc_duration_seconds{chain,network}), the event source (r3e_chain_head,
 * r3e_chain_source_lag_blocks, r3e_chain_source_events_total, r3e_chain_source_reorgs_total)
 * and the relayer (r3e_relayer_transactions, r3e_relayer_transactions_final_total,
 * r3e_relayer_resubmits_total, r3e_relayer_balance_wei). malloc'ed; "" when none. */
char *chain_nets_metrics_text(chain_nets_t *n);

#endif
