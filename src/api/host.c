/* The host service table (see host.h). */
#include "api/host.h"

#include "obs/log.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define HOST_MAX_SVC 64

typedef struct {
    char name[48];
    host_svc_fn fn;
    void *ud;
} host_svc_t;

struct api_host {
    pthread_rwlock_t lock;
    host_svc_t svc[HOST_MAX_SVC];
    size_t n;
};

static struct api_host *host_table(api_t *api) {
    /* created on first registration, before any worker can call in */
    if (!api->host) {
        struct api_host *h = calloc(1, sizeof *h);
        if (!h) return NULL;
        pthread_rwlock_init(&h->lock, NULL);
        api->host = h;
    }
    return api->host;
}

int api_host_register(api_t *api, const char *svc, host_svc_fn fn, void *ud, err_t *err) {
    struct api_host *h = host_table(api);
    if (!h) return err_set(err, R3E_EINTERNAL, "out of memory");
    if (!svc || !*svc || strlen(svc) >= sizeof h->svc[0].name)
        return err_set(err, R3E_EINVAL, "host service name must be 1..47 bytes");
    int rc = 0;
    pthread_rwlock_wrlock(&h->lock);
    size_t i = 0;
    while (i < h->n && strcmp(h->svc[i].name, svc) != 0)
        i++;
    if (i == h->n) {
        if (h->n == HOST_MAX_SVC)
            rc = err_set(err, R3E_EINTERNAL, "too many host services");
        else
            h->n++;
    }
    if (rc == 0) {
        snprintf(h->svc[i].name, sizeof h->svc[i].name, "%s", svc);
        h->svc[i].fn = fn;
        h->svc[i].ud = ud;
    }
    pthread_rwlock_unlock(&h->lock);
    return rc;
}

json_t *api_host_dispatch(void *ud, const runtime_caller_t *who, const char *svc,
                          const json_t *args, json_t **rpc_error, err_t *err) {
    api_t *api = ud;
    struct api_host *h = api->host;
    host_svc_fn fn = NULL;
    void *sud = NULL;
    if (h) {
        pthread_rwlock_rdlock(&h->lock);
        for (size_t i = 0; i < h->n; i++) {
            if (strcmp(h->svc[i].name, svc) == 0) {
                fn = h->svc[i].fn;
                sud = h->svc[i].ud;
                break;
            }
        }
        pthread_rwlock_unlock(&h->lock);
    }
    if (!fn) {
        err_set(err, R3E_EUNAVAIL, "%.60s is not available on this server", svc);
        return NULL;
    }
    return fn(sud, who, args, rpc_error, err);
}

void api_host_free(api_t *api) {
    if (!api->host) return;
    pthread_rwlock_destroy(&api->host->lock);
    free(api->host);
    api->host = NULL;
}
