/* The live hub behind GET /v1/ws: finished executions, their log lines and accepted
 * events are published here and fanned out to WebSocket connections by subscription.
 *
 * Process-wide, like metrics: publishers need no handle, and publishing before
 * livehub_init(), after livehub_free(), or with nobody subscribed costs one atomic load.
 *
 * Publishing never waits for a client. Each connection has a bounded outbound queue
 * (messages and bytes); a publish that would overflow it marks the connection as a slow
 * consumer, discards its queue (counted in r3e_ws_dropped_total) and wakes its thread,
 * which closes it with 1008. Publish = build the messages (outside any lock), then one
 * short locked pass that appends references to matching queues and wakes their threads.
 *
 * Messages the server sends (JSON text, one per WebSocket text message):
 *   {"type":"execution","execution":{…the execution record without result and logs…}}
 *   {"type":"log","log":{time,level,msg,execution_id,function}}   (subscribed with logs)
 *   {"type":"event","event":{…the CloudEvent as accepted…}}
 * For one execution the log lines come first, then the execution. */
#ifndef R3E_API_LIVEHUB_H
#define R3E_API_LIVEHUB_H

#include "api/wsmsg.h"
#include "core/err.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    size_t max_conns;          /* concurrent WebSocket connections (503 beyond) */
    size_t max_queue_msgs;     /* per-connection outbound queue bound, messages */
    size_t max_queue_bytes;    /* … and bytes */
    size_t max_subs;           /* subscriptions per connection */
    unsigned ping_interval_ms; /* server pings this often; no pong in 2x -> dropped */
} livehub_config_t;

/* Defaults (512 connections — MHD's limit of 1024 is shared with plain HTTP —, 1000
 * messages, 1 MiB, 64 subscriptions, 20 s), overridden by R3E_WS_MAX_CONNECTIONS,
 * R3E_WS_QUEUE_MESSAGES, R3E_WS_QUEUE_BYTES, R3E_WS_PING_INTERVAL_MS when set to a
 * positive number. */
void livehub_config_from_env(livehub_config_t *cfg);

/* Creates the process-wide hub. Returns 0, or -1 with err (out of memory, or already
 * initialised). */
int livehub_init(const livehub_config_t *cfg, err_t *err);
/* Server shutdown: every connection's state becomes LIVEHUB_CLOSING (its thread closes
 * it with 1001) and livehub_attach fails from now on. Publishing keeps being safe. */
void livehub_shutdown(void);
/* Frees the hub; every connection must have detached. Safe without init. */
void livehub_free(void);
/* The configuration in force (zeroes before init). */
livehub_config_t livehub_config(void);

/* ---- publishers (any thread; never block on a client) --------------------------------- */

/* An execution record (JSON text as stored) has finished: sends the execution message
 * to subscribers of its function, preceded by one log message per entry of its "logs"
 * to subscribers that asked for logs. Called by every path that records executions. */
void livehub_publish_execution(const char *ns, const char *record, size_t len);
/* A CloudEvent (JSON object text) was accepted: sends the event message to subscribers
 * whose type / source filters match. Text that is not a JSON object is ignored. */
void livehub_publish_event(const char *ns, const char *event, size_t len);

/* ---- connections (the WebSocket session side) ----------------------------------------- */

typedef struct livehub_conn livehub_conn_t;

typedef enum {
    LIVEHUB_OPEN = 0,
    LIVEHUB_OVERFLOW, /* slow consumer: queue discarded; close with 1008 */
    LIVEHUB_CLOSING,  /* server shutdown: close with 1001 */
} livehub_state_t;

/* A refcounted message; data is JSON text (not NUL-terminated in general). */
typedef struct livehub_msg {
    atomic_int refs;
    size_t len;
    char data[];
} livehub_msg_t;
void livehub_msg_unref(livehub_msg_t *m);

/* Registers a connection in namespace ns. Returns NULL with err: R3E_ELIMIT at
 * max_conns, R3E_EUNAVAIL when the hub is not running or shutting down. */
livehub_conn_t *livehub_attach(const char *ns, err_t *err);
/* Unregisters and frees c (its queue too). NULL is fine. */
void livehub_detach(livehub_conn_t *c);
/* Open connections now (for the 503 check before upgrading). */
size_t livehub_count(void);

/* An fd (eventfd) that polls readable when messages were queued or the state changed.
 * Call livehub_conn_clear_wake() after it polled readable, then drain with pop. */
int livehub_conn_fd(const livehub_conn_t *c);
void livehub_conn_clear_wake(livehub_conn_t *c);
livehub_state_t livehub_conn_state(livehub_conn_t *c);
/* For the drop log line: what was queued when the queue overflowed. */
void livehub_conn_overflow_info(livehub_conn_t *c, size_t *msgs, size_t *bytes);
/* Takes the oldest queued message (the caller owns the reference) or NULL. */
livehub_msg_t *livehub_conn_pop(livehub_conn_t *c);

/* Adds a subscription, or updates the same one (wsmsg_filter_same). -1 with R3E_ELIMIT
 * past max_subs. */
int livehub_subscribe(livehub_conn_t *c, const wsmsg_filter_t *f, err_t *err);
/* Removes the subscriptions m (an unsubscribe message) names; returns how many. */
int livehub_unsubscribe(livehub_conn_t *c, const wsmsg_t *m);

/* ---- counters (rendered on /metrics) -------------------------------------------------- */

typedef enum { LIVEHUB_DROP_SLOW = 0, LIVEHUB_DROP_PING, LIVEHUB_DROP_NKINDS } livehub_drop_t;
/* Counts a client dropped by the session (ping timeout); slow consumers are counted by
 * the hub itself when the queue overflows. */
void livehub_count_drop(livehub_drop_t why);
void livehub_count_rejected(void); /* an upgrade refused at max_conns */

/* Prometheus text for the r3e_ws_* metrics (malloc'ed; caller frees; "" before init). */
char *livehub_metrics_text(void);

#endif
