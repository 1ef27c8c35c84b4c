/* Growable byte buffer (see buf.h). */
#include "core/buf.h"

#include <stdlib.h>
#include <string.h>

void buf_append(buf_t *b, const void *p, size_t n) {
    if (n == 0) return;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + n)
            cap *= 2;
        uint8_t *d = realloc(b->data, cap);
        if (!d) abort(); /* same policy as arena_alloc */
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

void buf_byte(buf_t *b, uint8_t c) {
    buf_append(b, &c, 1);
}

void buf_free(buf_t *b) {
    free(b->data);
    memset(b, 0, sizeof *b);
}
