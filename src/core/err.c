/* Error values and the single code -> (name, HTTP status) table. */
#include "core/err.h"

#include <stdio.h>
#include <string.h>

static const struct {
    const char *name;
    int http;
} err_table[] = {
    [R3E_OK] = {"ok", 200},
    [R3E_EINVAL] = {"invalid_argument", 400},
    [R3E_ENOTFOUND] = {"not_found", 404},
    [R3E_EEXIST] = {"already_exists", 409},
    [R3E_ETOOBIG] = {"payload_too_large", 413},
    [R3E_EMEDIA] = {"unsupported_media_type", 415},
    [R3E_ELIMIT] = {"too_many_requests", 429},
    [R3E_EUNAVAIL] = {"unavailable", 503},
    [R3E_ETIMEOUT] = {"timeout", 504},
    [R3E_EUNAUTH] = {"unauthenticated", 401},
    [R3E_EFORBIDDEN] = {"permission_denied", 403},
    [R3E_EMETHOD] = {"method_not_allowed", 405},
    [R3E_EIO] = {"io_error", 500},
    [R3E_EINTERNAL] = {"internal", 500},
    [R3E_EUPSTREAM] = {"upstream_error", 502},
};

int err_setv(err_t *err, err_code_t code, const char *fmt, va_list ap) {
    if (err) {
        err->code = code;
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    }
    return -1;
}

int err_set(err_t *err, err_code_t code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    err_setv(err, code, fmt, ap);
    va_end(ap);
    return -1;
}

void err_clear(err_t *err) {
    if (err) {
        err->code = R3E_OK;
        err->msg[0] = '\0';
    }
}

const char *err_code_name(err_code_t code) {
    if ((unsigned)code >= sizeof err_table / sizeof err_table[0]) return "internal";
    return err_table[code].name;
}

int err_http_status(err_code_t code) {
    if ((unsigned)code >= sizeof err_table / sizeof err_table[0]) return 500;
    return err_table[code].http;
}
