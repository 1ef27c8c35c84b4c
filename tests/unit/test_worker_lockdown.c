/* The worker's seccomp lockdown (sandbox_lockdown.c): an allow-list. After it a process
 * can still run threads, allocate, read files and open TCP/UDP sockets; anything outside
 * the list (processes, exec, file creation, mounts, ptrace, io_uring, …) raises SIGSYS
 * and kills it; a few probes get an errno instead. Each case runs in a forked child
 * because a filter cannot be removed, with SIGSYS at its default action (cmocka's own
 * handler would catch it). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "runtime/sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static void *thread_main(void *arg) {
    return arg;
}

/* Runs body in a locked-down child; returns its wait status. */
static int run_locked(int (*body)(void)) {
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        signal(SIGSYS, SIG_DFL);
        struct rlimit no_core = {0, 0};
        setrlimit(RLIMIT_CORE, &no_core);
        if (sbx_lockdown() != 0) _exit(100);
        _exit(body());
    }
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    return st;
}

static void assert_exit_zero(int st) {
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
}

static void assert_killed_by_sigsys(int st) {
    assert_true(WIFSIGNALED(st));
    assert_int_equal(WTERMSIG(st), SIGSYS);
}

/* What the engine, fetch and the IPC need keeps working. Returns a bit per failure. */
static int allowed_body(void) {
    int bad = 0;
    pthread_t t;
    void *ret = NULL;
    if (pthread_create(&t, NULL, thread_main, (void *)7) != 0 || pthread_join(t, &ret) != 0 ||
        ret != (void *)7)
        bad |= 1;
    void *mem = malloc(8 << 20);
    if (!mem) bad |= 2;
    free(mem);
    void *p = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED || mprotect(p, 4096, PROT_READ | PROT_EXEC) != 0) bad |= 4; /* JIT */
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0) bad |= 8;
    close(s);
    s = socket(AF_INET6, SOCK_DGRAM, 0); /* DNS */
    if (s < 0) bad |= 16;
    close(s);
    int fd = open("/etc/hosts", O_RDONLY | O_CLOEXEC);
    if (fd < 0) bad |= 32;
    close(fd);
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0 || write(sv[0], "x", 1) != 1) bad |= 64;
    struct timespec ts = {0, 1000};
    if (nanosleep(&ts, NULL) != 0) bad |= 128;
    char rnd[16];
    if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd) bad |= 256;
    return bad;
}

static void test_allowed_syscalls_keep_threads_memory_tcp_and_reads_working(void **state) {
    (void)state;
    assert_exit_zero(run_locked(allowed_body));
}

/* Probed by libraries: refused with an errno the caller handles, not a kill. */
static int probe_body(void) {
    int bad = 0;
    if (socket(AF_UNIX, SOCK_STREAM, 0) >= 0 || errno != EAFNOSUPPORT) bad |= 1; /* nscd */
    if (socket(AF_NETLINK, SOCK_RAW, 0) >= 0 || errno != EAFNOSUPPORT) bad |= 2;
    if (socket(AF_PACKET, SOCK_RAW, 0) >= 0 || errno != EAFNOSUPPORT) bad |= 4;
    if (socket(AF_INET, SOCK_RAW, 1) >= 0 || errno != EPERM) bad |= 8;
    if (syscall(SYS_clone3, NULL, 0) != -1 || errno != ENOSYS) bad |= 16; /* glibc falls back */
    return bad;
}

static void test_probed_syscalls_get_an_errno(void **state) {
    (void)state;
    assert_exit_zero(run_locked(probe_body));
}

static int do_fork(void) {
    pid_t p = fork();
    if (p == 0) _exit(0);
    return 1;
}
static int do_exec(void) {
    char *argv[] = {"/bin/true", NULL};
    execv("/bin/true", argv);
    return 1;
}
static int do_create(void) {
    open("/tmp/r3e-lockdown-test-file", O_WRONLY | O_CREAT, 0600);
    return 1;
}
static int do_write_open(void) {
    open("/etc/hosts", O_RDWR);
    return 1;
}
static int do_mkdir(void) {
    mkdir("/tmp/r3e-lockdown-test-dir", 0700);
    return 1;
}
static int do_unlink(void) {
    unlink("/tmp/r3e-lockdown-test-nothing");
    return 1;
}
static int do_ptrace(void) {
    syscall(SYS_ptrace, 0, 0, 0, 0);
    return 1;
}
static int do_setuid(void) {
    syscall(SYS_setuid, 0);
    return 1;
}
static int do_mount(void) {
    syscall(SYS_mount, "none", "/mnt", "tmpfs", 0, NULL);
    return 1;
}
static int do_io_uring(void) {
    syscall(SYS_io_uring_setup, 1, NULL);
    return 1;
}
static int do_bpf(void) {
    syscall(SYS_bpf, 0, NULL, 0);
    return 1;
}
static int do_kill_other(void) {
    kill(1, 0);
    return 1;
}

static void test_forbidden_syscalls_kill_with_sigsys(void **state) {
    (void)state;
    int (*const bodies[])(void) = {do_fork,  do_exec,     do_create, do_write_open,
                                   do_mkdir, do_unlink,   do_ptrace, do_setuid,
                                   do_mount, do_io_uring, do_bpf,    do_kill_other};
    for (size_t k = 0; k < sizeof bodies / sizeof *bodies; k++)
        assert_killed_by_sigsys(run_locked(bodies[k]));
    struct stat st;
    assert_int_not_equal(stat("/tmp/r3e-lockdown-test-file", &st), 0);
    assert_int_not_equal(stat("/tmp/r3e-lockdown-test-dir", &st), 0);
}

/* The SIGSYS handler names the syscall from a table filled at install time. */
static int names_body(void) {
    const char *n = sbx_lockdown_syscall_name(SYS_execve);
    if (!n || strcmp(n, "execve") != 0) return 1;
    n = sbx_lockdown_syscall_name(SYS_openat);
    if (!n || strcmp(n, "openat") != 0) return 2;
    return sbx_lockdown_syscall_name(-1) == NULL ? 0 : 3;
}

static void test_syscall_names_are_precomputed_for_the_sigsys_handler(void **state) {
    (void)state;
    assert_exit_zero(run_locked(names_body));
}

/* Capabilities, dumpable flag and rlimits. */
static int limits_body(void) {
    int bad = 0;
    if (prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 0) bad |= 1;
    if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1) bad |= 2;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur > 256) bad |= 4;
    if (getrlimit(RLIMIT_CORE, &rl) != 0 || rl.rlim_cur != 0) bad |= 8;
    return bad;
}

static void test_lockdown_sets_no_new_privs_not_dumpable_and_rlimits(void **state) {
    (void)state;
    assert_exit_zero(run_locked(limits_body));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_allowed_syscalls_keep_threads_memory_tcp_and_reads_working),
        cmocka_unit_test(test_probed_syscalls_get_an_errno),
        cmocka_unit_test(test_forbidden_syscalls_kill_with_sigsys),
        cmocka_unit_test(test_syscall_names_are_precomputed_for_the_sigsys_handler),
        cmocka_unit_test(test_lockdown_sets_no_new_privs_not_dumpable_and_rlimits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
