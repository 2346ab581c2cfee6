"""Every x86_64 syscall number not on the renderer's allowlist is refused.

Each call is made with deliberately bad arguments (fd -1, NULL pointers), so
that a refusal by the filter cannot be mistaken for the call failing on its
own: the sweep's filter answers with a marker errno no syscall ever returns
(only the default errno differs from the production filter, which a second
pass checks too), the explicit errno groups answer with errnos the bad
arguments would not produce (EACCES for a NULL path, ENOTTY for fd -1,
ENOSYS for clone3), and the kill group must end the child with SIGSYS.
The errno sweep runs in one child; each killing call needs its own.
"""

from __future__ import annotations

import ctypes
import errno
import json
import os

import pyseccomp
import pytest

from renderer import sandbox
from renderer.protocol import SandboxPolicy
from renderer.sandbox import syscalls
from lockdown.native import libc
from forkrun import SUMMARY, run_in_child


MARKER = 1000  # not an errno any syscall returns
HIGHEST = 470  # past the last x86_64 syscall (463 on 6.18)
ARCH = pyseccomp.Arch.NATIVE


def name_of(number: int) -> str | None:
    try:
        return pyseccomp.resolve_syscall(ARCH, number).decode()
    except ValueError:
        return None


# The kernel lets these through seccomp by design (uretprobe since 6.13,
# uprobe since 6.16): they only act when called from the kernel's probe
# trampolines and answer anyone else with SIGILL (uretprobe) or ENXIO
# (uprobe), filter or not.  Nothing to refuse, nothing reachable.
KERNEL_PASSTHROUGH = {335: "uretprobe", 336: "uprobe"}


# Refused in two ways by its flags (a new process kills, a new thread gets
# EAGAIN): checked on its own below rather than by the sweep's one answer.
SPLIT_BY_ARGUMENTS = {"clone"}


def swept_numbers() -> dict[int, str]:
    allowed = syscalls.allowlist()
    return {nr: name_of(nr) or f"#{nr}" for nr in range(HIGHEST)
            if name_of(nr) not in allowed and name_of(nr) not in SPLIT_BY_ARGUMENTS
            and nr not in KERNEL_PASSTHROUGH}


def expected(name: str, default_errno: int) -> syscalls.SeccompAction:
    return syscalls.refusal_of(name, default_errno=default_errno)


def call(number: int, *args: int) -> tuple[int, int]:
    args = args or (-1, 0, 0, 0, 0, 0)
    ctypes.set_errno(0)
    result = libc.syscall(ctypes.c_long(number), *(ctypes.c_long(a) for a in args))
    return result, ctypes.get_errno()


def locked_down(default_errno: int) -> None:
    """The full lockdown, as a renderer has it after the handshake."""
    state = sandbox.lockdown_before_ipc(SandboxPolicy())
    state.seccomp_filter = syscalls.build_filter(os.getpid(), default_errno=default_errno)
    sandbox.lockdown_after_ipc(state)


def sweep_errno_group(numbers: list[int], default_errno: int) -> int:
    locked_down(default_errno)
    outcomes = {nr: call(nr) for nr in numbers}
    os.write(1, ("\n@sweep " + json.dumps(outcomes) + "\n").encode())
    return 0


def outcomes_of(end) -> dict[int, tuple[int, int]]:
    assert end.code == 0, str(end)
    line = next(line for line in end.output.splitlines() if line.startswith("@sweep "))
    return {int(k): tuple(v) for k, v in json.loads(line[len("@sweep "):]).items()}


@pytest.mark.parametrize("default_errno", [MARKER, syscalls.DEFAULT_ERRNO], ids=["marker", "production"])
def test_every_syscall_off_the_allowlist_fails_with_the_policy_errno(default_errno):
    swept = swept_numbers()
    errno_group = {nr: name for nr, name in swept.items() if expected(name, default_errno).name == "errno"}
    outcomes = outcomes_of(run_in_child(lambda: sweep_errno_group(sorted(errno_group), default_errno)))
    wrong = {}
    for nr, name in errno_group.items():
        result, err = outcomes[nr]
        want = expected(name, default_errno).value
        if result != -1 or err != want:
            wrong[name] = (result, errno.errorcode.get(err, err))
    assert not wrong, f"not refused as the policy says: {wrong}"
    if default_errno == MARKER:
        kills = len(swept) - len(errno_group)
        SUMMARY.append(f"syscall sweep: {len(swept)} numbers off the allowlist of "
                       f"{len(syscalls.allowlist())} refused ({len(errno_group)} by errno, {kills} by SIGSYS)")


def kill_group() -> list[tuple[int, str]]:
    return [(nr, name) for nr, name in swept_numbers().items() if expected(name, MARKER).name == "kill"]


def test_the_kill_group_is_what_the_policy_says():
    names = {name for _, name in kill_group()}
    present = {n for n in syscalls.KILLED if pyseccomp.resolve_syscall(ARCH, n) >= 0}
    assert names == present
    assert {"execve", "fork", "socket", "connect", "ptrace", "bpf", "io_uring_setup", "unshare"} <= names


@pytest.mark.parametrize("number,name", kill_group(), ids=[n for _, n in kill_group()])
def test_every_killing_syscall_ends_the_renderer_with_sigsys(number, name):
    def body():
        locked_down(MARKER)
        call(number)
        return 0

    end = run_in_child(body)
    assert end.killed_by_sigsys, f"{name}: {end}"


# Allowed syscalls whose arguments the filter checks: the forbidden variants.
PROT_READ, PROT_EXEC = 1, 4
MAP_PRIVATE_ANONYMOUS = 0x02 | 0x20
AT_FDCWD = -100
NR = {name: pyseccomp.resolve_syscall(ARCH, name) for name in syscalls.conditional() | SPLIT_BY_ARGUMENTS}
CLONE_THREAD_FLAGS = 0x00010000 | 0x00000800 | 0x00000100  # CLONE_THREAD | CLONE_SIGHAND | CLONE_VM


def test_conditional_syscalls_refuse_their_forbidden_variants():
    root = ctypes.c_char_p(b"/")
    empty = ctypes.c_char_p(b"")
    statbuf = ctypes.create_string_buffer(256)
    limit = (ctypes.c_uint64 * 2)(64, 64)
    page = ctypes.c_long(0)

    def body():
        locked_down(MARKER)
        address = libc.syscall(ctypes.c_long(NR["mmap"]), ctypes.c_long(0), ctypes.c_long(4096),
                               ctypes.c_long(PROT_READ), ctypes.c_long(MAP_PRIVATE_ANONYMOUS),
                               ctypes.c_long(-1), ctypes.c_long(0))
        page.value = address
        cases = {
            "mmap PROT_EXEC": call(NR["mmap"], 0, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE_ANONYMOUS, -1, 0),
            "mprotect PROT_EXEC": call(NR["mprotect"], address, 4096, PROT_READ | PROT_EXEC),
            "kill init": call(NR["kill"], 1, 0),
            "kill own pid in the high bits": call(NR["kill"], os.getpid() | (1 << 32), 0),
            "tgkill init": call(NR["tgkill"], 1, 1, 0),
            "fcntl F_DUPFD": call(NR["fcntl"], 1, 0, 0),
            "prctl PR_SET_DUMPABLE": call(NR["prctl"], 4, 1),
            "prlimit64 set": call(NR["prlimit64"], 0, 7, ctypes.addressof(limit), 0),
            "prlimit64 of init": call(NR["prlimit64"], 1, 7, 0, ctypes.addressof(statbuf)),
            "getsid of init": call(NR["getsid"], 1),
            "getrusage children": call(NR["getrusage"], -1, ctypes.addressof(statbuf)),
        }
        allowed = {
            "mmap read-only": address > 0,
            "kill self 0": call(NR["kill"], os.getpid(), 0) == (0, 0),
            "fstat via newfstatat": call(NR["newfstatat"], 1, ctypes.cast(empty, ctypes.c_void_p).value,
                                         ctypes.addressof(statbuf), 0x1000)[0] == 0,
        }
        stat_path = call(NR["newfstatat"], AT_FDCWD, ctypes.cast(root, ctypes.c_void_p).value,
                         ctypes.addressof(statbuf), 0)
        os.write(1, ("\n@sweep " + json.dumps({"cases": cases, "allowed": allowed, "stat": stat_path}) + "\n").encode())
        return 0

    end = run_in_child(body)
    assert end.code == 0, str(end)
    line = next(line for line in end.output.splitlines() if line.startswith("@sweep "))
    facts = json.loads(line[len("@sweep "):])
    assert all(facts["allowed"].values()), facts["allowed"]
    assert facts["stat"] == [-1, errno.EACCES]
    refused = {case: tuple(outcome) for case, outcome in facts["cases"].items()}
    assert all(outcome == (-1, MARKER) for outcome in refused.values()), refused


def test_clone_of_a_thread_fails_with_eagain():
    def body():
        locked_down(MARKER)
        os.write(1, ("\n@clone " + json.dumps(call(NR["clone"], CLONE_THREAD_FLAGS, 0, 0, 0, 0)) + "\n").encode())
        return 0

    end = run_in_child(body)
    assert end.code == 0, str(end)
    line = next(line for line in end.output.splitlines() if line.startswith("@clone "))
    assert tuple(json.loads(line[len("@clone "):])) == (-1, errno.EAGAIN)


def test_clone_without_clone_thread_kills():
    def body():
        locked_down(MARKER)
        call(NR["clone"], 17, 0, 0, 0, 0)  # SIGCHLD: a new process
        return 0

    assert run_in_child(body).killed_by_sigsys


def test_the_program_compiled_in_the_zygote_is_the_filter_built_for_the_pid():
    """Renderers load the zygote's precompiled program with their pid patched
    in: it must be exactly the BPF libseccomp builds for that pid."""
    for pid in (2, 4242, 4194303):
        read_end, write_end = os.pipe()
        with os.fdopen(write_end, "wb") as sink:
            syscalls.build_filter(pid).export_bpf(sink)
        with os.fdopen(read_end, "rb") as source:
            built = source.read()
        assert syscalls.for_pid(syscalls.compile_program(), pid) == built
