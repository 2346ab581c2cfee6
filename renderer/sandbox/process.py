"""Layer 1: fresh process state for a newly forked renderer.

Applied even with ``--no-sandbox``: a renderer never shares the user's
terminal, never keeps a descriptor it was not meant to have, and never
outlives the zygote that forked it.
"""

from __future__ import annotations

import os
import signal

from lockdown.native import PR_SET_DUMPABLE, PR_SET_PDEATHSIG, prctl
from lockdown.process import PARENT_LOST_EXIT, die_with_parent, parent_death_signal, parent_death_signal_kept

__all__ = ["PARENT_LOST_EXIT", "die_with_parent", "fresh_process_state", "parent_death_signal",
           "parent_death_signal_kept"]


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
