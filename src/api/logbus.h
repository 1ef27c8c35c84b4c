/* Live log fan-out for `GET /v1/functions/{name}/logs?follow=1`: invocations publish
 * NDJSON lines, followers read them. Each subscriber has a bounded queue; when a follower
 * is slow its queue fills and new lines are dropped (counted), so publishing never blocks
 * an invocation. Thread-safe. */
#ifndef R3E_API_LOGBUS_H
#define R3E_API_LOGBUS_H

#include <stdbool.h>
#include <stddef.h>

typedef struct logbus logbus_t;
typedef struct logbus_sub logbus_sub_t;

logbus_t *logbus_new(void);
/* Wakes every subscriber (their reads return -1 from now on). Subscribers still own their
 * handles and must unsubscribe. */
void logbus_close(logbus_t *bus);
/* Frees the bus; every subscriber must have unsubscribed. NULL is fine. */
void logbus_free(logbus_t *bus);

/* True when anyone follows `function`: lets publishers skip building lines. */
bool logbus_has_subscribers(logbus_t *bus, const char *function);
/* Queues a copy of line (one NDJSON line including its '\n') for each follower of function. */
void logbus_publish(logbus_t *bus, const char *function, const char *line, size_t len);

/* max_lines: queue bound. NULL when the bus is closed. */
logbus_sub_t *logbus_subscribe(logbus_t *bus, const char *function, size_t max_lines);
void logbus_unsubscribe(logbus_sub_t *sub);
/* Copies queued bytes into buf (a line longer than the room left continues on the next
 * read, so the stream stays byte-exact). Waits up to timeout_ms for a line. Returns bytes
 * copied, 0 on timeout, -1 when the bus is closed and the queue is empty. */
long logbus_read(logbus_sub_t *sub, char *buf, size_t cap, int timeout_ms);
/* Lines dropped for this subscriber because its queue was full. */
size_t logbus_dropped(logbus_sub_t *sub);

#endif
