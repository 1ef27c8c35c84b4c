/* Master keys held by this process: parsed from files, the environment or a Kubernetes
 * Secret mount, kept in sodium_malloc'd (guarded, locked where possible) memory. */
#include "vault/vault_internal.h"
#include "vault/vault_record.h"

#include "core/util.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define KEYRING_MAX 16

typedef struct {
    uint32_t version;
    uint8_t *key; /* sodium_malloc'd VAULT_KEY_BYTES */
} keyring_entry_t;

struct vault_keyring {
    keyring_entry_t e[KEYRING_MAX];
    size_t n;
};

vault_keyring_t *vault_keyring_new(void) {
    if (sodium_init() < 0) return NULL;
    return calloc(1, sizeof(vault_keyring_t));
}

void vault_keyring_free(vault_keyring_t *kr) {
    if (!kr) return;
    for (size_t i = 0; i < kr->n; i++)
        sodium_free(kr->e[i].key); /* sodium_free zeroes */
    free(kr);
}

bool vault_keyring_has(const vault_keyring_t *kr, uint32_t version) {
    for (size_t i = 0; kr && i < kr->n; i++)
        if (kr->e[i].version == version) return true;
    return false;
}

uint32_t vault_keyring_current(const vault_keyring_t *kr) {
    uint32_t v = 0;
    for (size_t i = 0; kr && i < kr->n; i++)
        if (kr->e[i].version > v) v = kr->e[i].version;
    return v;
}

size_t vault_keyring_count(const vault_keyring_t *kr) {
    return kr ? kr->n : 0;
}

const uint8_t *vault_keyring_at(const vault_keyring_t *kr, size_t i, uint32_t *version) {
    *version = kr->e[i].version;
    return kr->e[i].key;
}

const uint8_t *vault_keyring_key(const vault_keyring_t *kr, uint32_t version) {
    for (size_t i = 0; kr && i < kr->n; i++)
        if (kr->e[i].version == version) return kr->e[i].key;
    return NULL;
}

int vault_keyring_add(vault_keyring_t *kr, uint32_t version, const uint8_t key[32], err_t *err) {
    if (!kr || !key) return err_set(err, R3E_EINVAL, "keyring: missing argument");
    if (version == 0) return err_set(err, R3E_EINVAL, "master key version must be >= 1");
    if (vault_keyring_has(kr, version))
        return err_set(err, R3E_EEXIST, "master key version %u given twice", version);
    if (kr->n == KEYRING_MAX)
        return err_set(err, R3E_ELIMIT, "at most %d master keys can be loaded", KEYRING_MAX);
    uint8_t *k = sodium_malloc(VAULT_KEY_BYTES);
    if (!k) return err_set(err, R3E_EINTERNAL, "out of memory");
    memcpy(k, key, VAULT_KEY_BYTES);
    kr->e[kr->n++] = (keyring_entry_t){.version = version, .key = k};
    return 0;
}

int vault_keyring_add_encoded(vault_keyring_t *kr, uint32_t version, const char *data, size_t len,
                              err_t *err) {
    if (!data) return err_set(err, R3E_EINVAL, "master key: missing");
    if (len == VAULT_KEY_BYTES) return vault_keyring_add(kr, version, (const uint8_t *)data, err);
    while (len && isspace((unsigned char)data[len - 1]))
        len--;
    while (len && isspace((unsigned char)*data))
        data++, len--;
    uint8_t key[VAULT_KEY_BYTES];
    size_t kl = 0;
    const char *end = NULL;
    int ok = 0;
    if (len == 2 * VAULT_KEY_BYTES) {
        ok = sodium_hex2bin(key, sizeof key, data, len, NULL, &kl, &end) == 0 &&
             end == data + len && kl == sizeof key;
    } else {
        static const int variants[] = {
            sodium_base64_VARIANT_ORIGINAL, sodium_base64_VARIANT_ORIGINAL_NO_PADDING,
            sodium_base64_VARIANT_URLSAFE, sodium_base64_VARIANT_URLSAFE_NO_PADDING};
        for (size_t i = 0; !ok && i < sizeof variants / sizeof *variants; i++)
            ok = sodium_base642bin(key, sizeof key, data, len, NULL, &kl, &end, variants[i]) == 0 &&
                 end == data + len && kl == sizeof key;
    }
    int rc = ok ? vault_keyring_add(kr, version, key, err)
                : err_set(err, R3E_EINVAL,
                          "master key version %u: expected 32 raw bytes, 64 hex characters or "
                          "base64 of 32 bytes",
                          version);
    sodium_memzero(key, sizeof key);
    return rc;
}

int vault_keyring_add_file(vault_keyring_t *kr, uint32_t version, const char *path, err_t *err) {
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return err_set(err, R3E_EINVAL,
                       "master key file %s is a directory (for a directory of versioned keys "
                       "use R3E_MASTER_KEY_DIR)",
                       path);
    size_t len;
    char *buf = util_read_file(path, &len);
    if (!buf) return err_set(err, R3E_EIO, "master key file %s: %s", path, strerror(errno));
    int rc = vault_keyring_add_encoded(kr, version, buf, len, err);
    sodium_memzero(buf, len);
    free(buf);
    if (rc != 0 && err && err->code == R3E_EINVAL) {
        char msg[sizeof err->msg];
        snprintf(msg, sizeof msg, "%s", err->msg);
        err_set(err, R3E_EINVAL, "%s (file %s)", msg, path);
    }
    return rc;
}

static bool parse_version(const char *s, uint32_t *v) {
    if (!s || !*s || strlen(s) > 9) return false;
    for (const char *p = s; *p; p++)
        if (!isdigit((unsigned char)*p)) return false;
    unsigned long x = strtoul(s, NULL, 10);
    if (x == 0) return false;
    *v = (uint32_t)x;
    return true;
}

int vault_keyring_add_dir(vault_keyring_t *kr, const char *dir, err_t *err) {
    DIR *d = opendir(dir);
    if (!d) return err_set(err, R3E_EIO, "master key directory %s: %s", dir, strerror(errno));
    size_t added = 0;
    int rc = 0;
    struct dirent *de;
    while (rc == 0 && (de = readdir(d))) {
        uint32_t v;
        if (!parse_version(de->d_name, &v)) continue; /* ".", "..data", README, ... */
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        rc = vault_keyring_add_file(kr, v, path, err);
        added++;
    }
    closedir(d);
    if (rc == 0 && added == 0)
        rc = err_set(err, R3E_EINVAL,
                     "master key directory %s has no key file named by a version (1, 2, ...)", dir);
    return rc;
}

static const char *env_nonempty(const char *name) {
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

static int env_version(const char *name, uint32_t dflt, uint32_t *out, err_t *err) {
    const char *s = env_nonempty(name);
    if (!s) {
        *out = dflt;
        return 0;
    }
    if (!parse_version(s, out)) return err_set(err, R3E_EINVAL, "%s must be a number >= 1", name);
    return 0;
}

/* One of FILE or the inline variable for a key slot; both set is ambiguous. */
static int env_key(vault_keyring_t *kr, const char *file_var, const char *inline_var,
                   uint32_t version, err_t *err) {
    const char *file = env_nonempty(file_var), *text = env_nonempty(inline_var);
    if (file && text)
        return err_set(err, R3E_EINVAL, "set %s or %s, not both", file_var, inline_var);
    if (file) return vault_keyring_add_file(kr, version, file, err);
    if (!text) return 0;
    int rc = vault_keyring_add_encoded(kr, version, text, strlen(text), err);
    /* A key in the environment would be inherited by every process the server starts
     * (workers included): wipe the value in place, then drop the variable. */
    sodium_memzero((char *)text, strlen(text));
    unsetenv(inline_var);
    return rc;
}

int vault_keyring_from_env(vault_keyring_t **out, err_t *err) {
    vault_keyring_t *kr = vault_keyring_new();
    if (!kr) return err_set(err, R3E_EINTERNAL, "libsodium failed to initialise");
    const char *dir = env_nonempty("R3E_MASTER_KEY_DIR");
    bool single = env_nonempty("R3E_MASTER_KEY_FILE") || env_nonempty("R3E_MASTER_KEY");
    bool has_old = env_nonempty("R3E_MASTER_KEY_OLD_FILE") || env_nonempty("R3E_MASTER_KEY_OLD");
    int rc = 0;
    if (has_old && !single) {
        rc = err_set(err, R3E_EINVAL,
                     "an old master key is set without a current one (R3E_MASTER_KEY_FILE or "
                     "R3E_MASTER_KEY)");
    } else if (dir && single) {
        rc = err_set(err, R3E_EINVAL,
                     "set R3E_MASTER_KEY_DIR or R3E_MASTER_KEY_FILE/R3E_MASTER_KEY, not both");
    } else if (dir) {
        rc = vault_keyring_add_dir(kr, dir, err);
    } else if (single) {
        uint32_t cur = 1, old = 0;
        rc = env_version("R3E_MASTER_KEY_VERSION", 1, &cur, err);
        if (rc == 0) rc = env_key(kr, "R3E_MASTER_KEY_FILE", "R3E_MASTER_KEY", cur, err);
        if (rc == 0) rc = env_version("R3E_MASTER_KEY_OLD_VERSION", cur - 1, &old, err);
        if (rc == 0 && has_old) {
            if (old == 0 || old >= cur)
                rc = err_set(err, R3E_EINVAL,
                             "the old master key needs a version below the current one (%u); "
                             "set R3E_MASTER_KEY_VERSION / R3E_MASTER_KEY_OLD_VERSION",
                             cur);
            else
                rc = env_key(kr, "R3E_MASTER_KEY_OLD_FILE", "R3E_MASTER_KEY_OLD", old, err);
        }
    } else {
        rc =
            err_set(err, R3E_ENOTFOUND,
                    "no master key: set R3E_MASTER_KEY_DIR, R3E_MASTER_KEY_FILE or R3E_MASTER_KEY");
    }
    if (rc != 0) {
        vault_keyring_free(kr);
        return -1;
    }
    *out = kr;
    return 0;
}
