/* Rate limiting: token buckets keyed by a string ("key:<id>", "ns:<name>", …).
 *
 * Each bucket holds up to `burst` tokens and refills at `rate` tokens per second; a
 * request takes one. When the bucket is empty the caller gets the number of whole seconds
 * until a token is back (the HTTP layer sends 429 with Retry-After: that value).
 *
 * Memory is bounded: at most `max_buckets` buckets exist. Buckets are kept in
 * least-recently-used order and the least recently used one is dropped when a new key
 * needs room. Dropping a bucket forgets its debt, which errs on the side of allowing: a
 * bucket idle for burst/rate seconds is full again anyway, so with max_buckets above the
 * number of keys active within that window nothing observable changes.
 *
 * Thread-safe (one mutex; a take is a hash lookup and a few arithmetic operations). The
 * clock is injectable for tests. */
#ifndef R3E_AUTH_RATELIMIT_H
#define R3E_AUTH_RATELIMIT_H

#include "core/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct auth_ratelimit auth_ratelimit_t;

/* Monotonic time in microseconds. */
typedef uint64_t (*auth_clock_fn)(void *ctx);

typedef struct {
    double rate;         /* tokens per second, > 0 */
    double burst;        /* bucket size, >= 1 */
    size_t max_buckets;  /* 0 -> 65536 */
    auth_clock_fn clock; /* NULL -> util_now_us */
    void *clock_ctx;
} auth_ratelimit_config_t;

/* NULL with R3E_EINVAL on a bad config. Free with auth_ratelimit_free. */
auth_ratelimit_t *auth_ratelimit_new(const auth_ratelimit_config_t *cfg, err_t *err);
void auth_ratelimit_free(auth_ratelimit_t *rl); /* NULL is fine */

/* Takes one token from key's bucket (created full on first use). true = allowed; false =
 * limited, with *retry_after_s (may be NULL) set to the whole seconds (>= 1) until the
 * next token. Keys are any C string; longer than 256 bytes they are hashed (SHA-256) so
 * memory per bucket stays bounded. */
bool auth_ratelimit_take(auth_ratelimit_t *rl, const char *key, uint32_t *retry_after_s);

/* Number of live buckets (for tests and metrics). */
size_t auth_ratelimit_size(auth_ratelimit_t *rl);

#endif
