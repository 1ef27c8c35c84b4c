/* Event filters in the Amazon EventBridge pattern language, compiled once and matched
 * against a whole event (the normalized CloudEvent object), e.g.
 *   {"source":["neo.block"],"type":[{"prefix":"com."}],
 *    "data":{"amount":[{"numeric":[">",100,"<=",500]}]}}
 *
 * A pattern is a JSON object. Each key names an event field and holds either a nested
 * object (a pattern for the nested event object) or a non-empty array of value matchers;
 * all keys must match (AND); within an array any matcher may match (OR). "$or": [p1, p2…]
 * at any level matches when any of the sub-patterns (objects) matches.
 *
 * Value matchers:
 *   "text", 42, 4.2e1, true, false, null    exact (numbers compare numerically: 42 == 42.0;
 *                                          strings never match numbers and vice versa)
 *   {"prefix":"com."} {"suffix":".png"}     string prefix / suffix; either may also take
 *                                          {"equals-ignore-case":"…"} for a case-blind form
 *   {"equals-ignore-case":"Alice"}          case-blind equality (ASCII case folding)
 *   {"wildcard":"a*b*"}                     `*` matches any run of characters; `\*` and `\\`
 *                                          are a literal star and backslash; "**" is an error
 *   {"anything-but": v | [v…] | {"prefix":s} | {"suffix":s} | {"equals-ignore-case":s|[s…]}
 *                    | {"wildcard":s}}     the field exists and matches none of them
 *   {"numeric":["=",5]} {"numeric":[">",0,"<=",5]}   numeric comparison: one of = < <= > >=,
 *                                          or a lower (> >=) and an upper (< <=) bound
 *   {"exists":true|false}                  the field is present (any value, also null, an
 *                                          object or an array) / absent
 *   {"cidr":"10.0.0.0/24"}                  an IPv4 or IPv6 address string inside the block
 * Event arrays: when the event value is an array, a matcher (other than exists) matches if
 * any element matches; a nested pattern matches an array if any element object matches.
 * A missing field matches only {"exists":false} (and a nested pattern whose own keys all
 * accept absence).
 *
 * Errors: pattern_compile fails with R3E_EINVAL and a message that starts with the JSON
 * path of the bad part, rooted at "filter":
 *   "filter.data.amount[0]: unknown operator 'numerc'"
 * Limits: nesting depth 32, 10,000 matchers per pattern.
 * Ownership: *out from pattern_compile is freed with pattern_free. A compiled pattern is
 * immutable and safe to match from many threads. */
#ifndef R3E_EVENTS_PATTERN_H
#define R3E_EVENTS_PATTERN_H

#include "core/err.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct pattern pattern_t;

#define PATTERN_MAX_DEPTH 32
#define PATTERN_MAX_MATCHERS 10000

int pattern_compile(const json_t *json, pattern_t **out, err_t *err);
/* Same from JSON text (duplicate keys are rejected). */
int pattern_compile_text(const char *text, size_t len, pattern_t **out, err_t *err);
bool pattern_match(const pattern_t *p, const json_t *event);
/* pattern_match that takes the top-level "source" and/or "type" fields as matched: for the
 * matcher, whose index already guarantees them. skip: a mask of PATTERN_SKIP_*. */
#define PATTERN_SKIP_SOURCE 1u
#define PATTERN_SKIP_TYPE 2u
bool pattern_match_skipping(const pattern_t *p, const json_t *event, unsigned skip);
void pattern_free(pattern_t *p);

/* For indexing (matcher.c): when the top-level field `key` (outside any $or) is constrained
 * only by exact string values, returns how many there are (duplicates removed) and stores up
 * to `cap` of them in out (borrowed from the pattern). Returns 0 otherwise. */
size_t pattern_exact_strings(const pattern_t *p, const char *key, const char **out, size_t cap);

#endif
