/* The Neo N3 relayer (issue 6): the platform's own sender and fee payer on each configured
 * Neo network. Functions (ctx.neo.relay, host service "neo.relay") and API clients
 * (POST /v1/relayer/neo/{network}/transactions) hand it {script} or {contract, method,
 * args}; it signs with a key they never see and tracks the transaction to its application
 * log:
 *
 *   key      imported from --neo-relayer-key-file NAME=PATH (WIF), or created on first start
 *            and sealed in the vault (vault_put_system "neo-relayer"/NAME); without either the
 *            network's relayer is disabled (its routes answer 503)
 *   tx       sender = the relayer account, one signer with scope CalledByEntry; systemFee =
 *            gasconsumed of an invokescript test run (a FAULT is refused with the VM's
 *            exception, nothing is sent); networkFee from calculatenetworkfee;
 *            validUntilBlock = height + window (--neo-relayer-window, default 100)
 *   tracking a thread polls getapplicationlog for every live record; when the height reaches
 *            validUntilBlock without an application log the transaction can no longer be
 *            included, so it is re-signed with a new validUntilBlock and sent again (each
 *            try is listed in "attempts"; at most NEO_RELAYER_MAX_ATTEMPTS)
 *
 * Records live in the store's metadata family, so a restart resumes tracking:
 *   kind "neo-relayer-tx"   key "NET/NS/ID" -> the record JSON (ID a ULID)
 *   kind "neo-relayer-live" key "NET/ID"    -> NS, while the record is queued or submitted
 * States: queued (signed; the node could not be reached yet), submitted, executed (HALT),
 * faulted (FAULT), error (the node refused it, or it expired NEO_RELAYER_MAX_ATTEMPTS times).
 *
 * Threads: the tracker; every call is thread-safe. */
#ifndef R3E_CHAIN_NEO_RELAYER_H
#define R3E_CHAIN_NEO_RELAYER_H

#include "api/api.h"
#include "chain/neo/neo.h"
#include "core/err.h"
#include "runtime/runtime.h"

#include <jansson.h>

#define NEO_RELAYER_DEFAULT_WINDOW 100 /* blocks a transaction stays valid */
#define NEO_RELAYER_DEFAULT_POLL_MS 1000
#define NEO_RELAYER_MAX_ATTEMPTS 10
#define NEO_RELAYER_SCRIPT_MAX 65535

/* Sets up one relayer per Neo network (keys), starts the tracker and registers the host
 * service "neo.relay"; api->neo_relayer holds the set. Needs api->store and api->chains.
 * 0 or -1 with err (a key file that cannot be read, or names an unknown network). */
int neo_relayer_start(api_t *api, err_t *err);
/* Stops and joins the tracker, frees the set. Before the store closes. NULL-safe. */
void neo_relayer_stop(api_t *api);

/* Builds the NeoVM script of a request: {"script": hex | base64} or {"contract": "0x…" |
 * address, "method": name, "args": [ContractParam…]} where a ContractParam is
 * {"type":"Integer"|"Boolean"|"String"|"Hash160"|"Hash256"|"PublicKey"|"ByteArray"
 * (base64)|"Array"|"Any", "value":…} or a plain JSON value (integer, boolean, null, string
 * as String, array as Array). Appends to out. R3E_EINVAL with what is wrong. */
int neo_relayer_script(const json_t *req, neo_buf_t *out, err_t *err);

/* Submits req for caller (ns, function, exec id; function NULL for API calls) on network
 * (NULL = default). Returns the record (owned) or NULL with err: R3E_EINVAL (bad request or a
 * FAULT in the test invocation), R3E_ENOTFOUND (no such network), R3E_EUNAVAIL (relayer
 * disabled, node unreachable before signing), R3E_EUPSTREAM. */
json_t *neo_relayer_submit(api_t *api, const char *network, const char *ns, const char *function,
                           const char *exec_id, const json_t *req, err_t *err);

/* HTTP: GET /v1/relayer/neo/{network}, POST …/transactions, GET …/transactions?limit=N
 * (newest first, 1..100, default 20), GET …/transactions/{id}. */
void api_h_neo_relayer_info(http_req_t *r, const route_match_t *m);
void api_h_neo_relayer_submit(http_req_t *r, const route_match_t *m);
void api_h_neo_relayer_list(http_req_t *r, const route_match_t *m);
void api_h_neo_relayer_get(http_req_t *r, const route_match_t *m);

#endif
