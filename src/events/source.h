/* An event source: something that produces CloudEvents (custom POST /v1/events, schedules,
 * webhooks; later Neo N3 and Ethereum pollers) and hands each normalized event to the
 * ingest path, which logs it durably and enqueues the matching triggers' jobs.
 *
 * A source is started once with the emit callback and stopped before the dispatcher (so
 * nothing is emitted into a queue that is closing). Push-style sources that have no thread
 * of their own (custom, webhook: the HTTP server calls emit) have start/stop that do
 * nothing. emit is thread-safe; it takes ownership of nothing (the event is borrowed).
 *
 * emit(ctx, ns, event, trigger_id, err): trigger_id non-NULL delivers to exactly that
 * trigger (webhooks, schedules), NULL to every matching custom trigger. 0 or -1 with err;
 * a duplicate (source, id) is 0 (not an error: at-least-once sources re-emit). */
#ifndef R3E_EVENTS_SOURCE_H
#define R3E_EVENTS_SOURCE_H

#include "core/err.h"

#include <jansson.h>

typedef int (*event_emit_fn)(void *ctx, const char *ns, json_t *event, const char *trigger_id,
                             err_t *err);

typedef struct event_source {
    const char *type; /* "custom", "schedule", "webhook", "neo", "eth" */
    int (*start)(struct event_source *src, event_emit_fn emit, void *emit_ctx, err_t *err);
    void (*stop)(struct event_source *src); /* joins the source's threads; idempotent */
    void *impl;
} event_source_t;

#endif
