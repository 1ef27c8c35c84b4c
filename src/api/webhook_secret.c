/* Webhook HMAC secrets in the vault: sealing at creation, reading per delivery, deletion
 * with the trigger, and the start-up migration of plain-text records. See webhook_secret.h. */
#include "api/webhook_secret.h"

#include <stdlib.h>
#include <string.h>

#define WS_PAGE 500

int webhook_secret_seal(vault_t *v, json_t *rec, err_t *err) {
    json_t *src = json_object_get(rec, "source");
    const char *secret = json_string_value(json_object_get(src, "secret"));
    const char *id = json_string_value(json_object_get(rec, "id"));
    if (!secret) return 0;
    if (!id) return err_set(err, R3E_EINVAL, "webhook trigger record without an id");
    if (!v)
        return err_set(err, R3E_EUNAVAIL,
                       "webhook secrets are sealed in the secret vault, which is disabled: start "
                       "the server with a master key (--master-key-file or R3E_MASTER_KEY_FILE)");
    if (vault_put_system(v, WEBHOOK_SECRET_OWNER, id, secret, strlen(secret), err) < 0) return -1;
    json_object_del(src, "secret");
    json_object_set_new(src, "has_secret", json_true());
    return 0;
}

int webhook_secret_get(vault_t *v, const char *id, char **secret, size_t *len, err_t *err) {
    if (!v)
        return err_set(err, R3E_EUNAVAIL,
                       "this webhook's secret is sealed in the secret vault, which is disabled");
    return vault_get_system(v, WEBHOOK_SECRET_OWNER, id, secret, len, err);
}

int webhook_secret_delete(vault_t *v, const char *id, err_t *err) {
    return v ? vault_delete_system(v, WEBHOOK_SECRET_OWNER, id, err) : 0;
}

/* One record: seal, then rewrite. The record is rewritten only after the sealed secret is
 * durable, so an interrupted migration leaves a plain record that is migrated again. */
static int ws_migrate_one(store_t *s, vault_t *v, const char *key, json_t *rec, err_t *err) {
    if (webhook_secret_seal(v, rec, err) < 0) return -1;
    char *text = json_dumps(rec, JSON_COMPACT);
    if (!text) return err_set(err, R3E_EINTERNAL, "out of memory");
    int rc = store_meta_put(s, "trigger", key, text, strlen(text), err);
    free(text);
    return rc;
}

int webhook_secret_migrate(store_t *s, vault_t *v, size_t *migrated, size_t *left, err_t *err) {
    size_t done = 0, kept = 0;
    char *after = NULL;
    int rc = 0;
    for (;;) {
        char **keys = NULL, **vals = NULL;
        size_t n = 0;
        if (store_meta_list(s, "trigger", after, WS_PAGE, &keys, &vals, &n, err) < 0) {
            rc = -1;
            break;
        }
        for (size_t i = 0; i < n && rc == 0; i++) {
            json_t *rec = json_loads(vals[i], 0, NULL);
            const json_t *sec = json_object_get(json_object_get(rec, "source"), "secret");
            if (json_is_string(sec)) {
                if (!v)
                    kept++;
                else if (ws_migrate_one(s, v, keys[i], rec, err) < 0)
                    rc = -1;
                else
                    done++;
            }
            json_decref(rec);
        }
        free(after);
        after = n ? strdup(keys[n - 1]) : NULL;
        store_strv_free(keys, n);
        store_strv_free(vals, n);
        if (rc < 0 || n < WS_PAGE) break;
    }
    free(after);
    if (migrated) *migrated = done;
    if (left) *left = kept;
    return rc;
}
