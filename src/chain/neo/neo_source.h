/* The Neo N3 event source (issue 6): `neo.block` and `neo.notification` CloudEvents for
 * triggers {"source":{"type":"neo","network":…,"events":"blocks"|"notifications",
 * "contract":"0x…","event":"Transfer","fromBlock":N}}.
 *
 * One poller thread per configured Neo network that has triggers: getblockcount, then for
 * each new block getblock(index, verbose) and one batched getapplicationlog for its
 * transactions; each matching notification of a HALTed Application execution becomes one
 * event, delivered to exactly its trigger. Event ids are pure functions of the chain
 * (neo:<network>:<txid>:<n>, neo:<network>:block:<index>) and the source names the trigger,
 * so a block replayed after a crash is deduped by the event log. Each trigger's cursor (the
 * next block to read) is persisted in the store's meta family (kind "neocursor") once that
 * block's events are ingested: a restart misses and repeats nothing. A disabled trigger keeps
 * its cursor, so once enabled it delivers what it missed. Catch-up after downtime is bounded
 * to --neo-blocks-per-s blocks per second per network; triggers near the tip are served
 * before those far behind. dBFT gives single-block finality, so there is no reorg handling.
 *
 * Threads: the pollers; neo_source_check_trigger runs on HTTP threads. */
#ifndef R3E_CHAIN_NEO_SOURCE_H
#define R3E_CHAIN_NEO_SOURCE_H

#include "api/api.h"
#include "core/err.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#define NEO_SOURCE_CURSOR_KIND "neocursor"
#define NEO_SOURCE_DEFAULT_BPS 50 /* catch-up bound, blocks per second per network */
#define NEO_SOURCE_DEFAULT_POLL_MS 1000

/* Registers the source with the event system (api->ev must be running) when Neo networks
 * are configured; api->neo_src holds it. 0 or -1 with err. */
int neo_source_start(api_t *api, err_t *err);
/* Frees the source after evsys_quiesce stopped it (stops it first if needed). NULL-safe. */
void neo_source_free(api_t *api);

/* Validates a trigger's source object (type "neo") and completes it in place: "network"
 * gets the resolved network name, "contract" is lower-cased, and a missing "fromBlock" is
 * set to the node's current block count (the first block produced after creation), so the
 * stored record says where delivery starts. R3E_EINVAL for a bad spec, the node's error
 * when the height cannot be read. */
int neo_source_check_trigger(api_t *api, json_t *src, err_t *err);

/* ---- pure parts (unit-tested) ------------------------------------------------------- */

/* Does notification {contract, eventname, …} match trigger source {contract, event?}? */
bool neo_source_matches(const json_t *trigger_src, const json_t *notification);

/* Event parameters typed by the contract's manifest: abi_params is the event's
 * "parameters" array [{name, type}] and state the notification's RPC stack item (an Array).
 * Hash160 -> address, Integer -> decimal string, Boolean -> bool, String -> text,
 * Hash256 -> "0x…" (display order), ByteArray/PublicKey/Signature -> hex, anything else ->
 * the generic decoding. NULL when the shapes disagree (count or a value of the wrong type). */
json_t *neo_source_typed_params(const json_t *abi_params, const json_t *state);

/* The CloudEvent for notification number n of transaction txid (n counts every
 * notification of the transaction's application log, in order). abi_params may be NULL.
 * New reference or NULL with err (undecodable notification). */
json_t *neo_source_notification_event(const char *network, const char *source,
                                      const json_t *notification, const json_t *abi_params,
                                      const char *txid, size_t n, const json_t *block, err_t *err);
/* The CloudEvent for a block (getblock verbose JSON). */
json_t *neo_source_block_event(const char *network, const char *source, const json_t *block);

#endif
