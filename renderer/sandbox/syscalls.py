"""Layer 6: seccomp-bpf -- a default-deny allowlist of system calls.

The policy is built from named groups, Ladybird style; each says why the
renderer needs it.  What the renderer does once locked down is small: ZeroMQ
send/recv on its one DEALER (plus ZeroMQ's own I/O and reaper threads),
msgspec, selectolax and pure-Python layout, the clock, writing its log on
fd 2, garbage collection and memory growth, and exiting.

Three outcomes for a call that is not allowed:

* **KILL_PROCESS** (death by SIGSYS) for the calls an exploit wants and the
  renderer never makes: new programs, new processes, new sockets,
  debugging other processes, kernel attack surface (bpf, io_uring, keyrings,
  userfaultfd, perf, modules, mounts, namespaces).  Nothing legitimate
  reaches them, so a hit is an attack and the tab should show it.
* **EACCES** for the filesystem calls CPython itself may still try (a lazy
  import, ``linecache`` reading source for a traceback, ``os.stat``): the
  same answer Landlock gives, so Python fails gracefully (an ImportError, a
  traceback without source lines) instead of the renderer dying.  Refusing
  them here also keeps the kernel's path walk out of reach, and holds even
  where Landlock is missing.
* **EPERM** (the default) for everything else: failing is enough, and
  libraries cope with EPERM.

``clone3`` returns ENOSYS so glibc falls back to ``clone``, whose flags a
filter can see (clone3 passes them in memory); ``clone`` then kills for a
new process and fails with EAGAIN for a new thread.  The filter is loaded with TSYNC, so it covers every
thread, ZeroMQ's included.
"""

from __future__ import annotations

import errno
import os
import struct

from lockdown.seccomp import (
    ALLOW,
    KILL,
    SONAMES,
    SeccompAction,
    ERRNO,
    Policy,
    Rule,
    allow_exit,
    allow_memory,
    allow_time,
    eq,
    filter_of,
    load_program,
    masked,
    seccomp,
)

__all__ = ["ALLOW", "ERRNO", "KILL", "KILLED", "SONAMES", "SeccompAction", "Policy", "Rule", "allowlist", "build_filter",
           "compile_program", "conditional", "eq", "for_pid", "load", "load_program", "masked", "refusal_of",
           "renderer_policy"]

CLONE_THREAD = 0x00010000
AT_EMPTY_PATH = 0x1000

# fcntl commands the interpreter and ZeroMQ use on their own descriptors.
F_GETFD, F_SETFD, F_GETFL, F_SETFL = 1, 2, 3, 4
# prctl options that only read the renderer's own state (for describe()).
PR_GET_PDEATHSIG, PR_GET_DUMPABLE, PR_GET_SECCOMP, PR_CAPBSET_READ = 2, 3, 21, 23
PR_GET_SECUREBITS, PR_GET_NO_NEW_PRIVS, PR_GET_NAME = 27, 39, 16
PR_SET_NAME = 15
SCHED_OTHER = 0


# ---------------------------------------------------------------- the groups

def allow_threads(p: Policy) -> None:
    """ZeroMQ's I/O and reaper threads, already running, need futexes and
    their own bookkeeping.  Starting new ones is refused (see below)."""
    p.group("threads")
    p.allow("futex", "set_robust_list", "rseq", "sched_yield", "sched_getaffinity",
            "gettid", "set_tid_address", "sigaltstack")
    # A ZeroMQ thread that the scheduler starts late may begin only after the
    # filter is on: libzmq's thread_routine reads its scheduling parameters
    # and writes them straight back (pthread_get/setschedparam, aborting if
    # either fails), then names itself (pthread_setname_np -> PR_SET_NAME).
    # Only the ordinary policy may be set (SCHED_OTHER, and no privilege to
    # raise a priority is left), so this reads, rewrites or labels a thread.
    p.allow("sched_getparam", "sched_getscheduler")
    p.allow("sched_setscheduler", when=(eq(1, SCHED_OTHER),))
    p.allow("prctl", when=(eq(0, PR_SET_NAME),))
    # No new threads either: ZeroMQ's already exist, and the renderer starts
    # none of its own.  RLIMIT_NPROC = 0 says the same, but the kernel exempts
    # tasks whose real uid is root outside every user namespace (a user
    # namespace that maps an unprivileged uid onto root), so the filter says
    # it for every uid.  EAGAIN is what pthread_create reports at a limit.
    p.refuse("clone", action=ERRNO(errno.EAGAIN), when=(masked(0, CLONE_THREAD, CLONE_THREAD),))
    p.refuse("clone", action=KILL, when=(masked(0, CLONE_THREAD, 0),))
    p.refuse("clone3", action=ERRNO(errno.ENOSYS))  # glibc falls back to clone


def allow_ipc(p: Policy) -> None:
    """ZeroMQ talking over the connection it already has: send/recv on the
    UNIX socket, its eventfd mailboxes, epoll in the I/O thread, poll in
    zmq_poll.  No socket(), no connect(): a lost broker is the end."""
    p.group("ipc")
    p.allow("sendto", "recvfrom", "sendmsg", "recvmsg", "poll", "ppoll",
            "epoll_wait", "epoll_pwait", "epoll_pwait2", "epoll_ctl",
            "getsockopt", "getsockname", "getpeername", "shutdown")


def allow_open_descriptors(p: Policy) -> None:
    """Reading and writing descriptors that are already open (the log on
    fd 2, eventfds, the socket), closing them, fstat on them."""
    p.group("open descriptors")
    p.allow("read", "write", "readv", "writev", "pread64", "pwrite64", "lseek", "close", "fstat")
    p.allow("newfstatat", when=(masked(3, AT_EMPTY_PATH, AT_EMPTY_PATH),))  # glibc's fstat(fd)
    p.allow_each("fcntl", [eq(1, F_GETFD), eq(1, F_SETFD), eq(1, F_GETFL), eq(1, F_SETFL)])


def refuse_filesystem(p: Policy) -> None:
    """Paths: refused with EACCES, as Landlock would (see module doc)."""
    p.group("filesystem (EACCES)")
    p.refuse("open", "openat", "openat2", "creat", "stat", "lstat", "statx", "access",
             "faccessat", "faccessat2", "readlink", "readlinkat", "getcwd", "chdir",
             action=ERRNO(errno.EACCES))
    p.refuse("newfstatat", action=ERRNO(errno.EACCES), when=(masked(3, AT_EMPTY_PATH, 0),))


def refuse_terminal_control(p: Policy) -> None:
    """No ioctl: the renderer has no terminal (layer 1) and needs no device;
    ENOTTY is what isatty() expects.  TIOCSTI on a terminal is a classic
    escape, so even a leaked tty descriptor is useless."""
    p.group("ioctl (ENOTTY)")
    p.refuse("ioctl", action=ERRNO(errno.ENOTTY))


def allow_signals_to_self(p: Policy) -> None:
    """Signal handling (CPython installs handlers; glibc blocks signals around
    thread work) and signals to itself only (about:crash, abort()).  kill of
    any other pid is refused: the filter checks the target."""
    p.group("signals to self")
    p.allow("rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "restart_syscall")
    p.allow("kill", when=(eq(0, p.pid),))
    p.allow("tgkill", when=(eq(0, p.pid),))


def allow_self_inspection(p: Policy) -> None:
    """Reading its own identity and limits: os.getpid, the sandbox report
    (getresuid, rlimits, no_new_privs/seccomp/dumpable via prctl getters),
    and randomness (os.urandom, hash seeds)."""
    p.group("self inspection")
    p.allow("getpid", "getppid", "getuid", "geteuid", "getgid", "getegid",
            "getresuid", "getresgid", "getgroups", "getrandom")
    p.allow("getsid", when=(eq(0, 0),))
    p.allow("getrlimit")
    p.allow("prlimit64", when=(eq(0, 0), eq(2, 0)))  # own limits, read only
    p.allow("getrusage", when=(eq(0, 0),))  # RUSAGE_SELF
    p.allow_each("prctl", [eq(0, op) for op in (PR_GET_PDEATHSIG, PR_GET_DUMPABLE, PR_GET_SECCOMP,
                                                 PR_CAPBSET_READ, PR_GET_SECUREBITS,
                                                 PR_GET_NO_NEW_PRIVS, PR_GET_NAME)])


# Syscalls an exploit wants and the renderer never makes: death by SIGSYS.
KILLED = (
    # new programs and processes
    "execve", "execveat", "fork", "vfork",
    # other processes' memory, descriptors and state
    "ptrace", "process_vm_readv", "process_vm_writev", "process_madvise", "pidfd_getfd",
    "pidfd_open", "pidfd_send_signal", "kcmp",
    # new sockets: the broker connection is the only one it will ever have
    "socket", "socketpair", "connect", "bind", "listen", "accept", "accept4",
    # namespaces, mounts, roots
    "unshare", "setns", "mount", "umount2", "chroot", "pivot_root", "fsopen", "fsmount",
    "fsconfig", "fspick", "move_mount", "open_tree", "mount_setattr",
    "name_to_handle_at", "open_by_handle_at",
    # kernel attack surface
    "bpf", "perf_event_open", "io_uring_setup", "io_uring_enter", "io_uring_register",
    "keyctl", "add_key", "request_key", "userfaultfd", "modify_ldt", "iopl", "ioperm",
    # the machine itself
    "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module",
    "reboot", "swapon", "swapoff", "acct", "quotactl",
)


def refuse_dangerous(p: Policy) -> None:
    p.group("dangerous (SIGSYS)")
    p.refuse(*KILLED, action=KILL)


GROUPS = (allow_memory, allow_threads, allow_ipc, allow_open_descriptors, refuse_filesystem,
          refuse_terminal_control, allow_time, allow_signals_to_self, allow_self_inspection,
          allow_exit, refuse_dangerous)

DEFAULT_ERRNO = errno.EPERM


def renderer_policy(pid: int) -> Policy:
    policy = Policy(pid)
    for add_group in GROUPS:
        add_group(policy)
    return policy


def allowlist(pid: int = 0) -> frozenset[str]:
    """Every syscall allowed at least under some argument condition."""
    return frozenset(r.syscall for r in renderer_policy(pid).rules if r.action == ALLOW)


def conditional(pid: int = 0) -> frozenset[str]:
    """Allowed syscalls whose arguments the filter checks."""
    return frozenset(r.syscall for r in renderer_policy(pid).rules if r.action == ALLOW and r.conditions)


def refusal_of(syscall: str, pid: int = 0, *, default_errno: int = DEFAULT_ERRNO) -> SeccompAction:
    """How an unconditional refusal of ``syscall`` shows: KILL or ERRNO(n)."""
    for rule in renderer_policy(pid).rules:
        if rule.syscall == syscall and not rule.conditions and rule.action != ALLOW:
            return rule.action
    return ERRNO(default_errno)


def build_filter(pid: int, *, default_errno: int = DEFAULT_ERRNO) -> seccomp.SyscallFilter:
    """The BPF program for a renderer whose pid is ``pid`` (not loaded).

    ``default_errno`` is only changed by tests, to tell the filter's refusal
    apart from a call failing for its own reasons.
    """
    return filter_of(renderer_policy(pid), default_errno=default_errno)


def load(f: seccomp.SyscallFilter) -> None:
    """Load with TSYNC: every thread of the process is covered, or it fails."""
    f.load()


# ------------------------------------------------- compiled once, in the zygote
#
# Building the filter with libseccomp costs each renderer a few milliseconds
# and most of a megabyte of private memory.  The zygote compiles the program
# once with a placeholder where the renderer's own pid goes (the "signals to
# self" rules); each renderer patches in its pid and loads the program with
# the seccomp() system call itself.

PID_PLACEHOLDER = 0x7FFF_FFF1  # never a pid: pid_max is at most 2**22
_BPF_JEQ_K = 0x15  # BPF_JMP | BPF_JEQ | BPF_K: "jump if the value equals k"
_INSTRUCTION = struct.Struct("=HBBI")  # struct sock_filter: code, jt, jf, k


def compile_program(*, default_errno: int = DEFAULT_ERRNO) -> bytes:
    """The renderer policy as raw BPF, with PID_PLACEHOLDER for its pid."""
    read_end, write_end = os.pipe()
    try:
        with os.fdopen(write_end, "wb") as sink:
            build_filter(PID_PLACEHOLDER, default_errno=default_errno).export_bpf(sink)
        chunks = []
        while chunk := os.read(read_end, 65536):
            chunks.append(chunk)
    finally:
        os.close(read_end)
    program = b"".join(chunks)
    if not program or len(program) % _INSTRUCTION.size or _placeholders(program) == 0:
        raise RuntimeError("libseccomp produced an unexpected BPF program")
    return program


def _placeholders(program: bytes) -> int:
    return sum(1 for code, _, _, k in _INSTRUCTION.iter_unpack(program)
               if code == _BPF_JEQ_K and k == PID_PLACEHOLDER)


def for_pid(program: bytes, pid: int) -> bytes:
    """``program`` with the renderer's own pid where the placeholder was."""
    patched = bytearray(program)
    for offset in range(0, len(patched), _INSTRUCTION.size):
        code, jt, jf, k = _INSTRUCTION.unpack_from(patched, offset)
        if code == _BPF_JEQ_K and k == PID_PLACEHOLDER:
            _INSTRUCTION.pack_into(patched, offset, code, jt, jf, pid)
    return bytes(patched)
