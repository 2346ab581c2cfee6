"""seccomp-bpf for every sandboxed process: rules from named groups, Ladybird style.

A :class:`Policy` collects :class:`Rule` s group by group (each group is a
function that says why the process needs it); a process's own module picks
the groups it needs and turns them into a filter with libseccomp
(``pyseccomp``), or loads a program compiled earlier with
:func:`load_program`.  The groups every sandboxed process shares are here:
memory without executable mappings, the clock, exiting.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import mmap
import os
from collections.abc import Iterator
from dataclasses import dataclass, field

from lockdown.native import libc

#: The libraries the seccomp bindings load, by soname: the dynamic loader
#: finds them itself, from its own cache, without running a program.
SONAMES = {"c": "libc.so.6", "seccomp": "libseccomp.so.2"}


@contextlib.contextmanager
def _libraries_by_soname() -> Iterator[None]:
    """While importing pyseccomp: it looks libc and libseccomp up with
    ``ctypes.util.find_library``, which runs ``ldconfig -p`` (twice, about
    60 ms of the zygote's start; and a normal user may not have ldconfig on
    PATH, when find_library falls back to running gcc).  Any other name is
    refused rather than looked up that way."""
    def find_by_soname(name: str) -> str | None:
        return SONAMES.get(name)

    real = ctypes.util.find_library
    ctypes.util.find_library = find_by_soname
    try:
        yield
    finally:
        ctypes.util.find_library = real


with _libraries_by_soname():
    import pyseccomp as seccomp  # noqa: E402 - imported with the lookup above


@dataclass(frozen=True)
class SeccompAction:
    name: str  # allow, kill, errno
    value: int = 0  # errno number for "errno"

    def for_libseccomp(self) -> int:
        if self.name == "allow":
            return seccomp.ALLOW
        if self.name == "kill":
            return seccomp.KILL_PROCESS
        return seccomp.ERRNO(self.value)


ALLOW = SeccompAction("allow")
KILL = SeccompAction("kill")


def ERRNO(value: int) -> SeccompAction:  # noqa: N802 - mirrors libseccomp
    return SeccompAction("errno", value)


@dataclass(frozen=True)
class Rule:
    syscall: str
    action: SeccompAction
    group: str
    conditions: tuple[tuple[int, int, int, int], ...] = ()  # (arg index, op, a, b)

    def to_args(self) -> list[seccomp.Arg]:
        return [seccomp.Arg(*c) for c in self.conditions]


def eq(arg: int, value: int) -> tuple[int, int, int, int]:
    return (arg, seccomp.EQ, value & 0xFFFFFFFFFFFFFFFF, 0)


def masked(arg: int, mask: int, value: int) -> tuple[int, int, int, int]:
    return (arg, seccomp.MASKED_EQ, mask, value)


@dataclass
class Policy:
    """The rules, by group, before they become a BPF program."""

    pid: int
    rules: list[Rule] = field(default_factory=list)
    _group: str = ""

    def group(self, name: str) -> Policy:
        self._group = name
        return self

    def allow(self, *names: str, when: tuple = ()) -> None:
        for name in names:
            self.rules.append(Rule(name, ALLOW, self._group, tuple(when)))

    def allow_each(self, name: str, conditions: list[tuple]) -> None:
        """One rule per alternative: allowed if any of the conditions holds."""
        for condition in conditions:
            self.rules.append(Rule(name, ALLOW, self._group, (condition,)))

    def refuse(self, *names: str, action: SeccompAction, when: tuple = ()) -> None:
        for name in names:
            self.rules.append(Rule(name, action, self._group, tuple(when)))


# ---------------------------------------------------------------- groups every process shares

def allow_memory(p: Policy) -> None:
    """Heap growth and release for CPython's allocator and glibc malloc
    (brk, anonymous mmap, munmap, mremap, madvise from free and gc).  No new
    executable mapping: nothing is loaded or JIT-compiled after lockdown, so
    shellcode cannot be made executable (Ladybird's
    allow_memory_without_executable_mappings)."""
    p.group("memory")
    p.allow("brk", "munmap", "mremap", "madvise")
    p.allow("mmap", when=(masked(2, mmap.PROT_EXEC, 0),))
    p.allow("mprotect", when=(masked(2, mmap.PROT_EXEC, 0),))


def allow_time(p: Policy) -> None:
    """time.monotonic/time.time (usually the vDSO, these are its fallbacks),
    timeouts and sleeps."""
    p.group("time")
    p.allow("clock_gettime", "clock_getres", "gettimeofday", "time", "nanosleep", "clock_nanosleep")


def allow_exit(p: Policy) -> None:
    """Ending a thread or the process."""
    p.group("exit")
    p.allow("exit", "exit_group")



def filter_of(policy: Policy, *, default_errno: int = errno.EPERM) -> seccomp.SyscallFilter:
    """``policy`` as a libseccomp filter (not loaded): default ``default_errno``,
    another architecture's entry points kill, TSYNC when loaded."""
    f = seccomp.SyscallFilter(seccomp.ERRNO(default_errno))
    f.set_attr(seccomp.Attr.ACT_BADARCH, seccomp.KILL_PROCESS)  # i386/x32 entry points: attack
    f.set_attr(seccomp.Attr.CTL_TSYNC, 1)
    for rule in policy.rules:
        number = seccomp.resolve_syscall(seccomp.Arch.NATIVE, rule.syscall)
        if number < 0:
            continue  # not on this architecture (e.g. open on a newer one)
        f.add_rule(rule.action.for_libseccomp(), rule.syscall, *rule.to_args())
    return f


_NR_SECCOMP = 317  # x86_64
_SECCOMP_SET_MODE_FILTER = 1
_SECCOMP_FILTER_FLAG_TSYNC = 1
_INSTRUCTION_BYTES = 8  # struct sock_filter


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def load_program(program: bytes) -> None:
    """seccomp(SECCOMP_SET_MODE_FILTER, TSYNC, program): every thread, or an error.

    Needs PR_SET_NO_NEW_PRIVS (set by the privileges layer before)."""
    buffer = ctypes.create_string_buffer(program, len(program))
    fprog = _SockFprog(len(program) // _INSTRUCTION_BYTES, ctypes.cast(buffer, ctypes.c_void_p))
    ctypes.set_errno(0)
    result = libc.syscall(ctypes.c_long(_NR_SECCOMP), ctypes.c_long(_SECCOMP_SET_MODE_FILTER),
                          ctypes.c_long(_SECCOMP_FILTER_FLAG_TSYNC), ctypes.byref(fprog))
    if result == -1:
        err = ctypes.get_errno()
        raise OSError(err, f"seccomp: {os.strerror(err)}")
    if result != 0:  # TSYNC: the id of a thread that could not be synchronised
        raise OSError(errno.ESRCH, f"seccomp: thread {result} could not take the filter")
