/* libFuzzer target: pattern compilation and matching must never crash or leak, every
 * compile error must carry a "filter…" path, and the indexed matcher must agree with
 * matching the pattern directly.
 * Input: "<pattern JSON>\n--\n<event JSON>" (the event part is optional). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "events/matcher.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > 65536) return 0;
    const char *text = (const char *)data;
    const char *sep = memmem(text, size, "\n--\n", 4);
    size_t plen = sep ? (size_t)(sep - text) : size;
    pattern_t *p, *p2;
    err_t err;
    if (pattern_compile_text(text, plen, &p, &err) != 0) {
        if (err.code != R3E_EINVAL || strncmp(err.msg, "filter", 6) != 0) abort();
        return 0;
    }
    if (pattern_compile_text(text, plen, &p2, &err) != 0) abort(); /* deterministic */
    json_t *ev = sep ? json_loadb(sep + 4, size - plen - 4, JSON_DECODE_ANY, NULL) : NULL;
    if (ev) {
        bool direct = pattern_match(p, ev);
        matcher_t *m = matcher_new();
        if (matcher_add(m, "t", p2, &err) != 0) abort();
        p2 = NULL;
        if (matcher_match(m, ev, NULL, NULL, NULL) != (direct ? 1u : 0u)) abort();
        matcher_free(m);
        json_decref(ev);
    }
    pattern_free(p2);
    pattern_free(p);
    return 0;
}
