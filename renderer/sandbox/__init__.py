"""The renderer's lockdown, one layer per module.

The renderer (forked by the zygote) calls, in order::

    sandbox.process.fresh_process_state(log_path, parent_pid=zygote_pid)  # layer 1, always
    state = sandbox.lockdown_before_ipc(policy)   # layers 2-4, still single-threaded
    ...  connect the DEALER, Hello / HelloAck  ...  # layer 5: ZeroMQ starts its threads
    sandbox.lockdown_after_ipc(state)             # layer 6: seccomp with TSYNC, NPROC 0
    sandbox.describe(state)                       # what is on, for `minibrowser sandbox`

Modules: ``process`` (1), ``namespaces`` and ``limits`` (2), ``privileges``
(3), ``landlock`` (4), ``syscalls`` (6: seccomp-bpf).  Each can tell whether
this kernel and these privileges allow it; ``capabilities_of_this_kernel``
asks them all without applying anything.

Exceptions::

    SandboxUnavailable   a required layer could not be applied; one line
                         saying which and what to do (the renderer exits)
"""

from __future__ import annotations

import errno
import os
import resource
import signal
from dataclasses import dataclass, field

from renderer.protocol import SandboxLayer, SandboxPolicy
from lockdown import landlock, privileges
from renderer.sandbox import limits, namespaces, process, syscalls
from lockdown.native import (
    PR_GET_DUMPABLE,
    PR_GET_NO_NEW_PRIVS,
    PR_GET_SECCOMP,
    prctl,
)

__all__ = [
    "KernelCapabilities",
    "SandboxState",
    "SandboxUnavailable",
    "capabilities_of_this_kernel",
    "describe",
    "lockdown_after_ipc",
    "lockdown_before_ipc",
    "preload",
    "process",
]

NO_SANDBOX_HINT = "run with --no-sandbox to render unsandboxed"


class SandboxUnavailable(Exception):
    """A required layer could not be applied.  str() is one line for a person."""


# Layer names as reported by describe(), in the order they are applied.
PROCESS, NAMESPACES, LIMITS, PRIVILEGES, NO_NEW_PRIVS, LANDLOCK, SECCOMP = (
    "process", "namespaces", "limits", "privileges", "no_new_privs", "landlock", "seccomp")


@dataclass
class SandboxState:
    """What the lockdown did, recorded from inside the renderer as it went.

    After Landlock the renderer cannot open /proc, so the facts that need it
    are read before and kept here; describe() re-checks live what syscalls
    still allowed can tell (prctl getters, getresuid, getrlimit).
    """

    enabled: bool
    pid: int = 0
    layers: dict[str, SandboxLayer] = field(default_factory=dict)
    seccomp_filter: object | None = None  # a program built before IPC, loaded after (bytes, or a
    # libseccomp filter object when a test builds its own)
    after_ipc_done: bool = False

    def record(self, name: str, *, required: bool, active: bool, detail: str) -> None:
        self.layers[name] = SandboxLayer(name=name, required=required, active=active, detail=detail)


@dataclass(frozen=True)
class KernelCapabilities:
    """What this kernel and these privileges allow, found without applying anything."""

    root: bool
    landlock_abi: int
    landlock_missing_reason: str
    seccomp_filter: bool
    user_namespaces: bool

    @property
    def namespaces(self) -> bool:
        return self.root or self.user_namespaces


def capabilities_of_this_kernel() -> KernelCapabilities:
    abi = landlock.abi_version()
    try:
        with open("/proc/sys/kernel/seccomp/actions_avail") as f:
            actions = f.read().split()
        seccomp_ok = {"kill_process", "errno", "allow"} <= set(actions)
    except OSError:
        seccomp_ok = False
    return KernelCapabilities(
        root=os.geteuid() == 0,
        landlock_abi=abi,
        landlock_missing_reason="" if abi else landlock.unavailable_reason(),
        seccomp_filter=seccomp_ok,
        user_namespaces=namespaces.user_namespaces_allowed(),
    )


_preloaded = False
_program: bytes = b""  # the seccomp policy compiled once, pid left as a placeholder


def preload() -> None:
    """Everything the lockdown will need from disk, done once in the zygote:
    user and group lookups (NSS), libseccomp, the syscall name table."""
    global _preloaded
    if _preloaded:
        return
    global _program
    privileges.default_drop_ids()
    privileges.last_capability()
    _program = syscalls.compile_program()
    _preloaded = True


def _status() -> dict[str, str]:
    with open("/proc/self/status") as f:
        return dict(line.split(":\t", 1) for line in f.read().splitlines() if ":\t" in line)


def _process_layer() -> SandboxLayer:
    """Layer 1 as the kernel has it now (every getter here is allowed under seccomp)."""
    dumpable = prctl(PR_GET_DUMPABLE)
    leader = os.getsid(0) == os.getpid()
    death_signal = process.parent_death_signal()
    dies = (f"dies with its parent ({_signal_name(death_signal)})" if death_signal
            else "does not die with its parent")
    return SandboxLayer(name=PROCESS, required=True, active=not dumpable and leader and bool(death_signal),
                        detail=f"own session: {leader}, not dumpable: {not dumpable}, {dies}")


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _record_process_layer(state: SandboxState) -> None:
    state.layers[PROCESS] = _process_layer()


def lockdown_before_ipc(policy: SandboxPolicy) -> SandboxState:
    """Layers 2-4.  Must run single-threaded.  Raises SandboxUnavailable."""
    state = SandboxState(enabled=policy.enabled, pid=os.getpid())
    _record_process_layer(state)
    if not policy.enabled:
        return state
    threads = _status().get("Threads", "1").strip()
    if threads != "1":
        raise RuntimeError(f"lockdown_before_ipc needs a single-threaded process, found {threads} threads")
    preload()
    state.seccomp_filter = syscalls.for_pid(_program, state.pid)

    net_before = namespaces.namespace_inode("net")
    ns = namespaces.enter_new_namespaces()
    moved = ns.applied and namespaces.namespace_inode("net") != net_before
    state.record(NAMESPACES, required=False, active=moved, detail=ns.detail)

    try:
        applied = limits.apply_limits(policy)
    except (OSError, ValueError) as error:
        raise SandboxUnavailable(f"resource limits could not be set ({error}): {NO_SANDBOX_HINT}") from None
    state.record(LIMITS, required=True, active=True,
                 detail=", ".join(f"{limits.NAMES[k]} {v}" for k, v in applied.applied.items()))

    try:
        with process.parent_death_signal_kept():
            dropped = privileges.drop_privileges(policy.uid, policy.gid)
        privileges.set_no_new_privs()
    except (privileges.CannotDropPrivileges, OSError) as error:
        raise SandboxUnavailable(f"could not drop privileges ({error}): {NO_SANDBOX_HINT}") from None
    state.record(PRIVILEGES, required=dropped.dropped_root, active=dropped.dropped_root, detail=dropped.detail)
    state.record(NO_NEW_PRIVS, required=True, active=privileges.no_new_privs(), detail="PR_SET_NO_NEW_PRIVS")

    try:
        result = landlock.restrict_self()
    except OSError as error:
        raise SandboxUnavailable(f"Landlock is not available ({landlock.unavailable_reason()}): "
                                 f"{NO_SANDBOX_HINT}" if error.errno in (errno.ENOSYS, errno.EOPNOTSUPP) else
                                 f"Landlock could not be applied ({error}): {NO_SANDBOX_HINT}") from None
    state.record(LANDLOCK, required=True, active=True, detail=result.detail)
    return state


def lockdown_after_ipc(state: SandboxState) -> None:
    """Layer 6, once the broker connection and ZeroMQ's threads exist.

    RLIMIT_NPROC goes to 0 first (see limits.py for why only now), then the
    seccomp filter is loaded on every thread at once (TSYNC).
    """
    if not state.enabled or state.after_ipc_done:
        return
    try:
        limits.forbid_new_tasks()
        if isinstance(state.seccomp_filter, bytes):
            syscalls.load_program(state.seccomp_filter)
        else:
            syscalls.load(state.seccomp_filter)
    except OSError as error:
        raise SandboxUnavailable(f"seccomp filter could not be loaded ({error}): {NO_SANDBOX_HINT}") from None
    state.after_ipc_done = True
    state.record(SECCOMP, required=True, active=prctl(PR_GET_SECCOMP) == 2,
                 detail=f"default deny, {len(syscalls.allowlist())} syscalls allowed, "
                        f"{len(syscalls.KILLED)} kill, all threads (TSYNC)")


def describe(state: SandboxState) -> list[SandboxLayer]:
    """The sandbox as seen from inside, one entry per layer, in order."""
    if not state.enabled:
        return [_process_layer()] + [
            SandboxLayer(name=name, required=False, active=False, detail="disabled (--no-sandbox)")
            for name in (NAMESPACES, LIMITS, PRIVILEGES, NO_NEW_PRIVS, LANDLOCK, SECCOMP)]
    live = dict(state.layers)
    # Re-check what a syscall can still tell under seccomp.
    live[PROCESS] = _process_layer()
    uid = os.getresuid()
    if PRIVILEGES in live:
        old = live[PRIVILEGES]
        live[PRIVILEGES] = SandboxLayer(name=PRIVILEGES, required=old.required,
                                        active=old.active and 0 not in uid, detail=old.detail)
    live[NO_NEW_PRIVS] = SandboxLayer(name=NO_NEW_PRIVS, required=True,
                                      active=prctl(PR_GET_NO_NEW_PRIVS) == 1, detail="PR_SET_NO_NEW_PRIVS")
    nproc = resource.getrlimit(resource.RLIMIT_NPROC)[0]
    if LIMITS in live:
        old = live[LIMITS]
        live[LIMITS] = SandboxLayer(name=LIMITS, required=True, active=old.active,
                                    detail=f"{old.detail}, processes {nproc}")
    if SECCOMP not in live:
        live[SECCOMP] = SandboxLayer(name=SECCOMP, required=True, active=prctl(PR_GET_SECCOMP) == 2,
                                     detail="not loaded yet (applied after the broker handshake)")
    order = (PROCESS, NAMESPACES, LIMITS, PRIVILEGES, NO_NEW_PRIVS, LANDLOCK, SECCOMP)
    return [live[name] for name in order if name in live]
