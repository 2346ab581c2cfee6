"""Layer 1: fresh process state for a newly forked renderer.

Applied even with ``--no-sandbox``: a renderer never shares the user's
terminal, never keeps a descriptor it was not meant to have, and never
outlives the zygote that forked it.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
from collections.abc import Iterator

from renderer.sandbox._native import PR_GET_PDEATHSIG, PR_SET_DUMPABLE, PR_SET_PDEATHSIG, prctl

PARENT_LOST_EXIT = 1  # the parent died before the renderer could tie itself to it


def die_with_parent(parent_pid: int, death_signal: int = signal.SIGKILL) -> None:
    """Be sent ``death_signal`` when the parent dies; exit at once if it
    already has (then the signal would never come)."""
    prctl(PR_SET_PDEATHSIG, death_signal)
    if os.getppid() != parent_pid:
        os._exit(PARENT_LOST_EXIT)


def parent_death_signal() -> int:
    """The signal this process gets when its parent dies (0: none), as the
    kernel has it now (PR_GET_PDEATHSIG)."""
    value = ctypes.c_int(0)
    prctl(PR_GET_PDEATHSIG, ctypes.addressof(value))
    return value.value


@contextlib.contextmanager
def parent_death_signal_kept() -> Iterator[None]:
    """Around a change of credentials: the kernel clears the parent-death
    signal when the uid or gid changes (the privilege drop), which would let
    the renderer outlive the zygote.  Sets it again afterwards, and exits if
    the parent died in between."""
    death_signal, parent_pid = parent_death_signal(), os.getppid()
    try:
        yield
    finally:
        if death_signal:
            die_with_parent(parent_pid, death_signal)


def fresh_process_state(log_path: str, *, parent_pid: int) -> None:
    """Own session, stdin from /dev/null, output to the broker's log,
    no inherited descriptors, death with the parent, not dumpable."""
    os.setsid()
    die_with_parent(parent_pid)
    null = os.open("/dev/null", os.O_RDONLY)
    log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(null, 0)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.closerange(3, 65536)
    prctl(PR_SET_DUMPABLE, 0)
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGCHLD, signal.SIGPIPE):
        signal.signal(sig, signal.SIG_DFL)
