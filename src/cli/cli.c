/* The client CLI: parses a subcommand and its flags, sends one REST request (or follows a
 * log stream) through httpc, and prints the answer either readably or, with --json, as the
 * server's raw JSON for scripts. Every failure ends with a non-zero exit and one line on
 * stderr: "error: <code>: <message>" (the server's own code and message when it sent one).
 *
 * Exit codes: 0 success, 1 a request or the function failed, 2 usage error. */
#include "cli/cli.h"
#include "cli/cli_live.h"
#include "cli/cli_print.h"
#include "cli/httpc.h"
#include "core/util.h"

#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CLI_VERSION "0.1.0"
#define CLI_DEFAULT_SERVER "http://127.0.0.1:8080"

enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

typedef struct {
    bool json;     /* --json: raw server JSON on stdout */
    httpc_t *http; /* connected lazily by cli_http() */
    const char *server;
    const char *token;      /* --token / R3E_TOKEN: API key or JWT */
    const char *ns;         /* --namespace / R3E_NAMESPACE */
    const char *cacert;     /* --cacert / R3E_CACERT */
    const char *cert, *key; /* --cert/--key: client certificate (mTLS) */
    char **args;            /* the subcommand's own arguments (global flags removed) */
    int nargs;
} cli_t;

void cli_usage(void) {
    fputs(
        "usage: r3e [--server URL] [--json] COMMAND [ARGS]\n"
        "\n"
        "commands:\n"
        "  server [FLAGS]                run the platform (see `r3e server --help`)\n"
        "  deploy NAME FILE              deploy FILE (JavaScript) as a new version of NAME\n"
        "         [--timeout MS] [--memory MB] [--isolation warm|fresh]\n"
        "         [--concurrency N] [--env KEY=VALUE]...\n"
        "  invoke NAME [--data JSON|@FILE|@-]   run the active version with an event\n"
        "  ls                            list functions\n"
        "  get NAME                      describe a function and its versions\n"
        "  rm NAME                       delete a function (executions are kept)\n"
        "  rollback NAME VERSION         make VERSION the active version\n"
        "  logs NAME [-f] [--limit N]    print function logs; -f follows new lines\n"
        "  events tail [--type T] [--source S]   print events as they are accepted\n"
        "  events publish --type T --source S [--id ID] [--data JSON]   publish a CloudEvent\n"
        "  events ls [--type T] [--source S] [--limit N]   read the event log (newest first)\n"
        "  invoke NAME --async [--data JSON]      queue the invocation; prints its execution id\n"
        "  triggers create FUNCTION SOURCE [--filter JSON] [--sequential] [--max-attempts N]\n"
        "           [--backoff-ms N] [--on-failure FN] [--on-success FN], SOURCE one of:\n"
        "           --custom | --schedule CRON [--missed skip|catch_up] | --webhook [--secret S]\n"
        "           --eth-blocks [--network N] [--confirmations K] [--from-block N]\n"
        "           --eth-logs (--address 0x… | --topic0 0x… | --topics JSON | --abi 'event …')\n"
        "                      [--network N] [--confirmations K] [--from-block N]\n"
        "           --neo-blocks [--network N] [--from-block N]\n"
        "           --neo-notifications --contract 0x… [--event NAME] [--network N]\n"
        "                      [--from-block N]\n"
        "  triggers ls [--function F] | get ID | rm ID | enable ID | disable ID\n"
        "  dlq ls [--limit N] | replay ID | rm ID   dead-lettered async work (and callback\n"
        "                                POSTs: their URL and execution are shown)\n"
        "  relayer info eth|neo NETWORK  the platform relayer's address, nonce, balance…\n"
        "  relayer send eth NETWORK --to 0x… [--data 0x…] [--value WEI] [--gas-limit N]\n"
        "          [--speed slow|normal|fast] [--wait [--timeout S]]\n"
        "  relayer send neo NETWORK (--script HEX | --contract 0x… --method M [--args JSON])\n"
        "          [--wait [--timeout S]]\n"
        "  relayer ls eth|neo NETWORK [--limit N]        relayed transactions, newest first\n"
        "  relayer get eth|neo NETWORK ID [--wait [--timeout S]]   one transaction; --wait\n"
        "                                polls until it is final (default at most 120 s)\n"
        "  exec ID                       show one execution record\n"
        "  keys create --role ROLE [--expires 30d] [--name N]   create an API key in\n"
        "                                --namespace (printed once)\n"
        "  keys ls                       list API keys\n"
        "  keys revoke ID                revoke an API key\n"
        "  token                         exchange the API key (--token) for a short-lived JWT\n"
        "  secrets set FUNCTION KEY      set a secret; the value is read from stdin\n"
        "  secrets ls FUNCTION           list secret names and versions (never values)\n"
        "  secrets rm FUNCTION KEY       delete a secret\n"
        "  secrets rotate-master         re-wrap every data key with the current master key\n"
        "  version                       print the client version\n"
        "\n"
        "global flags:\n"
        "  --server URL   API address (default $R3E_SERVER or " CLI_DEFAULT_SERVER ")\n"
        "  --json         print the server's JSON response unchanged (for scripts)\n"
        "  --token T      API key or JWT sent as a Bearer credential ($R3E_TOKEN)\n"
        "  --namespace NS namespace to act in ($R3E_NAMESPACE; default: the key's)\n"
        "  --cacert FILE  trust this CA for https servers ($R3E_CACERT)\n"
        "  --cert FILE --key FILE  client certificate for mTLS\n",
        stdout);
}

/* --- small helpers ----------------------------------------------------------------- */

static int usage_error(const char *fmt, const char *arg) {
    fputs("error: usage: ", stderr);
    fprintf(stderr, fmt, arg ? arg : "");
    fputs("\n(run `r3e --help` for usage)\n", stderr);
    return EXIT_USAGE;
}

static int fail_err(const err_t *err) {
    fprintf(stderr, "error: %s: %s\n", err_code_name(err->code), err->msg);
    if (err->code == R3E_EUNAVAIL)
        fputs("hint: is `r3e server` running there? Set --server URL or R3E_SERVER.\n", stderr);
    return EXIT_FAIL;
}

/* Reports a >= 400 response: the server's {"error":{code,message}} when present, else the
 * status and a short excerpt of the body. With --json the raw body also goes to stdout. */
static int fail_response(const cli_t *cli, const httpc_response_t *r) {
    if (cli->json && r->len) printf("%s%s", r->body, r->body[r->len - 1] == '\n' ? "" : "\n");
    json_t *root = json_loadb(r->body, r->len, 0, NULL);
    json_t *e = json_object_get(root, "error");
    const char *code = json_string_value(json_object_get(e, "code"));
    const char *msg = json_string_value(json_object_get(e, "message"));
    if (code && msg)
        fprintf(stderr, "error: %s: %s\n", code, msg);
    else
        fprintf(stderr, "error: http_%ld: %.200s\n", r->status, r->len ? r->body : "(empty)");
    json_decref(root);
    return EXIT_FAIL;
}

static httpc_t *cli_http(cli_t *cli, err_t *err) {
    if (!cli->http) {
        cli->http = httpc_create(cli->server, 0, err);
        if (cli->http) {
            httpc_set_credentials(cli->http, cli->token, cli->ns);
            httpc_set_tls(cli->http, cli->cacert, cli->cert, cli->key);
        }
    }
    return cli->http;
}

/* Sends one request with a JSON body (or none). Returns 0 when any HTTP response arrived,
 * or an exit code after reporting a transport failure. */
static int cli_send(cli_t *cli, const char *method, const char *path, const char *body,
                    httpc_response_t *out) {
    err_t err = {0};
    httpc_t *h = cli_http(cli, &err);
    if (!h) return fail_err(&err);
    size_t blen = body ? strlen(body) : 0;
    if (httpc_request(h, method, path, body ? "application/json" : NULL, body, blen, out, &err))
        return fail_err(&err);
    return 0;
}

/* Like cli_send, but a >= 400 status is also reported and turned into an exit code; on 0,
 * *out holds a 2xx response. */
static int cli_call(cli_t *cli, const char *method, const char *path, const char *body,
                    httpc_response_t *out) {
    int rc = cli_send(cli, method, path, body, out);
    if (rc) return rc;
    if (out->status >= 400) {
        rc = fail_response(cli, out);
        httpc_response_free(out);
    }
    return rc;
}

/* Parses a 2xx body as JSON; reports and returns NULL when the server sent something else. */
static json_t *parse_body(const httpc_response_t *r) {
    json_error_t je;
    json_t *v = json_loadb(r->body, r->len, JSON_DECODE_ANY, &je);
    if (!v) fprintf(stderr, "error: bad_response: server sent invalid JSON: %s\n", je.text);
    return v;
}

/* Prints the raw body for --json; returns whether it did. */
static bool print_raw(const cli_t *cli, const httpc_response_t *r) {
    if (!cli->json) return false;
    fwrite(r->body, 1, r->len, stdout);
    if (r->len == 0 || r->body[r->len - 1] != '\n') fputc('\n', stdout);
    return true;
}

/* Builds "/prefix/<escaped seg>/suffix"; malloc'ed. */
static char *path_with(cli_t *cli, const char *prefix, const char *seg, const char *suffix) {
    err_t err = {0};
    httpc_t *h = cli_http(cli, &err);
    if (!h) {
        fail_err(&err);
        return NULL;
    }
    char *esc = httpc_escape(h, seg);
    if (!esc) return NULL;
    size_t n = strlen(prefix) + strlen(esc) + strlen(suffix) + 2;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/%s%s", prefix, esc, suffix);
    free(esc);
    return p;
}

/* Matches "--name VALUE" or "--name=VALUE" at args[*i]; advances *i past a separate value.
 * Returns 1 on a match (value set), 0 when args[*i] is another flag, -1 when the value
 * is missing. */
static int opt_value(cli_t *cli, int *i, const char *name, const char **value) {
    const char *a = cli->args[*i];
    size_t n = strlen(name);
    if (strncmp(a, name, n) != 0) return 0;
    if (a[n] == '=') {
        *value = a + n + 1;
        return 1;
    }
    if (a[n] != '\0') return 0;
    if (*i + 1 >= cli->nargs) return -1;
    *value = cli->args[++*i];
    return 1;
}

static bool parse_uint(const char *s, long max, long *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < 0 || v > max) return false;
    *out = v;
    return true;
}

/* Collects positional arguments; rejects unknown flags. Returns 0 or an exit code. */
static int want_positional(cli_t *cli, int want, const char *usage, const char **pos) {
    int n = 0;
    for (int i = 0; i < cli->nargs; i++) {
        const char *a = cli->args[i];
        if (a[0] == '-' && a[1] != '\0') return usage_error("unknown flag %s", a);
        if (n >= want) return usage_error("%s", usage);
        pos[n++] = a;
    }
    if (n != want) return usage_error("%s", usage);
    return 0;
}

/* Reads a whole file, or standard input for "-". Opening /dev/stdin fails when stdin is
 * a socket (ENXIO), as it is under many process supervisors, so "-" reads fd 0 directly.
 * Returns malloc'ed NUL-terminated text, or NULL with errno. */
static char *read_input(const char *path, size_t *len) {
    if (strcmp(path, "-") != 0) return util_read_file(path, len);
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        if (n + 1 >= cap) {
            char *nb = realloc(buf, cap *= 2);
            if (!nb) break;
            buf = nb;
        }
        size_t got = fread(buf + n, 1, cap - n - 1, stdin);
        n += got;
        if (got > 0) continue;
        if (ferror(stdin)) break;
        buf[n] = '\0';
        *len = n;
        return buf;
    }
    int saved = errno ? errno : ENOMEM;
    free(buf);
    errno = saved;
    return NULL;
}

/* --- deploy ---------------------------------------------------------------------- */

typedef struct {
    const char *name, *file;
    json_t *spec; /* the request body being built */
} deploy_args_t;

/* Applies one deploy flag at args[*i]. Returns 1 when consumed, 0 when not a flag of
 * deploy, or an exit code (negated) on a bad value. */
static int deploy_flag(cli_t *cli, int *i, json_t *spec) {
    static const struct {
        const char *flag, *field;
        long max;
    } nums[] = {{"--timeout", "timeout_ms", 3600000},
                {"--memory", "memory_mb", 65536},
                {"--concurrency", "concurrency", 100000}};
    const char *v = NULL;
    for (size_t k = 0; k < sizeof(nums) / sizeof(nums[0]); k++) {
        int m = opt_value(cli, i, nums[k].flag, &v);
        if (m < 0) return -usage_error("%s needs a value", nums[k].flag);
        if (m == 0) continue;
        long n;
        if (!parse_uint(v, nums[k].max, &n)) return -usage_error("bad number for %s", nums[k].flag);
        json_object_set_new(spec, nums[k].field, json_integer(n));
        return 1;
    }
    int m = opt_value(cli, i, "--isolation", &v);
    if (m < 0) return -usage_error("%s needs a value", "--isolation");
    if (m > 0) {
        if (strcmp(v, "warm") != 0 && strcmp(v, "fresh") != 0)
            return -usage_error("--isolation must be warm or fresh (got %s)", v);
        json_object_set_new(spec, "isolation", json_string(v));
        return 1;
    }
    m = opt_value(cli, i, "--env", &v);
    if (m < 0) return -usage_error("%s needs KEY=VALUE", "--env");
    if (m > 0) {
        const char *eq = strchr(v, '=');
        if (!eq || eq == v) return -usage_error("--env needs KEY=VALUE (got %s)", v);
        json_t *env = json_object_get(spec, "env");
        if (!env) json_object_set_new(spec, "env", env = json_object());
        json_object_setn_new(env, v, (size_t)(eq - v), json_string(eq + 1));
        return 1;
    }
    return 0;
}

static int deploy_parse(cli_t *cli, deploy_args_t *d) {
    int npos = 0;
    for (int i = 0; i < cli->nargs; i++) {
        const char *a = cli->args[i];
        if (a[0] == '-' && a[1] != '\0') {
            int rc = deploy_flag(cli, &i, d->spec);
            if (rc < 0) return -rc;
            if (rc == 0) return usage_error("unknown flag %s", a);
            continue;
        }
        if (npos == 0)
            d->name = a;
        else if (npos == 1)
            d->file = a;
        else
            return usage_error("%s", "deploy NAME FILE [flags]");
        npos++;
    }
    if (npos != 2) return usage_error("%s", "deploy NAME FILE [flags]");
    return 0;
}

/* PUT /v1/functions/{name} adds a version and creates the function when it is new (see
 * docs/api.md); a server that answers 404 there gets the spec as POST /v1/functions. */
static int deploy_send(cli_t *cli, deploy_args_t *d, httpc_response_t *r) {
    char *body = json_dumps(d->spec, JSON_COMPACT);
    char *path = path_with(cli, "/v1/functions", d->name, "");
    int rc = path ? cli_send(cli, "PUT", path, body, r) : EXIT_FAIL;
    free(path);
    free(body);
    if (rc == 0 && (r->status == 404 || r->status == 405)) {
        httpc_response_free(r);
        json_object_set_new(d->spec, "name", json_string(d->name));
        body = json_dumps(d->spec, JSON_COMPACT);
        rc = cli_send(cli, "POST", "/v1/functions", body, r);
        free(body);
    }
    if (rc == 0 && r->status >= 400) {
        rc = fail_response(cli, r);
        httpc_response_free(r);
    }
    return rc;
}

static int cmd_deploy(cli_t *cli) {
    deploy_args_t d = {.spec = json_object()};
    httpc_response_t r;
    int rc = deploy_parse(cli, &d);
    if (rc) goto out;
    size_t len = 0;
    char *code = read_input(d.file, &len);
    if (!code) {
        fprintf(stderr, "error: invalid_argument: cannot read %s: %s\n", d.file, strerror(errno));
        rc = EXIT_FAIL;
        goto out;
    }
    json_object_set_new(d.spec, "code", json_stringn(code, len));
    free(code);
    if (!json_object_get(d.spec, "code")) {
        fprintf(stderr, "error: invalid_argument: %s is not valid UTF-8 text\n", d.file);
        rc = EXIT_FAIL;
        goto out;
    }
    rc = deploy_send(cli, &d, &r);
    if (rc) goto out;
    if (!print_raw(cli, &r)) {
        json_t *v = parse_body(&r);
        if (v)
            cli_print_deployed(v);
        else
            rc = EXIT_FAIL;
        json_decref(v);
    }
    httpc_response_free(&r);
out:
    json_decref(d.spec);
    return rc;
}

/* --- invoke ---------------------------------------------------------------------- */

/* Resolves --data: inline JSON, @file, or @- for stdin. Returns malloc'ed text or NULL
 * after reporting. */
static char *invoke_event(const char *data) {
    char *text;
    size_t len;
    if (!data) return strdup("{}");
    if (data[0] == '@') {
        text = read_input(data + 1, &len);
        if (!text) {
            fprintf(stderr, "error: invalid_argument: cannot read %s: %s\n", data + 1,
                    strerror(errno));
            return NULL;
        }
    } else {
        text = strdup(data);
        len = strlen(text);
    }
    json_error_t je;
    json_t *v = json_loadb(text, len, JSON_DECODE_ANY, &je);
    if (!v) {
        fprintf(stderr, "error: invalid_argument: --data is not valid JSON: %s (line %d)\n",
                je.text, je.line);
        free(text);
        return NULL;
    }
    json_decref(v);
    return text;
}

static int cmd_invoke(cli_t *cli) {
    const char *name = NULL, *data = NULL;
    bool async = false;
    for (int i = 0; i < cli->nargs; i++) {
        const char *a = cli->args[i];
        if (strcmp(a, "--async") == 0) {
            async = true;
            continue;
        }
        int m = opt_value(cli, &i, "--data", &data);
        if (m == 0) m = opt_value(cli, &i, "-d", &data);
        if (m < 0) return usage_error("%s needs a value", "--data");
        if (m > 0) continue;
        if (a[0] == '-' && a[1] != '\0') return usage_error("unknown flag %s", a);
        if (name) return usage_error("%s", "invoke NAME [--data JSON|@FILE]");
        name = a;
    }
    if (!name) return usage_error("%s", "invoke NAME [--data JSON|@FILE]");
    char *event = invoke_event(data);
    if (!event) return EXIT_FAIL;
    char *path = path_with(cli, "/v1/functions", name, async ? "/invoke?async=1" : "/invoke");
    httpc_response_t r;
    int rc = path ? cli_call(cli, "POST", path, event, &r) : EXIT_FAIL;
    free(path);
    free(event);
    if (rc) return rc;
    if (async) { /* 202 {"execution_id"}: the id is what a script needs */
        json_t *v = parse_body(&r);
        if (!print_raw(cli, &r) && v)
            printf("%s\n", json_string_value(json_object_get(v, "execution_id")));
        json_decref(v);
        httpc_response_free(&r);
        return v ? EXIT_OK : EXIT_FAIL;
    }
    json_t *v = parse_body(&r);
    if (!v)
        rc = EXIT_FAIL;
    else if (!print_raw(cli, &r))
        cli_print_execution(v, true);
    const char *status = json_string_value(json_object_get(v, "status"));
    if (v && (!status || strcmp(status, "ok") != 0)) {
        cli_print_function_failure(v);
        rc = EXIT_FAIL;
    }
    json_decref(v);
    httpc_response_free(&r);
    return rc;
}

/* --- ls / get / rm / rollback / exec --------------------------------------------- */

/* GET path, then print readably with fn (or raw with --json). */
static int get_and_print(cli_t *cli, const char *path, void (*fn)(json_t *)) {
    httpc_response_t r;
    int rc = cli_call(cli, "GET", path, NULL, &r);
    if (rc) return rc;
    if (!print_raw(cli, &r)) {
        json_t *v = parse_body(&r);
        if (v)
            fn(v);
        else
            rc = EXIT_FAIL;
        json_decref(v);
    }
    httpc_response_free(&r);
    return rc;
}

static int cmd_ls(cli_t *cli) {
    if (want_positional(cli, 0, "ls", NULL) != 0) return EXIT_USAGE;
    return get_and_print(cli, "/v1/functions", cli_print_function_list);
}

static int cmd_get(cli_t *cli) {
    const char *pos[1] = {0};
    if (want_positional(cli, 1, "get NAME", pos) != 0) return EXIT_USAGE;
    char *path = path_with(cli, "/v1/functions", pos[0], "");
    int rc = path ? get_and_print(cli, path, cli_print_function) : EXIT_FAIL;
    free(path);
    return rc;
}

static int cmd_exec(cli_t *cli) {
    const char *pos[1] = {0};
    if (want_positional(cli, 1, "exec ID", pos) != 0) return EXIT_USAGE;
    char *path = path_with(cli, "/v1/executions", pos[0], "");
    int rc = path ? get_and_print(cli, path, cli_print_execution_record) : EXIT_FAIL;
    free(path);
    return rc;
}

static int cmd_rm(cli_t *cli) {
    const char *pos[1] = {0};
    if (want_positional(cli, 1, "rm NAME", pos) != 0) return EXIT_USAGE;
    char *path = path_with(cli, "/v1/functions", pos[0], "");
    httpc_response_t r;
    int rc = path ? cli_call(cli, "DELETE", path, NULL, &r) : EXIT_FAIL;
    free(path);
    if (rc) return rc;
    if (!cli->json)
        printf("deleted %s\n", pos[0]);
    else if (r.len)
        print_raw(cli, &r);
    else
        puts("{}");
    httpc_response_free(&r);
    return 0;
}

static int cmd_rollback(cli_t *cli) {
    const char *pos[2] = {0};
    long version;
    if (want_positional(cli, 2, "rollback NAME VERSION", pos) != 0) return EXIT_USAGE;
    if (!parse_uint(pos[1], 0xffffffffL, &version) || version == 0)
        return usage_error("VERSION must be a positive integer (got %s)", pos[1]);
    char body[64];
    snprintf(body, sizeof(body), "{\"version\":%ld}", version);
    char *path = path_with(cli, "/v1/functions", pos[0], "/active");
    httpc_response_t r;
    int rc = path ? cli_call(cli, "PUT", path, body, &r) : EXIT_FAIL;
    free(path);
    if (rc) return rc;
    if (!print_raw(cli, &r)) printf("%s: active version is now %ld\n", pos[0], version);
    httpc_response_free(&r);
    return 0;
}

/* --- keys / token ------------------------------------------------------------------ */

static int keys_create(cli_t *cli) {
    const char *role = NULL, *expires = NULL, *name = NULL;
    for (int i = 1; i < cli->nargs; i++) {
        const char *v = NULL;
        int m = opt_value(cli, &i, "--role", &v);
        if (m > 0) role = v;
        if (m == 0 && (m = opt_value(cli, &i, "--expires", &v)) > 0) expires = v;
        if (m == 0 && (m = opt_value(cli, &i, "--name", &v)) > 0) name = v;
        if (m < 0) return usage_error("%s needs a value", cli->args[i]);
        if (m == 0) return usage_error("unknown argument %s", cli->args[i]);
    }
    if (!role)
        return usage_error("%s", "keys create --role admin|developer|invoker|viewer "
                                 "[--namespace NS] [--expires 30d] [--name N]");
    json_t *body = json_pack("{s:s}", "role", role);
    if (cli->ns) json_object_set_new(body, "namespace", json_string(cli->ns));
    if (name) json_object_set_new(body, "name", json_string(name));
    if (expires) json_object_set_new(body, "expires_in", json_string(expires));
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    httpc_response_t r;
    int rc = text ? cli_call(cli, "POST", "/v1/keys", text, &r) : EXIT_FAIL;
    free(text);
    if (rc) return rc;
    json_t *v = parse_body(&r);
    if (!print_raw(cli, &r) && v) {
        printf("id:        %s\nrole:      %s\nnamespace: %s\nexpires:   %s\n",
               json_string_value(json_object_get(v, "id")),
               json_string_value(json_object_get(v, "role")),
               json_string_value(json_object_get(v, "namespace")),
               json_is_string(json_object_get(v, "expires_at"))
                   ? json_string_value(json_object_get(v, "expires_at"))
                   : "never");
        printf("key:       %s\n(shown once: store it now)\n",
               json_string_value(json_object_get(v, "key")));
    }
    json_decref(v);
    httpc_response_free(&r);
    return 0;
}

static int keys_ls(cli_t *cli) {
    httpc_response_t r;
    int rc = cli_call(cli, "GET", "/v1/keys", NULL, &r);
    if (rc) return rc;
    json_t *v = parse_body(&r);
    if (!print_raw(cli, &r) && v) {
        printf("%-14s %-10s %-20s %-8s %-26s %s\n", "ID", "ROLE", "NAMESPACE", "REVOKED", "EXPIRES",
               "NAME");
        size_t i;
        json_t *k;
        json_array_foreach(json_object_get(v, "keys"), i, k) {
            json_t *exp = json_object_get(k, "expires_at");
            printf("%-14s %-10s %-20s %-8s %-26s %s\n", json_string_value(json_object_get(k, "id")),
                   json_string_value(json_object_get(k, "role")),
                   json_string_value(json_object_get(k, "namespace")),
                   json_is_true(json_object_get(k, "revoked")) ? "yes" : "no",
                   json_is_string(exp) ? json_string_value(exp) : "never",
                   json_string_value(json_object_get(k, "name")));
        }
    }
    json_decref(v);
    httpc_response_free(&r);
    return 0;
}

static int cmd_keys(cli_t *cli) {
    const char *sub = cli->nargs > 0 ? cli->args[0] : "";
    if (strcmp(sub, "create") == 0) return keys_create(cli);
    if (strcmp(sub, "ls") == 0 || strcmp(sub, "list") == 0) {
        if (cli->nargs != 1) return usage_error("%s", "keys ls");
        return keys_ls(cli);
    }
    if (strcmp(sub, "revoke") == 0) {
        if (cli->nargs != 2) return usage_error("%s", "keys revoke ID");
        char *path = path_with(cli, "/v1/keys", cli->args[1], "");
        httpc_response_t r;
        int rc = path ? cli_call(cli, "DELETE", path, NULL, &r) : EXIT_FAIL;
        free(path);
        if (rc) return rc;
        if (!print_raw(cli, &r)) printf("revoked %s\n", cli->args[1]);
        httpc_response_free(&r);
        return 0;
    }
    return usage_error("%s", "keys create|ls|revoke");
}

static int cmd_token(cli_t *cli) {
    if (want_positional(cli, 0, "token", NULL) != 0) return EXIT_USAGE;
    httpc_response_t r;
    int rc = cli_call(cli, "POST", "/v1/auth/token", NULL, &r);
    if (rc) return rc;
    json_t *v = parse_body(&r);
    if (!print_raw(cli, &r) && v) printf("%s\n", json_string_value(json_object_get(v, "token")));
    json_decref(v);
    httpc_response_free(&r);
    return v ? 0 : EXIT_FAIL;
}

/* --- logs ------------------------------------------------------------------------ */

typedef struct {
    bool json;
    cli_lines_t lines; /* partial line carried between chunks */
} log_stream_t;

static void logs_emit(log_stream_t *s, const char *line, size_t n) {
    while (n > 0 && (line[n - 1] == '\r' || line[n - 1] == ' '))
        n--;
    if (n == 0) return; /* keep-alive blank lines */
    if (s->json) {
        fwrite(line, 1, n, stdout);
        fputc('\n', stdout);
    } else {
        cli_print_log_line(line, n);
    }
    fflush(stdout);
}

static void logs_line(void *ud, const char *line, size_t n) {
    logs_emit(ud, line, n);
}

/* Splits the stream into lines; a line may span chunks. */
static int logs_chunk(const char *data, size_t n, void *ud) {
    log_stream_t *s = ud;
    return cli_lines_feed(&s->lines, data, n, logs_line, s);
}

static int cmd_logs(cli_t *cli) {
    const char *name = NULL, *limit = NULL;
    bool follow = false;
    for (int i = 0; i < cli->nargs; i++) {
        const char *a = cli->args[i];
        if (strcmp(a, "-f") == 0 || strcmp(a, "--follow") == 0) {
            follow = true;
            continue;
        }
        int m = opt_value(cli, &i, "--limit", &limit);
        if (m < 0) return usage_error("%s needs a value", "--limit");
        if (m > 0) continue;
        if (a[0] == '-' && a[1] != '\0') return usage_error("unknown flag %s", a);
        if (name) return usage_error("%s", "logs NAME [-f]");
        name = a;
    }
    long lim = 0;
    if (!name) return usage_error("%s", "logs NAME [-f]");
    if (limit && !parse_uint(limit, 1000000, &lim)) return usage_error("bad --limit %s", limit);
    if (follow && cli_live_supported(cli->server)) { /* over the WebSocket live stream */
        err_t err = {0};
        if (!cli_http(cli, &err)) return fail_err(&err);
        cli_live_opts_t o = {cli->server, cli->token, cli->ns, cli->json};
        return cli_live_logs_follow(&o, cli->http, name, limit ? lim : -1);
    }
    char suffix[64];
    snprintf(suffix, sizeof(suffix), "/logs%s", follow ? "?follow=1" : "");
    if (limit) {
        size_t k = strlen(suffix);
        snprintf(suffix + k, sizeof(suffix) - k, "%climit=%ld", follow ? '&' : '?', lim);
    }
    char *path = path_with(cli, "/v1/functions", name, suffix);
    if (!path) return EXIT_FAIL;
    log_stream_t s = {.json = cli->json};
    long status = 0;
    char *errbody = NULL;
    err_t err = {0};
    int rc = httpc_stream(cli->http, path, logs_chunk, &s, &status, &errbody, &err);
    free(path);
    if (rc != 0) {
        rc = fail_err(&err);
    } else if (status >= 400) {
        httpc_response_t r = {
            .status = status, .body = errbody, .len = strlen(errbody ? errbody : "")};
        rc = errbody ? fail_response(cli, &r) : (fprintf(stderr, "error: http_%ld\n", status), 1);
    }
    /* a last line without a newline, unless the request failed */
    cli_lines_finish(&s.lines, rc == 0 && status < 400 ? logs_line : NULL, &s);
    free(errbody);
    return rc;
}

/* --- dispatch -------------------------------------------------------------------- */

/* --- events publish/ls, triggers, dlq (docs/events.md) ------------------------------ */

/* Sends, then prints the JSON answer (indented unless --json). */
static int call_and_dump(cli_t *cli, const char *method, const char *path, const char *body) {
    httpc_response_t r;
    int rc = cli_call(cli, method, path, body, &r);
    if (rc) return rc;
    if (!print_raw(cli, &r)) {
        json_t *v = parse_body(&r);
        char *t = v ? json_dumps(v, JSON_INDENT(2)) : NULL;
        if (t) printf("%s\n", t);
        free(t);
        rc = v ? EXIT_OK : EXIT_FAIL;
        json_decref(v);
    }
    httpc_response_free(&r);
    return rc;
}

/* Appends "&k=<escaped v>" (or "?k=…" first) to a path buffer. */
static void query_add(cli_t *cli, char *buf, size_t cap, const char *k, const char *v) {
    if (!v) return;
    err_t err = {0};
    httpc_t *h = cli_http(cli, &err);
    char *esc = h ? httpc_escape(h, v) : NULL;
    if (!esc) return;
    size_t n = strlen(buf);
    snprintf(buf + n, cap - n, "%c%s=%s", strchr(buf, '?') ? '&' : '?', k, esc);
    free(esc);
}

static int cmd_events_publish(cli_t *cli) {
    const char *type = NULL, *source = NULL, *id = NULL, *data = NULL;
    for (int i = 1; i < cli->nargs; i++) {
        int m = opt_value(cli, &i, "--type", &type);
        if (m == 0) m = opt_value(cli, &i, "--source", &source);
        if (m == 0) m = opt_value(cli, &i, "--id", &id);
        if (m == 0) m = opt_value(cli, &i, "--data", &data);
        if (m <= 0)
            return usage_error("%s", "events publish --type T --source S [--id ID] [--data JSON]");
    }
    if (!type || !source)
        return usage_error("%s", "events publish --type T --source S [--id ID] [--data JSON]");
    json_t *ev = json_pack("{s:s,s:s,s:s}", "specversion", "1.0", "type", type, "source", source);
    if (id) json_object_set_new(ev, "id", json_string(id));
    if (data) {
        json_error_t je;
        json_t *d = json_loads(data, JSON_DECODE_ANY, &je);
        if (!d) {
            json_decref(ev);
            return usage_error("--data is not JSON: %s", je.text);
        }
        json_object_set_new(ev, "data", d);
    }
    char *body = json_dumps(ev, JSON_COMPACT);
    json_decref(ev);
    int rc = body ? call_and_dump(cli, "POST", "/v1/events", body) : EXIT_FAIL;
    free(body);
    return rc;
}

static int cmd_events_ls(cli_t *cli) {
    const char *type = NULL, *source = NULL, *limit = NULL;
    for (int i = 1; i < cli->nargs; i++) {
        int m = opt_value(cli, &i, "--type", &type);
        if (m == 0) m = opt_value(cli, &i, "--source", &source);
        if (m == 0) m = opt_value(cli, &i, "--limit", &limit);
        if (m <= 0) return usage_error("%s", "events ls [--type T] [--source S] [--limit N]");
    }
    char path[1024] = "/v1/events";
    query_add(cli, path, sizeof path, "type", type);
    query_add(cli, path, sizeof path, "source", source);
    query_add(cli, path, sizeof path, "limit", limit);
    return call_and_dump(cli, "GET", path, NULL);
}

static int cmd_events(cli_t *cli) {
    if (cli->nargs >= 1 && strcmp(cli->args[0], "publish") == 0) return cmd_events_publish(cli);
    if (cli->nargs >= 1 && strcmp(cli->args[0], "ls") == 0) return cmd_events_ls(cli);
    cli_live_opts_t o = {cli->server, cli->token, cli->ns, cli->json};
    return cli_live_events(&o, cli->args, cli->nargs);
}

#define TRIG_USAGE                                                                                 \
    "triggers create FUNCTION SOURCE [flags]; SOURCE is one of --custom, --schedule CRON, "        \
    "--webhook, --eth-blocks, --eth-logs, --neo-blocks, --neo-notifications (see r3e --help)"

/* The chain sources: each flag is a (type, events) pair of the API's trigger source. */
enum { K_ETH_BLOCKS = 1, K_ETH_LOGS = 2, K_NEO_BLOCKS = 4, K_NEO_NOTES = 8 };
enum { K_ETH = K_ETH_BLOCKS | K_ETH_LOGS, K_NEO = K_NEO_BLOCKS | K_NEO_NOTES };

static const struct {
    const char *flag, *type, *events;
    unsigned kind;
} chain_kinds[] = {{"--eth-blocks", "eth", "blocks", K_ETH_BLOCKS},
                   {"--eth-logs", "eth", "logs", K_ETH_LOGS},
                   {"--neo-blocks", "neo", "blocks", K_NEO_BLOCKS},
                   {"--neo-notifications", "neo", "notifications", K_NEO_NOTES}};

/* Flags of the chain sources: the source field each sets, the sources it applies to, and
 * how its value is read (text, a block number, or JSON for --topics). */
typedef enum { CV_TEXT, CV_NUMBER, CV_JSON, CV_TOPIC0 } chain_value_t;
static const struct {
    const char *flag, *field;
    unsigned kinds;
    chain_value_t how;
    const char *applies; /* for the error message */
} chain_flags[] = {
    {"--network", "network", K_ETH | K_NEO, CV_TEXT, "chain sources"},
    {"--confirmations", "confirmations", K_ETH, CV_NUMBER, "--eth-blocks and --eth-logs"},
    {"--from-block", "fromBlock", K_ETH | K_NEO, CV_NUMBER, "chain sources"},
    {"--address", "address", K_ETH_LOGS, CV_TEXT, "--eth-logs"},
    {"--topic0", "topics", K_ETH_LOGS, CV_TOPIC0, "--eth-logs"},
    {"--topics", "topics", K_ETH_LOGS, CV_JSON, "--eth-logs"},
    {"--abi", "abi", K_ETH_LOGS, CV_TEXT, "--eth-logs"},
    {"--contract", "contract", K_NEO_NOTES, CV_TEXT, "--neo-notifications"},
    {"--event", "event", K_NEO_NOTES, CV_TEXT, "--neo-notifications"},
};
#define N_CHAIN_FLAGS (sizeof chain_flags / sizeof chain_flags[0])

/* Reads one chain-source flag at args[*i] into src. Returns 1 when consumed, 0 when not
 * one, or -EXIT_USAGE after reporting. *used gets the flag's bit. */
static int chain_flag(cli_t *cli, int *i, json_t *src, unsigned *used) {
    for (size_t k = 0; k < N_CHAIN_FLAGS; k++) {
        const char *v = NULL;
        int m = opt_value(cli, i, chain_flags[k].flag, &v);
        if (m == 0) continue;
        if (m < 0) return -usage_error("%s needs a value", chain_flags[k].flag);
        if (json_object_get(src, chain_flags[k].field))
            return -usage_error("%s given twice (or with --topic0 / --topics both)",
                                chain_flags[k].flag);
        json_t *val = NULL;
        long n;
        json_error_t je;
        switch (chain_flags[k].how) {
        case CV_TEXT:
            val = json_string(v);
            break;
        case CV_TOPIC0:
            val = json_pack("[s]", v);
            break;
        case CV_NUMBER:
            if (!parse_uint(v, 1000000000000000L, &n))
                return -usage_error("%s needs a non-negative integer", chain_flags[k].flag);
            val = json_integer(n);
            break;
        case CV_JSON:
            val = json_loads(v, 0, &je);
            if (!json_is_array(val)) {
                json_decref(val);
                return -usage_error("%s needs a JSON array, e.g. '[\"0x…\", null, [\"0x…\"]]'",
                                    chain_flags[k].flag);
            }
            break;
        }
        if (!val) return -usage_error("%s must be UTF-8 text", chain_flags[k].flag);
        json_object_set_new(src, chain_flags[k].field, val);
        *used |= 1u << k;
        return 1;
    }
    return 0;
}

/* After parsing: the chain flags given must fit the chosen source. Returns 0 or an exit
 * code after reporting. */
static int chain_check(json_t *src, unsigned kind, unsigned used) {
    for (size_t k = 0; k < N_CHAIN_FLAGS; k++) {
        if (!(used & (1u << k)) || (chain_flags[k].kinds & kind)) continue;
        char msg[160];
        snprintf(msg, sizeof msg, "%s applies to %s only", chain_flags[k].flag,
                 chain_flags[k].applies);
        return usage_error("%s", msg);
    }
    if (kind == K_ETH_LOGS && !json_object_get(src, "address") && !json_object_get(src, "topics") &&
        !json_object_get(src, "abi"))
        return usage_error("%s", "--eth-logs needs --address, --topic0/--topics or --abi");
    if (kind == K_NEO_NOTES && !json_object_get(src, "contract"))
        return usage_error("%s", "--neo-notifications needs --contract 0x…");
    return 0;
}

/* Applies a flag that names the source (--custom, --eth-logs…). Returns 1 when consumed,
 * 0 when not one, -EXIT_USAGE after reporting a second source. */
static int source_flag(cli_t *cli, int *i, json_t *src, unsigned *kind) {
    const char *a = cli->args[*i], *v = NULL;
    const char *type = NULL;
    int m = 0;
    if (strcmp(a, "--custom") == 0 || strcmp(a, "--webhook") == 0) {
        type = a + 2;
    } else if ((m = opt_value(cli, i, "--schedule", &v)) != 0) {
        if (m < 0) return -usage_error("%s needs a cron expression", "--schedule");
        type = "schedule";
    } else {
        for (size_t k = 0; k < sizeof chain_kinds / sizeof chain_kinds[0] && !type; k++)
            if (strcmp(a, chain_kinds[k].flag) == 0) {
                type = chain_kinds[k].type;
                *kind = chain_kinds[k].kind;
                json_object_set_new(src, "events", json_string(chain_kinds[k].events));
            }
        if (!type) return 0;
    }
    if (json_object_get(src, "type"))
        return -usage_error("%s", "give one source (--custom, --schedule, --webhook, --eth-blocks, "
                                  "--eth-logs, --neo-blocks or --neo-notifications)");
    json_object_set_new(src, "type", json_string(type));
    if (v) json_object_set_new(src, "cron", json_string(v));
    return 1;
}

/* The flags every trigger takes (filter, mode, retry, destinations, webhook secret…).
 * Returns 1 when consumed, 0 when not one, -EXIT_USAGE after reporting. */
static int trigger_flag(cli_t *cli, int *i, json_t *t, json_t *src, json_t *retry) {
    const char *a = cli->args[*i], *v = NULL;
    int m;
    if (strcmp(a, "--sequential") == 0) {
        json_object_set_new(t, "mode", json_string("sequential"));
    } else if ((m = opt_value(cli, i, "--secret", &v)) != 0 ||
               (m = opt_value(cli, i, "--missed", &v)) != 0) {
        if (m < 0) return -usage_error("%s needs a value", a);
        json_object_set_new(src, strstr(a, "secret") ? "secret" : "missed", json_string(v));
    } else if ((m = opt_value(cli, i, "--filter", &v)) != 0) {
        json_t *f = m > 0 ? json_loads(v, 0, NULL) : NULL;
        if (!f) return -usage_error("%s", "--filter needs a JSON object (an event pattern)");
        json_object_set_new(t, "filter", f);
    } else if ((m = opt_value(cli, i, "--max-attempts", &v)) != 0 ||
               (m = opt_value(cli, i, "--backoff-ms", &v)) != 0) {
        long n;
        if (m < 0 || !parse_uint(v, 100000000, &n))
            return -usage_error("%s needs a non-negative integer", a);
        json_object_set_new(retry, strstr(a, "attempts") ? "max_attempts" : "backoff_ms",
                            json_integer(n));
    } else if ((m = opt_value(cli, i, "--on-failure", &v)) != 0 ||
               (m = opt_value(cli, i, "--on-success", &v)) != 0) {
        if (m < 0) return -usage_error("%s needs a function name", a);
        json_object_set_new(t, strstr(a, "failure") ? "on_failure" : "on_success",
                            json_pack("{s:s}", "function", v));
    } else {
        return 0;
    }
    return 1;
}

static int trig_create(cli_t *cli) {
    json_t *t = json_object(), *src = json_object(), *retry = json_object();
    const char *fn = NULL;
    unsigned kind = 0, used = 0;
    int rc = 0;
    for (int i = 1; i < cli->nargs && rc == 0; i++) {
        const char *a = cli->args[i];
        int m = source_flag(cli, &i, src, &kind);
        if (m == 0) m = chain_flag(cli, &i, src, &used);
        if (m == 0) m = trigger_flag(cli, &i, t, src, retry);
        if (m < 0) {
            rc = -m;
        } else if (m == 0 && a[0] == '-' && a[1] != '\0') {
            rc = usage_error("unknown flag %s", a);
        } else if (m == 0 && fn) {
            rc = usage_error("%s", TRIG_USAGE);
        } else if (m == 0) {
            fn = a;
        }
    }
    if (rc == 0 && (!fn || !json_object_get(src, "type"))) rc = usage_error("%s", TRIG_USAGE);
    if (rc == 0) rc = chain_check(src, kind, used);
    if (rc == 0) {
        json_object_set_new(t, "function", json_string(fn));
        json_object_set(t, "source", src);
        if (json_object_size(retry)) json_object_set(t, "retry", retry);
        char *body = json_dumps(t, JSON_COMPACT);
        httpc_response_t r;
        rc = body ? cli_call(cli, "POST", "/v1/triggers", body, &r) : EXIT_FAIL;
        free(body);
        if (rc == 0) {
            if (!print_raw(cli, &r)) {
                json_t *v = parse_body(&r);
                if (v) {
                    printf("created trigger %s\n", json_string_value(json_object_get(v, "id")));
                    cli_print_trigger(v);
                }
                rc = v ? EXIT_OK : EXIT_FAIL;
                json_decref(v);
            }
            httpc_response_free(&r);
        }
    }
    json_decref(t);
    json_decref(src);
    json_decref(retry);
    return rc;
}

/* "<what> ID": METHOD prefix/ID suffix. */
static int id_call(cli_t *cli, const char *usage, const char *method, const char *prefix,
                   const char *suffix) {
    if (cli->nargs != 2) return usage_error("%s", usage);
    char *path = path_with(cli, prefix, cli->args[1], suffix);
    int rc = path ? call_and_dump(cli, method, path, NULL) : EXIT_FAIL;
    free(path);
    return rc;
}

static int cmd_triggers(cli_t *cli) {
    const char *sub = cli->nargs ? cli->args[0] : "";
    if (strcmp(sub, "create") == 0) return trig_create(cli);
    if (strcmp(sub, "ls") == 0 || strcmp(sub, "list") == 0) {
        const char *fn = NULL;
        for (int i = 1; i < cli->nargs; i++) {
            int m = opt_value(cli, &i, "--function", &fn);
            if (m <= 0) return usage_error("%s", "triggers ls [--function F]");
        }
        char path[512] = "/v1/triggers";
        query_add(cli, path, sizeof path, "function", fn);
        return get_and_print(cli, path, cli_print_trigger_list);
    }
    if (strcmp(sub, "get") == 0) {
        if (cli->nargs != 2) return usage_error("%s", "triggers get ID");
        char *path = path_with(cli, "/v1/triggers", cli->args[1], "");
        int rc = path ? get_and_print(cli, path, cli_print_trigger) : EXIT_FAIL;
        free(path);
        return rc;
    }
    if (strcmp(sub, "rm") == 0) return id_call(cli, "triggers rm ID", "DELETE", "/v1/triggers", "");
    if (strcmp(sub, "enable") == 0 || strcmp(sub, "disable") == 0)
        return id_call(cli, "triggers enable|disable ID", "POST", "/v1/triggers",
                       sub[0] == 'e' ? "/enable" : "/disable");
    return usage_error("%s", "triggers create|ls|get|rm|enable|disable …");
}

static int cmd_dlq(cli_t *cli) {
    const char *sub = cli->nargs ? cli->args[0] : "";
    if (strcmp(sub, "ls") == 0 || strcmp(sub, "list") == 0) {
        const char *limit = NULL;
        long n;
        for (int i = 1; i < cli->nargs; i++) {
            int m = opt_value(cli, &i, "--limit", &limit);
            if (m <= 0) return usage_error("%s", "dlq ls [--limit N]");
        }
        if (limit && (!parse_uint(limit, 1000, &n) || n == 0))
            return usage_error("--limit must be 1..1000 (got %s)", limit);
        char path[64] = "/v1/dlq";
        query_add(cli, path, sizeof path, "limit", limit);
        return get_and_print(cli, path, cli_print_dlq);
    }
    if (strcmp(sub, "replay") == 0)
        return id_call(cli, "dlq replay ID", "POST", "/v1/dlq", "/replay");
    if (strcmp(sub, "rm") == 0) return id_call(cli, "dlq rm ID", "DELETE", "/v1/dlq", "");
    return usage_error("%s", "dlq ls [--limit N] | replay ID | rm ID");
}

/* --- relayer (docs/api.md "Ethereum relayer", "Neo relayer") -------------------------- */

#define RELAYER_USAGE "relayer info|send|ls|get eth|neo NETWORK … (see r3e --help)"
#define RELAYER_POLL_MS 500
#define RELAYER_DEFAULT_WAIT_S 120

/* "/v1/relayer/<chain>/<network><suffix>"; malloc'ed. */
static char *relayer_path(cli_t *cli, const char *chain, const char *network, const char *suffix) {
    char prefix[32];
    snprintf(prefix, sizeof prefix, "/v1/relayer/%s", chain);
    return path_with(cli, prefix, network, suffix);
}

static bool relayer_final(const char *state, bool *ok) {
    static const char *good[] = {"mined", "executed"};
    static const char *bad[] = {"failed", "dropped", "error", "faulted"};
    for (size_t i = 0; state && i < sizeof good / sizeof *good; i++)
        if (strcmp(state, good[i]) == 0) return *ok = true;
    for (size_t i = 0; state && i < sizeof bad / sizeof *bad; i++)
        if (strcmp(state, bad[i]) == 0) return !(*ok = false);
    return false;
}

/* Prints a transaction record (raw body with --json); with wait, first polls GET …/{id}
 * every RELAYER_POLL_MS until the record is final or wait_s passed (then the last record is
 * printed). Exit 0 when it is not waited for or ended well (mined / executed); 1 with a
 * stderr line otherwise. Frees *r. */
static int relayer_show(cli_t *cli, const char *chain, const char *network, httpc_response_t *r,
                        bool wait, long wait_s) {
    json_t *v = parse_body(r);
    int rc = v ? EXIT_OK : EXIT_FAIL;
    bool ok = false, final = false, timed_out = false;
    char *path = NULL;
    if (v && wait) {
        char suffix[128];
        const char *id = json_string_value(json_object_get(v, "id"));
        snprintf(suffix, sizeof suffix, "/transactions/%s", id ? id : "?");
        path = relayer_path(cli, chain, network, suffix);
        if (!path) rc = EXIT_FAIL;
    }
    for (long waited = 0; rc == EXIT_OK && wait; waited += RELAYER_POLL_MS) {
        if ((final = relayer_final(json_string_value(json_object_get(v, "state")), &ok))) break;
        if (waited >= wait_s * 1000) {
            timed_out = true;
            break;
        }
        struct timespec ts = {0, RELAYER_POLL_MS * 1000000L};
        nanosleep(&ts, NULL);
        httpc_response_t next;
        if ((rc = cli_call(cli, "GET", path, NULL, &next)) != 0) break; /* reported */
        json_t *nv = parse_body(&next);
        if (!nv) {
            httpc_response_free(&next);
            rc = EXIT_FAIL;
            break;
        }
        httpc_response_free(r);
        *r = next;
        json_decref(v);
        v = nv;
    }
    free(path);
    if (rc == EXIT_OK && !print_raw(cli, r)) cli_print_record(v);
    if (rc == EXIT_OK && timed_out) {
        fprintf(stderr, "error: timeout: transaction %s is still %s after %ld s\n",
                json_string_value(json_object_get(v, "id")),
                json_string_value(json_object_get(v, "state")), wait_s);
        rc = EXIT_FAIL;
    } else if (rc == EXIT_OK && final && !ok) {
        const char *why = json_string_value(json_object_get(v, "error"));
        if (!why) why = json_string_value(json_object_get(v, "exception"));
        fprintf(stderr, "error: transaction_%s: %s\n",
                json_string_value(json_object_get(v, "state")),
                why ? why : "the transaction did not succeed");
        rc = EXIT_FAIL;
    }
    json_decref(v);
    httpc_response_free(r);
    return rc;
}

/* Reads --wait / --timeout S at args[*i]: 1 when consumed, 0 when not, -EXIT_USAGE. */
static int wait_flag(cli_t *cli, int *i, bool *wait, long *wait_s) {
    const char *v = NULL;
    if (strcmp(cli->args[*i], "--wait") == 0) return *wait = true;
    int m = opt_value(cli, i, "--timeout", &v);
    if (m < 0 || (m > 0 && (!parse_uint(v, 86400, wait_s) || *wait_s == 0)))
        return -usage_error("%s", "--timeout needs seconds (1..86400)");
    return m;
}

/* The body of an eth send from its flags. Returns 1 when args[*i] was one, 0 when not,
 * -EXIT_USAGE after reporting. */
static int relayer_eth_flag(cli_t *cli, int *i, json_t *body) {
    static const struct {
        const char *flag, *field;
    } text[] = {{"--to", "to"}, {"--data", "data"}, {"--value", "value"}, {"--speed", "speed"}};
    const char *v = NULL;
    for (size_t k = 0; k < sizeof text / sizeof *text; k++) {
        int m = opt_value(cli, i, text[k].flag, &v);
        if (m == 0) continue;
        if (m < 0) return -usage_error("%s needs a value", text[k].flag);
        if (strcmp(text[k].field, "speed") == 0 && strcmp(v, "slow") != 0 &&
            strcmp(v, "normal") != 0 && strcmp(v, "fast") != 0)
            return -usage_error("--speed must be slow, normal or fast (got %s)", v);
        json_object_set_new(body, text[k].field, json_string(v));
        return 1;
    }
    int m = opt_value(cli, i, "--gas-limit", &v);
    long n;
    if (m < 0 || (m > 0 && !parse_uint(v, 1000000000L, &n)))
        return -usage_error("%s", "--gas-limit needs a positive integer");
    if (m > 0) json_object_set_new(body, "gasLimit", json_integer(n));
    return m;
}

static int relayer_neo_flag(cli_t *cli, int *i, json_t *body) {
    static const char *text[] = {"--script", "--contract", "--method"};
    const char *v = NULL;
    for (size_t k = 0; k < sizeof text / sizeof *text; k++) {
        int m = opt_value(cli, i, text[k], &v);
        if (m == 0) continue;
        if (m < 0) return -usage_error("%s needs a value", text[k]);
        json_object_set_new(body, text[k] + 2, json_string(v));
        return 1;
    }
    int m = opt_value(cli, i, "--args", &v);
    if (m < 0) return -usage_error("%s", "--args needs a JSON array");
    if (m == 0) return 0;
    json_t *a = json_loads(v, 0, NULL);
    if (!json_is_array(a)) {
        json_decref(a);
        return -usage_error("%s", "--args needs a JSON array of ContractParams or plain values, "
                                  "e.g. '[{\"type\":\"Integer\",\"value\":\"5\"}]'");
    }
    json_object_set_new(body, "args", a);
    return 1;
}

static int relayer_send(cli_t *cli, const char *chain, const char *network) {
    bool eth = strcmp(chain, "eth") == 0, wait = false;
    long wait_s = RELAYER_DEFAULT_WAIT_S;
    json_t *body = json_object();
    int rc = 0;
    for (int i = 3; i < cli->nargs && rc == 0; i++) {
        int m = wait_flag(cli, &i, &wait, &wait_s);
        if (m == 0) m = eth ? relayer_eth_flag(cli, &i, body) : relayer_neo_flag(cli, &i, body);
        if (m < 0) rc = -m;
        if (m == 0) rc = usage_error("unknown argument %s", cli->args[i]);
    }
    if (rc == 0 && eth && !json_object_get(body, "to"))
        rc = usage_error("%s", "relayer send eth NETWORK --to 0x… [--data 0x…] [--value WEI] "
                               "[--gas-limit N] [--speed slow|normal|fast] [--wait]");
    bool script = json_object_get(body, "script") != NULL;
    bool call = json_object_get(body, "contract") || json_object_get(body, "method");
    if (rc == 0 && !eth &&
        (script == call ||
         (call && !(json_object_get(body, "contract") && json_object_get(body, "method")))))
        rc = usage_error("%s", "relayer send neo NETWORK (--script HEX | --contract 0x… --method M "
                               "[--args JSON]) [--wait]");
    if (rc == 0 && !eth && script && json_object_get(body, "args"))
        rc = usage_error("%s", "--args goes with --contract and --method, not --script");
    char *text = rc == 0 ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (rc) return rc;
    char *path = relayer_path(cli, chain, network, "/transactions");
    httpc_response_t r;
    rc = path && text ? cli_call(cli, "POST", path, text, &r) : EXIT_FAIL;
    free(path);
    free(text);
    if (rc) return rc;
    return relayer_show(cli, chain, network, &r, wait, wait_s);
}

static int relayer_get(cli_t *cli, const char *chain, const char *network) {
    bool wait = false;
    long wait_s = RELAYER_DEFAULT_WAIT_S;
    const char *id = NULL;
    for (int i = 3; i < cli->nargs; i++) {
        int m = wait_flag(cli, &i, &wait, &wait_s);
        if (m < 0) return -m;
        if (m > 0) continue;
        if (cli->args[i][0] == '-' || id)
            return usage_error("%s", "relayer get eth|neo NETWORK ID [--wait] [--timeout S]");
        id = cli->args[i];
    }
    if (!id) return usage_error("%s", "relayer get eth|neo NETWORK ID [--wait] [--timeout S]");
    char *path = relayer_path(cli, chain, network, "/transactions");
    char *full = path ? path_with(cli, path, id, "") : NULL;
    httpc_response_t r;
    int rc = full ? cli_call(cli, "GET", full, NULL, &r) : EXIT_FAIL;
    free(path);
    free(full);
    if (rc) return rc;
    return relayer_show(cli, chain, network, &r, wait, wait_s);
}

static int cmd_relayer(cli_t *cli) {
    const char *sub = cli->nargs > 0 ? cli->args[0] : "";
    if (cli->nargs < 3 || (strcmp(cli->args[1], "eth") != 0 && strcmp(cli->args[1], "neo") != 0))
        return usage_error("%s", RELAYER_USAGE);
    const char *chain = cli->args[1], *network = cli->args[2];
    if (strcmp(sub, "info") == 0) {
        if (cli->nargs != 3) return usage_error("%s", "relayer info eth|neo NETWORK");
        char *path = relayer_path(cli, chain, network, "");
        int rc = path ? get_and_print(cli, path, cli_print_record) : EXIT_FAIL;
        free(path);
        return rc;
    }
    if (strcmp(sub, "send") == 0) return relayer_send(cli, chain, network);
    if (strcmp(sub, "get") == 0) return relayer_get(cli, chain, network);
    if (strcmp(sub, "ls") == 0 || strcmp(sub, "list") == 0) {
        const char *limit = NULL;
        long n;
        for (int i = 3; i < cli->nargs; i++) {
            int m = opt_value(cli, &i, "--limit", &limit);
            if (m <= 0) return usage_error("%s", "relayer ls eth|neo NETWORK [--limit N]");
        }
        if (limit && (!parse_uint(limit, 100, &n) || n == 0))
            return usage_error("--limit must be 1..100 (got %s)", limit);
        char suffix[64] = "/transactions";
        if (limit) snprintf(suffix, sizeof suffix, "/transactions?limit=%ld", n);
        char *path = relayer_path(cli, chain, network, suffix);
        int rc = path ? get_and_print(cli, path, cli_print_relayed_list) : EXIT_FAIL;
        free(path);
        return rc;
    }
    return usage_error("%s", RELAYER_USAGE);
}

/* --- secrets ------------------------------------------------------------------------ */

/* The value comes from stdin (never argv: it would show in ps and shell history); one
 * trailing newline is dropped so `echo "$V" | r3e secrets set F K` stores $V. */
static char *secret_from_stdin(size_t *len) {
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    for (size_t got; buf && (got = fread(buf + n, 1, cap - n, stdin)) > 0;) {
        n += got;
        if (n == cap && n < (1u << 20)) buf = realloc(buf, cap *= 2);
        if (n == cap) break;
    }
    if (buf && n > 0 && buf[n - 1] == '\n') n--;
    if (buf && n > 0 && buf[n - 1] == '\r') n--;
    *len = n;
    return buf;
}

static bool secret_name_ok(const char *k) {
    if (!*k || strlen(k) > 128 || (*k >= '0' && *k <= '9')) return false;
    for (; *k; k++)
        if (!((*k >= 'a' && *k <= 'z') || (*k >= 'A' && *k <= 'Z') || (*k >= '0' && *k <= '9') ||
              *k == '_'))
            return false;
    return true;
}

static int secrets_call(cli_t *cli, const char *method, const char *fn, const char *key,
                        const char *body, httpc_response_t *r) {
    char suffix[160];
    snprintf(suffix, sizeof suffix, "/secrets%s%s", key ? "/" : "", key ? key : "");
    char *path = path_with(cli, "/v1/functions", fn, suffix);
    int rc = path ? cli_call(cli, method, path, body, r) : EXIT_FAIL;
    free(path);
    return rc;
}

static int cmd_secrets(cli_t *cli) {
    const char *sub = cli->nargs > 0 ? cli->args[0] : "";
    httpc_response_t r;
    if (strcmp(sub, "set") == 0 || strcmp(sub, "rm") == 0) {
        if (cli->nargs != 3 || !secret_name_ok(cli->args[2]))
            return usage_error("%s", "secrets set|rm FUNCTION KEY (KEY: [A-Za-z_][A-Za-z0-9_]*; "
                                     "set reads the value from stdin)");
        int rc;
        if (sub[0] == 's') {
            size_t len = 0;
            char *val = secret_from_stdin(&len);
            json_t *b = val ? json_pack("{s:s%}", "value", val, len) : NULL;
            if (val) explicit_bzero(val, len);
            free(val);
            if (!b) return usage_error("%s", "the secret value must be UTF-8 text on stdin");
            char *text = json_dumps(b, JSON_COMPACT);
            json_decref(b);
            rc = secrets_call(cli, "PUT", cli->args[1], cli->args[2], text, &r);
            if (text) explicit_bzero(text, strlen(text));
            free(text);
        } else {
            rc = secrets_call(cli, "DELETE", cli->args[1], cli->args[2], NULL, &r);
        }
        if (rc) return rc;
        if (!print_raw(cli, &r))
            printf("%s %s of %s\n", sub[0] == 's' ? "set" : "removed", cli->args[2], cli->args[1]);
        httpc_response_free(&r);
        return 0;
    }
    if (strcmp(sub, "ls") == 0 || strcmp(sub, "list") == 0) {
        if (cli->nargs != 2) return usage_error("%s", "secrets ls FUNCTION");
        int rc = secrets_call(cli, "GET", cli->args[1], NULL, NULL, &r);
        if (rc) return rc;
        json_t *v = parse_body(&r);
        if (!print_raw(cli, &r) && v) {
            printf("%-32s %s\n", "NAME", "VERSION");
            size_t i;
            json_t *e;
            json_array_foreach(json_object_get(v, "secrets"), i, e) {
                printf("%-32s %lld\n", json_string_value(json_object_get(e, "name")),
                       (long long)json_integer_value(json_object_get(e, "version")));
            }
        }
        json_decref(v);
        httpc_response_free(&r);
        return 0;
    }
    if (strcmp(sub, "rotate-master") == 0) {
        if (cli->nargs != 1) return usage_error("%s", "secrets rotate-master");
        int rc = cli_call(cli, "POST", "/v1/admin/rotate-master", "{}", &r);
        if (rc) return rc;
        json_t *v = parse_body(&r);
        if (!print_raw(cli, &r) && v)
            printf("master key version %lld: %lld records re-wrapped%s\n",
                   (long long)json_integer_value(json_object_get(v, "current")),
                   (long long)json_integer_value(json_object_get(v, "rewrapped")),
                   json_is_true(json_object_get(v, "rotating"))
                       ? " (not finished)"
                       : "; the old key is no longer needed");
        json_decref(v);
        httpc_response_free(&r);
        return 0;
    }
    return usage_error("%s", "secrets set|ls|rm|rotate-master");
}

static int cmd_version(cli_t *cli) {
    if (want_positional(cli, 0, "version", NULL) != 0) return EXIT_USAGE;
    if (cli->json)
        printf("{\"version\":\"%s\"}\n", CLI_VERSION);
    else
        printf("r3e %s\n", CLI_VERSION);
    return 0;
}

static const struct {
    const char *name;
    int (*run)(cli_t *);
} commands[] = {
    {"deploy", cmd_deploy}, {"invoke", cmd_invoke},     {"ls", cmd_ls},
    {"list", cmd_ls},       {"get", cmd_get},           {"rm", cmd_rm},
    {"delete", cmd_rm},     {"rollback", cmd_rollback}, {"logs", cmd_logs},
    {"exec", cmd_exec},     {"version", cmd_version},   {"keys", cmd_keys},
    {"token", cmd_token},   {"events", cmd_events},     {"triggers", cmd_triggers},
    {"dlq", cmd_dlq},       {"secrets", cmd_secrets},   {"relayer", cmd_relayer},
};

/* --token, --namespace, --cacert, --cert, --key as "--f V" or "--f=V": true when argv[*i]
 * is one of them (*rc set to a usage exit code when its value is missing). */
static bool global_value(int argc, char **argv, int *i, cli_t *cli, int *rc) {
    static const struct {
        const char *flag;
        size_t off;
    } g[] = {{"--token", offsetof(cli_t, token)},
             {"--namespace", offsetof(cli_t, ns)},
             {"--cacert", offsetof(cli_t, cacert)},
             {"--cert", offsetof(cli_t, cert)},
             {"--key", offsetof(cli_t, key)}};
    *rc = 0;
    for (size_t k = 0; k < sizeof g / sizeof g[0]; k++) {
        size_t n = strlen(g[k].flag);
        const char **dst = (const char **)((char *)cli + g[k].off);
        if (strncmp(argv[*i], g[k].flag, n) != 0) continue;
        if (argv[*i][n] == '=') {
            *dst = argv[*i] + n + 1;
            return true;
        }
        if (argv[*i][n] != '\0') continue;
        if (*i + 1 >= argc) {
            *rc = usage_error("%s needs a value", g[k].flag);
            return true;
        }
        *dst = argv[++*i];
        return true;
    }
    return false;
}

/* Removes the global flags (--server, --json, --help) wherever they appear, leaving the
 * command name first in rest[]. Returns 0, 1 for help, or an exit code for errors. */
static int parse_globals(int argc, char **argv, cli_t *cli, char **rest, int *nrest) {
    *nrest = 0;
    int rc = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--json") == 0) {
            cli->json = true;
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            return 1;
        } else if (strncmp(a, "--server=", 9) == 0) {
            cli->server = a + 9;
        } else if (strcmp(a, "--server") == 0) {
            if (i + 1 >= argc) return usage_error("%s", "--server needs a URL");
            cli->server = argv[++i];
        } else if (global_value(argc, argv, &i, cli, &rc)) {
            if (rc) return rc;
        } else {
            rest[(*nrest)++] = argv[i];
        }
    }
    return 0;
}

int cli_main(int argc, char **argv) {
    cli_t cli = {0};
    const char *env = getenv("R3E_SERVER");
    cli.server = env && *env ? env : CLI_DEFAULT_SERVER;
    cli.token = getenv("R3E_TOKEN");
    cli.ns = getenv("R3E_NAMESPACE");
    cli.cacert = getenv("R3E_CACERT");
    char **rest = calloc((size_t)argc + 1, sizeof(char *));
    int nrest = 0, rc = parse_globals(argc, argv, &cli, rest, &nrest);
    if (rc == 1) {
        cli_usage();
        rc = EXIT_OK;
    } else if (rc == 0 && nrest == 0) {
        rc = usage_error("%s", "missing COMMAND");
    } else if (rc == 0) {
        rc = -1;
        for (size_t k = 0; k < sizeof(commands) / sizeof(commands[0]); k++) {
            if (strcmp(rest[0], commands[k].name) != 0) continue;
            cli.args = rest + 1;
            cli.nargs = nrest - 1;
            httpc_global_init();
            rc = commands[k].run(&cli);
            httpc_destroy(cli.http);
            httpc_global_cleanup();
            break;
        }
        if (rc < 0) rc = usage_error("unknown command \"%s\"", rest[0]);
    }
    free(rest);
    return rc;
}
