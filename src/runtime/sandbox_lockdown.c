/* Worker lockdown (DESIGN.md "no ambient authority"): after start-up the worker needs
 * memory, threads, its socket to the server, outbound TCP for fetch and a few reads
 * (DNS configuration, CA certificates); it never needs to start processes, debug others,
 * change identity or touch the filesystem's structure. A seccomp filter (libseccomp)
 * refuses those with EPERM — an error, not a kill, so a sanitizer's report path or a
 * library probing a syscall degrades instead of dying — and every capability is dropped
 * from the bounding set. Defence in depth: JavaScript cannot reach syscalls directly; this
 * limits what an engine exploit could do. */
#include "runtime/sandbox.h"

#include "obs/log.h"

#include <errno.h>
#include <linux/capability.h>
#include <sched.h>
#include <seccomp.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Refused outright: processes, debugging, identity, mounts and namespaces, kernel and
 * clock administration, filesystem structure changes. */
static const char *const lockdown_denied[] = {"execve",
                                              "execveat",
                                              "fork",
                                              "vfork",
                                              "ptrace",
                                              "process_vm_readv",
                                              "process_vm_writev",
                                              "kcmp",
                                              "pidfd_open",
                                              "pidfd_getfd",
                                              "setuid",
                                              "setgid",
                                              "setreuid",
                                              "setregid",
                                              "setresuid",
                                              "setresgid",
                                              "setgroups",
                                              "setfsuid",
                                              "setfsgid",
                                              "capset",
                                              "mount",
                                              "umount2",
                                              "pivot_root",
                                              "chroot",
                                              "unshare",
                                              "setns",
                                              "open_by_handle_at",
                                              "name_to_handle_at",
                                              "swapon",
                                              "swapoff",
                                              "reboot",
                                              "kexec_load",
                                              "kexec_file_load",
                                              "init_module",
                                              "finit_module",
                                              "delete_module",
                                              "bpf",
                                              "perf_event_open",
                                              "userfaultfd",
                                              "keyctl",
                                              "add_key",
                                              "request_key",
                                              "acct",
                                              "quotactl",
                                              "syslog",
                                              "settimeofday",
                                              "clock_settime",
                                              "clock_adjtime",
                                              "adjtimex",
                                              "personality",
                                              "iopl",
                                              "ioperm",
                                              "mknod",
                                              "mknodat",
                                              "link",
                                              "linkat",
                                              "symlink",
                                              "symlinkat",
                                              "unlink",
                                              "unlinkat",
                                              "rename",
                                              "renameat",
                                              "renameat2",
                                              "mkdir",
                                              "mkdirat",
                                              "rmdir",
                                              "chmod",
                                              "fchmod",
                                              "fchmodat",
                                              "chown",
                                              "fchown",
                                              "fchownat",
                                              "lchown",
                                              "truncate",
                                              "sethostname",
                                              "setdomainname",
                                              NULL};

static void caps_drop(void) {
    for (int cap = 0; cap <= CAP_LAST_CAP; cap++)
        prctl(PR_CAPBSET_DROP, cap, 0, 0, 0);
    /* empty the effective/permitted/inheritable sets (no libcap needed for "all off") */
    struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct data[2];
    memset(data, 0, sizeof data);
    syscall(SYS_capset, &hdr, data);
}

int sbx_lockdown(void) {
    caps_drop();
    scmp_filter_ctx f = seccomp_init(SCMP_ACT_ALLOW);
    if (!f) return -1;
    int rc = seccomp_attr_set(f, SCMP_FLTATR_CTL_TSYNC, 1); /* engine threads exist already */
    const uint32_t eperm = SCMP_ACT_ERRNO(EPERM);
    for (int k = 0; rc == 0 && lockdown_denied[k]; k++) {
        int nr = seccomp_syscall_resolve_name(lockdown_denied[k]);
        if (nr == __NR_SCMP_ERROR) continue; /* not on this architecture */
        rc = seccomp_rule_add(f, eperm, nr, 0);
    }
    /* clone: threads only (CLONE_THREAD set). clone3 passes flags in memory, which a
     * filter cannot read: ENOSYS makes glibc fall back to clone. */
    if (rc == 0)
        rc = seccomp_rule_add(f, eperm, SCMP_SYS(clone), 1,
                              SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, 0));
    if (rc == 0) rc = seccomp_rule_add(f, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
    /* sockets: no packet or raw sockets */
    if (rc == 0)
        rc = seccomp_rule_add(f, eperm, SCMP_SYS(socket), 1, SCMP_A0(SCMP_CMP_EQ, AF_PACKET, 0));
    if (rc == 0)
        rc = seccomp_rule_add(f, eperm, SCMP_SYS(socket), 1,
                              SCMP_A1(SCMP_CMP_MASKED_EQ, 0xf, SOCK_RAW));
    if (rc == 0) rc = seccomp_load(f);
    seccomp_release(f);
    if (rc != 0) {
        log_warn("worker: seccomp filter not installed: %s", strerror(-rc));
        return -1;
    }
    return 0;
}
