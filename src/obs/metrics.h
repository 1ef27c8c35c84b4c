/* Prometheus metrics: process-wide counters and histograms, rendered in text exposition
 * format 0.0.4 by metrics_render(). All calls are thread-safe and cheap (atomics; a
 * mutex only when a new label set appears). */
#ifndef R3E_OBS_METRICS_H
#define R3E_OBS_METRICS_H

#include <stdint.h>

void metrics_init(void);
void metrics_shutdown(void); /* frees label tables */

/* One finished invocation: r3e_invocations_total{function,status} and
 * r3e_invocation_duration_seconds{function} (histogram). */
void metrics_invocation(const char *function, const char *status, uint64_t duration_us);
void metrics_inflight_add(int delta);          /* r3e_invocations_in_flight */
void metrics_cold_start(const char *function); /* r3e_cold_starts_total{function} */
void metrics_worker_restart(void);             /* r3e_worker_restarts_total */
void metrics_http_request(int status);         /* r3e_http_requests_total{code} */

/* Returns a malloc'ed NUL-terminated text; caller frees. Gauges that live elsewhere
 * (workers idle/busy) are passed in. */
char *metrics_render(int workers_total, int workers_idle);

#endif
