/* Request- and invocation-scoped memory (the nginx pool idea): allocate freely while
 * handling one request, free everything once with arena_destroy(). Not thread-safe. */
#ifndef R3E_CORE_ARENA_H
#define R3E_CORE_ARENA_H

#include <stddef.h>

typedef struct arena arena_t;

arena_t *arena_create(size_t chunk_size); /* chunk_size 0 -> 8 KiB */
void arena_destroy(arena_t *a);           /* frees every allocation; NULL is fine */
void arena_reset(arena_t *a);             /* keeps the first chunk for reuse */
void *arena_alloc(arena_t *a, size_t n);  /* 16-byte aligned; aborts on OOM */
void *arena_calloc(arena_t *a, size_t n);
char *arena_strdup(arena_t *a, const char *s);
char *arena_strndup(arena_t *a, const char *s, size_t n);
char *arena_printf(arena_t *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
