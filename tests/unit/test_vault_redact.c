/* Redaction of secret values from execution logs and results (vault_redact*). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "vault/vault.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Redacts text with the NULL-terminated list of secrets and compares with want. */
static void check(const char *text, const char *const *secrets, const char *want, long runs) {
    char *vals[64];
    size_t lens[64], n = 0;
    for (; secrets[n]; n++) {
        vals[n] = (char *)secrets[n];
        lens[n] = strlen(secrets[n]);
    }
    char *out;
    size_t out_len;
    long got = vault_redact(text, strlen(text), vals, lens, n, &out, &out_len);
    if (strcmp(out, want) != 0) fail_msg("redact(\"%s\") = \"%s\", want \"%s\"", text, out, want);
    assert_int_equal(out_len, strlen(want));
    assert_int_equal(got, runs);
    free(out);
}

static void every_occurrence_is_replaced(void **state) {
    (void)state;
    const char *s[] = {"hunter2", "tok-XYZ", NULL};
    check("password=hunter2 and again hunter2, token tok-XYZ", s,
          "password=*** and again ***, token ***", 3);
    check("nothing secret here", s, "nothing secret here", 0);
    check("", s, "", 0);
}

static void secrets_at_the_edges_of_the_buffer(void **state) {
    (void)state;
    const char *s[] = {"abcd", NULL};
    check("abcd", s, "***", 1);
    check("abcdxyz", s, "***xyz", 1);
    check("xyzabcd", s, "xyz***", 1);
    check("abc", s, "abc", 0); /* a prefix of a secret at the end is not a secret */
    check("abcdabcd", s, "***", 1);
}

static void overlapping_secrets_leave_no_part_in_clear(void **state) {
    (void)state;
    const char *s[] = {"abcdef", "defghi", NULL};
    check("xxabcdefghiyy", s, "xx***yy", 1);
    const char *nested[] = {"secretvalue", "retv", NULL};
    check("a secretvalue, a retv", nested, "a ***, a ***", 2);
    const char *prefix[] = {"prefix", "prefix-longer", NULL};
    check("prefix-longer!", prefix, "***!", 1);
    check("prefix-long", prefix, "***-long", 1);
}

static void short_values_are_not_redacted(void **state) {
    (void)state;
    const char *s[] = {"abc", "x", "", "1234", NULL};
    check("abc x 123 1234", s, "abc x 123 ***", 1);
}

static void many_secrets_in_one_pass(void **state) {
    (void)state;
    enum { N = 2000 };
    char *vals[N];
    size_t lens[N];
    for (int i = 0; i < N; i++) {
        vals[i] = malloc(32);
        lens[i] = (size_t)snprintf(vals[i], 32, "sk_live_%06d_tail", i);
    }
    vault_redactor_t *r = vault_redactor_new(vals, lens, N);
    assert_non_null(r);
    char text[256];
    snprintf(text, sizeof text, "log: %s then %s and sk_live_999999_tail end", vals[1234], vals[7]);
    char *out;
    assert_int_equal(vault_redactor_apply(r, text, strlen(text), &out, NULL), 2);
    assert_string_equal(out, "log: *** then *** and sk_live_999999_tail end");
    free(out);
    /* binary text with NULs is handled by length */
    const char bin[] = "\0\0sk_live_000001_tail\0";
    size_t ol;
    assert_int_equal(vault_redactor_apply(r, bin, sizeof bin - 1, &out, &ol), 1);
    assert_int_equal(ol, 6);
    assert_memory_equal(out, "\0\0***\0", 6);
    free(out);
    vault_redactor_free(r);
    for (int i = 0; i < N; i++)
        free(vals[i]);
}

static void no_secrets_gives_a_copy(void **state) {
    (void)state;
    char *out;
    assert_int_equal(vault_redact("abc", 3, NULL, NULL, 0, &out, NULL), 0);
    assert_string_equal(out, "abc");
    free(out);
}

/* Reference: mark every byte covered by any occurrence of any secret (>= 4 bytes), then
 * replace each maximal covered run with "***". */
static char *naive_redact(const char *t, size_t n, char **vals, size_t *lens, size_t k) {
    char *covered = calloc(n + 1, 1), *out = malloc(n + 1);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < k; j++)
            if (lens[j] >= VAULT_REDACT_MIN && lens[j] <= n - i &&
                memcmp(t + i, vals[j], lens[j]) == 0)
                memset(covered + i, 1, lens[j]);
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (!covered[i]) {
            out[o++] = t[i];
        } else if (i == 0 || !covered[i - 1]) {
            memcpy(out + o, "***", 3);
            o += 3;
        }
    }
    out[o] = '\0';
    free(covered);
    return out;
}

/* Random texts and secrets over a 2-letter alphabet, so overlaps, nesting and adjacency are
 * common, agree with the reference. */
static void agrees_with_a_naive_reference_on_random_inputs(void **state) {
    (void)state;
    srand(12345);
    for (int iter = 0; iter < 3000; iter++) {
        char text[64], sec[6][12], *vals[6];
        size_t lens[6], n = (size_t)(rand() % 64), k = (size_t)(rand() % 6);
        for (size_t i = 0; i < n; i++)
            text[i] = "ab"[rand() % 2];
        for (size_t j = 0; j < k; j++) {
            lens[j] = (size_t)(rand() % 11);
            for (size_t i = 0; i < lens[j]; i++)
                sec[j][i] = "ab"[rand() % 2];
            vals[j] = sec[j];
        }
        char *want = naive_redact(text, n, vals, lens, k), *got;
        size_t got_len;
        assert_true(vault_redact(text, n, vals, lens, k, &got, &got_len) >= 0);
        if (strcmp(got, want) != 0)
            fail_msg("iteration %d: got \"%s\", want \"%s\"", iter, got, want);
        assert_int_equal(got_len, strlen(want));
        free(got);
        free(want);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_occurrence_is_replaced),
        cmocka_unit_test(secrets_at_the_edges_of_the_buffer),
        cmocka_unit_test(overlapping_secrets_leave_no_part_in_clear),
        cmocka_unit_test(short_values_are_not_redacted),
        cmocka_unit_test(many_secrets_in_one_pass),
        cmocka_unit_test(no_secrets_gives_a_copy),
        cmocka_unit_test(agrees_with_a_naive_reference_on_random_inputs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
