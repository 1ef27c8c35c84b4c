/* Errors are values: a code plus a human message, filled by the callee.
 * The API layer maps codes to HTTP statuses in one table (err_http_status). */
#ifndef R3E_CORE_ERR_H
#define R3E_CORE_ERR_H

#include <stdarg.h>

typedef enum {
    R3E_OK = 0,
    R3E_EINVAL,     /* invalid_argument: caller sent something malformed   -> 400 */
    R3E_ENOTFOUND,  /* not_found                                           -> 404 */
    R3E_EEXIST,     /* already_exists / conflict                           -> 409 */
    R3E_ETOOBIG,    /* payload_too_large                                   -> 413 */
    R3E_EMEDIA,     /* unsupported_media_type                              -> 415 */
    R3E_ELIMIT,     /* too_many_requests (concurrency / rate limit)        -> 429 */
    R3E_EUNAVAIL,   /* unavailable: no worker, shutting down               -> 503 */
    R3E_ETIMEOUT,   /* timeout                                             -> 504 */
    R3E_EUNAUTH,    /* unauthenticated                                     -> 401 */
    R3E_EFORBIDDEN, /* permission_denied                                   -> 403 */
    R3E_EMETHOD,    /* method_not_allowed                                  -> 405 */
    R3E_EIO,        /* storage or I/O failure                              -> 500 */
    R3E_EINTERNAL,  /* a bug                                               -> 500 */
    R3E_EUPSTREAM,  /* upstream_error: a blockchain node or other upstream said no -> 502 */
} err_code_t;

typedef struct {
    err_code_t code;
    char msg[512];
} err_t;

/* Sets *err (when err is non-NULL) and returns -1, so callers can `return err_set(...)`. */
int err_set(err_t *err, err_code_t code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int err_setv(err_t *err, err_code_t code, const char *fmt, va_list ap);
void err_clear(err_t *err);

/* Stable machine-readable name used in the API error shape, e.g. "not_found". */
const char *err_code_name(err_code_t code);
int err_http_status(err_code_t code);

#endif
