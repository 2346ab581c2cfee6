"""Fork a child, run one body in it, and see how it ended (Ladybird style).

The child's fds 1 and 2 go to a file the parent reads afterwards; a body
reports facts with ``report(key=value)`` (one JSON line each).  A body that
calls ``fresh_process_state`` may pass ``child_log()`` as its log path, so
its output keeps landing in the same file.  The child never returns into
pytest: it always ends with ``os._exit``.
"""

from __future__ import annotations

import json
import os
import signal
import tempfile
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable

from tests.support.waiting import wait_for_blocking

NOBODY = 65534
ROOT = os.geteuid() == 0
#: ``as_user`` for a child that must be an ordinary user: as root, drop to
#: nobody; as a normal user, stay who we are (we already are one).
UNPRIVILEGED = NOBODY if ROOT else None

#: Figures the security tests measure, printed at the end of the run (conftest.py).
SUMMARY: list[str] = []
_log_path = ""


@dataclass
class ChildEnd:
    code: int | None
    signal: int | None
    output: str
    reports: dict[str, Any] = field(default_factory=dict)

    @property
    def killed_by_sigsys(self) -> bool:
        return self.signal == signal.SIGSYS

    def __str__(self) -> str:
        how = f"exit {self.code}" if self.signal is None else f"signal {signal.Signals(self.signal).name}"
        return f"{how}; output:\n{self.output[-4000:]}"


def report(**facts: Any) -> None:
    os.write(1, ("\n@report " + json.dumps(facts) + "\n").encode())


def child_log() -> str:
    return _log_path


def become_unprivileged(uid: int = NOBODY, gid: int = NOBODY) -> None:
    """Be an ordinary user (what `setpriv --reuid --regid --clear-groups` does):
    the kernel clears every capability when all uids leave 0."""
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)


def run_in_child(body: Callable[[], int | None], *, as_user: int | None = None,
                 timeout: float = 30.0) -> ChildEnd:
    global _log_path
    fd, path = tempfile.mkstemp(prefix="sandbox-child-", suffix=".log")
    os.fchmod(fd, 0o666)  # the child may have dropped to nobody by the time it reopens it
    os.close(fd)
    _log_path = path
    pid = os.fork()
    if pid == 0:  # child
        code = 70
        try:
            out = os.open(path, os.O_WRONLY | os.O_APPEND)
            os.dup2(out, 1)
            os.dup2(out, 2)
            os.close(out)
            if as_user is not None:
                become_unprivileged(as_user, as_user)
            result = body()
            code = 0 if result is None else result
        except BaseException:  # noqa: BLE001 - report and end, never return into pytest
            try:
                os.write(2, traceback.format_exc().encode())
            except BaseException:  # noqa: BLE001
                pass
        os._exit(code)
    try:
        _, status = wait_for_blocking(lambda: (ended := os.waitpid(pid, os.WNOHANG))[0] and ended,
                                      timeout=timeout, what=f"child {pid} to finish")
    except AssertionError:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        raise TimeoutError(f"child {pid} did not finish in {timeout} s: {open(path).read()}") from None
    with open(path) as f:
        output = f.read()
    os.unlink(path)
    reports: dict[str, Any] = {}
    for line in output.splitlines():
        if line.startswith("@report "):
            try:
                reports.update(json.loads(line[len("@report "):]))
            except ValueError:
                pass
    if os.WIFSIGNALED(status):
        return ChildEnd(None, os.WTERMSIG(status), output, reports)
    return ChildEnd(os.WEXITSTATUS(status), None, output, reports)
