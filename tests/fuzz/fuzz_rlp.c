/* libFuzzer target: RLP and raw transaction decoding must never crash, and whatever decodes
 * must re-encode to the identical bytes (the decoder only accepts canonical input). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "chain/eth/eth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    arena_t *a = arena_create(0);
    err_t err;
    eth_rlp_t item;
    if (eth_rlp_decode(a, data, size, &item, &err) == 0) {
        eth_buf_t b = {0};
        eth_rlp_encode(&b, &item);
        if (b.len != size || memcmp(b.data, data, size) != 0) abort();
        eth_buf_free(&b);
    }
    eth_tx_t tx;
    if (eth_tx_parse(a, data, size, &tx, &err) == 0) {
        eth_buf_t b = {0};
        uint8_t from[20];
        if (eth_tx_serialize(&tx, tx.has_sig, &b, &err) == 0 && tx.has_sig)
            (void)eth_tx_recover_sender(&tx, from, &err);
        eth_buf_free(&b);
    }
    arena_destroy(a);
    return 0;
}
