"""Layer 2b: resource limits.

Each limit is set with soft == hard, so the renderer cannot raise it again
(CPU time gets a one-second grace before the hard limit's SIGKILL).
A hard limit that is already lower than the policy's value is kept.

RLIMIT_NPROC is special: it counts every task (threads included) of the
*real uid*, across the whole system.  All renderers share one uid (nobody),
so a small fixed number set before ZeroMQ starts would depend on how many
other renderers exist and could make its own thread creation fail.  It is set
to 0 only in ``lockdown_after_ipc``, once ZeroMQ's threads exist: from then
on the renderer cannot create a single new task (fork or thread), whatever
the others do.  (Root and holders of CAP_SYS_RESOURCE/CAP_SYS_ADMIN ignore
it; by then the renderer holds neither.)
"""

from __future__ import annotations

import resource
from dataclasses import dataclass

from renderer.protocol import SandboxPolicy

NAMES = {
    resource.RLIMIT_AS: "address space",
    resource.RLIMIT_NOFILE: "open files",
    resource.RLIMIT_FSIZE: "file size",
    resource.RLIMIT_CPU: "cpu seconds",
    resource.RLIMIT_CORE: "core size",
    resource.RLIMIT_NPROC: "processes",
}


@dataclass(frozen=True)
class LimitsResult:
    applied: dict[int, int]  # resource -> the limit now in force


def _clamp(which: int, value: int, *, grace: int = 0) -> int:
    """Set soft = min(value, current hard), hard = soft + grace; returns the soft value."""
    _soft, hard = resource.getrlimit(which)
    if hard != resource.RLIM_INFINITY:
        value = min(value, hard)
        grace = min(grace, hard - value)
    resource.setrlimit(which, (value, value + grace))
    return value


def apply_limits(policy: SandboxPolicy) -> LimitsResult:
    wanted = {
        resource.RLIMIT_AS: policy.memory_bytes,
        resource.RLIMIT_NOFILE: policy.open_files,  # ZeroMQ uses about 10 (epoll, eventfds, the socket)
        resource.RLIMIT_FSIZE: policy.file_size_bytes,  # stdout/stderr are a log file: not 0
        resource.RLIMIT_CORE: 0,
    }
    applied = {which: _clamp(which, value) for which, value in wanted.items()}
    # CPU: SIGXCPU at the soft limit (the crash report then says why), SIGKILL
    # one second later at the hard limit in case the renderer ignores SIGXCPU.
    applied[resource.RLIMIT_CPU] = _clamp(resource.RLIMIT_CPU, policy.cpu_seconds, grace=1)
    return LimitsResult(applied)


def forbid_new_tasks() -> int:
    """RLIMIT_NPROC = 0: call after the last thread the renderer needs exists."""
    return _clamp(resource.RLIMIT_NPROC, 0)


def current() -> dict[str, int]:
    """The limits in force, by name (getrlimit works under seccomp: prlimit64 read-only is allowed)."""
    out = {}
    for which, name in NAMES.items():
        soft, _hard = resource.getrlimit(which)
        out[name] = soft
    return out
