/* Configured blockchain networks (see net.h). */
#include "chain/net.h"

#include <errno.h>
#include <stdio.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define NETS_MAX 32

struct chain_nets {
    chain_net_t *v[NETS_MAX];
    size_t n;
    pthread_mutex_t mu; /* guards the lazily resolved ids */
};

const char *chain_kind_name(chain_kind_t kind) {
    return kind == CHAIN_ETH ? "eth" : "neo";
}

chain_nets_t *chain_nets_new(void) {
    chain_nets_t *n = calloc(1, sizeof *n);
    if (n) pthread_mutex_init(&n->mu, NULL);
    return n;
}

void chain_nets_free(chain_nets_t *n) {
    if (!n) return;
    for (size_t i = 0; i < n->n; i++) {
        rpc_client_free(n->v[i]->rpc);
        free(n->v[i]);
    }
    pthread_mutex_destroy(&n->mu);
    free(n);
}

static bool name_ok(const char *s, size_t len) {
    if (len == 0 || len >= 64) return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_'))
            return false;
    }
    return true;
}

int chain_nets_add(chain_nets_t *n, chain_kind_t kind, const char *spec, err_t *err) {
    const char *flag = kind == CHAIN_ETH ? "--eth" : "--neo";
    const char *eq = strchr(spec, '=');
    if (!eq || !name_ok(spec, (size_t)(eq - spec)))
        return err_set(err, R3E_EINVAL,
                       "%s wants NAME=URL%s with NAME of [A-Za-z0-9_-]{1,63}, got \"%.200s\"", flag,
                       kind == CHAIN_ETH ? "[,CHAIN_ID]" : "", spec);
    if (n->n == NETS_MAX) return err_set(err, R3E_EINVAL, "at most %d networks", NETS_MAX);
    chain_net_t *net = calloc(1, sizeof *net);
    if (!net) return err_set(err, R3E_EINTERNAL, "out of memory");
    net->kind = kind;
    memcpy(net->name, spec, (size_t)(eq - spec));
    const char *url = eq + 1, *comma = strchr(url, ',');
    size_t ulen = comma ? (size_t)(comma - url) : strlen(url);
    if (ulen == 0 || ulen >= sizeof net->url) {
        err_set(err, R3E_EINVAL, "%s %s: URL is empty or too long", flag, net->name);
        free(net);
        return -1;
    }
    memcpy(net->url, url, ulen);
    if (comma) {
        if (kind != CHAIN_ETH) {
            free(net);
            return err_set(err, R3E_EINVAL,
                           "--neo takes NAME=URL; the network magic comes from getversion");
        }
        char *end;
        errno = 0;
        unsigned long long id = strtoull(comma + 1, &end, 10);
        if (errno || end == comma + 1 || *end || id == 0) {
            err_set(err, R3E_EINVAL, "--eth %s: chain id must be a positive integer", net->name);
            free(net);
            return -1;
        }
        net->chain_id = id;
        net->id_known = true;
    }
    if (chain_nets_find(n, kind, net->name)) {
        err_set(err, R3E_EINVAL, "%s network \"%s\" is configured twice", flag, net->name);
        free(net);
        return -1;
    }
    if (!(net->rpc = rpc_client_new(net->url, 10000, 2, err))) {
        free(net);
        return -1;
    }
    char label[96];
    snprintf(label, sizeof label, "%s network \"%s\"", chain_kind_name(kind), net->name);
    rpc_client_set_label(net->rpc, label);
    n->v[n->n++] = net;
    return 0;
}

int chain_nets_add_list(chain_nets_t *n, chain_kind_t kind, const char *list, err_t *err) {
    char *copy = strdup(list), *save = NULL;
    if (!copy) return err_set(err, R3E_EINTERNAL, "out of memory");
    int rc = 0;
    for (char *t = strtok_r(copy, ";", &save); t && rc == 0; t = strtok_r(NULL, ";", &save))
        if (*t) rc = chain_nets_add(n, kind, t, err);
    free(copy);
    return rc;
}

chain_net_t *chain_nets_find(chain_nets_t *n, chain_kind_t kind, const char *name) {
    if (!n) return NULL;
    for (size_t i = 0; i < n->n; i++) {
        if (n->v[i]->kind != kind) continue;
        if (!name || !*name || strcmp(n->v[i]->name, name) == 0) return n->v[i];
    }
    return NULL;
}

size_t chain_nets_count(const chain_nets_t *n, chain_kind_t kind) {
    size_t c = 0;
    for (size_t i = 0; n && i < n->n; i++)
        c += n->v[i]->kind == kind;
    return c;
}

chain_net_t *chain_nets_at(chain_nets_t *n, chain_kind_t kind, size_t i) {
    for (size_t k = 0; n && k < n->n; k++)
        if (n->v[k]->kind == kind && i-- == 0) return n->v[k];
    return NULL;
}

static int parse_hex_u64(const char *s, uint64_t *out) {
    if (!s || strncmp(s, "0x", 2) != 0 || !s[2]) return -1;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s + 2, &end, 16);
    if (errno || *end) return -1;
    *out = v;
    return 0;
}

int chain_net_id(chain_net_t *net, uint64_t *out, err_t *err) {
    /* a benign race: two threads may both ask the node; they get the same answer */
    if (__atomic_load_n(&net->id_known, __ATOMIC_ACQUIRE)) {
        *out = __atomic_load_n(&net->chain_id, __ATOMIC_RELAXED);
        return 0;
    }
    uint64_t id = 0;
    if (net->kind == CHAIN_ETH) {
        json_t *r = rpc_call(net->rpc, "eth_chainId", NULL, NULL, err);
        if (!r) return -1;
        int bad = parse_hex_u64(json_string_value(r), &id);
        json_decref(r);
        if (bad) return err_set(err, R3E_EUPSTREAM, "eth_chainId answer is not a hex quantity");
    } else {
        json_t *r = rpc_call(net->rpc, "getversion", NULL, NULL, err);
        if (!r) return -1;
        json_t *m = json_object_get(json_object_get(r, "protocol"), "network");
        if (!json_is_integer(m) || json_integer_value(m) <= 0 ||
            json_integer_value(m) > 0xffffffffLL) {
            json_decref(r);
            return err_set(err, R3E_EUPSTREAM, "getversion has no protocol.network magic");
        }
        id = (uint64_t)json_integer_value(m);
        json_decref(r);
    }
    __atomic_store_n(&net->chain_id, id, __ATOMIC_RELAXED);
    __atomic_store_n(&net->id_known, true, __ATOMIC_RELEASE);
    *out = id;
    return 0;
}

static const char *const eth_final_states[CHAIN_TX_FINAL_N] = {"mined", "failed", "dropped",
                                                               "error"};
static const char *const neo_final_states[CHAIN_TX_FINAL_N] = {"executed", "faulted", "error",
                                                               NULL};

const char *const *chain_relayer_final_states(chain_kind_t kind) {
    return kind == CHAIN_ETH ? eth_final_states : neo_final_states;
}

int chain_relayer_final_index(chain_kind_t kind, const char *state) {
    const char *const *names = chain_relayer_final_states(kind);
    for (int i = 0; state && i < CHAIN_TX_FINAL_N; i++)
        if (names[i] && strcmp(names[i], state) == 0) return i;
    return -1;
}

/* r3e_chain_head, r3e_chain_source_lag_blocks, r3e_chain_source_events_total and
 * r3e_chain_source_reorgs_total: every configured network (a network without triggers shows
 * zeros, and no head until its source has read one). */
static void chain_nets_source_metrics(chain_nets_t *n, FILE *f) {
    fputs("# HELP r3e_chain_head The last head block seen by the event source.\n"
          "# TYPE r3e_chain_head gauge\n",
          f);
    for (size_t i = 0; i < n->n; i++) {
        const chain_net_t *c = n->v[i];
        if (atomic_load(&c->src.head_known))
            fprintf(f, "r3e_chain_head{chain=\"%s\",network=\"%s\"} %llu\n",
                    chain_kind_name(c->kind), c->name, atomic_load(&c->src.head));
    }
    fputs("# HELP r3e_chain_source_lag_blocks Blocks the furthest-behind enabled trigger still "
          "has to process.\n"
          "# TYPE r3e_chain_source_lag_blocks gauge\n",
          f);
    for (size_t i = 0; i < n->n; i++)
        fprintf(f, "r3e_chain_source_lag_blocks{chain=\"%s\",network=\"%s\"} %llu\n",
                chain_kind_name(n->v[i]->kind), n->v[i]->name, atomic_load(&n->v[i]->src.lag));
    fputs("# HELP r3e_chain_source_events_total Events the chain sources emitted to triggers.\n"
          "# TYPE r3e_chain_source_events_total counter\n",
          f);
    for (size_t i = 0; i < n->n; i++) {
        const chain_net_t *c = n->v[i];
        bool eth = c->kind == CHAIN_ETH;
        const char *types[CHAIN_EV_N] = {eth ? "eth.block" : "neo.block",
                                         eth ? "eth.log" : "neo.notification"};
        for (int t = 0; t < CHAIN_EV_N; t++)
            fprintf(f,
                    "r3e_chain_source_events_total{chain=\"%s\",network=\"%s\",type=\"%s\"} %llu\n",
                    chain_kind_name(c->kind), c->name, types[t], atomic_load(&c->src.events[t]));
    }
    if (chain_nets_count(n, CHAIN_ETH) == 0) return;
    fputs("# HELP r3e_chain_source_reorgs_total Reorgs undone by eth triggers (once per trigger "
          "that had processed the abandoned blocks).\n"
          "# TYPE r3e_chain_source_reorgs_total counter\n",
          f);
    for (size_t i = 0; i < n->n; i++)
        if (n->v[i]->kind == CHAIN_ETH)
            fprintf(f, "r3e_chain_source_reorgs_total{chain=\"eth\",network=\"%s\"} %llu\n",
                    n->v[i]->name, atomic_load(&n->v[i]->src.reorgs));
}

/* r3e_relayer_*: the networks with an enabled relayer. */
static void chain_nets_relayer_metrics(chain_nets_t *n, FILE *f) {
    size_t on = 0, eth_on = 0;
    for (size_t i = 0; i < n->n; i++) {
        bool r = atomic_load(&n->v[i]->relayer.on);
        on += r;
        eth_on += r && n->v[i]->kind == CHAIN_ETH && atomic_load(&n->v[i]->relayer.balance_known);
    }
    if (!on) return;
    static const char *const live[CHAIN_TX_LIVE_N] = {"queued", "submitted"};
    fputs("# HELP r3e_relayer_transactions Relayed transactions not final yet, by state, at the "
          "tracker's last round.\n"
          "# TYPE r3e_relayer_transactions gauge\n",
          f);
    for (size_t i = 0; i < n->n; i++) {
        const chain_net_t *c = n->v[i];
        if (!atomic_load(&c->relayer.on)) continue;
        for (int s = 0; s < CHAIN_TX_LIVE_N; s++)
            fprintf(f, "r3e_relayer_transactions{chain=\"%s\",network=\"%s\",state=\"%s\"} %llu\n",
                    chain_kind_name(c->kind), c->name, live[s], atomic_load(&c->relayer.live[s]));
    }
    fputs("# HELP r3e_relayer_transactions_final_total Relayed transactions that reached a final "
          "state since the server started.\n"
          "# TYPE r3e_relayer_transactions_final_total counter\n",
          f);
    for (size_t i = 0; i < n->n; i++) {
        const chain_net_t *c = n->v[i];
        if (!atomic_load(&c->relayer.on)) continue;
        const char *const *names = chain_relayer_final_states(c->kind);
        for (int s = 0; s < CHAIN_TX_FINAL_N && names[s]; s++)
            fprintf(
                f,
                "r3e_relayer_transactions_final_total{chain=\"%s\",network=\"%s\",state=\"%s\"} "
                "%llu\n",
                chain_kind_name(c->kind), c->name, names[s], atomic_load(&c->relayer.final[s]));
    }
    fputs("# HELP r3e_relayer_resubmits_total Relayed transactions re-signed and sent again (eth: "
          "fee bump; neo: validUntilBlock passed).\n"
          "# TYPE r3e_relayer_resubmits_total counter\n",
          f);
    for (size_t i = 0; i < n->n; i++) {
        const chain_net_t *c = n->v[i];
        if (atomic_load(&c->relayer.on))
            fprintf(f, "r3e_relayer_resubmits_total{chain=\"%s\",network=\"%s\"} %llu\n",
                    chain_kind_name(c->kind), c->name, atomic_load(&c->relayer.resubmits));
    }
    if (!eth_on) return;
    fputs("# HELP r3e_relayer_balance_wei The Ethereum relayer's balance when its tracker last "
          "read it (at most every 30 s).\n"
          "# TYPE r3e_relayer_balance_wei gauge\n",
          f);
    for (size_t i = 0; i < n->n; i++) {
        const chain_net_t *c = n->v[i];
        if (c->kind == CHAIN_ETH && atomic_load(&c->relayer.on) &&
            atomic_load(&c->relayer.balance_known))
            fprintf(f, "r3e_relayer_balance_wei{chain=\"eth\",network=\"%s\"} %.17g\n", c->name,
                    atomic_load(&c->relayer.balance));
    }
}

char *chain_nets_metrics_text(chain_nets_t *n) {
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) return NULL;
    if (n && n->n) {
        fputs("# HELP r3e_chain_rpc_calls_total Calls to blockchain nodes by outcome.\n"
              "# TYPE r3e_chain_rpc_calls_total counter\n",
              f);
        for (size_t i = 0; i < n->n; i++) {
            rpc_stats_t st;
            rpc_client_stats(n->v[i]->rpc, &st);
            const char *k = chain_kind_name(n->v[i]->kind), *nm = n->v[i]->name;
            const struct {
                const char *o;
                unsigned long long v;
            } rows[] = {{"ok", st.ok},
                        {"node_error", st.node_error},
                        {"timeout", st.timeout},
                        {"unavailable", st.unavailable}};
            for (size_t r = 0; r < 4; r++)
                fprintf(
                    f,
                    "r3e_chain_rpc_calls_total{chain=\"%s\",network=\"%s\",outcome=\"%s\"} %llu\n",
                    k, nm, rows[r].o, rows[r].v);
        }
        fputs("# HELP r3e_chain_rpc_duration_seconds Duration of calls to blockchain nodes, "
              "retries included.\n"
              "# TYPE r3e_chain_rpc_duration_seconds histogram\n",
              f);
        for (size_t i = 0; i < n->n; i++) {
            rpc_stats_t st;
            rpc_client_stats(n->v[i]->rpc, &st);
            const char *k = chain_kind_name(n->v[i]->kind), *nm = n->v[i]->name;
            unsigned long long cum = 0;
            for (size_t b = 0; b <= RPC_BUCKETS; b++) {
                cum += st.buckets[b];
                if (b < RPC_BUCKETS)
                    fprintf(f,
                            "r3e_chain_rpc_duration_seconds_bucket{chain=\"%s\",network=\"%s\","
                            "le=\"%g\"} %llu\n",
                            k, nm, rpc_bucket_s[b], cum);
                else
                    fprintf(f,
                            "r3e_chain_rpc_duration_seconds_bucket{chain=\"%s\",network=\"%s\","
                            "le=\"+Inf\"} %llu\n",
                            k, nm, cum);
            }
            fprintf(f, "r3e_chain_rpc_duration_seconds_sum{chain=\"%s\",network=\"%s\"} %.6f\n", k,
                    nm, st.sum_s);
            fprintf(f, "r3e_chain_rpc_duration_seconds_count{chain=\"%s\",network=\"%s\"} %llu\n",
                    k, nm, cum);
        }
    }
    if (n && n->n) chain_nets_source_metrics(n, f);
    if (n && n->n) chain_nets_relayer_metrics(n, f);
    if (fclose(f) != 0) {
        free(text);
        return NULL;
    }
    return text;
}
