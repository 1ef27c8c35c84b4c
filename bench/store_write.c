/* What one execution record costs the store, and what batching records would save.
 *
 *   cc -O2 -g -Isrc -o build-perf/store_write bench/store_write.c build-perf/libr3e_core.a \
 *      -lrocksdb -ljansson -lsodium -lcrypto -lpthread
 *   build-perf/store_write DIR put|new K THREADS N
 *
 * DIR: a new RocksDB directory (removed first by the caller). Writes N warm-hello-sized
 * execution records per thread with THREADS threads at once:
 *   put  store_put_execution, one record per write (reads for an older record first)
 *   new  store_meta_write_execs with K records per write (no read; K = 1 is what the
 *        synchronous invoke path does since commit 89b50f8, K > 1 is what a group commit
 *        of K invocations would do)
 * Prints process CPU (user + system, all threads including RocksDB's own) and wall time
 * per record. Same durability as the server: WAL on, no fsync unless R3E_SYNC=1. */
#include "core/util.h"
#include "store/store.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#define KMAX 64

static store_t *S;
static int N, K, USE_PUT;
static char REC[600];

static double cpu_s(void) {
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return (double)(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
           (double)(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

static double wall_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void *writer(void *arg) {
    (void)arg;
    err_t e;
    char ids[KMAX][27];
    store_exec_put_t x[KMAX];
    for (int i = 0; i < N; i += K) {
        for (int k = 0; k < K; k++) {
            util_ulid(ids[k]);
            x[k] = (store_exec_put_t){"default", "hello", ids[k], REC};
        }
        int rc = USE_PUT ? store_put_execution(S, "default", "hello", ids[0], REC, &e)
                         : store_meta_write_execs(S, NULL, 0, x, (size_t)K, &e);
        if (rc != 0) {
            fprintf(stderr, "store_write: %s\n", e.msg);
            exit(1);
        }
    }
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 6) {
        fprintf(stderr, "usage: store_write DIR put|new K THREADS N\n");
        return 2;
    }
    err_t e;
    S = store_rocks_open(argv[1], &e);
    if (!S) {
        fprintf(stderr, "store_write: %s\n", e.msg);
        return 1;
    }
    USE_PUT = strcmp(argv[2], "put") == 0;
    K = USE_PUT ? 1 : atoi(argv[3]);
    int threads = atoi(argv[4]);
    N = atoi(argv[5]);
    if (K < 1 || K > KMAX || threads < 1 || threads > 64 || N < 1) {
        fprintf(stderr, "store_write: K 1..%d, THREADS 1..64, N >= 1\n", KMAX);
        return 2;
    }
    /* the record of a warm "hello" through /fn/hello, as inv_build_record writes it */
    snprintf(REC, sizeof REC,
             "{\"execution_id\":\"01KAAAAAAAAAAAAAAAAAAAAAAA\",\"function\":\"hello\","
             "\"version\":1,\"status\":\"ok\",\"result\":{\"status\":200,\"headers\":"
             "{\"content-type\":\"text/plain\"},\"body\":\"hello\"},\"logs\":[],"
             "\"duration_us\":61,\"cold\":false,\"started_at\":\"2026-11-30T04:15:02.123Z\","
             "\"request_id\":\"0123456789abcdef0123456789abcdef\"}");
    pthread_t th[64];
    double c0 = cpu_s(), w0 = wall_s();
    for (int i = 0; i < threads; i++)
        pthread_create(&th[i], NULL, writer, NULL);
    for (int i = 0; i < threads; i++)
        pthread_join(th[i], NULL);
    double c1 = cpu_s(), w1 = wall_s();
    long recs = (long)N * threads;
    printf("%s k=%d threads=%d records=%ld: %.2f us CPU/record, %.2f us wall/record\n", argv[2], K,
           threads, recs, (c1 - c0) * 1e6 / (double)recs, (w1 - w0) * 1e6 / (double)recs);
    store_close(S);
    return 0;
}
