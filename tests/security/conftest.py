"""Security tests fork locked-down children.  As root they show both the root
and the unprivileged (nobody) path, and none may be skipped (tests/conftest.py);
as a normal user they show that user's path, and the few that only root can
show are marked ``needs_root`` and say why."""

from __future__ import annotations

from forkrun import SUMMARY


def pytest_terminal_summary(terminalreporter) -> None:
    for line in SUMMARY:
        terminalreporter.write_line(line)
