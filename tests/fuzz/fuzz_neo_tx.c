/* Fuzzes the strict Neo N3 transaction parser. Invariants: no crash or sanitizer report on
 * any input; whatever parses re-serializes to exactly the input bytes (the format has one
 * canonical encoding) and hashes without error. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "chain/neo/neo.h"

static void check(arena_t *a, const uint8_t *data, size_t size, bool with_witnesses) {
    neo_tx_t tx;
    err_t e = {0};
    if (neo_tx_deserialize(a, data, size, with_witnesses, &tx, &e) != 0) {
        if (e.msg[0] == '\0') abort(); /* every rejection must say why */
        return;
    }
    neo_buf_t b = {0};
    uint8_t h[32];
    if (neo_tx_serialize(&tx, with_witnesses, &b, &e) != 0) abort();
    if (b.len != size || memcmp(b.data, data, size) != 0) abort();
    if (neo_tx_hash(&tx, h, &e) != 0) abort();
    if (with_witnesses) { /* fee estimation on any parsed tx: value or clear error */
        int64_t fee;
        if (neo_tx_network_fee(&tx, 1000, 30, &fee, &e) == 0 ? fee < 0 : e.msg[0] == '\0') abort();
    }
    neo_buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    arena_t *a = arena_create(0);
    check(a, data, size, true);
    arena_reset(a);
    check(a, data, size, false);
    arena_destroy(a);
    return 0;
}
