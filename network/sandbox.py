"""The network process's lockdown, in layers, from named groups.

The network process speaks to hostile servers, so it assumes a server has
already compromised it.  Before it reads a byte from one, in order:

1. **process**: its own session, stdin from /dev/null, output to a log the
   broker owns, no inherited descriptor but its channel, dies with the
   broker (``PR_SET_PDEATHSIG``), not dumpable.
2. **limits**: no core files, bounded open files, file size and address space.
3. **privileges**: started as root, it drops to an unprivileged uid/gid with
   no supplementary groups and no capability; ``PR_SET_NO_NEW_PRIVS``.
4. **landlock**: the filesystem is read-only and limited to what name
   resolution and TLS need (``/etc/resolv.conf``, ``/etc/hosts``,
   ``/etc/nsswitch.conf``, ``/etc/gai.conf``, ``/etc/host.conf``, the CA
   bundle) and the interpreter's own library (a late import, a traceback's
   source line); no TCP bind (connect stays allowed: it is the job);
   abstract UNIX sockets and signals scoped to itself.
5. **seccomp**: a default-deny allowlist (below).  ``socket()`` only for
   AF_INET and AF_INET6: its one UNIX socket, the channel to the broker,
   exists before the filter and no other can be made.  No exec, no fork
   (threads, which name resolution runs in, stay allowed), no signal but to
   itself.

Then it sends its handshake.  Unlike a renderer it keeps no ZeroMQ: its
channel is a socketpair the broker made, so the whole lockdown happens
before the first message.

The building blocks (prctl, the privilege drop, Landlock, seccomp policies
from groups) are the renderer's too, in ``lockdown/``, which both import;
the network process imports nothing of the renderer.
"""

from __future__ import annotations

import errno
import os
import resource
import signal
import socket
import sysconfig
from dataclasses import dataclass, field

from lockdown import landlock, privileges
from lockdown.native import (
    PR_GET_DUMPABLE,
    PR_GET_NO_NEW_PRIVS,
    PR_GET_NAME,
    PR_GET_PDEATHSIG,
    PR_GET_SECCOMP,
    PR_SET_DUMPABLE,
    PR_SET_NAME,
    prctl,
)
from lockdown.process import die_with_parent, parent_death_signal, parent_death_signal_kept
from lockdown.seccomp import (
    ERRNO,
    KILL,
    Policy,
    allow_exit,
    allow_memory,
    allow_time,
    eq,
    filter_of,
    masked,
)
from network.protocol import SandboxLayer

NO_SANDBOX_HINT = "run with --no-sandbox to load pages without the network sandbox"

PROCESS, LIMITS, PRIVILEGES, NO_NEW_PRIVS, LANDLOCK, SECCOMP = (
    "process", "limits", "privileges", "no_new_privs", "landlock", "seccomp")
ORDER = (PROCESS, LIMITS, PRIVILEGES, NO_NEW_PRIVS, LANDLOCK, SECCOMP)


class SandboxUnavailable(Exception):
    """A required layer could not be applied.  str() is one line for a person."""


# --------------------------------------------------------------------------
# State, as recorded from inside
# --------------------------------------------------------------------------


@dataclass
class SandboxState:
    enabled: bool
    layers: dict[str, SandboxLayer] = field(default_factory=dict)

    def record(self, name: str, *, required: bool, active: bool, detail: str) -> None:
        self.layers[name] = SandboxLayer(name=name, required=required, active=active, detail=detail)

    def describe(self) -> list[SandboxLayer]:
        if not self.enabled:
            return [self.layers[PROCESS]] + [
                SandboxLayer(name=name, required=False, active=False, detail="disabled (--no-sandbox)")
                for name in ORDER[1:]]
        return [self.layers[name] for name in ORDER if name in self.layers]


# --------------------------------------------------------------------------
# 1. process
# --------------------------------------------------------------------------


def fresh_process_state(*, broker_pid: int, keep_fds: tuple[int, ...]) -> None:
    """Own session, death with the broker, nothing inherited, not dumpable.
    (stdin, stdout and stderr are set by the broker when it starts us.)"""
    try:
        os.setsid()
    except PermissionError:
        pass  # already a session leader
    die_with_parent(broker_pid)
    keep = sorted(set(keep_fds))
    low = 3
    for fd in keep + [65536]:
        if fd > low:
            os.closerange(low, fd)
        low = fd + 1
    prctl(PR_SET_DUMPABLE, 0)
    for sig in (signal.SIGINT, signal.SIGHUP, signal.SIGPIPE):
        signal.signal(sig, signal.SIG_DFL if sig != signal.SIGPIPE else signal.SIG_IGN)


def _process_layer() -> SandboxLayer:
    dumpable = prctl(PR_GET_DUMPABLE)
    death_signal = parent_death_signal()
    leader = os.getsid(0) == os.getpid()
    dies = f"dies with the broker ({signal.Signals(death_signal).name})" if death_signal else "does not die with the broker"
    return SandboxLayer(name=PROCESS, required=True, active=leader and not dumpable and bool(death_signal),
                        detail=f"own session: {leader}, not dumpable: {not dumpable}, {dies}")


# --------------------------------------------------------------------------
# 2. limits
# --------------------------------------------------------------------------

#: Connections are file descriptors: a browser keeps at most a few dozen.
OPEN_FILES = 256
#: Its log is the only file it writes.
FILE_SIZE_BYTES = 16 * 1024 * 1024
#: The interpreter, OpenSSL, a few body buffers at the 8 MiB cap, and the
#: name-resolution threads' stacks (address space, mostly never touched).
ADDRESS_SPACE_BYTES = 2 * 1024 * 1024 * 1024


def _apply_limits() -> str:
    wanted = {resource.RLIMIT_CORE: 0, resource.RLIMIT_NOFILE: OPEN_FILES,
              resource.RLIMIT_FSIZE: FILE_SIZE_BYTES, resource.RLIMIT_AS: ADDRESS_SPACE_BYTES}
    for which, value in wanted.items():
        _soft, hard = resource.getrlimit(which)
        if hard != resource.RLIM_INFINITY:
            value = min(value, hard)
        resource.setrlimit(which, (value, value))
    return (f"core size 0, open files {OPEN_FILES}, file size {FILE_SIZE_BYTES >> 20} MiB, "
            f"address space {ADDRESS_SPACE_BYTES >> 30} GiB")


# --------------------------------------------------------------------------
# 3. privileges: lockdown.privileges, as for a renderer
# 4. Landlock: read-only resolver and CA files, no TCP bind, scoped
#    (lockdown.landlock, with the paths below)
# --------------------------------------------------------------------------

#: What name resolution reads (glibc: NSS config, hosts, resolver, address sorting).
RESOLVER_FILES = ("/etc/resolv.conf", "/etc/hosts", "/etc/nsswitch.conf", "/etc/gai.conf", "/etc/host.conf")


def read_only_paths(ca_paths: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """``(files, directories)`` the network process may read, those that exist:
    the resolver's files, the CA bundle, and the interpreter's own library (a
    late import, a traceback's source line)."""
    files = [p for p in (*RESOLVER_FILES, *ca_paths) if os.path.isfile(p)]
    dirs = [p for p in ca_paths if os.path.isdir(p)]
    library = {sysconfig.get_path(name) for name in ("stdlib", "platstdlib", "purelib", "platlib")}
    dirs += sorted(p for p in library if p and os.path.isdir(p))
    return files, dirs


def _open_paths(files: list[str], dirs: list[str]) -> list[tuple[int, int]]:
    """``(O_PATH descriptor, rights)`` for each readable path, opened while
    the process still has the rights to open them (before the uid drop)."""
    opened = []
    for path, rights in ([(p, landlock.READ_FILE) for p in files]
                         + [(p, landlock.READ_FILE | landlock.READ_DIR) for p in dirs]):
        try:
            opened.append((os.open(path, os.O_PATH | os.O_CLOEXEC), rights))
        except OSError:
            continue
    return opened


# --------------------------------------------------------------------------
# 5. seccomp: named groups
# --------------------------------------------------------------------------

CLONE_THREAD = 0x00010000
AT_EMPTY_PATH = 0x1000
FIONBIO, FIONREAD = 0x5421, 0x541B
F_GETFD, F_SETFD, F_GETFL, F_SETFL = 1, 2, 3, 4
SCHED_OTHER = 0


def allow_threads(p: Policy) -> None:
    """Name resolution blocks in glibc, so asyncio runs it in worker threads:
    new threads are allowed, a new process (clone without CLONE_THREAD) kills."""
    p.group("threads")
    p.allow("futex", "set_robust_list", "rseq", "sched_yield", "sched_getaffinity", "gettid",
            "set_tid_address", "sigaltstack", "sched_getparam", "sched_getscheduler")
    p.allow("sched_setscheduler", when=(eq(1, SCHED_OTHER),))
    p.allow("prctl", when=(eq(0, PR_SET_NAME),))
    p.allow("clone", when=(masked(0, CLONE_THREAD, CLONE_THREAD),))
    p.refuse("clone", action=KILL, when=(masked(0, CLONE_THREAD, 0),))
    p.refuse("clone3", action=ERRNO(errno.ENOSYS))  # glibc falls back to clone, whose flags we see


def allow_internet_sockets(p: Policy) -> None:
    """TCP to servers and UDP to the resolver: socket() for AF_INET and
    AF_INET6 only.  AF_UNIX fails with EACCES (glibc asks for nscd's socket
    on every lookup and copes); other families fail with EPERM (the default)."""
    p.group("internet sockets")
    p.allow("socket", when=(eq(0, socket.AF_INET),))
    p.allow("socket", when=(eq(0, socket.AF_INET6),))
    p.refuse("socket", action=ERRNO(errno.EACCES), when=(eq(0, socket.AF_UNIX),))
    p.allow("connect", "sendto", "recvfrom", "sendmsg", "recvmsg", "sendmmsg", "recvmmsg",
            "getsockopt", "setsockopt", "getsockname", "getpeername", "shutdown")
    p.allow("ioctl", when=(eq(1, FIONBIO),))  # socket.setblocking
    p.allow("ioctl", when=(eq(1, FIONREAD),))  # the resolver sizes a UDP answer


def allow_event_loop(p: Policy) -> None:
    """asyncio's epoll, and poll for the resolver."""
    p.group("event loop")
    p.allow("epoll_wait", "epoll_pwait", "epoll_pwait2", "epoll_ctl", "poll", "ppoll", "select", "pselect6")


def allow_descriptors(p: Policy) -> None:
    """Reading, writing, closing descriptors; opening the files Landlock
    leaves readable (it decides which)."""
    p.group("descriptors and read-only files")
    p.allow("read", "write", "readv", "writev", "pread64", "pwrite64", "lseek", "close", "fstat",
            "newfstatat", "statx", "openat", "open", "getdents64", "readlink", "readlinkat", "access",
            "faccessat", "faccessat2", "getcwd", "stat", "lstat", "uname")
    for command in (F_GETFD, F_SETFD, F_GETFL, F_SETFL):
        p.allow("fcntl", when=(eq(1, command),))


def allow_signals_to_self(p: Policy) -> None:
    """Signal handling, and signals to itself only: never to the broker or a renderer."""
    p.group("signals to self")
    p.allow("rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "restart_syscall")
    p.allow("kill", when=(eq(0, p.pid),))
    p.allow("tgkill", when=(eq(0, p.pid),))


def allow_self_inspection(p: Policy) -> None:
    p.group("self inspection")
    p.allow("getpid", "getppid", "getuid", "geteuid", "getgid", "getegid", "getresuid", "getresgid",
            "getgroups", "getrandom", "getrlimit", "getrusage")
    p.allow("getsid", when=(eq(0, 0),))
    p.allow("prlimit64", when=(eq(0, 0), eq(2, 0)))
    for option in (PR_GET_PDEATHSIG, PR_GET_DUMPABLE, PR_GET_SECCOMP, PR_GET_NO_NEW_PRIVS, PR_GET_NAME):
        p.allow("prctl", when=(eq(0, option),))


#: What an exploit wants and the network process never does: death by SIGSYS.
KILLED = (
    "execve", "execveat", "fork", "vfork",
    "ptrace", "process_vm_readv", "process_vm_writev", "process_madvise", "pidfd_getfd", "pidfd_open",
    "pidfd_send_signal", "kcmp",
    "socketpair", "listen", "accept", "accept4", "bind",
    "unshare", "setns", "mount", "umount2", "chroot", "pivot_root", "fsopen", "fsmount", "fsconfig",
    "fspick", "move_mount", "open_tree", "mount_setattr", "name_to_handle_at", "open_by_handle_at",
    "bpf", "perf_event_open", "io_uring_setup", "io_uring_enter", "io_uring_register", "keyctl", "add_key",
    "request_key", "userfaultfd", "modify_ldt", "iopl", "ioperm",
    "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module", "reboot", "swapon",
    "swapoff", "acct", "quotactl",
)


def refuse_dangerous(p: Policy) -> None:
    p.group("dangerous (SIGSYS)")
    p.refuse(*KILLED, action=KILL)


GROUPS = (allow_memory, allow_threads, allow_internet_sockets, allow_event_loop, allow_descriptors, allow_time,
          allow_signals_to_self, allow_self_inspection, allow_exit, refuse_dangerous)


def network_policy(pid: int) -> Policy:
    policy = Policy(pid)
    for add_group in GROUPS:
        add_group(policy)
    return policy


def allowed_syscalls(pid: int = 0) -> frozenset[str]:
    return frozenset(rule.syscall for rule in network_policy(pid).rules if rule.action.name == "allow")


# --------------------------------------------------------------------------
# The whole lockdown
# --------------------------------------------------------------------------


def lockdown(*, enabled: bool, uid: int | None, gid: int | None, ca_paths: tuple[str, ...]) -> SandboxState:
    """Layers 2-5 (layer 1 is :func:`fresh_process_state`).  Call while
    single-threaded.  Raises :class:`SandboxUnavailable`."""
    state = SandboxState(enabled=enabled)
    state.layers[PROCESS] = _process_layer()
    if not enabled:
        return state
    seccomp_filter = filter_of(network_policy(os.getpid()))  # libseccomp's work, before the files go away
    files, dirs = read_only_paths(ca_paths)
    opened = _open_paths(files, dirs)
    try:
        state.record(LIMITS, required=True, active=True, detail=_apply_limits())
    except (OSError, ValueError) as error:
        raise SandboxUnavailable(f"resource limits could not be set ({error}): {NO_SANDBOX_HINT}") from None
    try:
        with parent_death_signal_kept():
            dropped = privileges.drop_privileges(uid, gid)
        privileges.set_no_new_privs()
    except (privileges.CannotDropPrivileges, OSError) as error:
        raise SandboxUnavailable(f"could not drop privileges ({error}): {NO_SANDBOX_HINT}") from None
    state.record(PRIVILEGES, required=dropped.dropped_root, active=dropped.dropped_root, detail=dropped.detail)
    state.record(NO_NEW_PRIVS, required=True, active=privileges.no_new_privs(), detail="PR_SET_NO_NEW_PRIVS")
    try:
        result = landlock.restrict_self(readable=tuple(opened), tcp_connect=True)
    except OSError as error:
        raise SandboxUnavailable(f"Landlock could not be applied ({error.strerror}): {NO_SANDBOX_HINT}") from None
    finally:
        for fd, _rights in opened:
            os.close(fd)
    state.record(LANDLOCK, required=True, active=True, detail=result.detail)
    try:
        seccomp_filter.load()
    except OSError as error:
        raise SandboxUnavailable(f"seccomp filter could not be loaded ({error}): {NO_SANDBOX_HINT}") from None
    state.record(SECCOMP, required=True, active=prctl(PR_GET_SECCOMP) == 2,
                 detail=f"default deny, {len(allowed_syscalls())} syscalls allowed, {len(KILLED)} kill, "
                        "socket() only for AF_INET/AF_INET6, all threads (TSYNC)")
    state.layers[PROCESS] = _process_layer()
    return state
