"""Tying a sandboxed process to its parent, for every sandboxed process.

``die_with_parent`` sets ``PR_SET_PDEATHSIG`` and closes the race with a
parent that already died; ``parent_death_signal_kept`` sets it again around
a change of credentials, which clears it.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
from collections.abc import Iterator

from lockdown.native import PR_GET_PDEATHSIG, PR_SET_PDEATHSIG, prctl

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
