/* JSON-RPC 2.0 over HTTP for blockchain nodes (Ethereum and Neo N3 speak the same envelope).
 *
 * One client per node URL, shared by every thread: each call borrows a libcurl easy handle
 * from a small pool so keep-alive connections are reused. Transport failures (connection
 * refused, reset, 5xx without a JSON-RPC body) are retried with a short backoff; a node's
 * own error answer is never retried, it is returned with the node's message and code.
 *
 * Errors (err_t codes):
 *   R3E_EUPSTREAM  the node answered with a JSON-RPC error (message is the node's),
 *                  or with something that is not JSON-RPC
 *   R3E_ETIMEOUT   no answer within the timeout
 *   R3E_EUNAVAIL   transport failure after the retries
 *   R3E_EINVAL     the caller's request could not be encoded */
#ifndef R3E_CHAIN_RPC_H
#define R3E_CHAIN_RPC_H

#include "core/err.h"

#include <jansson.h>
#include <stddef.h>

typedef struct rpc_client rpc_client_t;

/* timeout_ms: bound of one call, retries included (0 = 10 s); retries: extra attempts on
 * transport errors (connection refused or reset, HTTP 5xx/429 without a JSON body). */
rpc_client_t *rpc_client_new(const char *url, int timeout_ms, int retries, err_t *err);
void rpc_client_free(rpc_client_t *c);
const char *rpc_client_url(const rpc_client_t *c);
/* How errors name the node (default "the node"), e.g. "eth network \"local\"": error
 * messages reach functions and API clients, and node URLs often embed API keys, so the
 * URL itself appears only in the server's own log lines. */
void rpc_client_set_label(rpc_client_t *c, const char *label);

/* One call. params is borrowed (an array, or NULL for []). Returns the "result" (owned;
 * json_null() for a null result) or NULL with err; when the node answered with an error,
 * *node_code (if non-NULL) gets its numeric code, else 0. */
json_t *rpc_call(rpc_client_t *c, const char *method, const json_t *params, long *node_code,
                 err_t *err);

/* Same with a per-call timeout override in ms (0 = the client's); when the node answered
 * with an error, *node_error (if non-NULL) gets its error object {code, message, data?}
 * (owned), else NULL. */
json_t *rpc_call_ex(rpc_client_t *c, const char *method, const json_t *params, int timeout_ms,
                    json_t **node_error, err_t *err);

/* Batch: calls is an array of {"method":…, "params":[…]} (borrowed). Returns an array in the
 * same order of {"result":…} or {"error":{"code":…,"message":…,"data"?}} (owned), or NULL
 * with err when the transport failed or the answer was not a matching batch. */
json_t *rpc_batch(rpc_client_t *c, const json_t *calls, err_t *err);
json_t *rpc_batch_ex(rpc_client_t *c, const json_t *calls, int timeout_ms, err_t *err);

/* Counters since the client was created, for metrics. Outcomes per call (a batch is one
 * call): ok, node error (the node answered with a JSON-RPC error), timeout, unavailable
 * (transport failure or a non-JSON-RPC answer). Durations include retries. */
#define RPC_BUCKETS 11
extern const double rpc_bucket_s[RPC_BUCKETS]; /* upper bounds in seconds; one more: +Inf */
typedef struct {
    unsigned long long ok, node_error, timeout, unavailable;
    unsigned long long buckets[RPC_BUCKETS + 1]; /* not cumulative */
    double sum_s;
} rpc_stats_t;
void rpc_client_stats(const rpc_client_t *c, rpc_stats_t *out);

#endif
