/* libFuzzer target: the cron parser must never crash or leak on any expression and zone
 * name, and a parsed schedule must produce strictly increasing fire times.
 * Input: "<expression>\n<time zone>\n<decimal start instant>" (later parts optional). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "events/cron.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > 2048) return 0;
    char *buf = malloc(size + 1);
    memcpy(buf, data, size);
    buf[size] = '\0';
    char *tz = strchr(buf, '\n'), *start = NULL;
    if (tz) {
        *tz++ = '\0';
        start = strchr(tz, '\n');
        if (start) *start++ = '\0';
    }
    cron_t *c;
    err_t err;
    if (cron_parse(buf, tz, &c, &err) == 0) {
        int64_t t = start ? strtoll(start, NULL, 10) : 1780000000; /* 2026 */
        for (int i = 0; i < 4; i++) {
            int64_t n = cron_next(c, t);
            if (n == CRON_NONE) break;
            if (n <= t) abort();
            t = n;
        }
        (void)cron_utc_offset(c, t);
        cron_free(c);
    } else if (err.code != R3E_EINVAL || !err.msg[0]) {
        abort();
    }
    free(buf);
    return 0;
}
