/* The Ethereum relayer: the platform's own sending account on each configured network.
 *
 * Functions (ctx.eth.relay, host service "eth.relay") and API clients
 * (POST /v1/relayer/eth/{network}/transactions) hand it {to, data, value, gasLimit, speed};
 * the relayer signs an EIP-1559 transaction with a key they never see, assigns the nonce,
 * broadcasts it and tracks it to its receipt:
 *
 *   key      imported from --eth-relayer-key-file NAME=PATH, or created on first start and
 *            kept sealed in the vault (vault_put_system "eth-relayer"/NAME); without a vault
 *            and without a key file the network's relayer is disabled (routes answer 503)
 *   nonce    one lock per relayer; synced from eth_getTransactionCount(addr, "pending") (and
 *            the nonces of its own live records) on first use, and again whenever the node
 *            answers "nonce too low/high" or "replacement transaction underpriced"
 *   fees     eth_feeHistory over 10 blocks: tip = median of the speed's reward percentile
 *            (slow 10th, normal 50th, fast 90th), at least 1 gwei; maxFee = 2 * baseFee + tip;
 *            capped by the network's max gas price policy
 *   gas      eth_estimateGas unless gasLimit is given
 *   tracking a thread per network polls eth_getTransactionReceipt for every hash ever
 *            broadcast for a live record; a transaction not mined within N blocks (default 3)
 *            is re-signed with the same nonce and fees raised by 10% (up to the cap) and
 *            rebroadcast
 *
 * Records live in the store's metadata family, so a restart resumes tracking:
 *   kind "eth-relayer-tx"   key "NET/NS/ID" -> the record JSON (ID a ULID: newest last)
 *   kind "eth-relayer-live" key "NET/ID"    -> NS, while the record is queued or submitted
 *
 * Record states: queued (signed, not yet accepted by the node), submitted, mined (receipt
 * status 1), failed (status 0: reverted), dropped (its nonce was used by another transaction),
 * error (the node refused it; "error" holds the node's message).
 *
 * Threads: every call is thread-safe. */
#ifndef R3E_CHAIN_ETH_RELAYER_H
#define R3E_CHAIN_ETH_RELAYER_H

#include "chain/net.h"
#include "core/err.h"
#include "store/store.h"
#include "vault/vault.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#define ETH_RELAYER_DEFAULT_RESUBMIT_BLOCKS 3
#define ETH_RELAYER_DEFAULT_POLL_MS 1000
#define ETH_RELAYER_MAX_ATTEMPTS 20       /* new fee levels per record; then only rebroadcasts */
#define ETH_RELAYER_DATA_MAX 131072       /* calldata bytes */
#define ETH_RELAYER_MIN_TIP 1000000000ull /* 1 gwei */

typedef struct eth_relayers eth_relayers_t;
typedef struct eth_relayer eth_relayer_t;

/* --- policy and options (pure) -------------------------------------------------------- */

typedef struct {
    char key_file[1024];     /* "" = vault-sealed key */
    uint64_t max_gas_price;  /* wei per gas; 0 = no cap */
    uint8_t (*allow_to)[20]; /* malloc'ed; nallow 0 = any address */
    size_t nallow;
    uint32_t resubmit_blocks; /* blocks without a receipt before a fee bump */
    uint32_t poll_ms;         /* tracker period */
} eth_relayer_policy_t;

/* Server flags --eth-relayer-OPT NAME=VALUE, OPT one of key-file (PATH), max-gas-price (wei),
 * allow-to (comma-separated addresses, empty = any), resubmit-blocks (1..1000), poll-ms
 * (20..60000). Checks the syntax of one flag (config.c calls it so a typo stops start-up). */
int eth_relayer_opt_check(const char *opt, const char *value, err_t *err);
/* Applies every "OPT NAME=VALUE" line of opts (as config.c collects them) whose NAME is
 * `network` to *p, which starts from the defaults. eth_relayer_policy_free releases it. */
int eth_relayer_policy_for(const char *opts, const char *network, eth_relayer_policy_t *p,
                           err_t *err);
void eth_relayer_policy_free(eth_relayer_policy_t *p);

/* --- fee arithmetic and node answers (pure) ------------------------------------------- */

typedef enum { ETH_SPEED_SLOW, ETH_SPEED_NORMAL, ETH_SPEED_FAST } eth_relayer_speed_t;
int eth_relayer_speed_parse(const char *s, eth_relayer_speed_t *out, err_t *err);
const char *eth_relayer_speed_name(eth_relayer_speed_t s);

/* From an eth_feeHistory result asked with reward percentiles [10, 50, 90]: *base = the next
 * block's base fee, *tip and *max_fee as described above. */
int eth_relayer_fees_from_history(const json_t *hist, eth_relayer_speed_t speed, uint64_t *base,
                                  uint64_t *max_fee, uint64_t *tip, err_t *err);
/* The max gas price policy: R3E_EFORBIDDEN when base >= cap; otherwise clamps *max_fee to the
 * cap and *tip to *max_fee. cap 0 = no policy. */
int eth_relayer_apply_cap(uint64_t cap, uint64_t base, uint64_t *max_fee, uint64_t *tip,
                          err_t *err);
/* fee + 10%, rounded up (at least +1), saturating at UINT64_MAX. */
uint64_t eth_relayer_bump(uint64_t fee);
/* The fees of a resubmission: each of *max_fee and *tip becomes max(bump(old), fresh) (fresh
 * = a new estimate, 0 when unknown), then the cap applies (cap 0 = none) and tip <= maxFee. */
void eth_relayer_bump_fees(uint64_t cap, uint64_t fresh_max, uint64_t fresh_tip, uint64_t *max_fee,
                           uint64_t *tip);

typedef enum {
    ETH_SEND_ACCEPTED,    /* no error */
    ETH_SEND_KNOWN,       /* already known: the node has this exact transaction */
    ETH_SEND_NONCE_LOW,   /* nonce too low: the nonce is used */
    ETH_SEND_NONCE_HIGH,  /* nonce too high / gapped */
    ETH_SEND_REPLACEMENT, /* replacement transaction underpriced: the nonce is pending */
    ETH_SEND_REJECTED,    /* anything else (insufficient funds, underpriced, …) */
} eth_send_class_t;
/* Classifies a node's eth_sendRawTransaction error message (geth, hardhat, erigon, besu
 * wordings); NULL = accepted. */
eth_send_class_t eth_relayer_classify(const char *node_message);

/* --- the relayers ----------------------------------------------------------------------- */

/* One relayer per Ethereum network in nets, with the options collected in opts (see
 * eth_relayer_opt_check; an option naming an unknown network is an error). vault may be
 * NULL (then only networks with a key file get an enabled relayer). Starts the trackers.
 * nets, store and vault must outlive the set. */
int eth_relayers_start(chain_nets_t *nets, store_t *store, vault_t *vault, const char *opts,
                       eth_relayers_t **out, err_t *err);
/* Stops and joins the trackers, then frees everything. NULL is fine. Call before the store
 * closes. */
void eth_relayers_stop(eth_relayers_t *set);

/* The relayer of a network (NULL or "" = the default Ethereum network). NULL with
 * R3E_ENOTFOUND (no such network) or R3E_EUNAVAIL (no network; relayer disabled: the message
 * says why). */
eth_relayer_t *eth_relayers_find(eth_relayers_t *set, const char *network, err_t *err);

/* Who asked (recorded with the transaction, for accounting). */
typedef struct {
    const char *ns;       /* namespace; NULL = "default" */
    const char *function; /* NULL for API calls */
    const char *exec_id;  /* NULL for API calls */
} eth_relayer_caller_t;

/* Validates req {to, data?, value?, gasLimit?, speed?} (plus the fields named in `extra`, a
 * NULL-terminated list the caller handles), applies the policies, estimates gas and fees,
 * assigns the nonce, signs, records and broadcasts. Returns the record (owned), whose state is
 * submitted, queued (the node could not be reached; the tracker retries) or error (the node
 * refused it). NULL with err: R3E_EINVAL (bad input), R3E_EFORBIDDEN (policy), R3E_EUPSTREAM
 * (gas estimation reverted: *rpc_error, if non-NULL, gets the node's error object),
 * R3E_EUNAVAIL / R3E_ETIMEOUT (node unreachable before anything was signed). */
json_t *eth_relayer_send(eth_relayer_t *r, const eth_relayer_caller_t *who, const json_t *req,
                         const char *const *extra, json_t **rpc_error, err_t *err);
/* A record of namespace ns (R3E_ENOTFOUND otherwise). */
json_t *eth_relayer_get(eth_relayer_t *r, const char *ns, const char *id, err_t *err);
/* Waits until the record is final (mined, failed, dropped, error) or until deadline_us
 * (CLOCK_MONOTONIC µs) and returns it as it is then. */
json_t *eth_relayer_wait(eth_relayer_t *r, const char *ns, const char *id, uint64_t deadline_us,
                         err_t *err);
/* {"transactions":[…]} newest first, at most limit (1..100). */
json_t *eth_relayer_list(eth_relayer_t *r, const char *ns, size_t limit, err_t *err);
/* {network, address, chainId, nonce, pending, balance, policy}; asks the node. */
json_t *eth_relayer_info(eth_relayer_t *r, err_t *err);
bool eth_relayer_is_final(const char *state);

#endif
