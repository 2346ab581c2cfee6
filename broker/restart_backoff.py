"""How long to wait before starting a process that died again.

Used for the broker's child processes that it restarts itself (the zygote,
the network process).  The first restart waits ``initial`` seconds; each
death soon after the previous one doubles the wait, up to ``maximum``; a
process that stayed up for ``reset_after`` seconds starts from ``initial``
again.  It never gives up: a browser that lost its zygote or its network
process three times in a row still gets them back, only more slowly.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class RestartBackoff:
    def __init__(self, initial: float = 0.1, maximum: float = 30.0, reset_after: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.initial = initial
        self.maximum = maximum
        self.reset_after = reset_after
        self.clock = clock
        self.deaths = 0  # in the current run of deaths
        self._last_death: float | None = None
        self._next_start = 0.0  # clock time before which no restart should begin

    def record_death(self) -> float:
        """A death now: the delay before the next start."""
        now = self.clock()
        if self._last_death is not None and now - self._last_death >= self.reset_after:
            self.deaths = 0
        self.deaths += 1
        self._last_death = now
        delay = min(self.initial * 2 ** (self.deaths - 1), self.maximum)
        self._next_start = now + delay
        return delay

    def delay_now(self) -> float:
        """How long a start asked for now must still wait (0 when it may go)."""
        return max(0.0, self._next_start - self.clock())
