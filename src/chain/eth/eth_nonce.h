/* Nonce reservations for function wallets (host services "eth.nonce" and
 * "eth.nonce_release", used by ctx.eth.wallet(…).sendTransaction).
 *
 * Two invocations sending from the same key at the same time would both read the node's
 * pending transaction count and sign the same nonce; one of them then fails with "nonce too
 * low" or "replacement transaction underpriced". The server therefore hands out nonces: for
 * a key (namespace, network, address) the next nonce is max(the node's pending count, the
 * last one reserved + 1), so concurrent senders get distinct consecutive nonces, and a node
 * whose count moved past the reservation (transactions sent from elsewhere) wins.
 *
 * A nonce that was reserved but never reached the node (signing or the broadcast failed) is
 * released: given back when it is the newest, otherwise the entry is dropped so the next
 * reservation starts again from the node's count (which then fills the gap). A nonce error
 * from the node drops the entry too (resync). Entries idle for ttl_ms expire; the table
 * holds at most max entries (the least recently used goes first), and a reservation never
 * runs more than ETH_NONCE_MAX_AHEAD past the node's count (then it resyncs), so a function
 * cannot push another sender's nonces far ahead.
 *
 * Thread-safe (one mutex; the node is never called under it). */
#ifndef R3E_CHAIN_ETH_NONCE_H
#define R3E_CHAIN_ETH_NONCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ETH_NONCE_DEFAULT_MAX 4096
#define ETH_NONCE_DEFAULT_TTL_MS 60000
#define ETH_NONCE_MAX_AHEAD 64
#define ETH_NONCE_KEY_MAX 200 /* "ns/network/0xaddress" */

typedef struct eth_nonces eth_nonces_t;

/* NULL on allocation failure. max 0 / ttl_ms 0 = the defaults. */
eth_nonces_t *eth_nonces_new(size_t max, uint64_t ttl_ms);
void eth_nonces_free(eth_nonces_t *t);

/* Reserves and returns the next nonce of key given the node's pending count now. */
uint64_t eth_nonces_reserve(eth_nonces_t *t, const char *key, uint64_t pending, uint64_t now_ms);
/* Gives nonce back (it never reached the node), or with resync forgets the key. */
void eth_nonces_release(eth_nonces_t *t, const char *key, uint64_t nonce, bool resync,
                        uint64_t now_ms);
/* Live (unexpired) entries. */
size_t eth_nonces_count(eth_nonces_t *t, uint64_t now_ms);

#endif
