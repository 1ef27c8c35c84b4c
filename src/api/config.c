/* Server settings. Flags win over the environment so a one-off `--workers 1` overrides a
 * deployment's R3E_WORKERS without editing it. */
#include "api/config.h"

#include "chain/eth/relayer.h"
#include "chain/net.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void api_config_usage(void) {
    fprintf(
        stderr,
        "usage: r3e server (--dev | --data DIR) [options]\n"
        "  --dev                  listen on 127.0.0.1:8080, data in ./r3e-data\n"
        "  --data DIR             RocksDB data directory            (R3E_DATA)\n"
        "  --listen ADDR:PORT     listen address, port 0 = any      (R3E_LISTEN)\n"
        "  --workers N            worker processes, 0 = CPUs        (R3E_WORKERS)\n"
        "  --egress-allow LIST    fetch() allow-list: CIDRs, hosts  (R3E_EGRESS_ALLOW)\n"
        "  --max-body BYTES       request body cap, default 6 MiB   (R3E_MAX_BODY)\n"
        "  --queue-timeout-ms N   wait for a free worker, then 503  (R3E_QUEUE_TIMEOUT_MS)\n"
        "  --connection-timeout S idle connection timeout, default 30\n"
        "  --default-concurrency N  per-function in-flight cap when unset (runtime default)\n"
        "  --port-file PATH       write the bound port to PATH once listening\n"
        "  --auth on|off          require credentials; default off only for --dev on\n"
        "                         loopback                          (R3E_AUTH)\n"
        "  --admin-key-file PATH  write the first-start admin key there (0600)\n"
        "  --jwt-secret-file PATH HS256 secret for tokens (>= 32 bytes)\n"
        "  --jwt-key-file PATH    ES256 server key (PEM); created when absent;\n"
        "                         default DATA/jwt-es256.pem\n"
        "  --jwt-issuer S         iss of issued tokens, default r3e\n"
        "  --jwt-audience S       aud of issued tokens, default r3e-api\n"
        "  --jwks-file PATH       trusted external issuer keys (JWKS)\n"
        "  --jwks-issuer S        iss required of tokens signed by JWKS keys\n"
        "  --rate-limit-key R:B   per-key requests/s and burst, default 100:200\n"
        "  --rate-limit-ns R:B    per-namespace requests/s and burst, default 1000:2000\n"
        "  --rate-limit-ip R:B|off  per-client-IP requests/s and burst of unauthenticated\n"
        "                         traffic, default 100:200 (off for --dev on loopback)\n"
        "  --audit-retention-days N  keep the audit log N days, default 90, 0 = forever\n"
        "  --tls-cert PATH        serve HTTPS with this certificate chain (PEM)\n"
        "  --tls-key PATH         …and this private key (PEM)\n"
        "  --tls-client-ca PATH   require client certificates signed by this CA (mTLS)\n"
        "  --master-key-file PATH secret vault master key (or R3E_MASTER_KEY_FILE,\n"
        "                         R3E_MASTER_KEY, R3E_MASTER_KEY_DIR; --dev makes one)\n"
        "  --max-connections N    concurrent connections, default 1024\n"
        "  --per-ip-connections N concurrent connections per client IP, default 256\n"
        "  --event-retention-days N  keep the event log N days, default 7\n"
        "  --eth NAME=URL[,CHAIN_ID]  an Ethereum JSON-RPC node (repeatable; the first is\n"
        "                         the default network; chain id from eth_chainId when\n"
        "                         omitted)                          (R3E_ETH, ';'-separated)\n"
        "  --eth-poll-ms N        eth trigger head polling interval, default 1000\n"
        "  --eth-ws on|off        eth triggers follow heads with eth_subscribe over\n"
        "                         WebSocket when the node offers it, default on\n"
        "  --neo NAME=URL         a Neo N3 JSON-RPC node (repeatable; the network magic\n"
        "                         comes from getversion)            (R3E_NEO, ';'-separated)\n");
    fprintf(stderr,
            "  --eth-relayer-key-file NAME=PATH  relayer key (hex) for network NAME; default:\n"
            "                         created once and sealed in the vault\n"
            "  --eth-relayer-max-gas-price NAME=WEI  fee cap of NAME's relayer\n"
            "  --eth-relayer-allow-to NAME=ADDR,…    the only `to` addresses it may send to\n"
            "  --eth-relayer-resubmit-blocks NAME=N  fee bump after N blocks, default 3\n"
            "  --eth-relayer-poll-ms NAME=MS         receipt polling period, default 1000\n");
    fprintf(stderr,
            "  --neo-blocks-per-s N   Neo trigger catch-up, blocks/s per network, default 50\n"
            "                         (R3E_NEO_BLOCKS_PER_S)\n"
            "  --neo-relayer-key-file NAME=PATH  Neo relayer key (WIF) of network NAME,\n"
            "                         instead of one generated and sealed in the vault\n"
            "  --neo-poll-ms N        Neo trigger polling interval, default 1000\n"
            "                         (R3E_NEO_POLL_MS)\n"
            "  --neo-relayer-window [NAME=]N    blocks a relayed Neo transaction stays valid,\n"
            "                         default 100; no NAME = every network\n"
            "                         (R3E_NEO_RELAYER_WINDOW)\n"
            "  --neo-relayer-poll-ms [NAME=]MS  Neo relayer tracking period, default 1000\n"
            "                         (R3E_NEO_RELAYER_POLL_MS)\n");
}

static int config_int(const char *what, const char *s, long lo, long hi, long *out, err_t *err) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return err_set(err, R3E_EINVAL, "%s must be an integer in %ld..%ld, got \"%s\"", what, lo,
                       hi, s);
    *out = v;
    return 0;
}

static int config_copy(char *dst, size_t cap, const char *what, const char *s, err_t *err) {
    if (strlen(s) >= cap) return err_set(err, R3E_EINVAL, "%s is too long", what);
    memcpy(dst, s, strlen(s) + 1);
    return 0;
}

int api_config_split_listen(const char *listen, char *host, size_t hostcap, uint16_t *port,
                            err_t *err) {
    const char *colon = strrchr(listen, ':');
    if (!colon) return err_set(err, R3E_EINVAL, "--listen wants ADDR:PORT, got \"%s\"", listen);
    const char *h = listen;
    size_t hlen = (size_t)(colon - listen);
    if (hlen >= 2 && h[0] == '[' && h[hlen - 1] == ']') h++, hlen -= 2;
    if (hlen == 0) h = "0.0.0.0", hlen = 7;
    if (hlen >= hostcap) return err_set(err, R3E_EINVAL, "--listen address is too long");
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    long p = 0;
    if (config_int("--listen port", colon + 1, 0, 65535, &p, err) < 0) return -1;
    *port = (uint16_t)p;
    return 0;
}

/* Applies one setting by its flag name; shared by flags and environment. */
static int config_set(api_config_t *c, const char *flag, const char *v, err_t *err) {
    long n = 0;
    if (strcmp(flag, "--data") == 0) return config_copy(c->data, sizeof c->data, flag, v, err);
    if (strcmp(flag, "--listen") == 0)
        return config_copy(c->listen, sizeof c->listen, flag, v, err);
    if (strcmp(flag, "--egress-allow") == 0)
        return config_copy(c->egress_allow, sizeof c->egress_allow, flag, v, err);
    if (strcmp(flag, "--port-file") == 0)
        return config_copy(c->port_file, sizeof c->port_file, flag, v, err);
    static const struct {
        const char *flag;
        size_t off, cap;
    } strs[] = {
        {"--admin-key-file", offsetof(api_config_t, admin_key_file), sizeof c->admin_key_file},
        {"--jwt-secret-file", offsetof(api_config_t, jwt_secret_file), sizeof c->jwt_secret_file},
        {"--jwt-key-file", offsetof(api_config_t, jwt_key_file), sizeof c->jwt_key_file},
        {"--jwt-issuer", offsetof(api_config_t, jwt_issuer), sizeof c->jwt_issuer},
        {"--jwt-audience", offsetof(api_config_t, jwt_audience), sizeof c->jwt_audience},
        {"--jwks-file", offsetof(api_config_t, jwks_file), sizeof c->jwks_file},
        {"--jwks-issuer", offsetof(api_config_t, jwks_issuer), sizeof c->jwks_issuer},
        {"--tls-cert", offsetof(api_config_t, tls_cert), sizeof c->tls_cert},
        {"--tls-key", offsetof(api_config_t, tls_key), sizeof c->tls_key},
        {"--tls-client-ca", offsetof(api_config_t, tls_client_ca), sizeof c->tls_client_ca},
        {"--master-key-file", offsetof(api_config_t, master_key_file), sizeof c->master_key_file},
    };
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
        if (strcmp(flag, strs[i].flag) == 0)
            return config_copy((char *)c + strs[i].off, strs[i].cap, flag, v, err);
    if (strcmp(flag, "--eth") == 0 || strcmp(flag, "--neo") == 0) {
        bool eth = strcmp(flag, "--eth") == 0;
        char *dst = eth ? c->eth_nets : c->neo_nets;
        size_t cap = eth ? sizeof c->eth_nets : sizeof c->neo_nets, used = strlen(dst);
        /* validate now so a typo is a start-up error with the flag's name on it */
        chain_nets_t *probe = chain_nets_new();
        if (!probe) return err_set(err, R3E_EINTERNAL, "out of memory");
        int rc = chain_nets_add_list(probe, eth ? CHAIN_ETH : CHAIN_NEO, dst, err);
        if (rc == 0) rc = chain_nets_add_list(probe, eth ? CHAIN_ETH : CHAIN_NEO, v, err);
        chain_nets_free(probe);
        if (rc < 0) return -1;
        if (used + 1 + strlen(v) + 1 > cap)
            return err_set(err, R3E_EINVAL, "too many %s networks", flag);
        if (used) dst[used++] = ';';
        memcpy(dst + used, v, strlen(v) + 1);
        return 0;
    }
    if (strcmp(flag, "--neo-relayer-key-file") == 0) {
        size_t used = strlen(c->neo_relayer_keys);
        if (!strchr(v, '=') || strchr(v, ';'))
            return err_set(err, R3E_EINVAL, "%s wants NAME=PATH, got \"%s\"", flag, v);
        if (used + 1 + strlen(v) + 1 > sizeof c->neo_relayer_keys)
            return err_set(err, R3E_EINVAL, "too many %s values", flag);
        if (used) c->neo_relayer_keys[used++] = ';';
        memcpy(c->neo_relayer_keys + used, v, strlen(v) + 1);
        return 0;
    }
    if (strcmp(flag, "--neo-relayer-window") == 0 || strcmp(flag, "--neo-relayer-poll-ms") == 0) {
        /* [NAME=]N: NAME is checked against the --neo networks when the relayer starts */
        bool window = strcmp(flag, "--neo-relayer-window") == 0;
        const char *eq = strchr(v, '='), *num = eq ? eq + 1 : v;
        if (eq && (eq == v || (size_t)(eq - v) >= 64 || strpbrk(v, " \n;") != NULL))
            return err_set(err, R3E_EINVAL, "%s wants [NAME=]%s, got \"%.100s\"", flag,
                           window ? "N" : "MS", v);
        if (config_int(flag, num, window ? 1 : 10, window ? 5760 : 60000, &n, err) < 0) return -1;
        size_t used = strlen(c->neo_relayer);
        int w = snprintf(c->neo_relayer + used, sizeof c->neo_relayer - used, "%s %s\n",
                         window ? "window" : "poll-ms", v);
        if (w < 0 || (size_t)w >= sizeof c->neo_relayer - used) {
            c->neo_relayer[used] = '\0';
            return err_set(err, R3E_EINVAL, "too many --neo-relayer-* options");
        }
        return 0;
    }
    if (strncmp(flag, "--eth-relayer-", 14) == 0) {
        if (eth_relayer_opt_check(flag + 14, v, err) < 0) return -1;
        size_t used = strlen(c->eth_relayer);
        int n =
            snprintf(c->eth_relayer + used, sizeof c->eth_relayer - used, "%s %s\n", flag + 14, v);
        if (n < 0 || (size_t)n >= sizeof c->eth_relayer - used) {
            c->eth_relayer[used] = '\0';
            return err_set(err, R3E_EINVAL, "too many --eth-relayer-* options");
        }
        return 0;
    }
    if (strcmp(flag, "--auth") == 0) {
        if (strcmp(v, "on") != 0 && strcmp(v, "off") != 0)
            return err_set(err, R3E_EINVAL, "--auth wants on or off, got \"%s\"", v);
        c->auth = strcmp(v, "on") == 0;
    } else if (strcmp(flag, "--rate-limit-key") == 0 || strcmp(flag, "--rate-limit-ns") == 0) {
        double rate, burst;
        char tail;
        if (sscanf(v, "%lf:%lf%c", &rate, &burst, &tail) != 2 || !(rate > 0) || !(burst >= 1))
            return err_set(err, R3E_EINVAL,
                           "%s wants RATE:BURST (RATE > 0, BURST >= 1), got \"%s\"", flag, v);
        bool key = strcmp(flag, "--rate-limit-key") == 0;
        *(key ? &c->rl_key_rate : &c->rl_ns_rate) = rate;
        *(key ? &c->rl_key_burst : &c->rl_ns_burst) = burst;
    } else if (strcmp(flag, "--rate-limit-ip") == 0) {
        double rate, burst;
        char tail;
        c->rl_ip = strcmp(v, "off") != 0;
        if (c->rl_ip &&
            (sscanf(v, "%lf:%lf%c", &rate, &burst, &tail) != 2 || !(rate > 0) || !(burst >= 1)))
            return err_set(err, R3E_EINVAL,
                           "--rate-limit-ip wants RATE:BURST (RATE > 0, BURST >= 1) or off, got "
                           "\"%s\"",
                           v);
        if (c->rl_ip) c->rl_ip_rate = rate, c->rl_ip_burst = burst;
    } else if (strcmp(flag, "--audit-retention-days") == 0) {
        if (config_int(flag, v, 0, 36500, &n, err) < 0) return -1;
        c->audit_retention_days = (uint32_t)n;
    } else if (strcmp(flag, "--max-connections") == 0) {
        if (config_int(flag, v, 1, 100000, &n, err) < 0) return -1;
        c->max_connections = (unsigned)n;
    } else if (strcmp(flag, "--per-ip-connections") == 0) {
        if (config_int(flag, v, 0, 100000, &n, err) < 0) return -1;
        c->per_ip_connections = (unsigned)n;
    } else if (strcmp(flag, "--workers") == 0) {
        if (config_int(flag, v, 0, 1024, &n, err) < 0) return -1;
        c->workers = (int)n;
    } else if (strcmp(flag, "--max-body") == 0) {
        if (config_int(flag, v, 1024, 1L << 30, &n, err) < 0) return -1;
        c->max_body = (size_t)n;
    } else if (strcmp(flag, "--queue-timeout-ms") == 0) {
        if (config_int(flag, v, 1, 600000, &n, err) < 0) return -1;
        c->queue_timeout_ms = (int)n;
    } else if (strcmp(flag, "--connection-timeout") == 0) {
        if (config_int(flag, v, 1, 3600, &n, err) < 0) return -1;
        c->conn_timeout_s = (int)n;
    } else if (strcmp(flag, "--event-retention-days") == 0) {
        if (config_int(flag, v, 1, 36500, &n, err) < 0) return -1;
        c->event_retention_days = (uint32_t)n;
    } else if (strcmp(flag, "--eth-poll-ms") == 0) {
        if (config_int(flag, v, 50, 600000, &n, err) < 0) return -1;
        c->eth_poll_ms = (int)n;
    } else if (strcmp(flag, "--eth-ws") == 0) {
        if (strcmp(v, "on") != 0 && strcmp(v, "off") != 0)
            return err_set(err, R3E_EINVAL, "--eth-ws wants on or off, got \"%s\"", v);
        c->eth_ws_off = strcmp(v, "off") == 0;
    } else if (strcmp(flag, "--neo-blocks-per-s") == 0) {
        if (config_int(flag, v, 1, 100000, &n, err) < 0) return -1;
        c->neo_blocks_per_s = (uint32_t)n;
    } else if (strcmp(flag, "--neo-poll-ms") == 0) {
        if (config_int(flag, v, 10, 600000, &n, err) < 0) return -1;
        c->neo_poll_ms = (uint32_t)n;
    } else if (strcmp(flag, "--default-concurrency") == 0) {
        if (config_int(flag, v, 1, 100000, &n, err) < 0) return -1;
        c->default_concurrency = (uint32_t)n;
    } else {
        return err_set(err, R3E_EINVAL, "unknown option %s (see r3e server --help)", flag);
    }
    return 0;
}

static const struct {
    const char *env, *flag;
} config_env[] = {
    {"R3E_DATA", "--data"},
    {"R3E_LISTEN", "--listen"},
    {"R3E_WORKERS", "--workers"},
    {"R3E_EGRESS_ALLOW", "--egress-allow"},
    {"R3E_MAX_BODY", "--max-body"},
    {"R3E_QUEUE_TIMEOUT_MS", "--queue-timeout-ms"},
    {"R3E_AUTH", "--auth"},
    {"R3E_JWT_SECRET_FILE", "--jwt-secret-file"},
    {"R3E_TLS_CERT", "--tls-cert"},
    {"R3E_TLS_KEY", "--tls-key"},
    {"R3E_TLS_CLIENT_CA", "--tls-client-ca"},
    {"R3E_EVENT_RETENTION_DAYS", "--event-retention-days"},
    {"R3E_ETH", "--eth"},
    {"R3E_NEO", "--neo"},
    {"R3E_NEO_BLOCKS_PER_S", "--neo-blocks-per-s"},
    {"R3E_NEO_POLL_MS", "--neo-poll-ms"},
    {"R3E_NEO_RELAYER_WINDOW", "--neo-relayer-window"},
    {"R3E_NEO_RELAYER_POLL_MS", "--neo-relayer-poll-ms"},
};

int api_config_parse(api_config_t *c, int argc, char **argv, err_t *err) {
    memset(c, 0, sizeof *c);
    c->max_body = CONFIG_DEFAULT_MAX_BODY;
    c->queue_timeout_ms = 5000;
    c->conn_timeout_s = 30;
    c->default_concurrency = 0; /* runtime default */
    c->auth = -1;
    c->rl_key_rate = 100, c->rl_key_burst = 200;
    c->rl_ns_rate = 1000, c->rl_ns_burst = 2000;
    c->rl_ip_rate = 100, c->rl_ip_burst = 200, c->rl_ip = -1;
    c->audit_retention_days = 90;
    c->max_connections = 1024;
    c->per_ip_connections = 256;
    c->event_retention_days = 7;
    c->eth_poll_ms = 1000;
    bool seen[sizeof config_env / sizeof config_env[0]] = {0};

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--dev") == 0) {
            c->dev = true;
            continue;
        }
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            c->help = true;
            return 0;
        }
        char flag[64];
        const char *val;
        const char *eq = strchr(a, '=');
        if (strncmp(a, "--", 2) == 0 && eq && (size_t)(eq - a) < sizeof flag) {
            memcpy(flag, a, (size_t)(eq - a)); /* --flag=value */
            flag[eq - a] = '\0';
            val = eq + 1;
        } else {
            if (strlen(a) >= sizeof flag)
                return err_set(err, R3E_EINVAL, "unknown option %.60s", a);
            strcpy(flag, a);
            if (strncmp(a, "--", 2) != 0)
                return err_set(err, R3E_EINVAL, "unexpected argument \"%s\"", a);
            if (i + 1 >= argc) return err_set(err, R3E_EINVAL, "%s needs a value", a);
            val = argv[++i];
        }
        if (config_set(c, flag, val, err) < 0) return -1;
        for (size_t k = 0; k < sizeof config_env / sizeof config_env[0]; k++)
            if (strcmp(config_env[k].flag, flag) == 0) seen[k] = true;
    }
    for (size_t k = 0; k < sizeof config_env / sizeof config_env[0]; k++) {
        const char *v = getenv(config_env[k].env);
        if (seen[k] || !v || !*v) continue;
        err_t e;
        if (config_set(c, config_env[k].flag, v, &e) < 0)
            return err_set(err, R3E_EINVAL, "%s: %s", config_env[k].env, e.msg);
    }
    if (c->dev) {
        if (!c->data[0]) strcpy(c->data, "./r3e-data");
        if (!c->listen[0]) strcpy(c->listen, "127.0.0.1:8080");
    }
    if (!c->data[0])
        return err_set(err, R3E_EINVAL,
                       "no data directory: pass --dev for a local development server "
                       "(127.0.0.1:8080, data in ./r3e-data) or --data DIR (or R3E_DATA) "
                       "for a persistent one");
    if (!c->listen[0]) strcpy(c->listen, "127.0.0.1:8080");
    if (!c->jwt_issuer[0]) strcpy(c->jwt_issuer, "r3e");
    if (!c->jwt_audience[0]) strcpy(c->jwt_audience, "r3e-api");
    if (!c->tls_cert[0] != !c->tls_key[0])
        return err_set(err, R3E_EINVAL, "--tls-cert and --tls-key go together");
    if (c->tls_client_ca[0] && !c->tls_cert[0])
        return err_set(err, R3E_EINVAL, "--tls-client-ca needs --tls-cert and --tls-key");
    return api_config_split_listen(c->listen, c->host, sizeof c->host, &c->port, err);
}
