"""The one way the tests wait: for a condition, never for a fixed time.

``await wait_for(condition)`` in a test with an event loop,
``wait_for_blocking(condition)`` in one without; both check ``condition()``
every ``INTERVAL_S`` until it returns something true and return that, and
after ``timeout`` seconds fail the test with an AssertionError that names
what was awaited."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Generator
from typing import TypeVar

T = TypeVar("T")

#: How often a condition is checked.
INTERVAL_S = 0.01


def _checks(condition: Callable[[], T], timeout: float, what: str) -> Generator[None, None, T]:
    """Check once per step; yields while the condition does not hold yet."""
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        yield
    return value


async def wait_for(condition: Callable[[], T], *, timeout: float = 10.0, what: str = "the condition",
                   pause: Callable[[float], Awaitable[object]] = asyncio.sleep) -> T:
    """Wait until ``condition()`` holds.  ``pause(seconds)`` runs between
    checks: by default it lets the event loop run; a TUI test passes
    ``pilot.pause`` so that the app also processes its messages and redraws."""
    checks = _checks(condition, timeout, what)
    try:
        while True:
            next(checks)
            await pause(INTERVAL_S)
    except StopIteration as held:
        return held.value


def wait_for_blocking(condition: Callable[[], T], *, timeout: float = 10.0, what: str = "the condition") -> T:
    """:func:`wait_for` for code that runs no event loop (it blocks the thread)."""
    checks = _checks(condition, timeout, what)
    try:
        while True:
            next(checks)
            time.sleep(INTERVAL_S)
    except StopIteration as held:
        return held.value
