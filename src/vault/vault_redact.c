/* Redaction of secret values from an execution's logs and result.
 *
 * Every secret is at least VAULT_REDACT_MIN (4) bytes, so each occurrence starts with a
 * 4-byte window that hashes to its bucket. One pass over the text looks up the window at
 * each position and compares only the secrets in that bucket. Matches are merged into
 * covered runs (overlapping or adjacent occurrences of different secrets become one run),
 * and each run is replaced by "***": replacing leftmost matches one at a time could leave
 * the tail of an overlapping second secret in clear. */
#include "vault/vault.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct vault_redactor {
    size_t n;
    const char **vals;
    size_t *lens;
    int32_t *next; /* chain per secret */
    int32_t *head; /* bucket -> first secret, -1 when empty */
    unsigned bits;
};

static uint32_t window_hash(const char *p, unsigned bits) {
    uint32_t w;
    memcpy(&w, p, 4);
    return (w * 2654435761u) >> (32 - bits);
}

vault_redactor_t *vault_redactor_new(char *const *values, const size_t *lens, size_t n) {
    vault_redactor_t *r = calloc(1, sizeof *r);
    if (!r || n > INT32_MAX) {
        free(r);
        return NULL;
    }
    r->bits = 4;
    while (r->bits < 24 && ((size_t)1 << r->bits) < 2 * n)
        r->bits++;
    size_t buckets = (size_t)1 << r->bits;
    r->vals = calloc(n ? n : 1, sizeof *r->vals);
    r->lens = calloc(n ? n : 1, sizeof *r->lens);
    r->next = calloc(n ? n : 1, sizeof *r->next);
    r->head = malloc(buckets * sizeof *r->head);
    if (!r->vals || !r->lens || !r->next || !r->head) {
        vault_redactor_free(r);
        return NULL;
    }
    for (size_t b = 0; b < buckets; b++)
        r->head[b] = -1;
    for (size_t i = 0; i < n; i++) {
        if (!values[i] || lens[i] < VAULT_REDACT_MIN) continue; /* too short to redact safely */
        size_t k = r->n++;
        r->vals[k] = values[i];
        r->lens[k] = lens[i];
        uint32_t h = window_hash(values[i], r->bits);
        r->next[k] = r->head[h];
        r->head[h] = (int32_t)k;
    }
    return r;
}

void vault_redactor_free(vault_redactor_t *r) {
    if (!r) return;
    free(r->vals);
    free(r->lens);
    free(r->next);
    free(r->head);
    free(r);
}

/* The end of the longest secret occurring at text[i], or 0 when none does. */
static size_t match_end(const vault_redactor_t *r, const char *text, size_t len, size_t i) {
    size_t best = 0;
    for (int32_t k = r->head[window_hash(text + i, r->bits)]; k >= 0; k = r->next[k]) {
        size_t l = r->lens[k];
        if (l <= len - i && i + l > best && memcmp(text + i, r->vals[k], l) == 0) best = i + l;
    }
    return best;
}

long vault_redactor_apply(const vault_redactor_t *r, const char *text, size_t len, char **out,
                          size_t *out_len) {
    /* every run is >= 4 bytes and becomes 3, so the output is never longer than the input */
    char *buf = malloc(len + 1);
    if (!buf) return -1;
    size_t o = 0, copied = 0, run_start = 0, run_end = 0;
    long runs = 0;
    bool in_run = false;
    for (size_t i = 0; r && r->n && len >= VAULT_REDACT_MIN && i <= len - VAULT_REDACT_MIN; i++) {
        size_t end = match_end(r, text, len, i);
        if (!end) continue;
        if (in_run && i <= run_end) { /* overlapping or adjacent: extend */
            if (end > run_end) run_end = end;
            continue;
        }
        if (in_run) { /* flush the previous run */
            memcpy(buf + o, text + copied, run_start - copied);
            o += run_start - copied;
            memcpy(buf + o, "***", 3);
            o += 3;
            copied = run_end;
        }
        in_run = true;
        run_start = i;
        run_end = end;
        runs++;
    }
    if (in_run) {
        memcpy(buf + o, text + copied, run_start - copied);
        o += run_start - copied;
        memcpy(buf + o, "***", 3);
        o += 3;
        copied = run_end;
    }
    if (len > copied) memcpy(buf + o, text + copied, len - copied);
    o += len - copied;
    buf[o] = '\0';
    *out = buf;
    if (out_len) *out_len = o;
    return runs;
}

long vault_redact(const char *text, size_t len, char *const *values, const size_t *lens, size_t n,
                  char **out, size_t *out_len) {
    vault_redactor_t *r = vault_redactor_new(values, lens, n);
    if (!r) return -1;
    long runs = vault_redactor_apply(r, text, len, out, out_len);
    vault_redactor_free(r);
    return runs;
}
