/* A growable byte buffer: zero-initialise, append, then buf_free(). Appends abort on
 * out-of-memory, like arena_alloc. Used by the chain encoders (RLP, ABI, NeoVM scripts,
 * transactions), which build byte strings of unknown length. */
#ifndef R3E_CORE_BUF_H
#define R3E_CORE_BUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint8_t *data;
    size_t len, cap;
} buf_t;

void buf_append(buf_t *b, const void *p, size_t n);
void buf_byte(buf_t *b, uint8_t c);
void buf_free(buf_t *b); /* releases the bytes and leaves an empty buffer */

#endif
