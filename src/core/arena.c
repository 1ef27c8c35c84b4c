/* Chunked bump allocator. Large requests get a chunk of their own. */
#include "core/arena.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct chunk {
    struct chunk *next;
    size_t size, used;
    _Alignas(16) unsigned char data[];
} chunk_t;

struct arena {
    chunk_t *head;
    size_t chunk_size;
};

static chunk_t *chunk_new(size_t size) {
    chunk_t *c = malloc(sizeof *c + size);
    if (!c) abort();
    c->next = NULL;
    c->size = size;
    c->used = 0;
    return c;
}

arena_t *arena_create(size_t chunk_size) {
    arena_t *a = malloc(sizeof *a);
    if (!a) abort();
    a->chunk_size = chunk_size ? chunk_size : 8192;
    a->head = chunk_new(a->chunk_size);
    return a;
}

void arena_destroy(arena_t *a) {
    if (!a) return;
    for (chunk_t *c = a->head, *n; c; c = n) {
        n = c->next;
        free(c);
    }
    free(a);
}

void arena_reset(arena_t *a) {
    chunk_t *last = a->head;
    for (chunk_t *c = a->head, *n; c; c = n) {
        n = c->next;
        if (!n)
            last = c;
        else
            free(c);
    }
    /* the oldest chunk is last in the list; keep it */
    a->head = last;
    a->head->next = NULL;
    a->head->used = 0;
}

void *arena_alloc(arena_t *a, size_t n) {
    n = (n + 15) & ~(size_t)15;
    if (n > a->chunk_size / 2) {
        chunk_t *big = chunk_new(n);
        big->used = n;
        big->next = a->head->next;
        a->head->next = big;
        return big->data;
    }
    if (a->head->used + n > a->head->size) {
        chunk_t *c = chunk_new(a->chunk_size);
        c->next = a->head;
        a->head = c;
    }
    void *p = a->head->data + a->head->used;
    a->head->used += n;
    return p;
}

void *arena_calloc(arena_t *a, size_t n) {
    void *p = arena_alloc(a, n);
    memset(p, 0, n);
    return p;
}

char *arena_strndup(arena_t *a, const char *s, size_t n) {
    char *p = arena_alloc(a, n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *arena_strdup(arena_t *a, const char *s) {
    return arena_strndup(a, s, strlen(s));
}

char *arena_printf(arena_t *a, const char *fmt, ...) {
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *p = arena_alloc(a, (size_t)n + 1);
    vsnprintf(p, (size_t)n + 1, fmt, ap2);
    va_end(ap2);
    return p;
}
