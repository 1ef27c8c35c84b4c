/* Host services for ctx.eth and ctx.neo: JSON-RPC to the operator's configured nodes.
 *
 * Functions never learn node URLs and may call only an allow-list of read methods plus
 * raw-transaction submission: a node's admin, debug, personal or test-control methods
 * (hardhat_*, evm_*, debug_*, …) stay out of reach whatever a function sends. */
#include "api/host.h"

#include "chain/eth/eth_nonce.h"
#include "chain/net.h"
#include "core/util.h"
#include "obs/log.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const char *const eth_methods[] = {"eth_blockNumber",
                                          "eth_chainId",
                                          "eth_getBlockByNumber",
                                          "eth_getBlockByHash",
                                          "eth_getBalance",
                                          "eth_getCode",
                                          "eth_getStorageAt",
                                          "eth_getTransactionByHash",
                                          "eth_getTransactionReceipt",
                                          "eth_getTransactionCount",
                                          "eth_call",
                                          "eth_estimateGas",
                                          "eth_getLogs",
                                          "eth_gasPrice",
                                          "eth_maxPriorityFeePerGas",
                                          "eth_feeHistory",
                                          "eth_sendRawTransaction",
                                          "net_version",
                                          NULL};

static const char *const neo_methods[] = {
    "getblockcount",        "getblock",          "getblockhash",
    "getblockheader",       "getapplicationlog", "getrawtransaction",
    "gettransactionheight", "invokefunction",    "invokescript",
    "getnep17balances",     "getnep17transfers", "calculatenetworkfee",
    "sendrawtransaction",   "getversion",        "getcontractstate",
    "getstorage",           "validateaddress",   NULL};

static bool method_allowed(chain_kind_t kind, const char *m) {
    for (const char *const *p = kind == CHAIN_ETH ? eth_methods : neo_methods; *p; p++)
        if (strcmp(*p, m) == 0) return true;
    return false;
}

/* The network the call names (args.network, default when absent). */
static chain_net_t *pick(api_t *api, chain_kind_t kind, const json_t *args, err_t *err) {
    const json_t *nv = json_object_get(args, "network");
    if (nv && !json_is_null(nv) && !json_is_string(nv)) {
        err_set(err, R3E_EINVAL, "network must be a string");
        return NULL;
    }
    const char *name = json_string_value(nv);
    chain_net_t *net = chain_nets_find(api->chains, kind, name);
    if (!net) {
        if (name && *name)
            err_set(err, R3E_ENOTFOUND, "no %s network named \"%.63s\" is configured",
                    kind == CHAIN_ETH ? "Ethereum" : "Neo N3", name);
        else
            err_set(err, R3E_EUNAVAIL,
                    "no %s network is configured on this server (start it with %s NAME=URL)",
                    kind == CHAIN_ETH ? "Ethereum" : "Neo N3",
                    kind == CHAIN_ETH ? "--eth" : "--neo");
    }
    return net;
}

/* Per-call timeout: the node gets at most 10 s, and always less than the function has
 * left, so the function hears about a slow node in time to handle it. */
static int call_timeout_ms(const runtime_caller_t *who, err_t *err) {
    uint64_t now = util_now_us();
    if (!who->deadline_us) return 10000;
    uint64_t left = who->deadline_us > now ? (who->deadline_us - now) / 1000 : 0;
    uint64_t margin = left / 4 < 250 ? left / 4 : 250;
    if (left - margin < 1) {
        err_set(err, R3E_ETIMEOUT, "the function's time is up");
        return -1;
    }
    return left - margin > 10000 ? 10000 : (int)(left - margin);
}

static json_t *svc_rpc(api_t *api, chain_kind_t kind, const runtime_caller_t *who,
                       const json_t *args, json_t **rpc_error, err_t *err) {
    chain_net_t *net = pick(api, kind, args, err);
    if (!net) return NULL;
    const char *method = json_string_value(json_object_get(args, "method"));
    const json_t *params = json_object_get(args, "params");
    if (!method) {
        err_set(err, R3E_EINVAL, "method must be a string");
        return NULL;
    }
    if (params && !json_is_null(params) && !json_is_array(params)) {
        err_set(err, R3E_EINVAL, "params must be an array");
        return NULL;
    }
    if (!method_allowed(kind, method)) {
        err_set(err, R3E_EFORBIDDEN, "method %.80s is not available to functions", method);
        return NULL;
    }
    int tmo = call_timeout_ms(who, err);
    if (tmo < 0) return NULL;
    json_t *r =
        rpc_call_ex(net->rpc, method, json_is_array(params) ? params : NULL, tmo, rpc_error, err);
    if (!r)
        log_debug("%s %s %s from %s: %s", chain_kind_name(kind), net->name, method, who->fn,
                  err->msg);
    return r;
}

static json_t *svc_batch(api_t *api, chain_kind_t kind, const runtime_caller_t *who,
                         const json_t *args, err_t *err) {
    chain_net_t *net = pick(api, kind, args, err);
    if (!net) return NULL;
    const json_t *calls = json_object_get(args, "calls");
    size_t n = json_array_size(calls);
    if (!json_is_array(calls) || n == 0 || n > 100) {
        err_set(err, R3E_EINVAL, "calls must be an array of 1..100 {method, params}");
        return NULL;
    }
    size_t i;
    const json_t *c;
    json_array_foreach(calls, i, c) {
        const char *m = json_string_value(json_object_get(c, "method"));
        if (!m) {
            err_set(err, R3E_EINVAL, "calls[%zu].method must be a string", i);
            return NULL;
        }
        if (!method_allowed(kind, m)) {
            err_set(err, R3E_EFORBIDDEN, "method %.80s is not available to functions", m);
            return NULL;
        }
    }
    int tmo = call_timeout_ms(who, err);
    if (tmo < 0) return NULL;
    return rpc_batch_ex(net->rpc, calls, tmo, err);
}

static json_t *svc_network(api_t *api, chain_kind_t kind, const json_t *args, err_t *err) {
    chain_net_t *net = pick(api, kind, args, err);
    if (!net) return NULL;
    uint64_t id;
    if (chain_net_id(net, &id, err) < 0) return NULL;
    char ids[24];
    snprintf(ids, sizeof ids, "%llu", (unsigned long long)id);
    return json_pack("{s:s,s:s}", "name", net->name, kind == CHAIN_ETH ? "chainId" : "magic", ids);
}

/* ---- eth.nonce / eth.nonce_release: nonce reservations for function wallets ------------ */

/* The reservation key "ns/network/0xaddress" (lowercase) of args; the namespace scopes it, so
 * one tenant's functions cannot move another's nonces. */
static chain_net_t *nonce_key(api_t *api, const runtime_caller_t *who, const json_t *args,
                              char key[ETH_NONCE_KEY_MAX], char addr[43], err_t *err) {
    chain_net_t *net = pick(api, CHAIN_ETH, args, err);
    if (!net) return NULL;
    const char *a = json_string_value(json_object_get(args, "address"));
    bool ok = a && strlen(a) == 42 && a[0] == '0' && (a[1] == 'x' || a[1] == 'X');
    for (size_t i = 2; ok && i < 42; i++)
        ok = isxdigit((unsigned char)a[i]);
    if (!ok) {
        err_set(err, R3E_EINVAL, "address must be a 0x-prefixed 20-byte hex address");
        return NULL;
    }
    for (size_t i = 0; i < 42; i++)
        addr[i] = (char)tolower((unsigned char)a[i]);
    addr[42] = '\0';
    snprintf(key, ETH_NONCE_KEY_MAX, "%.63s/%s/%s", who->ns && *who->ns ? who->ns : API_NS,
             net->name, addr);
    return net;
}

/* {network?, address} -> {nonce}: max(the node's pending count, the last reserved + 1). */
static json_t *eth_nonce(void *ud, const runtime_caller_t *who, const json_t *args,
                         json_t **rpc_error, err_t *err) {
    api_t *api = ud;
    char key[ETH_NONCE_KEY_MAX], addr[43];
    chain_net_t *net = nonce_key(api, who, args, key, addr, err);
    if (!net) return NULL;
    int tmo = call_timeout_ms(who, err);
    if (tmo < 0) return NULL;
    json_t *params = json_pack("[s,s]", addr, "pending");
    json_t *r = rpc_call_ex(net->rpc, "eth_getTransactionCount", params, tmo, rpc_error, err);
    json_decref(params);
    if (!r) return NULL;
    const char *hex = json_string_value(r);
    char *end = NULL;
    errno = 0;
    unsigned long long pending =
        hex && strncmp(hex, "0x", 2) == 0 && hex[2] ? strtoull(hex + 2, &end, 16) : 0;
    bool bad = !end || *end || errno;
    json_decref(r);
    if (bad) {
        err_set(err, R3E_EUPSTREAM, "eth_getTransactionCount: not a quantity");
        return NULL;
    }
    uint64_t n = eth_nonces_reserve(api->eth_nonces, key, pending, util_now_us() / 1000);
    return json_pack("{s:I}", "nonce", (json_int_t)n);
}

/* {network?, address, nonce, resync?} -> {}: nonce never reached the node (given back), or
 * with resync: the node refused a nonce, forget the reservation. */
static json_t *eth_nonce_release(void *ud, const runtime_caller_t *who, const json_t *args,
                                 json_t **rpc_error, err_t *err) {
    (void)rpc_error;
    api_t *api = ud;
    char key[ETH_NONCE_KEY_MAX], addr[43];
    if (!nonce_key(api, who, args, key, addr, err)) return NULL;
    const json_t *nv = json_object_get(args, "nonce");
    if (!json_is_integer(nv) || json_integer_value(nv) < 0) {
        err_set(err, R3E_EINVAL, "nonce must be a non-negative integer");
        return NULL;
    }
    eth_nonces_release(api->eth_nonces, key, (uint64_t)json_integer_value(nv),
                       json_is_true(json_object_get(args, "resync")), util_now_us() / 1000);
    return json_object();
}

#define CHAIN_SVC(kind, K)                                                                         \
    static json_t *kind##_rpc(void *ud, const runtime_caller_t *w, const json_t *a, json_t **rc,   \
                              err_t *e) {                                                          \
        return svc_rpc(ud, K, w, a, rc, e);                                                        \
    }                                                                                              \
    static json_t *kind##_batch(void *ud, const runtime_caller_t *w, const json_t *a, json_t **rc, \
                                err_t *e) {                                                        \
        (void)rc;                                                                                  \
        return svc_batch(ud, K, w, a, e);                                                          \
    }                                                                                              \
    static json_t *kind##_network(void *ud, const runtime_caller_t *w, const json_t *a,            \
                                  json_t **rc, err_t *e) {                                         \
        (void)w, (void)rc;                                                                         \
        return svc_network(ud, K, a, e);                                                           \
    }
CHAIN_SVC(eth, CHAIN_ETH)
CHAIN_SVC(neo, CHAIN_NEO)

int api_host_chain_register(api_t *api, err_t *err) {
    if (!api->eth_nonces && !(api->eth_nonces = eth_nonces_new(0, 0)))
        return err_set(err, R3E_EINTERNAL, "out of memory");
    struct {
        const char *name;
        host_svc_fn fn;
    } svcs[] = {
        {"eth.rpc", eth_rpc},         {"eth.batch", eth_batch},
        {"eth.network", eth_network}, {"neo.rpc", neo_rpc},
        {"neo.batch", neo_batch},     {"neo.network", neo_network},
        {"eth.nonce", eth_nonce},     {"eth.nonce_release", eth_nonce_release},
    };
    for (size_t i = 0; i < sizeof svcs / sizeof svcs[0]; i++)
        if (api_host_register(api, svcs[i].name, svcs[i].fn, api, err) < 0) return -1;
    return 0;
}

void api_host_chain_free(api_t *api) {
    eth_nonces_free(api->eth_nonces);
    api->eth_nonces = NULL;
}
