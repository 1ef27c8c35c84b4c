/* The "eth" event source (issue 5): blocks and contract logs of a configured Ethereum
 * network, delivered to triggers as CloudEvents `eth.block` / `eth.log`.
 *
 * One follower thread per network that has at least one eth trigger. It learns the chain
 * head from an `eth_subscribe("newHeads")` WebSocket subscription (the node's http:// URL
 * with ws://; hardhat and geth serve both on one port), or by polling `eth_blockNumber`
 * when the node offers no WebSocket or the subscription broke. For each trigger it reads
 * the next blocks by number (one JSON-RPC batch), checks that each block's parentHash is
 * the hash of the block before it, reads the trigger's logs for that range with
 * `eth_getLogs` (and checks each log's blockHash against the headers, so a reorg between the
 * two reads is caught), emits the events and persists the trigger's cursor.
 *
 * Cursor (store meta kind "ethcur", key trigger id): the last processed block, its hash, a
 * reorg epoch and the window of the last ETH_SRC_WINDOW processed blocks. The logs delivered
 * for a block in the window are kept too (kind "ethblk", key trigger "/" %020 number), so a
 * reorg can re-deliver them with `removed: true` even when the node no longer has them.
 * The cursor is written after the events are ingested; event ids are a pure function of
 * (trigger, block hash, log index, removed, epoch), so events emitted again after a crash
 * are duplicates for the event log, not second deliveries.
 *
 * Reorgs: a parentHash mismatch (or a head below the cursor) makes the follower ask the node
 * for its hashes at the window's heights; the newest block whose hash still matches is the
 * common ancestor. Logs (and blocks, for block triggers) of the abandoned blocks are
 * delivered again with `removed: true`, newest first, then the new chain is processed.
 * Reorgs deeper than the window are logged as errors (their older blocks are not undone).
 *
 * Thread-safety: add/remove/check may be called from any thread; the emit callback is called
 * from follower threads without any of the source's locks held. */
#ifndef R3E_CHAIN_ETH_SOURCE_H
#define R3E_CHAIN_ETH_SOURCE_H

#include "chain/eth/eth.h"
#include "chain/net.h"
#include "events/source.h"
#include "store/store.h"

#include <stdbool.h>
#include <stdint.h>

#define ETH_SRC_WINDOW 64             /* reorg depth undone; blocks remembered per trigger */
#define ETH_SRC_MAX_CONFIRMATIONS 128 /* source.confirmations upper bound */
#define ETH_SRC_BATCH 100             /* blocks read per step (one batch + one eth_getLogs) */
#define ETH_SRC_MAX_TOPIC_OR 16       /* alternatives in one topic position */

typedef struct eth_source eth_source_t;

typedef struct {
    int poll_ms; /* head polling interval when there is no subscription (default 1000) */
    bool ws;     /* try eth_subscribe over WebSocket */
    /* The live eth trigger records ({id, ns, enabled, source}), new array; when set, a sync
     * thread mirrors them into the source every ETH_SRC_SYNC_MS (add/remove otherwise). */
    json_t *(*triggers)(void *ud);
    void *ud;
} eth_source_opts_t;

#define ETH_SRC_SYNC_MS 200

/* A source that is not started yet (triggers can be added before start). nets and store are
 * borrowed and must outlive it. NULL with err on allocation failure. */
eth_source_t *eth_source_new(chain_nets_t *nets, store_t *store, const eth_source_opts_t *opts,
                             err_t *err);
/* The event_source_t view ({type "eth", start, stop}); start launches the followers of the
 * networks that have enabled triggers, stop joins them. */
event_source_t *eth_source_iface(eth_source_t *s);
/* Stops (if started) and frees. NULL is fine. */
void eth_source_free(eth_source_t *s);

/* Validates a trigger's "source" object ({"type":"eth",…}) against the configured networks
 * and normalizes it in place: "network" set to the resolved name, topics and address in
 * lowercase, topics[0] from "abi" when not given, and "fromBlock" set to the node's next
 * block when absent and the node answers (so a new trigger starts exactly where it was
 * created). 0, or -1 with R3E_EINVAL and a message naming the bad field. */
int eth_source_check(chain_nets_t *nets, json_t *source, err_t *err);

/* Adds (or replaces) trigger id with its stored source object. A disabled trigger is kept
 * but not followed (its cursor stays; enabling resumes from it). */
int eth_source_add(eth_source_t *s, const char *id, const char *ns, const json_t *source,
                   bool enabled, err_t *err);
void eth_source_remove(eth_source_t *s, const char *id);
/* Deletes the persisted cursor and block records of a deleted trigger. */
void eth_source_forget(store_t *store, const char *id);

/* Server wiring: creates api->eth_src following evsys's eth triggers and registers it with
 * the event system (started now, stopped by evsys_quiesce). Nothing when no --eth network
 * is configured. eth_source_stop_free frees it afterwards (NULL-safe). */
struct api;
int eth_source_start(struct api *api, err_t *err);
void eth_source_stop_free(struct api *api);

/* ---- pure pieces (unit-tested) --------------------------------------------------------- */

typedef struct {
    bool logs; /* events "logs"; else "blocks" */
    char network[64];
    json_t *address; /* NULL, a lowercase "0x…" string or an array of them (owned) */
    json_t *topics;  /* NULL or the normalized eth_getLogs topics array (owned) */
    uint32_t confirmations;
    int64_t from_block;      /* -1: not given */
    arena_t *arena;          /* holds abi */
    eth_abi_fragment_t *abi; /* NULL without "abi" */
    char signature[256];     /* "Ping(address,uint256,string)" with abi */
    uint8_t topic0[32];      /* the event's topic with abi (non-anonymous) */
} eth_filter_t;

/* Parses a source object (without checking the network against the configuration). */
int eth_filter_parse(const json_t *source, eth_filter_t *f, err_t *err);
void eth_filter_free(eth_filter_t *f);
/* Validates and normalizes eth_getLogs topics: up to 4 entries, each null, a 32-byte hex
 * string or a non-empty array of them. *out is a new array (trailing nulls dropped). */
int eth_topics_parse(const json_t *in, json_t **out, err_t *err);

/* The CloudEvents id: trigger ":" blockHash [":" logIndex] [":removed"] [":e" epoch]
 * (logIndex < 0 for a block event; the epoch suffix only when epoch > 0). */
void eth_event_id(char *out, size_t cap, const char *trigger_id, const char *block_hash,
                  long log_index, bool removed, uint32_t epoch);

typedef struct {
    uint64_t number;
    char hash[67];
    bool has_logs; /* an "ethblk" record exists for it */
} eth_seen_t;

/* win: processed blocks in ascending order; canon[i]: the node's hash now at win[i].number
 * ("" when it has no block there). The index of the newest entry that is still canonical,
 * or -1 when none is (a reorg deeper than the window). */
int eth_reorg_ancestor(const eth_seen_t *win, size_t n, const char (*canon)[67]);

/* The eth.log data object of a node log object ({address, topics, data, blockNumber, …}):
 * address checksummed, numbers as JSON integers, removed as given; with f->abi also
 * "event", "signature" and "args" (by parameter name, values as in eth.h) — or
 * "decodeError" when the log does not fit the fragment. New reference or NULL with err. */
json_t *eth_log_data(const eth_filter_t *f, const json_t *log, err_t *err);

#endif
