"""The renderer's own memory figures, for a broker that cannot read them.

A renderer is not dumpable, so a broker that is not root may not read its
``/proc/PID/smaps_rollup`` (the kernel asks for ptrace rights).  The renderer
itself may: it opens its own file once, before Landlock takes the filesystem
away, keeps the descriptor, and reads it again (``pread`` at offset 0, which
makes the kernel walk the page tables afresh) whenever the broker sends
``MeasureMemory``.  The descriptor shows only this process's own figures,
which it could work out anyway; it opens nothing new after lockdown.
"""

from __future__ import annotations

import os

SMAPS_ROLLUP = "/proc/self/smaps_rollup"
_READ_SIZE = 4096  # smaps_rollup is about 1 KiB
_FIELDS_KB = ("Rss", "Pss", "Private_Clean", "Private_Dirty")


class OwnMemory:
    """An open ``/proc/self/smaps_rollup``; :meth:`read` gives (rss, pss, uss) in bytes."""

    def __init__(self) -> None:
        try:
            self._fd: int | None = os.open(SMAPS_ROLLUP, os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            self._fd = None  # no /proc, or a kernel before 4.14: the report says so

    def read(self) -> tuple[int, int, int] | None:
        """(rss, pss, uss) in bytes now, or None when they cannot be read."""
        if self._fd is None:
            return None
        try:
            text = os.pread(self._fd, _READ_SIZE, 0).decode("ascii", "replace")
        except OSError:
            return None
        kib: dict[str, int] = {}
        for line in text.splitlines():
            name, _, rest = line.partition(":")
            if name in _FIELDS_KB:
                kib[name] = int(rest.split()[0])
        if len(kib) != len(_FIELDS_KB):
            return None
        return kib["Rss"] * 1024, kib["Pss"] * 1024, (kib["Private_Clean"] + kib["Private_Dirty"]) * 1024
