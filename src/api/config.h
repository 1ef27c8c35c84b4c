/* `r3e server` settings: flags, then R3E_* environment for what flags left unset, then
 * defaults. Parsing is separate from the server so it can be unit-tested. */
#ifndef R3E_API_CONFIG_H
#define R3E_API_CONFIG_H

#include "core/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CONFIG_DEFAULT_MAX_BODY (6u * 1024 * 1024)

typedef struct {
    bool dev;
    char data[1024];              /* data directory (RocksDB) */
    char listen[256];             /* "ADDR:PORT" as given */
    char host[200];               /* parsed from listen */
    uint16_t port;                /* 0 = pick a free port */
    int workers;                  /* 0 = runtime default (CPUs) */
    char egress_allow[1024];      /* "" = default policy */
    size_t max_body;              /* request body cap in bytes */
    int queue_timeout_ms;         /* wait for an idle worker before 503 */
    int conn_timeout_s;           /* idle connection timeout (slow clients) */
    uint32_t default_concurrency; /* per-function in-flight cap when a version says 0 */
    char port_file[1024];         /* write the bound port here once listening ("" = no) */
    bool help;
    /* authentication and transport (authn.c, server.c) */
    int auth;                         /* -1 = default (off only for --dev on loopback), 0, 1 */
    char admin_key_file[1024];        /* write a freshly created admin key here (0600) */
    char jwt_secret_file[1024];       /* HS256 secret (>= 32 bytes) */
    char jwt_key_file[1024];          /* ES256 private key PEM; created when absent */
    char jwt_issuer[128];             /* default "r3e" */
    char jwt_audience[128];           /* default "r3e-api" */
    char jwks_file[1024];             /* trusted external keys */
    char jwks_issuer[128];            /* iss required of JWKS-verified tokens */
    double rl_key_rate, rl_key_burst; /* per principal */
    double rl_ns_rate, rl_ns_burst;   /* per namespace */
    double rl_ip_rate, rl_ip_burst;   /* per client IP, unauthenticated traffic */
    int rl_ip;                        /* -1 = default (off only for --dev on loopback), 0, 1 */
    uint32_t audit_retention_days;    /* audit log retention, default 90, 0 = keep forever */
    char tls_cert[1024], tls_key[1024], tls_client_ca[1024]; /* PEM files */
    unsigned max_connections;                                /* MHD connection limit */
    unsigned per_ip_connections;   /* MHD per-IP connection limit, 0 = none */
    uint32_t event_retention_days; /* event log retention (evsys.c prunes), default 7 */
    char master_key_file[1024];    /* secret vault master key (secrets.h); "" = environment */
    char eth_nets[4096];           /* --eth values joined by ';' (chain/net.h parses them) */
    char neo_nets[4096];           /* --neo values joined by ';' */
    char eth_relayer[8192];        /* --eth-relayer-OPT NAME=V, as "OPT NAME=V\n" lines */
    uint32_t neo_blocks_per_s;     /* Neo event source catch-up bound, 0 = default (50) */
    uint32_t neo_poll_ms;          /* --neo-poll-ms: Neo trigger polling, 0 = default (1000) */
    char neo_relayer[2048];        /* --neo-relayer-window/-poll-ms as "OPT [NAME=]V\n" */
    char neo_relayer_keys[4096];   /* --neo-relayer-key-file NAME=PATH values joined by ';' */
    int eth_poll_ms;               /* --eth-poll-ms: head polling interval, default 1000 */
    bool eth_ws_off;               /* --eth-ws off: poll instead of eth_subscribe */
} api_config_t;

/* argv[0] is "server". Returns 0, or -1 with R3E_EINVAL and a message for the operator. */
int api_config_parse(api_config_t *cfg, int argc, char **argv, err_t *err);
/* Splits "host:port", "[v6]:port" or ":port" (host -> 0.0.0.0). */
int api_config_split_listen(const char *listen, char *host, size_t hostcap, uint16_t *port,
                            err_t *err);
void api_config_usage(void);

#endif
