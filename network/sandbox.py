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

This module uses the same kernel interfaces as the renderer's sandbox
(``renderer/sandbox``) but not its code: the network process imports
nothing of the renderer.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import grp
import mmap
import os
import pwd
import resource
import signal
import socket
import sysconfig
from collections.abc import Iterator
from dataclasses import dataclass, field

from network.protocol import SandboxLayer

NO_SANDBOX_HINT = "run with --no-sandbox to load pages without the network sandbox"

PROCESS, LIMITS, PRIVILEGES, NO_NEW_PRIVS, LANDLOCK, SECCOMP = (
    "process", "limits", "privileges", "no_new_privs", "landlock", "seccomp")
ORDER = (PROCESS, LIMITS, PRIVILEGES, NO_NEW_PRIVS, LANDLOCK, SECCOMP)


class SandboxUnavailable(Exception):
    """A required layer could not be applied.  str() is one line for a person."""


# --------------------------------------------------------------------------
# libc
# --------------------------------------------------------------------------

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long

PR_SET_PDEATHSIG, PR_GET_PDEATHSIG, PR_GET_DUMPABLE, PR_SET_DUMPABLE = 1, 2, 3, 4
PR_GET_SECCOMP, PR_SET_NO_NEW_PRIVS, PR_GET_NO_NEW_PRIVS = 21, 38, 39
PR_CAPBSET_READ, PR_CAPBSET_DROP, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL = 23, 24, 47, 4
PR_SET_NAME, PR_GET_NAME = 15, 16
SYS_CAPSET = 126
SYS_LANDLOCK_CREATE_RULESET, SYS_LANDLOCK_ADD_RULE, SYS_LANDLOCK_RESTRICT_SELF = 444, 445, 446


def _prctl(option: int, arg2: int = 0) -> int:
    result = _libc.prctl(option, ctypes.c_ulong(arg2), ctypes.c_ulong(0), ctypes.c_ulong(0), ctypes.c_ulong(0))
    if result < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"prctl({option}): {os.strerror(err)}")
    return result


def _syscall(number: int, *args) -> int:
    result = _libc.syscall(ctypes.c_long(number), *args)
    if result < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"syscall({number}): {os.strerror(err)}")
    return result


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
    with contextlib.suppress(PermissionError):  # already a session leader
        os.setsid()
    _die_with(broker_pid)
    keep = sorted(set(keep_fds))
    low = 3
    for fd in keep + [65536]:
        if fd > low:
            os.closerange(low, fd)
        low = fd + 1
    _prctl(PR_SET_DUMPABLE, 0)
    for sig in (signal.SIGINT, signal.SIGHUP, signal.SIGPIPE):
        signal.signal(sig, signal.SIG_DFL if sig != signal.SIGPIPE else signal.SIG_IGN)


def _die_with(parent_pid: int) -> None:
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent_pid:
        os._exit(1)


def _process_layer() -> SandboxLayer:
    dumpable = _prctl(PR_GET_DUMPABLE)
    value = ctypes.c_int(0)
    _prctl(PR_GET_PDEATHSIG, ctypes.addressof(value))
    leader = os.getsid(0) == os.getpid()
    dies = f"dies with the broker ({signal.Signals(value.value).name})" if value.value else "does not die with the broker"
    return SandboxLayer(name=PROCESS, required=True, active=leader and not dumpable and bool(value.value),
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
# 3. privileges
# --------------------------------------------------------------------------


def default_drop_ids() -> tuple[int, int]:
    """``nobody`` and ``nogroup`` (what a root broker's children drop to)."""
    try:
        uid = pwd.getpwnam("nobody").pw_uid
    except KeyError:
        uid = 65534
    for name in ("nogroup", "nobody"):
        with contextlib.suppress(KeyError):
            return uid, grp.getgrnam(name).gr_gid
    return uid, 65534


def _last_capability() -> int:
    try:
        with open("/proc/sys/kernel/cap_last_cap") as f:
            return int(f.read())
    except OSError:
        return 63


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def _drop_privileges(uid: int | None, gid: int | None) -> str:
    was_root = os.geteuid() == 0 or os.getuid() == 0
    _prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)
    for cap in range(_last_capability() + 1):
        if _prctl(PR_CAPBSET_READ, cap) == 1:
            try:
                _prctl(PR_CAPBSET_DROP, cap)
            except OSError as error:
                if error.errno != errno.EPERM:
                    raise
                break
    if was_root:
        default_uid, default_gid = default_drop_ids()
        uid = default_uid if uid is None else uid
        gid = default_gid if gid is None else gid
        if uid == 0 or gid == 0:
            raise OSError(errno.EPERM, "the sandbox policy asks to stay root")
        # Changing credentials clears the parent-death signal: set it again after.
        parent = os.getppid()
        os.setgroups([])
        os.setresgid(gid, gid, gid)
        os.setresuid(uid, uid, uid)
        _die_with(parent)
    header = _CapHeader(0x20080522, 0)
    data = (_CapData * 2)()
    _syscall(SYS_CAPSET, ctypes.byref(header), data)
    if 0 in os.getresuid() or 0 in os.getresgid():
        raise OSError(errno.EPERM, "still root after dropping privileges")
    current = os.getuid(), os.getgid()
    if was_root:
        return f"root dropped to uid {current[0]} gid {current[1]}, no groups, no capabilities"
    return f"n/a: not root (uid {current[0]}); holds no capabilities"


# --------------------------------------------------------------------------
# 4. Landlock: read-only resolver and CA files, no TCP bind, scoped
# --------------------------------------------------------------------------

_FS_RIGHTS = {  # right -> (bit, ABI that introduced it)
    "execute": (1 << 0, 1), "write_file": (1 << 1, 1), "read_file": (1 << 2, 1), "read_dir": (1 << 3, 1),
    "remove_dir": (1 << 4, 1), "remove_file": (1 << 5, 1), "make_char": (1 << 6, 1), "make_dir": (1 << 7, 1),
    "make_reg": (1 << 8, 1), "make_sock": (1 << 9, 1), "make_fifo": (1 << 10, 1), "make_block": (1 << 11, 1),
    "make_sym": (1 << 12, 1), "refer": (1 << 13, 2), "truncate": (1 << 14, 3), "ioctl_dev": (1 << 15, 5),
}
_BIND_TCP = 1 << 0  # ABI 4; connect_tcp (1 << 1) is left unhandled: connecting is the job
_SCOPES = 0b11  # ABI 6: abstract UNIX sockets, signals
_READ_FILE, _READ_DIR = 1 << 2, 1 << 3
_RULE_PATH_BENEATH = 1

#: What name resolution reads (glibc: NSS config, hosts, resolver, address sorting).
RESOLVER_FILES = ("/etc/resolv.conf", "/etc/hosts", "/etc/nsswitch.conf", "/etc/gai.conf", "/etc/host.conf")


class _RulesetAttr(ctypes.Structure):
    _fields_ = [("handled_access_fs", ctypes.c_uint64), ("handled_access_net", ctypes.c_uint64),
                ("scoped", ctypes.c_uint64)]


class _PathBeneath(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def landlock_abi() -> int:
    return max(_libc.syscall(ctypes.c_long(SYS_LANDLOCK_CREATE_RULESET), None, ctypes.c_size_t(0),
                             ctypes.c_uint32(1)), 0)


def read_only_paths(ca_paths: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """``(files, directories)`` the network process may read, those that exist."""
    files = [p for p in (*RESOLVER_FILES, *ca_paths) if os.path.isfile(p)]
    dirs = [p for p in ca_paths if os.path.isdir(p)]
    library = {sysconfig.get_path(name) for name in ("stdlib", "platstdlib", "purelib", "platlib")}
    dirs += sorted(p for p in library if p and os.path.isdir(p))
    return files, dirs


def _open_paths(files: list[str], dirs: list[str]) -> list[tuple[int, int]]:
    """``(O_PATH descriptor, rights)`` for each readable path, opened while
    the process still has the rights to open them (before the uid drop)."""
    opened = []
    for path, access in [(p, _READ_FILE) for p in files] + [(p, _READ_FILE | _READ_DIR) for p in dirs]:
        try:
            opened.append((os.open(path, os.O_PATH | os.O_CLOEXEC), access))
        except OSError:
            continue
    return opened


def _landlock(opened: list[tuple[int, int]], files: list[str], dirs: list[str]) -> str:
    abi = landlock_abi()
    if abi < 1:
        raise OSError(errno.EOPNOTSUPP, "Landlock is not available on this kernel")
    fs = 0
    for bit, since in _FS_RIGHTS.values():
        if abi >= since:
            fs |= bit
    net = _BIND_TCP if abi >= 4 else 0
    scoped = _SCOPES if abi >= 6 else 0
    attr = _RulesetAttr(fs, net, scoped)
    size = 8 if abi < 4 else (16 if abi < 6 else ctypes.sizeof(attr))
    ruleset = _syscall(SYS_LANDLOCK_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(size), ctypes.c_uint32(0))
    try:
        for fd, access in opened:
            rule = _PathBeneath(access, fd)
            _syscall(SYS_LANDLOCK_ADD_RULE, ctypes.c_long(ruleset), ctypes.c_long(_RULE_PATH_BENEATH),
                     ctypes.byref(rule), ctypes.c_uint32(0))
        _syscall(SYS_LANDLOCK_RESTRICT_SELF, ctypes.c_long(ruleset), ctypes.c_uint32(0))
    finally:
        os.close(ruleset)
        for fd, _access in opened:
            os.close(fd)
    parts = [f"ABI {abi}: filesystem read-only, {len(files)} files and {len(dirs)} library or CA "
             "directories readable, nothing else"]
    parts.append("TCP bind denied, connect allowed" if net else "TCP not controllable (ABI < 4)")
    parts.append("abstract UNIX sockets and signals scoped" if scoped else "no scoping (ABI < 6)")
    return ", ".join(parts)


# --------------------------------------------------------------------------
# 5. seccomp: named groups
# --------------------------------------------------------------------------

_SONAMES = {"c": "libc.so.6", "seccomp": "libseccomp.so.2"}


@contextlib.contextmanager
def _libraries_by_soname() -> Iterator[None]:
    """pyseccomp looks its libraries up with find_library, which runs
    ``ldconfig -p`` (or gcc); the dynamic loader finds them by soname."""
    real = ctypes.util.find_library
    ctypes.util.find_library = _SONAMES.get
    try:
        yield
    finally:
        ctypes.util.find_library = real


with _libraries_by_soname():
    import pyseccomp as seccomp  # noqa: E402

CLONE_THREAD = 0x00010000
AT_EMPTY_PATH = 0x1000
FIONBIO, FIONREAD = 0x5421, 0x541B
F_GETFD, F_SETFD, F_GETFL, F_SETFL = 1, 2, 3, 4
SCHED_OTHER = 0


def _eq(arg: int, value: int):
    return seccomp.Arg(arg, seccomp.EQ, value & 0xFFFFFFFFFFFFFFFF)


def _masked(arg: int, mask: int, value: int):
    return seccomp.Arg(arg, seccomp.MASKED_EQ, mask, value)


@dataclass
class Policy:
    """Rules by group, before they become a BPF program."""

    pid: int
    rules: list[tuple[str, str, object, tuple]] = field(default_factory=list)  # (group, syscall, action, args)
    _group: str = ""

    def group(self, name: str) -> Policy:
        self._group = name
        return self

    def allow(self, *names: str, when: tuple = ()) -> None:
        for name in names:
            self.rules.append((self._group, name, seccomp.ALLOW, when))

    def refuse(self, *names: str, action, when: tuple = ()) -> None:
        for name in names:
            self.rules.append((self._group, name, action, when))


def allow_memory(p: Policy) -> None:
    """The allocators' heap and the threads' stacks; no executable mapping:
    nothing is loaded after lockdown, so shellcode cannot be made executable."""
    p.group("memory")
    p.allow("brk", "munmap", "mremap", "madvise")
    p.allow("mmap", when=(_masked(2, mmap.PROT_EXEC, 0),))
    p.allow("mprotect", when=(_masked(2, mmap.PROT_EXEC, 0),))


def allow_threads(p: Policy) -> None:
    """Name resolution blocks in glibc, so asyncio runs it in worker threads:
    new threads are allowed, a new process (clone without CLONE_THREAD) kills."""
    p.group("threads")
    p.allow("futex", "set_robust_list", "rseq", "sched_yield", "sched_getaffinity", "gettid",
            "set_tid_address", "sigaltstack", "sched_getparam", "sched_getscheduler")
    p.allow("sched_setscheduler", when=(_eq(1, SCHED_OTHER),))
    p.allow("prctl", when=(_eq(0, PR_SET_NAME),))
    p.allow("clone", when=(_masked(0, CLONE_THREAD, CLONE_THREAD),))
    p.refuse("clone", action=seccomp.KILL_PROCESS, when=(_masked(0, CLONE_THREAD, 0),))
    p.refuse("clone3", action=seccomp.ERRNO(errno.ENOSYS))  # glibc falls back to clone, whose flags we see


def allow_internet_sockets(p: Policy) -> None:
    """TCP to servers and UDP to the resolver: socket() for AF_INET and
    AF_INET6 only.  AF_UNIX fails with EACCES (glibc asks for nscd's socket
    on every lookup and copes); other families fail with EPERM (the default)."""
    p.group("internet sockets")
    p.allow("socket", when=(_eq(0, socket.AF_INET),))
    p.allow("socket", when=(_eq(0, socket.AF_INET6),))
    p.refuse("socket", action=seccomp.ERRNO(errno.EACCES), when=(_eq(0, socket.AF_UNIX),))
    p.allow("connect", "sendto", "recvfrom", "sendmsg", "recvmsg", "sendmmsg", "recvmmsg",
            "getsockopt", "setsockopt", "getsockname", "getpeername", "shutdown")
    p.allow("ioctl", when=(_eq(1, FIONBIO),))  # socket.setblocking
    p.allow("ioctl", when=(_eq(1, FIONREAD),))  # the resolver sizes a UDP answer


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
        p.allow("fcntl", when=(_eq(1, command),))


def allow_time(p: Policy) -> None:
    p.group("time")
    p.allow("clock_gettime", "clock_getres", "gettimeofday", "time", "nanosleep", "clock_nanosleep")


def allow_signals_to_self(p: Policy) -> None:
    """Signal handling, and signals to itself only: never to the broker or a renderer."""
    p.group("signals to self")
    p.allow("rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "restart_syscall")
    p.allow("kill", when=(_eq(0, p.pid),))
    p.allow("tgkill", when=(_eq(0, p.pid),))


def allow_self_inspection(p: Policy) -> None:
    p.group("self inspection")
    p.allow("getpid", "getppid", "getuid", "geteuid", "getgid", "getegid", "getresuid", "getresgid",
            "getgroups", "getrandom", "getrlimit", "getrusage")
    p.allow("getsid", when=(_eq(0, 0),))
    p.allow("prlimit64", when=(_eq(0, 0), _eq(2, 0)))
    for option in (PR_GET_PDEATHSIG, PR_GET_DUMPABLE, PR_GET_SECCOMP, PR_GET_NO_NEW_PRIVS, PR_GET_NAME):
        p.allow("prctl", when=(_eq(0, option),))


def allow_exit(p: Policy) -> None:
    p.group("exit")
    p.allow("exit", "exit_group")


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
    p.refuse(*KILLED, action=seccomp.KILL_PROCESS)


GROUPS = (allow_memory, allow_threads, allow_internet_sockets, allow_event_loop, allow_descriptors, allow_time,
          allow_signals_to_self, allow_self_inspection, allow_exit, refuse_dangerous)


def network_policy(pid: int) -> Policy:
    policy = Policy(pid)
    for add_group in GROUPS:
        add_group(policy)
    return policy


def build_filter(pid: int, *, default_errno: int = errno.EPERM):
    f = seccomp.SyscallFilter(seccomp.ERRNO(default_errno))
    f.set_attr(seccomp.Attr.ACT_BADARCH, seccomp.KILL_PROCESS)
    f.set_attr(seccomp.Attr.CTL_TSYNC, 1)
    for _group, name, action, when in network_policy(pid).rules:
        if seccomp.resolve_syscall(seccomp.Arch.NATIVE, name) < 0:
            continue
        f.add_rule(action, name, *when)
    return f


def allowed_syscalls(pid: int = 0) -> frozenset[str]:
    return frozenset(name for _g, name, action, _w in network_policy(pid).rules if action == seccomp.ALLOW)


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
    seccomp_filter = build_filter(os.getpid())  # libseccomp's work, before the files go away
    files, dirs = read_only_paths(ca_paths)
    opened = _open_paths(files, dirs)
    try:
        state.record(LIMITS, required=True, active=True, detail=_apply_limits())
    except (OSError, ValueError) as error:
        raise SandboxUnavailable(f"resource limits could not be set ({error}): {NO_SANDBOX_HINT}") from None
    try:
        detail = _drop_privileges(uid, gid)
        _prctl(PR_SET_NO_NEW_PRIVS, 1)
    except OSError as error:
        raise SandboxUnavailable(f"could not drop privileges ({error.strerror}): {NO_SANDBOX_HINT}") from None
    root = detail.startswith("root")
    state.record(PRIVILEGES, required=root, active=root, detail=detail)
    state.record(NO_NEW_PRIVS, required=True, active=_prctl(PR_GET_NO_NEW_PRIVS) == 1,
                 detail="PR_SET_NO_NEW_PRIVS")
    try:
        state.record(LANDLOCK, required=True, active=True, detail=_landlock(opened, files, dirs))
    except OSError as error:
        raise SandboxUnavailable(f"Landlock could not be applied ({error.strerror}): {NO_SANDBOX_HINT}") from None
    try:
        seccomp_filter.load()
    except OSError as error:
        raise SandboxUnavailable(f"seccomp filter could not be loaded ({error}): {NO_SANDBOX_HINT}") from None
    state.record(SECCOMP, required=True, active=_prctl(PR_GET_SECCOMP) == 2,
                 detail=f"default deny, {len(allowed_syscalls())} syscalls allowed, {len(KILLED)} kill, "
                        "socket() only for AF_INET/AF_INET6, all threads (TSYNC)")
    state.layers[PROCESS] = _process_layer()
    return state
