#!/usr/bin/env python3
"""Generates deploy/seccomp/r3e-worker.json, the Kubernetes/OCI seccomp profile for a
container running r3e, from the worker allow-list in src/runtime/sandbox_lockdown.c plus
what the server process itself needs (spawning workers, RocksDB files, listening sockets),
found with strace -ff under the e2e suites. The worker process installs its own, stricter
filter on top (argument checks, SIGSYS for anything else). Usage: scripts/seccomp-profile.py > deploy/seccomp/r3e-worker.json"""
import json, re, pathlib

src = (pathlib.Path(__file__).resolve().parent.parent / 'src/runtime/sandbox_lockdown.c').read_text()
block = re.search(r'sbx_lockdown_allowed\[\] = \{(.*?)NULL\}', src, re.S).group(1)
worker = re.findall(r'"([a-z0-9_]+)"', block)
# with argument checks in the worker filter; allowed wholesale at the container level
worker += ['clone', 'openat', 'open', 'socket', 'prctl', 'tgkill']
server = ['accept4', 'listen', 'bind', 'execve', 'clone3', 'wait4', 'kill', 'dup2', 'mkdir',
          'mkdirat', 'rename', 'renameat', 'renameat2', 'unlink', 'unlinkat', 'ftruncate',
          'fallocate', 'fsync', 'fdatasync', 'sync_file_range', 'flock', 'fadvise64', 'umask',
          'arch_prctl', 'seccomp', 'capset', 'preadv', 'pwritev', 'timerfd_create',
          'timerfd_settime', 'epoll_create', 'chdir', 'fchmod', 'setsid', 'rt_sigqueueinfo',
          'sendfile', 'getdents', 'link', 'linkat', 'rmdir', 'utimensat', 'fchown']
names = sorted(set(worker) | set(server))
profile = {
    'defaultAction': 'SCMP_ACT_ERRNO',
    'defaultErrnoRet': 1,
    'architectures': ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'],
    'syscalls': [
        {'names': names, 'action': 'SCMP_ACT_ALLOW'},
    ],
}
print(json.dumps(profile, indent=2))
