/* Worker lockdown (DESIGN.md "no ambient authority", issue 4 "Hardened workers").
 *
 * After start-up (engine initialised, a context prewarmed, the curl multi handle made)
 * a worker needs memory, threads, time, randomness, its socket to the server, outbound
 * TCP/UDP for fetch and DNS, and a few read-only opens (resolver configuration, CA
 * certificates). The seccomp filter is an ALLOW-list of exactly that; every other
 * syscall traps (SIGSYS): worker.c's handler reports the syscall's name to the server in
 * a "fatal" frame and the worker dies, so the invocation ends `crashed` and only that
 * worker is lost. The list was found empirically (strace -ff of the worker under the e2e
 * suites, sanitizer build included) and is documented in docs/security.md; the same list
 * is the Kubernetes profile in deploy/seccomp/r3e-worker.json.
 *
 * Refusals that libraries are known to probe and handle get an errno instead of a trap:
 * clone3 -> ENOSYS (glibc falls back to clone, whose flags a filter can read), socket()
 * of another family or a raw/packet type -> EAFNOSUPPORT / EPERM (glibc's resolver probes
 * AF_NETLINK and the nscd AF_UNIX socket and falls back).
 *
 * Also: no_new_privs, every capability dropped (bounding set too), not dumpable (no core,
 * no ptrace by the same uid, /proc/<pid> owned by root), rlimits on files and processes. */
#include "runtime/sandbox.h"

#include "obs/log.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <sched.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef PR_SET_VMA
#define PR_SET_VMA 0x53564d41
#endif

#define LOCK_NOFILE 256
#define LOCK_NPROC 4096

/* Allowed without argument checks. Grouped by who needs them. */
const char *const sbx_lockdown_allowed[] = {
    /* memory (JavaScriptCore's allocators, Gigacage, JIT pages, glibc malloc) */
    "mmap", "munmap", "mprotect", "madvise", "mremap", "brk", "mlock", "munlock", "mincore",
    "membarrier",
    /* threads and synchronisation (GC and JIT threads, curl's resolver thread) */
    "futex", "futex_waitv", "set_robust_list", "get_robust_list", "rseq", "set_tid_address",
    "sched_yield", "sched_getaffinity", "sched_getparam", "sched_getscheduler",
    "sched_get_priority_min", "sched_get_priority_max", "sched_setscheduler", "sched_setparam",
    "getpriority", "setpriority", "gettid", "getpid", "getppid", "getuid", "geteuid", "getgid",
    "getegid", "getresuid", "getresgid", "exit", "exit_group", "restart_syscall",
    /* signals (fatal handlers on the alternate stack, the engine's thread suspension) */
    "rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "sigaltstack", "rt_sigtimedwait",
    "rt_sigsuspend",
    /* time and randomness */
    "clock_gettime", "clock_getres", "gettimeofday", "time", "nanosleep", "clock_nanosleep",
    "getrandom", "getrusage", "times", "sysinfo",
    /* file descriptors already open (IPC socket, stderr, /proc/self/statm, curl's sockets) */
    "read", "write", "readv", "writev", "pread64", "pwrite64", "close", "fstat", "newfstatat",
    "statx", "lseek", "fcntl", "dup", "dup3", "ioctl", "faccessat", "faccessat2", "access",
    "readlink", "readlinkat", "getdents64", "statfs", "fstatfs", "uname", "getcwd", "prlimit64",
    "getrlimit", "setrlimit", "pipe2", "eventfd2",
    /* network (fetch through libcurl; DNS through glibc's resolver) */
    "connect", "sendto", "recvfrom", "sendmsg", "recvmsg", "sendmmsg", "recvmmsg", "shutdown",
    "getsockopt", "setsockopt", "getsockname", "getpeername", "bind", "socketpair", "poll", "ppoll",
    "select", "pselect6", "epoll_create1", "epoll_ctl", "epoll_wait", "epoll_pwait", "epoll_pwait2",
    NULL};

/* Names of syscall numbers, filled at install time: libseccomp's resolver allocates, the
 * SIGSYS handler must not. */
#define LOCK_NAMES 512
static char lock_names[LOCK_NAMES][24];

static void names_precompute(void) {
    for (int nr = 0; nr < LOCK_NAMES; nr++) {
        char *n = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
        if (n) snprintf(lock_names[nr], sizeof lock_names[nr], "%s", n);
        free(n);
    }
}

const char *sbx_lockdown_syscall_name(int nr) {
    return nr >= 0 && nr < LOCK_NAMES && lock_names[nr][0] ? lock_names[nr] : NULL;
}

static void caps_drop(void) {
    for (int cap = 0; cap <= CAP_LAST_CAP; cap++)
        prctl(PR_CAPBSET_DROP, cap, 0, 0, 0);
    /* empty the effective/permitted/inheritable sets (no libcap needed for "all off") */
    struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct data[2];
    memset(data, 0, sizeof data);
    syscall(SYS_capset, &hdr, data);
}

static void limit_set(int res, rlim_t v) {
    struct rlimit rl;
    if (getrlimit(res, &rl) != 0) return;
    if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < v) v = rl.rlim_max;
    rl.rlim_cur = rl.rlim_max = v;
    setrlimit(res, &rl);
}

/* RLIMIT_NPROC counts every thread of the real uid and is not enforced for root; the
 * filter is what stops process creation, this only caps a thread flood as non-root.
 * RLIMIT_FSIZE 0 would make a log write kill the worker when stderr is a regular file
 * (SIGXFSZ), so it is set only when it is not. */
static void limits_apply(void) {
    limit_set(RLIMIT_CORE, 0);
    limit_set(RLIMIT_NOFILE, LOCK_NOFILE);
    limit_set(RLIMIT_NPROC, LOCK_NPROC);
    struct stat st;
    if (fstat(2, &st) != 0 || !S_ISREG(st.st_mode)) limit_set(RLIMIT_FSIZE, 0);
}

static int rules_add(scmp_filter_ctx f) {
    int rc = 0;
    for (int k = 0; rc == 0 && sbx_lockdown_allowed[k]; k++) {
        int nr = seccomp_syscall_resolve_name(sbx_lockdown_allowed[k]);
        if (nr == __NR_SCMP_ERROR) continue; /* not on this architecture */
        rc = seccomp_rule_add(f, SCMP_ACT_ALLOW, nr, 0);
    }
    /* clone: threads only. clone3 passes flags in memory a filter cannot read. */
    if (rc == 0)
        rc = seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
                              SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD));
    if (rc == 0) rc = seccomp_rule_add(f, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
    /* openat: read-only, never creating or truncating (resolver files, CA bundle, /proc) */
    if (rc == 0)
        rc = seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(openat), 1,
                              SCMP_A2(SCMP_CMP_MASKED_EQ, O_ACCMODE | O_CREAT | O_TRUNC, 0));
    /* open (the sanitizers' runtime still uses it): same condition on its flags */
    int open_nr = seccomp_syscall_resolve_name("open");
    if (rc == 0 && open_nr != __NR_SCMP_ERROR)
        rc = seccomp_rule_add(f, SCMP_ACT_ALLOW, open_nr, 1,
                              SCMP_A1(SCMP_CMP_MASKED_EQ, O_ACCMODE | O_CREAT | O_TRUNC, 0));
    /* socket: IPv4/IPv6 stream and datagram; other families refused with an errno */
    const int fams[] = {AF_INET, AF_INET6};
    const int types[] = {SOCK_STREAM, SOCK_DGRAM};
    for (int a = 0; a < 2; a++)
        for (int t = 0; t < 2 && rc == 0; t++)
            rc = seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(socket), 2,
                                  SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)fams[a]),
                                  SCMP_A1(SCMP_CMP_MASKED_EQ, 0xf, (scmp_datum_t)types[t]));
    for (int a = 0; a < 2 && rc == 0; a++)
        rc = seccomp_rule_add(f, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(socket), 2,
                              SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)fams[a]),
                              SCMP_A1(SCMP_CMP_MASKED_EQ, 0xf, SOCK_RAW));
    const int probed[] = {AF_UNIX, AF_NETLINK, AF_PACKET}; /* others trap */
    for (size_t k = 0; k < sizeof probed / sizeof *probed && rc == 0; k++)
        rc = seccomp_rule_add(f, SCMP_ACT_ERRNO(EAFNOSUPPORT), SCMP_SYS(socket), 1,
                              SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)probed[k]));
    /* prctl: thread names, anonymous mapping names, queries */
    const int pr_ok[] = {PR_SET_NAME, PR_GET_NAME, PR_SET_VMA, PR_GET_DUMPABLE,
                         PR_GET_NO_NEW_PRIVS};
    for (size_t k = 0; k < sizeof pr_ok / sizeof *pr_ok && rc == 0; k++)
        rc = seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(prctl), 1,
                              SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)pr_ok[k]));
    /* signals to this process's own threads only (raise, the engine's thread suspension) */
    if (rc == 0)
        rc = seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(tgkill), 1,
                              SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)getpid()));
    return rc;
}

int sbx_lockdown_filter(sbx_lock_mode_t mode) {
    if (mode == SBX_LOCK_OFF) return 0;
    names_precompute();
    scmp_filter_ctx f = seccomp_init(mode == SBX_LOCK_LOG ? SCMP_ACT_LOG : SCMP_ACT_TRAP);
    if (!f) return -1;
    int rc = seccomp_attr_set(f, SCMP_FLTATR_CTL_TSYNC, 1); /* engine threads exist already */
    if (rc == 0) rc = rules_add(f);
    if (rc == 0) rc = seccomp_load(f);
    seccomp_release(f);
    if (rc != 0) {
        log_warn("worker: seccomp filter not installed: %s", strerror(-rc));
        return -1;
    }
    return 0;
}

int sbx_lockdown_mode(sbx_lock_mode_t mode) {
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    caps_drop();
    limits_apply();
    return sbx_lockdown_filter(mode);
}

int sbx_lockdown(void) {
    return sbx_lockdown_mode(SBX_LOCK_ENFORCE);
}
