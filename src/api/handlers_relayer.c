/* Relayer routes and the "eth.relay" host service over chain/eth/relayer.c. */
#include "api/handlers_relayer.h"

#include "api/host.h"
#include "chain/eth/relayer.h"
#include "core/util.h"

#include <string.h>

/* The network's relayer, or NULL after queueing 404 / 503. */
static eth_relayer_t *relayer_or_error(http_req_t *r, const char *network) {
    err_t e;
    eth_relayer_t *rl = eth_relayers_find(r->api->eth_relayers, network, &e);
    if (!rl) http_send_err(r, &e);
    return rl;
}

void api_h_relayer_eth_info(http_req_t *r, const route_match_t *m) {
    eth_relayer_t *rl = relayer_or_error(r, m->params[0]);
    if (!rl) return;
    err_t e;
    json_t *o = eth_relayer_info(rl, &e);
    if (!o) {
        http_send_err(r, &e);
        return;
    }
    http_send_json(r, 200, o);
}

void api_h_relayer_eth_send(http_req_t *r, const route_match_t *m) {
    eth_relayer_t *rl = relayer_or_error(r, m->params[0]);
    if (!rl) return;
    json_t *req = http_require_json_object(r);
    if (!req) return;
    err_t e;
    eth_relayer_caller_t who = {.ns = r->ns};
    json_t *rec = eth_relayer_send(rl, &who, req, NULL, NULL, &e);
    json_decref(req);
    if (!rec) {
        http_send_err(r, &e);
        return;
    }
    http_send_json(r, 202, rec);
}

void api_h_relayer_eth_list(http_req_t *r, const route_match_t *m) {
    eth_relayer_t *rl = relayer_or_error(r, m->params[0]);
    if (!rl) return;
    long limit;
    err_t e;
    if (http_query_int(http_query(r, "limit"), 1, 100, 20, &limit, &e) < 0) {
        http_send_err(r, &e);
        return;
    }
    json_t *o = eth_relayer_list(rl, r->ns, (size_t)limit, &e);
    if (!o) {
        http_send_err(r, &e);
        return;
    }
    http_send_json(r, 200, o);
}

void api_h_relayer_eth_get(http_req_t *r, const route_match_t *m) {
    eth_relayer_t *rl = relayer_or_error(r, m->params[0]);
    if (!rl) return;
    err_t e;
    json_t *rec = eth_relayer_get(rl, r->ns, m->params[1], &e);
    if (!rec) {
        http_send_err(r, &e);
        return;
    }
    http_send_json(r, 200, rec);
}

/* Waits (consuming rec) until the record is final or the function's time is nearly up. */
static json_t *relay_wait(api_t *api, eth_relayer_t *rl, const runtime_caller_t *who, json_t *rec) {
    if (eth_relayer_is_final(json_string_value(json_object_get(rec, "state")))) return rec;
    /* leave the function a little time to use the answer */
    uint64_t deadline = who->deadline_us ? who->deadline_us : util_now_us() + 60 * 1000000ull;
    deadline = deadline > 250000 ? deadline - 250000 : 0;
    /* in slices, so a server shutting down does not wait for the function's deadline */
    const char *id = json_string_value(json_object_get(rec, "id"));
    while (!atomic_load(&api->stopping)) {
        uint64_t now = util_now_us(), slice = now + 1000000 < deadline ? now + 1000000 : deadline;
        err_t e2;
        json_t *cur = eth_relayer_wait(rl, who->ns, id, slice, &e2);
        if (!cur) break;
        json_decref(rec);
        rec = cur;
        id = json_string_value(json_object_get(rec, "id"));
        if (eth_relayer_is_final(json_string_value(json_object_get(rec, "state"))) ||
            slice >= deadline)
            break;
    }
    return rec;
}

/* host('eth.relay', {network?, to, data?, value?, gasLimit?, speed?, wait?}) -> the record;
 * with wait: true, once it is final or the function's time is nearly up. */
static json_t *svc_relay(void *ud, const runtime_caller_t *who, const json_t *args,
                         json_t **rpc_error, err_t *err) {
    api_t *api = ud;
    if (!json_is_object(args)) {
        err_set(err, R3E_EINVAL, "eth.relay takes an object {to, data, value, gasLimit, speed}");
        return NULL;
    }
    const json_t *nv = json_object_get(args, "network"), *wv = json_object_get(args, "wait");
    if (nv && !json_is_null(nv) && !json_is_string(nv)) {
        err_set(err, R3E_EINVAL, "network must be a string");
        return NULL;
    }
    if (wv && !json_is_null(wv) && !json_is_boolean(wv)) {
        err_set(err, R3E_EINVAL, "wait must be a boolean");
        return NULL;
    }
    eth_relayer_t *rl = eth_relayers_find(api->eth_relayers, json_string_value(nv), err);
    if (!rl) return NULL;
    static const char *const extra[] = {"network", "wait", NULL};
    eth_relayer_caller_t c = {.ns = who->ns, .function = who->fn, .exec_id = who->exec_id};
    json_t *rec = eth_relayer_send(rl, &c, args, extra, rpc_error, err);
    return rec && json_is_true(wv) ? relay_wait(api, rl, who, rec) : rec;
}

/* host('eth.relay_get', {network?, id, wait?}) -> the record of a transaction this
 * function's namespace relayed; with wait: true, once it is final or time is nearly up. */
static json_t *svc_relay_get(void *ud, const runtime_caller_t *who, const json_t *args,
                             json_t **rpc_error, err_t *err) {
    (void)rpc_error;
    api_t *api = ud;
    const json_t *nv = json_object_get(args, "network"), *wv = json_object_get(args, "wait");
    const char *id = json_string_value(json_object_get(args, "id"));
    if (!json_is_object(args) || !id || (nv && !json_is_null(nv) && !json_is_string(nv)) ||
        (wv && !json_is_null(wv) && !json_is_boolean(wv))) {
        err_set(err, R3E_EINVAL, "eth.relay_get takes {network?, id, wait?}");
        return NULL;
    }
    eth_relayer_t *rl = eth_relayers_find(api->eth_relayers, json_string_value(nv), err);
    if (!rl) return NULL;
    json_t *rec = eth_relayer_get(rl, who->ns, id, err);
    return rec && json_is_true(wv) ? relay_wait(api, rl, who, rec) : rec;
}

int api_relayer_start(api_t *api, vault_t *vault, err_t *err) {
    if (eth_relayers_start(api->chains, api->store, vault, api->cfg.eth_relayer, &api->eth_relayers,
                           err) < 0)
        return -1;
    if (api_host_register(api, "eth.relay", svc_relay, api, err) < 0) return -1;
    return api_host_register(api, "eth.relay_get", svc_relay_get, api, err);
}

void api_relayer_stop(api_t *api) {
    eth_relayers_stop(api->eth_relayers);
    api->eth_relayers = NULL;
}
