/* The worker's seccomp lockdown: after sbx_lockdown() a process can still run threads,
 * allocate and open TCP sockets, but cannot start processes or change the filesystem.
 * Each case runs in a forked child because the filter cannot be removed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "runtime/sandbox.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static void *thread_main(void *arg) {
    return arg;
}

/* Child body: returns a bit per expectation that failed (0 = all good). */
static int locked_child(void) {
    int bad = 0;
    if (sbx_lockdown() != 0) return 1;
    pthread_t t;
    void *ret = NULL;
    if (pthread_create(&t, NULL, thread_main, (void *)7) != 0 || pthread_join(t, &ret) != 0 ||
        ret != (void *)7)
        bad |= 2; /* threads still work */
    pid_t p = fork();
    if (p == 0) _exit(0);
    if (p >= 0 || errno != EPERM) bad |= 4; /* no new processes */
    char *argv[] = {"/bin/true", NULL};
    execv("/bin/true", argv);
    if (errno != EPERM) bad |= 8;
    if (mkdir("/tmp/r3e-lockdown-test-dir", 0700) == 0 || errno != EPERM) bad |= 16;
    int s = socket(AF_INET, SOCK_STREAM, 0);
    if (s < 0)
        bad |= 32; /* fetch needs TCP */
    else
        close(s);
    if (socket(AF_INET, SOCK_RAW, 1) >= 0 || errno != EPERM) bad |= 64;
    void *mem = malloc(1 << 20);
    if (!mem) bad |= 128;
    free(mem);
    return bad;
}

static void test_lockdown_blocks_processes_and_fs_changes_but_not_threads_or_tcp(void **state) {
    (void)state;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) _exit(locked_child());
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    rmdir("/tmp/r3e-lockdown-test-dir");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lockdown_blocks_processes_and_fs_changes_but_not_threads_or_tcp),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
