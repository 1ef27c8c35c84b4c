/* Secrets: the vault's start-up (master key sources, --dev key generation, finishing a
 * master key rotation) and the secrets endpoints. Values are accepted and never returned;
 * decryption for ctx.secrets happens in the runtime, per invocation (runtime.c). */
#include "api/secrets.h"

#include "core/util.h"
#include "obs/log.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SECRETS_K8S_DIR "/var/run/secrets/r3e/master-key"

static vault_t *secrets_vault; /* set once at start-up, before the HTTP daemon */

vault_t *api_secrets_vault(void) {
    return secrets_vault;
}

static bool env_set(const char *name) {
    const char *v = getenv(name);
    return v && *v;
}

/* --dev only: a random key in DATA_DIR/master.key (0600), created once. */
static int dev_key_file(const char *data_dir, char *path, size_t cap, err_t *err) {
    snprintf(path, cap, "%s/master.key", data_dir);
    if (access(path, R_OK) == 0) return 0;
    uint8_t key[32];
    char hex[65];
    randombytes_buf(key, sizeof key);
    sodium_bin2hex(hex, sizeof hex, key, sizeof key);
    sodium_memzero(key, sizeof key);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) return err_set(err, R3E_EINTERNAL, "cannot create %s: %s", path, strerror(errno));
    ssize_t w = write(fd, hex, 64);
    sodium_memzero(hex, sizeof hex);
    close(fd);
    if (w != 64) return err_set(err, R3E_EINTERNAL, "cannot write %s", path);
    log_warn("DEV MODE: generated a master key for the secret vault at %s. Anyone who can "
             "read this file can decrypt every secret; outside development give the key "
             "with --master-key-file, R3E_MASTER_KEY_FILE or a Kubernetes Secret mount",
             path);
    return 0;
}

/* Finishes a rotation that is pending (a new current key, or an interrupted run). */
static int rotation_finish(vault_t *v, err_t *err) {
    vault_status_t st;
    if (vault_status(v, &st, err) != 0) return -1;
    if (!st.rotating && st.sealed >= st.current) return 0;
    if (vault_rotate_master(v, 0, &st, err) != 0) return -1;
    log_info("vault: master key rotation to version %u done (%zu records re-wrapped)", st.current,
             st.rewrapped);
    return 0;
}

int api_vault_open(const char *master_key_file, bool dev, const char *data_dir, store_t *store,
                   vault_t **out, err_t *err) {
    *out = NULL;
    /* every source ends up in vault_keyring_from_env, which reads and then forgets it */
    if (master_key_file && *master_key_file) {
        setenv("R3E_MASTER_KEY_FILE", master_key_file, 1);
    } else if (!env_set("R3E_MASTER_KEY_DIR") && !env_set("R3E_MASTER_KEY_FILE") &&
               !env_set("R3E_MASTER_KEY")) {
        struct stat st;
        if (stat(SECRETS_K8S_DIR, &st) == 0 && S_ISDIR(st.st_mode)) {
            setenv("R3E_MASTER_KEY_DIR", SECRETS_K8S_DIR, 1);
        } else if (dev) {
            char path[1100];
            if (dev_key_file(data_dir, path, sizeof path, err) != 0) return -1;
            setenv("R3E_MASTER_KEY_FILE", path, 1);
        }
    }
    vault_keyring_t *kr = NULL;
    if (vault_keyring_from_env(&kr, err) != 0) {
        if (err->code != R3E_ENOTFOUND) return -1;
        char *state = NULL;
        size_t len = 0;
        err_t e2;
        if (store_meta_get(store, "vault", "state", &state, &len, &e2) == 0) {
            free(state);
            return err_set(err, R3E_EINVAL,
                           "this store holds sealed secrets but no master key is configured: "
                           "give it with --master-key-file, R3E_MASTER_KEY_FILE, R3E_MASTER_KEY "
                           "or R3E_MASTER_KEY_DIR");
        }
        log_warn("no master key configured: the secret vault is disabled (secrets endpoints "
                 "answer 503); give one with --master-key-file or R3E_MASTER_KEY_FILE");
        return 0;
    }
    vault_t *v = NULL;
    if (vault_open(store, kr, &v, err) != 0) return -1;
    if (rotation_finish(v, err) != 0) {
        vault_close(v);
        return -1;
    }
    secrets_vault = v;
    *out = v;
    return 0;
}

/* ---- handlers ---- */

static vault_t *vault_or_503(http_req_t *r) {
    if (secrets_vault) return secrets_vault;
    http_send_error(r, R3E_EUNAVAIL,
                    "the secret vault is disabled: start the server with a master key "
                    "(--master-key-file, R3E_MASTER_KEY_FILE or R3E_MASTER_KEY)");
    return NULL;
}

/* 400 for impossible names, 404 for a function that does not exist in the namespace. */
static bool function_exists(http_req_t *r, const char *name) {
    if (!util_valid_name(name)) {
        http_send_error(r, R3E_EINVAL, "function name must match [a-z0-9][a-z0-9-]{0,62}");
        return false;
    }
    store_function_t f;
    err_t e;
    if (store_get_function(r->api->store, r->ns, name, &f, &e) == 0) return true;
    if (e.code == R3E_ENOTFOUND)
        http_send_error(r, R3E_ENOTFOUND, "function \"%s\" not found", name);
    else
        http_send_err(r, &e);
    return false;
}

static bool key_ok(http_req_t *r, const char *key) {
    if (vault_valid_name(key)) return true;
    http_send_error(r, R3E_EINVAL, "secret name must match [A-Za-z_][A-Za-z0-9_]{0,127}");
    return false;
}

void api_h_secrets_list(http_req_t *r, const route_match_t *m) {
    vault_t *v = vault_or_503(r);
    if (!v || !function_exists(r, m->params[0])) return;
    vault_entry_t *es = NULL;
    size_t n = 0;
    err_t e;
    if (vault_list(v, r->ns, m->params[0], &es, &n, &e) != 0) {
        http_send_err(r, &e);
        return;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, json_pack("{s:s,s:i,s:I}", "name", es[i].name, "version",
                                             (int)es[i].version, "created_ms",
                                             (json_int_t)es[i].created_ms));
    free(es);
    http_send_json(r, 200, json_pack("{s:s,s:o}", "function", m->params[0], "secrets", arr));
}

/* Body: the raw value, or {"value": "..."} when sent as JSON. */
static bool secret_value(http_req_t *r, const char **val, size_t *len, json_t **holder) {
    *holder = NULL;
    const char *ct = http_header(r, "Content-Type");
    if (r->body && ct && http_is_json_content_type(ct)) {
        json_t *o = http_require_json_object(r);
        if (!o) return false;
        json_t *jv = json_object_get(o, "value");
        if (!json_is_string(jv) || json_object_size(o) != 1) {
            json_decref(o);
            http_send_error(r, R3E_EINVAL, "the JSON body must be {\"value\": \"…\"}");
            return false;
        }
        *holder = o;
        *val = json_string_value(jv);
        *len = json_string_length(jv);
        return true;
    }
    *val = r->body ? r->body : "";
    *len = r->body_len;
    return true;
}

void api_h_secret_put(http_req_t *r, const route_match_t *m) {
    vault_t *v = vault_or_503(r);
    if (!v || !function_exists(r, m->params[0]) || !key_ok(r, m->params[1])) return;
    const char *val;
    size_t len;
    json_t *holder;
    if (!secret_value(r, &val, &len, &holder)) return;
    uint32_t version = 0;
    err_t e;
    int rc = len == 0 ? err_set(&e, R3E_EINVAL, "the secret value is empty")
                      : vault_put(v, r->ns, m->params[0], m->params[1], val, len, &version, &e);
    if (holder) {
        sodium_memzero((char *)val, len);
        json_decref(holder);
    }
    if (r->body) sodium_memzero(r->body, r->body_len);
    if (rc != 0) {
        http_send_err(r, &e);
        return;
    }
    log_info("secret %s of %s/%s set (version %u)", m->params[1], r->ns, m->params[0], version);
    http_send_json(r, version == 1 ? 201 : 200,
                   json_pack("{s:s,s:s,s:i}", "function", m->params[0], "name", m->params[1],
                             "version", (int)version));
}

void api_h_secret_delete(http_req_t *r, const route_match_t *m) {
    vault_t *v = vault_or_503(r);
    if (!v || !function_exists(r, m->params[0]) || !key_ok(r, m->params[1])) return;
    err_t e;
    if (vault_delete(v, r->ns, m->params[0], m->params[1], &e) != 0) {
        if (e.code == R3E_ENOTFOUND)
            http_send_error(r, R3E_ENOTFOUND, "secret \"%s\" not found", m->params[1]);
        else
            http_send_err(r, &e);
        return;
    }
    http_send_static(r, 204, NULL, "", 0);
}

/* Re-wraps every data key with the current master key (resumes an interrupted run) and
 * reports the vault's state: the old key is no longer needed once "rotating" is false. */
void api_h_rotate_master(http_req_t *r, const route_match_t *m) {
    (void)m;
    vault_t *v = vault_or_503(r);
    if (!v) return;
    vault_status_t st;
    err_t e;
    if (vault_rotate_master(v, 0, &st, &e) != 0) {
        http_send_err(r, &e);
        return;
    }
    http_send_json(r, 200,
                   json_pack("{s:i,s:i,s:b,s:I,s:I}", "current", (int)st.current, "sealed",
                             (int)st.sealed, "rotating", st.rotating, "scanned",
                             (json_int_t)st.scanned, "rewrapped", (json_int_t)st.rewrapped));
}
