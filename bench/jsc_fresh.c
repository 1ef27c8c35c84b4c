/* The engine's floor for "fresh" isolation: what one new JavaScriptCore global context plus
 * a small script costs, with none of r3e around it (no web API, no IPC, no store). Compare
 * with r3e's fresh CPU per request to see how much is the engine and how much is r3e.
 *
 *   cc -O2 -I src bench/jsc_fresh.c $(pkg-config --cflags --libs javascriptcoregtk-4.1)
 *   ./a.out [N]      -> one JSON line: wall and CPU (all threads, GC included) per context
 *
 * The group has the same periodic 10 ms execution-time-limit callback the worker installs,
 * so the engine pays for the same watchdog. bench/run.sh builds and runs this. */
#define _POSIX_C_SOURCE 200809L
#include "runtime/jsc_private.h"

#include <JavaScriptCore/JavaScript.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static JSContextGroupRef jf_group;

static bool jf_watchdog(JSContextRef ctx, void *unused) {
    (void)ctx, (void)unused;
    JSContextGroupSetExecutionTimeLimit(jf_group, 0.01, jf_watchdog, NULL);
    return false;
}

static double jf_us(clockid_t clock) {
    struct timespec t;
    clock_gettime(clock, &t);
    return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 3000;
    const int warmup = 200;
    if (n <= 0) n = 3000;
    jf_group = JSContextGroupCreate();
    JSContextGroupSetExecutionTimeLimit(jf_group, 0.01, jf_watchdog, NULL);
    JSStringRef src =
        JSStringCreateWithUTF8CString("var o = { a: [1, 2, 3], f(x) { return x + 1; } };"
                                      "for (let i = 0; i < 50; i++) o.f(i);"
                                      "JSON.stringify(o)");
    JSScriptRef script = JSScriptCreateFromString(jf_group, NULL, 1, src, NULL, NULL);
    JSStringRelease(src);
    if (!script) return 1;
    double wall0 = 0, cpu0 = 0;
    for (int i = 0; i < n + warmup; i++) {
        if (i == warmup) {
            wall0 = jf_us(CLOCK_MONOTONIC);
            cpu0 = jf_us(CLOCK_PROCESS_CPUTIME_ID);
        }
        JSGlobalContextRef ctx = JSGlobalContextCreateInGroup(jf_group, NULL);
        JSScriptEvaluate(ctx, script, NULL, NULL);
        JSGlobalContextRelease(ctx);
    }
    printf("{\"n\":%d,\"wall_us\":%.1f,\"cpu_us\":%.1f}\n", n, (jf_us(CLOCK_MONOTONIC) - wall0) / n,
           (jf_us(CLOCK_PROCESS_CPUTIME_ID) - cpu0) / n);
    JSScriptRelease(script);
    JSContextGroupRelease(jf_group);
    return 0;
}
