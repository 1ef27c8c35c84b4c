/* libFuzzer target: the source transform (user code -> wrapped classic script) must never
 * crash on any input, and when it succeeds it must keep the user's line count (stack
 * traces and syntax errors point at the user's lines) and embed the source. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/module.h"

static size_t count_lines(const char *s, size_t n) {
    size_t lines = 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] == '\n') lines++;
    return lines;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > 64 * 1024) return 0;
    module_src_t m;
    module_error_t e;
    if (module_transform((const char *)data, size, &m, &e) != 0) {
        if (e.line < 0 || e.column < 0) abort();
        return 0;
    }
    if (m.code[m.len] != '\0' || m.prefix_cols == 0) abort();
    /* the wrapper may add lines only after the user's last line */
    if (count_lines(m.code, m.len) < count_lines((const char *)data, size)) abort();
    module_src_free(&m);
    return 0;
}
