/* In-process log fan-out. One mutex for the subscriber list (publishes are rare next to
 * a mutex's cost: one per finished invocation that has followers) and one per subscriber
 * for its queue, so a blocked reader never holds the bus lock. */
#include "api/logbus.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct logbus_line {
    struct logbus_line *next;
    size_t len;
    char text[];
} logbus_line_t;

struct logbus_sub {
    logbus_t *bus;
    struct logbus_sub *next;
    char function[132]; /* "ns/name" */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    logbus_line_t *head, *tail;
    size_t nlines, max_lines, dropped;
    size_t head_off; /* bytes of head already returned (long lines span reads) */
    bool closed;
};

struct logbus {
    pthread_mutex_t mu;
    logbus_sub_t *subs;
    atomic_int nsubs;
    bool closed;
};

logbus_t *logbus_new(void) {
    logbus_t *b = calloc(1, sizeof *b);
    if (!b) return NULL;
    pthread_mutex_init(&b->mu, NULL);
    return b;
}

static void logbus_sub_wake(logbus_sub_t *s) {
    pthread_mutex_lock(&s->mu);
    s->closed = true;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

void logbus_close(logbus_t *b) {
    if (!b) return;
    pthread_mutex_lock(&b->mu);
    b->closed = true;
    for (logbus_sub_t *s = b->subs; s; s = s->next)
        logbus_sub_wake(s);
    pthread_mutex_unlock(&b->mu);
}

void logbus_free(logbus_t *b) {
    if (!b) return;
    pthread_mutex_destroy(&b->mu);
    free(b);
}

bool logbus_has_subscribers(logbus_t *b, const char *function) {
    (void)function; /* a per-function count is not worth it until there are many followers */
    return b && atomic_load_explicit(&b->nsubs, memory_order_relaxed) > 0;
}

void logbus_publish(logbus_t *b, const char *function, const char *line, size_t len) {
    if (!logbus_has_subscribers(b, function)) return;
    pthread_mutex_lock(&b->mu);
    for (logbus_sub_t *s = b->subs; s; s = s->next) {
        if (strcmp(s->function, function) != 0) continue;
        pthread_mutex_lock(&s->mu);
        if (s->nlines >= s->max_lines) {
            s->dropped++;
        } else {
            logbus_line_t *l = malloc(sizeof *l + len);
            if (l) {
                l->next = NULL;
                l->len = len;
                memcpy(l->text, line, len);
                if (s->tail)
                    s->tail->next = l;
                else
                    s->head = l;
                s->tail = l;
                s->nlines++;
                pthread_cond_signal(&s->cv);
            }
        }
        pthread_mutex_unlock(&s->mu);
    }
    pthread_mutex_unlock(&b->mu);
}

logbus_sub_t *logbus_subscribe(logbus_t *b, const char *function, size_t max_lines) {
    logbus_sub_t *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->bus = b;
    s->max_lines = max_lines ? max_lines : 1;
    strncpy(s->function, function, sizeof s->function - 1);
    pthread_mutex_init(&s->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_lock(&b->mu);
    if (b->closed) {
        pthread_mutex_unlock(&b->mu);
        pthread_cond_destroy(&s->cv);
        pthread_mutex_destroy(&s->mu);
        free(s);
        return NULL;
    }
    s->next = b->subs;
    b->subs = s;
    atomic_fetch_add(&b->nsubs, 1);
    pthread_mutex_unlock(&b->mu);
    return s;
}

void logbus_unsubscribe(logbus_sub_t *s) {
    if (!s) return;
    logbus_t *b = s->bus;
    pthread_mutex_lock(&b->mu);
    for (logbus_sub_t **pp = &b->subs; *pp; pp = &(*pp)->next)
        if (*pp == s) {
            *pp = s->next;
            atomic_fetch_sub(&b->nsubs, 1);
            break;
        }
    pthread_mutex_unlock(&b->mu);
    for (logbus_line_t *l = s->head, *n; l; l = n) {
        n = l->next;
        free(l);
    }
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

long logbus_read(logbus_sub_t *s, char *buf, size_t cap, int timeout_ms) {
    struct timespec dl;
    clock_gettime(CLOCK_MONOTONIC, &dl);
    dl.tv_sec += timeout_ms / 1000;
    dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (dl.tv_nsec >= 1000000000L) dl.tv_sec++, dl.tv_nsec -= 1000000000L;
    pthread_mutex_lock(&s->mu);
    while (!s->head && !s->closed)
        if (pthread_cond_timedwait(&s->cv, &s->mu, &dl) == ETIMEDOUT) break;
    long out = 0;
    if (!s->head) {
        out = s->closed ? -1 : 0;
    } else {
        size_t used = 0;
        while (s->head && used < cap) {
            logbus_line_t *l = s->head;
            size_t left = l->len - s->head_off, take = left < cap - used ? left : cap - used;
            memcpy(buf + used, l->text + s->head_off, take);
            used += take;
            s->head_off += take;
            if (s->head_off < l->len) break; /* buffer full mid-line: rest next time */
            s->head = l->next;
            if (!s->head) s->tail = NULL;
            s->head_off = 0;
            s->nlines--;
            free(l);
        }
        out = (long)used;
    }
    pthread_mutex_unlock(&s->mu);
    return out;
}

size_t logbus_dropped(logbus_sub_t *s) {
    pthread_mutex_lock(&s->mu);
    size_t d = s->dropped;
    pthread_mutex_unlock(&s->mu);
    return d;
}
