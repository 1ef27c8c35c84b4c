/* Small shared pieces: clocks, hex, SHA-256, time-sortable ids, name checks. */
#ifndef R3E_CORE_UTIL_H
#define R3E_CORE_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

uint64_t util_now_us(void);  /* CLOCK_MONOTONIC, microseconds */
uint64_t util_wall_ms(void); /* CLOCK_REALTIME, milliseconds since the epoch */
/* RFC 3339 UTC with milliseconds, e.g. 2026-11-30T01:02:03.456Z; buf >= 32 bytes. */
void util_rfc3339(uint64_t wall_ms, char *buf, size_t n);
/* The reverse, for util_rfc3339's own output (milliseconds optional): epoch ms, or 0 when
 * s is NULL or unparseable. */
uint64_t util_rfc3339_parse(const char *s);

void util_hex_encode(const uint8_t *in, size_t n, char *out); /* out: 2n+1 bytes */
/* Decodes lowercase or uppercase hex, optional 0x prefix. Returns bytes written or -1. */
int util_hex_decode(const char *hex, size_t hexlen, uint8_t *out, size_t outcap);

void util_sha256(const void *data, size_t n, uint8_t out[32]);
void util_sha256_hex(const void *data, size_t n, char out[65]);

/* 26-char Crockford base32 ULID: 48-bit ms timestamp + 80 random bits; sorts by time.
 * Monotonic within one process. out: 27 bytes. */
void util_ulid(char out[27]);
/* Fills buf with cryptographically secure random bytes (getrandom). */
void util_random(void *buf, size_t n);

/* Function names: [a-z0-9][a-z0-9-]{0,62} */
bool util_valid_name(const char *s);

/* Reads a whole file (binary-safe, NUL-terminated). Caller frees. NULL + errno on error. */
char *util_read_file(const char *path, size_t *len);

#endif
