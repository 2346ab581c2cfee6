"""A broker that is its terminal's session leader (as when tmux or a terminal
emulator starts ``minibrowser`` directly) and is SIGKILLed: its terminal
hangs up, and still nothing of the browser is left behind."""

from __future__ import annotations

import os
import pty
import shutil
import signal
import sys
import tempfile

import psutil
import pytest

from tests.support.processes import gone
from tests.support.waiting import wait_for_blocking

CLI = [sys.executable, "-m", "browser.cli"]


@pytest.fixture
def runtime_base():
    """A TMPDIR of our own, searchable by the renderers' uid, to watch."""
    base = tempfile.mkdtemp(prefix="mb-leader-", dir="/tmp")
    os.chmod(base, 0o711)
    yield base
    shutil.rmtree(base)


def _browser_processes(broker_pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(broker_pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def test_sigkill_of_a_session_leader_broker_leaves_nothing_behind(http_server, runtime_base):
    env = dict(os.environ, TMPDIR=runtime_base)
    env.pop("XDG_RUNTIME_DIR", None)
    slow = http_server.url("/slow?seconds=30")
    broker_pid, terminal = pty.fork()  # the child leads a new session on the pty's slave side
    if broker_pid == 0:
        try:
            os.execve(sys.executable, [*CLI, "open", slow, "--dump"], env)
        finally:
            os._exit(127)
    try:
        # The zygote, the tab's renderer and the network process (the page is
        # http:) are up, and the runtime directory exists; every process under
        # the broker (a spare renderer too, if one is up) must be gone after.
        wait_for_blocking(lambda: len(_browser_processes(broker_pid)) >= 3 and os.listdir(runtime_base), timeout=30,
                          what="the zygote, the renderer, the network process and the runtime directory")
        pids = [process.pid for process in _browser_processes(broker_pid)]
        assert len(pids) >= 3
        assert os.getsid(broker_pid) == broker_pid  # it leads its session, on the terminal
        assert os.tcgetpgrp(terminal) == broker_pid  # and its group is the terminal's foreground
        os.kill(broker_pid, signal.SIGKILL)
        os.waitpid(broker_pid, 0)
        wait_for_blocking(lambda: all(gone(pid) for pid in pids), what=f"the browser's processes {pids} to end")
        wait_for_blocking(lambda: os.listdir(runtime_base) == [], what="the runtime directory to be removed")
    finally:
        os.close(terminal)
        try:
            os.kill(broker_pid, signal.SIGKILL)
            os.waitpid(broker_pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
