/* The Neo N3 relayer: keys, submission, tracking and resending (see neo_relayer.h). */
#include "chain/neo/neo_relayer.h"

#include "api/host.h"
#include "api/secrets.h"
#include "chain/neo/neo.h"
#include "chain/net.h"
#include "core/util.h"
#include "obs/log.h"
#include "vault/vault.h"

#include <ctype.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TX_KIND "neo-relayer-tx"
#define LIVE_KIND "neo-relayer-live"
#define VAULT_OWNER "neo-relayer"

typedef struct {
    chain_net_t *net;
    neo_key_t *key; /* NULL = disabled */
    uint8_t account[20];
    char address[NEO_ADDRESS_LEN + 1];
    char hash_disp[43];
    char why[400];            /* why it is disabled */
    unsigned window, poll_ms; /* --neo-relayer-window / --neo-relayer-poll-ms */
    uint64_t due_ms;          /* the tracker's next round for this network */
} neo_rnet_t;

typedef struct neo_relayer {
    api_t *api;
    neo_rnet_t *nets;
    size_t n;
    pthread_t th;
    bool running, stop;
    pthread_mutex_t mu;
    pthread_cond_t cv;
} neo_relayer_t;

static const char *jstr(const json_t *o, const char *k) {
    return json_string_value(json_object_get(o, k));
}

/* ---- scripts ------------------------------------------------------------------------- */

/* ContractParam (or plain JSON value) -> a neo_script_from_json op. */
static json_t *param_op(const json_t *p, int depth, err_t *err) {
    if (depth > 16) {
        err_set(err, R3E_EINVAL, "args: nested deeper than 16");
        return NULL;
    }
    if (!p || json_is_null(p)) return json_pack("[s]", "null");
    if (json_is_boolean(p)) return json_pack("[s,b]", "bool", json_is_true(p));
    if (json_is_integer(p)) return json_pack("[s,I]", "int", json_integer_value(p));
    if (json_is_string(p)) return json_pack("[s,O]", "str", p);
    if (json_is_array(p) ||
        (json_is_object(p) && jstr(p, "type") && strcmp(jstr(p, "type"), "Array") == 0)) {
        const json_t *items = json_is_array(p) ? p : json_object_get(p, "value");
        if (!json_is_array(items)) {
            err_set(err, R3E_EINVAL, "args: an Array parameter needs an array value");
            return NULL;
        }
        json_t *ops = json_array();
        size_t i;
        const json_t *it;
        json_array_foreach(items, i, it) {
            json_t *op = param_op(it, depth + 1, err);
            if (!op) {
                json_decref(ops);
                return NULL;
            }
            json_array_append_new(ops, op);
        }
        return json_pack("[s,o]", "array", ops);
    }
    const char *type = jstr(p, "type");
    const json_t *v = json_object_get(p, "value");
    static const struct {
        const char *type, *op;
    } map[] = {{"Integer", "int"},   {"Boolean", "bool"}, {"String", "str"},
               {"Hash160", "h160"},  {"Hash256", "h256"}, {"PublicKey", "pubkey"},
               {"ByteArray", "b64"}, {"Signature", "b64"}};
    if (type && strcmp(type, "Any") == 0) return json_pack("[s]", "null");
    for (size_t i = 0; type && i < sizeof map / sizeof *map; i++) {
        if (strcmp(type, map[i].type) != 0) continue;
        if (strcmp(type, "Boolean") == 0) {
            if (!json_is_boolean(v)) break;
            return json_pack("[s,b]", "bool", json_is_true(v));
        }
        if (!json_is_string(v) && !(strcmp(type, "Integer") == 0 && json_is_integer(v))) break;
        return json_pack("[s,O]", map[i].op, v);
    }
    err_set(err, R3E_EINVAL,
            "args: each argument is a ContractParam {type, value} (Integer, Boolean, String, "
            "Hash160, Hash256, PublicKey, ByteArray as base64, Array, Any) or a plain JSON value");
    return NULL;
}

static uint8_t *decode_script(const char *s, size_t *n, err_t *err) {
    size_t len = strlen(s);
    uint8_t *out = malloc(len + 3);
    if (!out) abort();
    bool hex = len % 2 == 0;
    for (size_t i = (len >= 2 && s[0] == '0' && s[1] == 'x') ? 2 : 0; hex && i < len; i++)
        hex = isxdigit((unsigned char)s[i]) != 0;
    int r = hex ? util_hex_decode(s, len, out, len) : neo_base64_decode(s, out, len + 3, NULL);
    if (r <= 0 || r > NEO_RELAYER_SCRIPT_MAX) {
        free(out);
        err_set(err, R3E_EINVAL,
                "script must be a non-empty NeoVM script in hex or base64 (at "
                "most 65535 bytes)");
        return NULL;
    }
    *n = (size_t)r;
    return out;
}

int neo_relayer_script(const json_t *req, neo_buf_t *out, err_t *err) {
    static const char *known[] = {"script", "contract", "method", "args", "network"};
    const char *k;
    json_t *v;
    if (!json_is_object(req)) return err_set(err, R3E_EINVAL, "the request must be an object");
    json_object_foreach((json_t *)req, k, v) {
        bool ok = false;
        for (size_t i = 0; i < sizeof known / sizeof *known; i++)
            ok = ok || strcmp(k, known[i]) == 0;
        if (!ok)
            return err_set(err, R3E_EINVAL,
                           "unknown field \"%.40s\" (script | contract, method, args)", k);
    }
    const json_t *script = json_object_get(req, "script");
    if (script) {
        if (json_object_get(req, "contract") || json_object_get(req, "method") ||
            json_object_get(req, "args"))
            return err_set(err, R3E_EINVAL, "give either script or contract+method+args");
        if (!json_is_string(script))
            return err_set(err, R3E_EINVAL, "script must be a hex or base64 string");
        size_t n;
        uint8_t *b = decode_script(json_string_value(script), &n, err);
        if (!b) return -1;
        neo_buf_append(out, b, n);
        free(b);
        return 0;
    }
    const char *contract = jstr(req, "contract"), *method = jstr(req, "method");
    const json_t *args = json_object_get(req, "args");
    if (!contract || !method || !*method)
        return err_set(err, R3E_EINVAL,
                       "give script (hex or base64) or contract (0x… script hash) and method");
    if (args && !json_is_array(args)) return err_set(err, R3E_EINVAL, "args must be an array");
    json_t *ops = json_array();
    size_t i;
    const json_t *a;
    json_array_foreach(args, i, a) {
        json_t *op = param_op(a, 0, err);
        if (!op) {
            json_decref(ops);
            return -1;
        }
        json_array_append_new(ops, op);
    }
    json_t *prog = json_pack("[[s,s,s,i,o]]", "call", contract, method, NEO_CALL_ALL, ops);
    int rc = neo_script_from_json(prog, out, err);
    json_decref(prog);
    if (rc < 0) {
        char m[sizeof err->msg];
        snprintf(m, sizeof m, "%s", err->msg);
        return err_set(err, R3E_EINVAL, "%s", m);
    }
    if (out->len > NEO_RELAYER_SCRIPT_MAX)
        return err_set(err, R3E_EINVAL, "the script is larger than 65535 bytes");
    return 0;
}

/* ---- keys ---------------------------------------------------------------------------- */

static int rnet_set_key(neo_rnet_t *rn, const uint8_t priv[32], err_t *err) {
    rn->key = neo_key_new(priv, err);
    if (!rn->key) return -1;
    uint8_t vs[40];
    neo_verification_script(neo_key_pubkey(rn->key), vs);
    neo_script_hash(vs, sizeof vs, rn->account);
    neo_address_from_script_hash(rn->account, rn->address);
    neo_hash_to_display(rn->account, 20, rn->hash_disp);
    return 0;
}

/* The key file named for net in the ';'-joined NAME=PATH list, or NULL. */
static const char *key_file_for(const char *list, const char *net, char *buf, size_t cap) {
    for (const char *p = list; p && *p;) {
        const char *end = strchr(p, ';');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        const char *eq = memchr(p, '=', len);
        if (eq && (size_t)(eq - p) == strlen(net) && strncmp(p, net, strlen(net)) == 0 &&
            len - (size_t)(eq - p) - 1 < cap) {
            memcpy(buf, eq + 1, len - (size_t)(eq - p) - 1);
            buf[len - (size_t)(eq - p) - 1] = '\0';
            return buf;
        }
        p = end ? end + 1 : NULL;
    }
    return NULL;
}

static int rnet_load_key(neo_rnet_t *rn, const char *key_file, vault_t *vault, err_t *err) {
    uint8_t priv[32];
    int rc = -1;
    if (key_file) {
        size_t len;
        char *text = util_read_file(key_file, &len);
        if (!text)
            return err_set(err, R3E_EINVAL, "--neo-relayer-key-file %s: cannot read %s",
                           rn->net->name, key_file);
        char *s = text;
        while (*s && isspace((unsigned char)*s))
            s++;
        for (char *e = s + strlen(s); e > s && isspace((unsigned char)e[-1]); e--)
            e[-1] = '\0';
        if (neo_wif_decode(s, priv, err) == 0)
            rc = rnet_set_key(rn, priv, err);
        else
            err_set(err, R3E_EINVAL, "--neo-relayer-key-file %s: %s does not hold a WIF key",
                    rn->net->name, key_file);
        OPENSSL_cleanse(text, len);
        free(text);
        OPENSSL_cleanse(priv, sizeof priv);
        return rc;
    }
    if (!vault) {
        snprintf(rn->why, sizeof rn->why,
                 "the Neo relayer of network %.63s is disabled: no vault to seal its key (set a "
                 "master key) and no --neo-relayer-key-file %.63s=PATH",
                 rn->net->name, rn->net->name);
        return 0;
    }
    char *wif = NULL;
    size_t len = 0;
    err_t e;
    if (vault_get_system(vault, VAULT_OWNER, rn->net->name, &wif, &len, &e) == 0) {
        if (neo_wif_decode(wif, priv, err) == 0) rc = rnet_set_key(rn, priv, err);
        vault_plaintext_free(wif);
    } else if (e.code == R3E_ENOTFOUND) {
        char w[NEO_WIF_LEN + 1];
        do
            util_random(priv, sizeof priv);
        while (neo_privkey_check(priv, NULL) != 0);
        if (neo_wif_encode(priv, w, err) == 0 &&
            vault_put_system(vault, VAULT_OWNER, rn->net->name, w, strlen(w), err) == 0 &&
            rnet_set_key(rn, priv, err) == 0) {
            rc = 0;
            log_info("neo relayer %s: created key for %s (sealed in the vault; fund it with GAS)",
                     rn->net->name, rn->address);
        }
        OPENSSL_cleanse(w, sizeof w);
    } else {
        *err = e;
    }
    OPENSSL_cleanse(priv, sizeof priv);
    return rc;
}

/* ---- transactions -------------------------------------------------------------------- */

static char *b64(const uint8_t *p, size_t n) {
    char *out = malloc(4 * ((n + 2) / 3) + 1);
    if (!out) abort();
    EVP_EncodeBlock((unsigned char *)out, p, (int)n);
    return out;
}

/* Signs script as the relayer; *raw gets the base64 signed tx, hash the display txid. */
static int rnet_sign(neo_rnet_t *rn, uint32_t magic, const uint8_t *script, size_t slen,
                     uint32_t nonce, int64_t sysfee, int64_t netfee, uint32_t vub, char **raw,
                     char hash[67], err_t *err) {
    neo_signer_t signer = {.scopes = NEO_SCOPE_CALLED_BY_ENTRY};
    memcpy(signer.account, rn->account, 20);
    uint8_t vs[40], inv[66], sig[64], h[32];
    neo_verification_script(neo_key_pubkey(rn->key), vs);
    neo_witness_t w = {.verification = vs, .verification_len = sizeof vs};
    neo_tx_t tx = {.version = 0,
                   .nonce = nonce,
                   .system_fee = sysfee,
                   .network_fee = netfee,
                   .valid_until_block = vub,
                   .signers = &signer,
                   .nsigners = 1,
                   .script = script,
                   .script_len = slen,
                   .witnesses = &w,
                   .nwitnesses = 1};
    if (neo_tx_sign_key(&tx, magic, rn->key, sig, err) < 0 || neo_tx_hash(&tx, h, err) < 0)
        return -1;
    neo_invocation_script(sig, inv);
    w.invocation = inv;
    w.invocation_len = sizeof inv;
    neo_buf_t out = {0};
    if (neo_tx_serialize(&tx, true, &out, err) < 0) {
        neo_buf_free(&out);
        return -1;
    }
    *raw = b64(out.data, out.len);
    neo_buf_free(&out);
    neo_hash_to_display(h, 32, hash);
    return 0;
}

static json_t *rpc1(neo_rnet_t *rn, const char *method, json_t *params, json_t **node_err,
                    err_t *err) {
    json_t *r = rpc_call_ex(rn->net->rpc, method, params, 0, node_err, err);
    json_decref(params);
    return r;
}

/* Signs the record's script with validUntilBlock vub and stores "raw", "hash",
 * "validUntilBlock" and a new attempt. */
static int rec_sign(neo_rnet_t *rn, json_t *rec, uint32_t vub, err_t *err) {
    uint64_t magic;
    if (chain_net_id(rn->net, &magic, err) < 0) return -1;
    size_t slen;
    uint8_t *script = decode_script(jstr(rec, "script"), &slen, err);
    if (!script) return -1;
    char *raw = NULL, hash[67];
    int rc = rnet_sign(rn, (uint32_t)magic, script, slen,
                       (uint32_t)json_integer_value(json_object_get(rec, "nonce")),
                       strtoll(jstr(rec, "systemFee"), NULL, 10),
                       strtoll(jstr(rec, "networkFee"), NULL, 10), vub, &raw, hash, err);
    free(script);
    if (rc < 0) return -1;
    char ts[40];
    util_rfc3339(util_wall_ms(), ts, sizeof ts);
    json_object_set_new(rec, "raw", json_string(raw));
    json_object_set_new(rec, "hash", json_string(hash));
    json_object_set_new(rec, "validUntilBlock", json_integer(vub));
    json_array_append_new(
        json_object_get(rec, "attempts"),
        json_pack("{s:s,s:i,s:s}", "hash", hash, "validUntilBlock", (int)vub, "signedAt", ts));
    free(raw);
    return 0;
}

static bool rec_final(const char *state) {
    return state && (strcmp(state, "executed") == 0 || strcmp(state, "faulted") == 0 ||
                     strcmp(state, "error") == 0);
}

/* Counts a record that just became final (for r3e_relayer_transactions_final_total). */
static void stats_final(neo_rnet_t *rn, const char *state) {
    int i = chain_relayer_final_index(CHAIN_NEO, state);
    if (i >= 0) atomic_fetch_add(&rn->net->relayer.final[i], 1);
}

/* Writes the record and its live marker (deleted once final) atomically. */
static int rec_put(neo_relayer_t *R, json_t *rec, err_t *err) {
    char ts[40], key[400], lkey[200];
    util_rfc3339(util_wall_ms(), ts, sizeof ts);
    json_object_set_new(rec, "updatedAt", json_string(ts));
    snprintf(key, sizeof key, "%s/%s/%s", jstr(rec, "network"), jstr(rec, "ns"), jstr(rec, "id"));
    snprintf(lkey, sizeof lkey, "%s/%s", jstr(rec, "network"), jstr(rec, "id"));
    char *text = json_dumps(rec, JSON_COMPACT);
    if (!text) return err_set(err, R3E_EINTERNAL, "out of memory");
    bool fin = rec_final(jstr(rec, "state"));
    const char *ns = jstr(rec, "ns");
    store_meta_op_t ops[2] = {{TX_KIND, key, text, strlen(text)},
                              {LIVE_KIND, lkey, fin ? NULL : ns, fin ? 0 : strlen(ns)}};
    int rc = store_meta_write(R->api->store, ops, 2, err);
    free(text);
    return rc;
}

static void rec_state(json_t *rec, const char *state, const char *error) {
    json_object_set_new(rec, "state", json_string(state));
    if (error) json_object_set_new(rec, "error", json_string(error));
}

/* sendrawtransaction of the record's raw tx: submitted, error (refused) or unchanged
 * (transport failure: retried by the tracker). */
static void rec_send(neo_rnet_t *rn, json_t *rec) {
    json_t *node_err = NULL;
    err_t e;
    json_t *res = rpc1(rn, "sendrawtransaction", json_pack("[s]", jstr(rec, "raw")), &node_err, &e);
    long code = node_err ? (long)json_integer_value(json_object_get(node_err, "code")) : 0;
    if (res) {
        rec_state(rec, "submitted", NULL);
    } else if (node_err && (code == -501 || code == -503)) {
        rec_state(rec, "submitted", NULL); /* already in the pool or the chain: track it */
    } else if (node_err) {
        char m[300];
        snprintf(m, sizeof m, "the node refused the transaction (%ld): %.240s", code,
                 jstr(node_err, "message") ? jstr(node_err, "message") : e.msg);
        rec_state(rec, "error", m);
        json_object_set_new(rec, "rpcCode", json_integer(code));
    } else {
        json_object_set_new(rec, "lastError", json_string(e.msg));
    }
    json_decref(res);
    json_decref(node_err);
}

static neo_rnet_t *rnet_find(neo_relayer_t *R, const char *network, err_t *err) {
    if (!R) {
        err_set(err, R3E_EUNAVAIL, "the Neo relayer is not running");
        return NULL;
    }
    chain_net_t *net = chain_nets_find(R->api->chains, CHAIN_NEO, network);
    for (size_t i = 0; net && i < R->n; i++) {
        if (R->nets[i].net != net) continue;
        if (!R->nets[i].key) {
            err_set(err, R3E_EUNAVAIL, "%s", R->nets[i].why);
            return NULL;
        }
        return &R->nets[i];
    }
    if (network && *network)
        err_set(err, R3E_ENOTFOUND, "no Neo N3 network named \"%.63s\" is configured", network);
    else
        err_set(err, R3E_EUNAVAIL, "no Neo N3 network is configured on this server");
    return NULL;
}

json_t *neo_relayer_submit(api_t *api, const char *network, const char *ns, const char *function,
                           const char *exec_id, const json_t *req, err_t *err) {
    neo_relayer_t *R = api->neo_relayer;
    neo_rnet_t *rn = rnet_find(R, network, err);
    if (!rn) return NULL;
    neo_buf_t script = {0};
    if (neo_relayer_script(req, &script, err) < 0) {
        neo_buf_free(&script);
        return NULL;
    }
    char *sb64 = b64(script.data, script.len);
    char *shex = malloc(2 * script.len + 1);
    if (!shex) abort();
    util_hex_encode(script.data, script.len, shex);
    neo_buf_free(&script);
    json_t *rec = NULL, *node_err = NULL;
    json_t *test = rpc1(
        rn, "invokescript",
        json_pack("[s,[{s:s,s:s}]]", sb64, "account", rn->hash_disp, "scopes", "CalledByEntry"),
        &node_err, err);
    free(sb64);
    json_decref(node_err);
    if (!test) goto out;
    if (!jstr(test, "state") || strcmp(jstr(test, "state"), "HALT") != 0) {
        err_set(err, R3E_EINVAL, "the script FAULTs in a test invocation, nothing was sent: %s",
                jstr(test, "exception") ? jstr(test, "exception") : "no exception given");
        goto out;
    }
    const char *gas = jstr(test, "gasconsumed");
    int64_t sysfee = gas ? strtoll(gas, NULL, 10) : 0;
    json_t *cnt = rpc1(rn, "getblockcount", NULL, NULL, err);
    if (!json_is_integer(cnt)) {
        if (cnt) err_set(err, R3E_EUPSTREAM, "getblockcount did not answer a number");
        json_decref(cnt);
        goto out;
    }
    uint32_t vub = (uint32_t)json_integer_value(cnt) - 1 + rn->window;
    json_decref(cnt);
    char id[27], ts[40];
    util_ulid(id);
    util_rfc3339(util_wall_ms(), ts, sizeof ts);
    uint32_t nonce;
    util_random(&nonce, sizeof nonce);
    json_t *request = json_deep_copy(req);
    json_object_del(request, "network");
    rec = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:I,s:s,s:s,s:s,s:[],s:o}", "id", id, "network",
                    rn->net->name, "ns", ns ? ns : API_NS, "state", "queued", "sender", rn->address,
                    "script", shex, "nonce", (json_int_t)nonce, "systemFee", gas ? gas : "0",
                    "networkFee", "0", "createdAt", ts, "attempts", "request", request);
    (void)sysfee;
    if (function) json_object_set_new(rec, "function", json_string(function));
    if (exec_id) json_object_set_new(rec, "execution_id", json_string(exec_id));
    /* network fee: priced by the node on the signed transaction, then signed again */
    if (rec_sign(rn, rec, vub, err) < 0) goto fail;
    json_t *fee = rpc1(rn, "calculatenetworkfee", json_pack("[s]", jstr(rec, "raw")), NULL, err);
    const char *nf = jstr(fee, "networkfee");
    char nfbuf[32];
    if (!nf && json_is_integer(json_object_get(fee, "networkfee"))) {
        snprintf(nfbuf, sizeof nfbuf, "%lld",
                 (long long)json_integer_value(json_object_get(fee, "networkfee")));
        nf = nfbuf;
    }
    if (!nf) {
        if (fee) err_set(err, R3E_EUPSTREAM, "calculatenetworkfee did not answer a fee");
        json_decref(fee);
        goto fail;
    }
    json_object_set_new(rec, "networkFee", json_string(nf));
    json_decref(fee);
    json_array_clear(json_object_get(rec, "attempts"));
    if (rec_sign(rn, rec, vub, err) < 0 || rec_put(R, rec, err) < 0) goto fail;
    rec_send(rn, rec);
    if (rec_put(R, rec, err) < 0) goto fail;
    if (rec_final(jstr(rec, "state"))) stats_final(rn, jstr(rec, "state"));
    goto out;
fail:
    json_decref(rec);
    rec = NULL;
out:
    free(shex);
    json_decref(test);
    if (rec) json_object_del(rec, "raw");
    return rec;
}

/* ---- tracking ------------------------------------------------------------------------ */

static void rec_finish(neo_rnet_t *rn, json_t *rec, const json_t *log) {
    const json_t *exe = json_array_get(json_object_get(log, "executions"), 0);
    const char *vm = jstr(exe, "vmstate");
    bool halt = vm && strcmp(vm, "HALT") == 0;
    rec_state(rec, halt ? "executed" : "faulted", NULL);
    json_object_set_new(rec, "vmstate", json_string(vm ? vm : "FAULT"));
    if (jstr(exe, "exception"))
        json_object_set_new(rec, "exception", json_string(jstr(exe, "exception")));
    if (json_object_get(exe, "gasconsumed"))
        json_object_set(rec, "gasconsumed", json_object_get(exe, "gasconsumed"));
    json_t *ns = json_array();
    size_t i;
    const json_t *n;
    json_array_foreach(json_object_get(exe, "notifications"), i, n) {
        json_t *d = neo_notification_decode(n, NULL);
        json_array_append_new(ns, d ? d : json_deep_copy(n));
    }
    json_object_set_new(rec, "notifications", ns);
    json_t *h =
        rpc1(rn, "gettransactionheight", json_pack("[s]", jstr(rec, "hash")), NULL, &(err_t){0});
    if (json_is_integer(h)) json_object_set(rec, "blockIndex", h);
    json_decref(h);
}

/* One live record: resend, finish, or renew its validUntilBlock. height = the chain height
 * read BEFORE the application log, so "no log and height >= validUntilBlock" means the
 * transaction can never be included. */
static void track_one(neo_relayer_t *R, neo_rnet_t *rn, json_t *rec, uint32_t height) {
    err_t e;
    uint32_t vub = (uint32_t)json_integer_value(json_object_get(rec, "validUntilBlock"));
    const char *state = jstr(rec, "state");
    bool dirty = false;
    if (state && strcmp(state, "submitted") == 0) {
        json_t *node_err = NULL;
        json_t *log =
            rpc1(rn, "getapplicationlog", json_pack("[s]", jstr(rec, "hash")), &node_err, &e);
        if (log) {
            rec_finish(rn, rec, log);
            json_decref(log);
            rec_put(R, rec, &e);
            return;
        }
        json_decref(node_err);
        if (e.code != R3E_EUPSTREAM) return; /* node unreachable: next round */
    }
    if (height >= vub) { /* expired: can never be included; sign again with a new window */
        size_t tries = json_array_size(json_object_get(rec, "attempts"));
        if (tries >= NEO_RELAYER_MAX_ATTEMPTS) {
            rec_state(rec, "error", "expired without being included, attempts exhausted");
        } else if (rec_sign(rn, rec, height + rn->window, &e) == 0) {
            log_info("neo relayer %s: %s expired at block %u; resent as %s", rn->net->name,
                     jstr(rec, "id"), vub, jstr(rec, "hash"));
            atomic_fetch_add(&rn->net->relayer.resubmits, 1);
            rec_state(rec, "queued", NULL);
            rec_send(rn, rec);
        }
        dirty = true;
    } else if (state && strcmp(state, "queued") == 0) {
        rec_send(rn, rec);
        dirty = true;
    }
    if (dirty) rec_put(R, rec, &e);
}

static void track_round(neo_relayer_t *R, neo_rnet_t *rn) {
    char from[80], to[80];
    snprintf(from, sizeof from, "%s/", rn->net->name);
    snprintf(to, sizeof to, "%s0", rn->net->name); /* '0' follows '/' */
    char **keys = NULL, **vals = NULL;
    size_t n = 0;
    err_t e;
    int rc = store_meta_range(R->api->store, LIVE_KIND, from, to, false, 500, &keys, &vals, &n, &e);
    if (rc < 0 || n == 0) {
        if (rc == 0) { /* nothing live */
            atomic_store(&rn->net->relayer.live[CHAIN_TX_QUEUED], 0);
            atomic_store(&rn->net->relayer.live[CHAIN_TX_SUBMITTED], 0);
        }
        store_strv_free(keys, n);
        store_strv_free(vals, n);
        return;
    }
    json_t *cnt = rpc1(rn, "getblockcount", NULL, NULL, &e);
    if (json_is_integer(cnt) && json_integer_value(cnt) > 0) {
        uint32_t height = (uint32_t)json_integer_value(cnt) - 1;
        uint64_t live[CHAIN_TX_LIVE_N] = {0};
        for (size_t i = 0; i < n; i++) {
            char key[400];
            snprintf(key, sizeof key, "%s/%s/%s", rn->net->name, vals[i], keys[i] + strlen(from));
            char *text = NULL;
            size_t len;
            if (store_meta_get(R->api->store, TX_KIND, key, &text, &len, &e) < 0) continue;
            json_t *rec = json_loads(text, 0, NULL);
            free(text);
            if (rec) {
                bool was_final = rec_final(jstr(rec, "state"));
                track_one(R, rn, rec, height);
                const char *st = jstr(rec, "state");
                if (!was_final && rec_final(st)) stats_final(rn, st);
                if (st && strcmp(st, "queued") == 0) live[CHAIN_TX_QUEUED]++;
                if (st && strcmp(st, "submitted") == 0) live[CHAIN_TX_SUBMITTED]++;
            }
            json_decref(rec);
        }
        for (int k = 0; k < CHAIN_TX_LIVE_N; k++)
            atomic_store(&rn->net->relayer.live[k], live[k]);
    }
    json_decref(cnt);
    store_strv_free(keys, n);
    store_strv_free(vals, n);
}

static void *tracker_main(void *arg) {
    neo_relayer_t *R = arg;
    pthread_mutex_lock(&R->mu);
    while (!R->stop) {
        pthread_mutex_unlock(&R->mu);
        /* each network on its own period; sleep until the next one is due */
        uint64_t now = util_now_us() / 1000, next = now + 60000;
        for (size_t i = 0; i < R->n; i++) {
            neo_rnet_t *rn = &R->nets[i];
            if (!rn->key) continue;
            if (now >= rn->due_ms) {
                track_round(R, rn);
                rn->due_ms = now + rn->poll_ms;
            }
            if (rn->due_ms < next) next = rn->due_ms;
        }
        unsigned wait_ms = next > now ? (unsigned)(next - now) : 1;
        pthread_mutex_lock(&R->mu);
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += wait_ms / 1000;
        ts.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        if (!R->stop) pthread_cond_timedwait(&R->cv, &R->mu, &ts);
    }
    pthread_mutex_unlock(&R->mu);
    return NULL;
}

/* ---- host service and HTTP ----------------------------------------------------------- */

static json_t *host_relay(void *ud, const runtime_caller_t *who, const json_t *args,
                          json_t **rpc_error, err_t *err) {
    (void)rpc_error;
    api_t *api = ud;
    const json_t *nv = json_object_get(args, "network");
    if (nv && !json_is_null(nv) && !json_is_string(nv)) {
        err_set(err, R3E_EINVAL, "network must be a string");
        return NULL;
    }
    json_t *req = json_deep_copy(args);
    json_object_del(req, "network");
    json_t *rec =
        neo_relayer_submit(api, json_string_value(nv), who->ns, who->fn, who->exec_id, req, err);
    json_decref(req);
    return rec;
}

static json_t *rec_public(json_t *rec) {
    json_object_del(rec, "raw");
    return rec;
}

void api_h_neo_relayer_submit(http_req_t *r, const route_match_t *m) {
    json_t *in = http_require_json_object(r);
    if (!in) return;
    err_t e;
    json_t *rec = neo_relayer_submit(r->api, m->params[0], r->ns, NULL, NULL, in, &e);
    json_decref(in);
    if (!rec) {
        http_send_err(r, &e);
        return;
    }
    http_send_json(r, 202, rec_public(rec));
}

void api_h_neo_relayer_get(http_req_t *r, const route_match_t *m) {
    err_t e;
    if (!rnet_find(r->api->neo_relayer, m->params[0], &e)) {
        http_send_err(r, &e);
        return;
    }
    char key[400], id[27] = "";
    for (size_t i = 0; i < 26 && m->params[1][i]; i++)
        id[i] = (char)toupper((unsigned char)m->params[1][i]);
    snprintf(key, sizeof key, "%s/%s/%s", m->params[0], r->ns, id);
    char *text = NULL;
    size_t len;
    json_t *rec = NULL;
    if (strlen(m->params[1]) == 26 &&
        store_meta_get(r->api->store, TX_KIND, key, &text, &len, &e) == 0) {
        rec = json_loads(text, 0, NULL);
        free(text);
    }
    if (!rec) {
        http_send_error(r, R3E_ENOTFOUND, "relayed transaction \"%.40s\" not found", m->params[1]);
        return;
    }
    http_send_json(r, 200, rec_public(rec));
}

/* GET …/transactions?limit=N: the caller's namespace's records, newest first (ids are
 * ULIDs, so the reverse key order is the creation order). */
void api_h_neo_relayer_list(http_req_t *r, const route_match_t *m) {
    err_t e;
    if (!rnet_find(r->api->neo_relayer, m->params[0], &e)) {
        http_send_err(r, &e);
        return;
    }
    long limit;
    if (http_query_int(http_query(r, "limit"), 1, 100, 20, &limit, &e) < 0) {
        http_send_err(r, &e);
        return;
    }
    char from[200], to[200];
    snprintf(from, sizeof from, "%s/%s/", m->params[0], r->ns);
    snprintf(to, sizeof to, "%s/%s0", m->params[0], r->ns); /* '0' follows '/' */
    char **keys = NULL, **vals = NULL;
    size_t n = 0;
    if (store_meta_range(r->api->store, TX_KIND, from, to, true, (size_t)limit, &keys, &vals, &n,
                         &e) < 0) {
        http_send_err(r, &e);
        return;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *rec = json_loads(vals[i], 0, NULL);
        if (rec) json_array_append_new(arr, rec_public(rec));
    }
    store_strv_free(keys, n);
    store_strv_free(vals, n);
    http_send_json(r, 200, json_pack("{s:o}", "transactions", arr));
}

void api_h_neo_relayer_info(http_req_t *r, const route_match_t *m) {
    err_t e;
    neo_rnet_t *rn = rnet_find(r->api->neo_relayer, m->params[0], &e);
    if (!rn) {
        http_send_err(r, &e);
        return;
    }
    char from[80], to[80];
    snprintf(from, sizeof from, "%s/", rn->net->name);
    snprintf(to, sizeof to, "%s0", rn->net->name);
    char **keys = NULL;
    size_t n = 0;
    if (store_meta_range(r->api->store, LIVE_KIND, from, to, false, 10000, &keys, NULL, &n, &e) <
        0) {
        http_send_err(r, &e);
        return;
    }
    store_strv_free(keys, n);
    http_send_json(r, 200,
                   json_pack("{s:s,s:s,s:s,s:I,s:i}", "network", rn->net->name, "address",
                             rn->address, "scriptHash", rn->hash_disp, "pending", (json_int_t)n,
                             "validBlocks", (int)rn->window));
}

/* ---- lifecycle ----------------------------------------------------------------------- */

/* The value of option opt ("window" | "poll-ms") for network name from the "OPT [NAME=]V"
 * lines config.c collects: a NAME= line wins over a bare one (every network); def else. */
static unsigned relayer_opt(const char *opts, const char *opt, const char *name, unsigned def) {
    unsigned any = def, mine = 0;
    bool have_mine = false;
    size_t olen = strlen(opt);
    for (const char *line = opts; line && *line;) {
        const char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        if (len > olen && strncmp(line, opt, olen) == 0 && line[olen] == ' ') {
            char val[128];
            snprintf(val, sizeof val, "%.*s", (int)(len - olen - 1), line + olen + 1);
            char *eq = strchr(val, '=');
            if (!eq) {
                any = (unsigned)strtoul(val, NULL, 10);
            } else if ((size_t)(eq - val) == strlen(name) &&
                       strncmp(val, name, strlen(name)) == 0) {
                mine = (unsigned)strtoul(eq + 1, NULL, 10);
                have_mine = true;
            }
        }
        if (!nl) break;
        line = nl + 1;
    }
    return have_mine ? mine : any;
}

/* Every NAME= of the --neo-relayer-* options must be a --neo network. */
static int relayer_opts_check(api_t *api, err_t *err) {
    for (const char *line = api->cfg.neo_relayer; *line;) {
        const char *nl = strchr(line, '\n'), *sp = strchr(line, ' ');
        const char *eq = sp ? strchr(sp, '=') : NULL;
        if (sp && eq && (!nl || eq < nl)) {
            char name[64];
            size_t len = (size_t)(eq - sp - 1);
            snprintf(name, sizeof name, "%.*s", (int)(len < 63 ? len : 63), sp + 1);
            if (!chain_nets_find(api->chains, CHAIN_NEO, name) || !*name)
                return err_set(err, R3E_EINVAL,
                               "--neo-relayer-%.*s names network \"%s\", which is not configured "
                               "with --neo",
                               (int)(sp - line), line, name);
        }
        if (!nl) break;
        line = nl + 1;
    }
    return 0;
}

int neo_relayer_start(api_t *api, err_t *err) {
    size_t n = api->chains ? chain_nets_count(api->chains, CHAIN_NEO) : 0;
    /* every key file must name a configured network */
    for (const char *p = api->cfg.neo_relayer_keys; *p;) {
        const char *eq = strchr(p, '='), *end = strchr(p, ';');
        char name[64] = "";
        if (eq && (size_t)(eq - p) < sizeof name) memcpy(name, p, (size_t)(eq - p));
        if (!chain_nets_find(api->chains, CHAIN_NEO, name) || !*name)
            return err_set(err, R3E_EINVAL,
                           "--neo-relayer-key-file names \"%s\", which is not a --neo network",
                           name);
        if (!end) break;
        p = end + 1;
    }
    if (relayer_opts_check(api, err) < 0) return -1;
    if (n == 0) return 0;
    neo_relayer_t *R = calloc(1, sizeof *R);
    if (!R || !(R->nets = calloc(n, sizeof *R->nets))) {
        free(R);
        return err_set(err, R3E_EINTERNAL, "out of memory");
    }
    R->api = api;
    R->n = n;
    pthread_mutex_init(&R->mu, NULL);
    pthread_cond_init(&R->cv, NULL);
    api->neo_relayer = R;
    for (size_t i = 0; i < n; i++) {
        neo_rnet_t *rn = &R->nets[i];
        rn->net = chain_nets_at(api->chains, CHAIN_NEO, i);
        rn->window =
            relayer_opt(api->cfg.neo_relayer, "window", rn->net->name, NEO_RELAYER_DEFAULT_WINDOW);
        rn->poll_ms = relayer_opt(api->cfg.neo_relayer, "poll-ms", rn->net->name,
                                  NEO_RELAYER_DEFAULT_POLL_MS);
        char buf[1024];
        const char *kf = key_file_for(api->cfg.neo_relayer_keys, rn->net->name, buf, sizeof buf);
        if (rnet_load_key(rn, kf, api_secrets_vault(), err) < 0) {
            neo_relayer_stop(api);
            return -1;
        }
        if (rn->key) {
            atomic_store(&rn->net->relayer.on, true);
            log_info("neo relayer %s: sender %s (valid %u blocks, tracked every %u ms)",
                     rn->net->name, rn->address, rn->window, rn->poll_ms);
        } else
            log_warn("%s", rn->why);
    }
    if (api_host_register(api, "neo.relay", host_relay, api, err) < 0) {
        neo_relayer_stop(api);
        return -1;
    }
    if (pthread_create(&R->th, NULL, tracker_main, R) != 0) {
        neo_relayer_stop(api);
        return err_set(err, R3E_EINTERNAL, "cannot start the Neo relayer tracker");
    }
    R->running = true;
    return 0;
}

void neo_relayer_stop(api_t *api) {
    neo_relayer_t *R = api->neo_relayer;
    if (!R) return;
    if (R->running) {
        pthread_mutex_lock(&R->mu);
        R->stop = true;
        pthread_cond_broadcast(&R->cv);
        pthread_mutex_unlock(&R->mu);
        pthread_join(R->th, NULL);
    }
    for (size_t i = 0; i < R->n; i++) {
        if (R->nets[i].net) atomic_store(&R->nets[i].net->relayer.on, false);
        neo_key_free(R->nets[i].key);
    }
    free(R->nets);
    pthread_mutex_destroy(&R->mu);
    pthread_cond_destroy(&R->cv);
    free(R);
    api->neo_relayer = NULL;
}
