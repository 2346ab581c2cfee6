"""Security tests fork locked-down children; they need root (CI runs as root)
to show both the root and the unprivileged (nobody) path."""

from __future__ import annotations

from forkrun import SUMMARY


def pytest_terminal_summary(terminalreporter) -> None:
    for line in SUMMARY:
        terminalreporter.write_line(line)
