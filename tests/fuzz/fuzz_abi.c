/* libFuzzer target: the ABI type parser and decoder must never crash or blow up on hostile
 * input. Input layout: a type list (text, e.g. "(uint8,bytes)[],string") up to the first NUL,
 * then the data to decode. Also feeds the text to the fragment parser. Decoded values must
 * re-encode without error. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "chain/eth/eth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const uint8_t *nul = memchr(data, 0, size);
    if (!nul) return 0;
    size_t tlen = (size_t)(nul - data);
    char *text = malloc(tlen + 8);
    memcpy(text, "(", 1);
    memcpy(text + 1, data, tlen);
    memcpy(text + 1 + tlen, ")", 2);
    arena_t *a = arena_create(0);
    err_t err;
    eth_abi_type_t *t;
    if (eth_abi_parse_type(a, text, &t, &err) == 0) {
        json_t *out;
        const uint8_t *body = nul + 1;
        size_t blen = size - tlen - 1;
        if (eth_abi_decode(t->comp, t->ncomp, body, blen, &out, &err) == 0) {
            eth_buf_t b = {0};
            if (eth_abi_encode(t->comp, t->ncomp, out, &b, &err) != 0) abort();
            eth_buf_free(&b);
            json_decref(out);
        }
        (void)eth_abi_type_string(a, t);
    }
    eth_abi_fragment_t f;
    text[tlen + 1] = '\0';
    (void)eth_abi_parse_fragment(a, text + 1, &f, &err);
    arena_destroy(a);
    free(text);
    return 0;
}
