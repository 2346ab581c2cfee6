"""When to start a helper process again after it died.

The broker restarts the processes it depends on (the zygote, the network
process) when they die.  Soon at first, so that one crash costs the user
nothing; later and later while deaths follow one another, so that a process
that dies at once does not spin; and never "not at all": a browser that
refuses every new tab until it is restarted is worse than one that waits
half a minute.  A process that ran for ``reset_after`` seconds after its
last start was healthy: its next death starts the sequence again.

    backoff = RestartBackoff()
    delay = backoff.record_death()   # 0.1, 0.2, 0.4, ... up to 30 s
    backoff.delay_now()              # seconds left before a start is allowed

One instance per process kind; it holds no timers and starts nothing: the
owner sleeps for the delay (or tells the user how long it is) and starts.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class RestartBackoff:
    """Exponential backoff between restarts: ``initial`` after the first
    death, doubling with each further death up to ``maximum``; reset once a
    start was allowed ``reset_after`` seconds ago without a death since.
    ``clock`` (seconds, monotonic) is injectable for tests."""

    def __init__(self, *, initial: float = 0.1, maximum: float = 30.0, reset_after: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if not 0 < initial <= maximum:
            raise ValueError(f"need 0 < initial <= maximum, got initial={initial}, maximum={maximum}")
        if reset_after <= 0:
            raise ValueError(f"reset_after must be positive, got {reset_after}")
        self.initial = initial
        self.maximum = maximum
        self.reset_after = reset_after
        self.clock = clock
        self.deaths = 0  # deaths in a row (since the last reset)
        self._start_allowed_at: float | None = None

    def record_death(self) -> float:
        """The process died now: returns the delay before it may start again."""
        now = self.clock()
        if self._start_allowed_at is not None and now - self._start_allowed_at >= self.reset_after:
            self.deaths = 0  # it had run long enough: this death is a first one
        self.deaths += 1
        delay = min(self.initial * 2 ** (self.deaths - 1), self.maximum)
        self._start_allowed_at = now + delay
        return delay

    def delay_now(self) -> float:
        """Seconds until a start is allowed (0.0: now)."""
        if self._start_allowed_at is None:
            return 0.0
        return max(0.0, self._start_allowed_at - self.clock())
