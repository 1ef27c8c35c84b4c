/* The live stream protocol of GET /v1/ws, its pure half (no sockets, no hub, no
 * threads): client messages ({"subscribe":…} / {"unsubscribe":…}) parsed into filters,
 * filters matched against executions and events, the server's acks and errors, and the
 * RFC 6455 handshake key. Unit-tested (tests/unit/test_wsmsg.c) and fuzzed
 * (tests/fuzz/fuzz_ws_message.c).
 *
 * Client messages (one JSON object per text message, at most WSMSG_MAX_LEN bytes):
 *   {"subscribe":"executions"[,"function":NAME][,"logs":true][,"id":ID]}
 *   {"subscribe":"events"[,"type":T][,"source":S][,"id":ID]}
 *   {"unsubscribe":"executions"|"events"[, the same filters][,"id":ID]}
 * ID (a string of up to 128 characters or an integer) is echoed in the answer. A filter
 * value ending in '*' matches by prefix ("com.example.*"); otherwise it matches exactly.
 * Unknown fields are errors (as everywhere in the API), so typos do not silently widen a
 * subscription. */
#ifndef R3E_API_WSMSG_H
#define R3E_API_WSMSG_H

#include "core/err.h"

#include <stdbool.h>
#include <stddef.h>

#define WSMSG_MAX_LEN (64 * 1024) /* client message cap; larger ones close with 1009 */
#define WSMSG_FILTER_MAX 256      /* bytes of a type / source filter, NUL included */

typedef enum { WSMSG_EXECUTIONS = 1, WSMSG_EVENTS = 2 } wsmsg_topic_t;
typedef enum { WSMSG_SUBSCRIBE = 1, WSMSG_UNSUBSCRIBE = 2 } wsmsg_op_t;

typedef struct {
    wsmsg_topic_t topic;
    char function[64];             /* executions: "" = every function */
    bool logs;                     /* executions: also one message per log line */
    char type[WSMSG_FILTER_MAX];   /* events: "" = any type */
    char source[WSMSG_FILTER_MAX]; /* events: "" = any source */
} wsmsg_filter_t;

typedef struct {
    wsmsg_op_t op;
    wsmsg_filter_t filter;
    /* unsubscribe only: no filter field was given, so every subscription of the topic goes */
    bool whole_topic;
    char id_json[160]; /* the client's "id" as JSON text, "" when absent */
} wsmsg_t;

/* Parses one client message. On failure returns -1 with err (R3E_EINVAL, message fit to
 * show the client: "malformed JSON: … (line L, column C)", "unknown field \"x\"",
 * "unknown subscription \"x\" (expected \"executions\" or \"events\")", …); out->id_json
 * is still filled when the id itself was readable, so the error can carry it. */
int wsmsg_parse(const char *text, size_t len, wsmsg_t *out, err_t *err);

/* Two subscriptions are the same when topic and filters are equal (`logs` is not a
 * filter: subscribing again with another `logs` updates the subscription). */
bool wsmsg_filter_same(const wsmsg_filter_t *a, const wsmsg_filter_t *b);
/* Whether an unsubscribe message `m` removes subscription `sub`. */
bool wsmsg_unsubscribe_matches(const wsmsg_t *m, const wsmsg_filter_t *sub);

bool wsmsg_match_execution(const wsmsg_filter_t *f, const char *function);
/* type / source may be NULL (absent in the event): only an empty filter matches them. */
bool wsmsg_match_event(const wsmsg_filter_t *f, const char *type, const char *source);

/* Server answers, as malloc'ed JSON text (NULL when out of memory); *len gets the length.
 *   {"ok":true,"subscribed":{…normalized filter…}[,"id":ID]}
 *   {"ok":true,"unsubscribed":{…},"removed":N[,"id":ID]} */
char *wsmsg_ack(const wsmsg_t *m, int removed, size_t *len);
/*   {"error":{"code":C,"message":M}[,"id":ID]}; id_json may be NULL or "". */
char *wsmsg_error(const char *code, const char *message, const char *id_json, size_t *len);

/* Sec-WebSocket-Key must be base64 of 16 bytes (RFC 6455 4.1). */
bool wsmsg_key_ok(const char *key);
/* Sec-WebSocket-Accept for a key: base64(SHA-1(key + the RFC's GUID)); out gets 28 chars
 * and a NUL. Returns 0, or -1 when the digest failed. */
int wsmsg_accept_key(const char *key, char out[29]);

#endif
