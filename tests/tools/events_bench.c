/* Trigger-matching micro-benchmark: matcher_bench with N triggers and M events.
 *   events_bench [triggers=10000] [events=200000] [seed=1]
 * Prints one JSON line (indexed and linear-scan rates); exits 1 if the index and the linear
 * scan ever disagree. Build without sanitizers for numbers worth recording. */
#include <stdio.h>
#include <stdlib.h>

#include "events/matcher.h"

int main(int argc, char **argv) {
    size_t triggers = argc > 1 ? strtoul(argv[1], NULL, 10) : 10000;
    size_t events = argc > 2 ? strtoul(argv[2], NULL, 10) : 200000;
    unsigned seed = argc > 3 ? (unsigned)strtoul(argv[3], NULL, 10) : 1;
    matcher_bench_t b;
    err_t err;
    if (matcher_bench(triggers, events, seed, &b, &err) != 0) {
        fprintf(stderr, "events_bench: %s\n", err.msg);
        return 1;
    }
    printf("{\"triggers\":%zu,\"events\":%zu,\"events_per_s\":%.0f,\"matches_per_s\":%.0f,"
           "\"linear_events_per_s\":%.0f,\"matches_per_event\":%.2f,"
           "\"evaluated_per_event\":%.1f,\"mismatches\":%zu}\n",
           b.triggers, b.events, b.events_per_s, b.events_per_s * b.matches_per_event,
           b.linear_events_per_s, b.matches_per_event, b.evaluated_per_event, b.mismatches);
    return b.mismatches ? 1 : 0;
}
