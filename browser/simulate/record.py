"""Recording a real session as a trace, so that a user can replay their own browsing.

A :class:`TraceRecorder` listens to what the user does through the public
API's hooks: :meth:`TraceRecorder.attach` subscribes it to a browser's
actions (``Browser.subscribe_actions``) and shutdown
(``Browser.subscribe_shutdown``); ``minibrowser open --record-trace FILE``
and ``minibrowser tui --record-trace FILE`` attach one.  It writes the trace
(``browser.simulate.trace``, one user) when the browser shuts down; the file
is created at once, so a path that cannot be written fails before the
session starts.

What is recorded, with the time since recording began:

* ``open``: a tab's first page (and, for a tab opened in the background,
  a ``switch`` back to the tab the user was looking at, at the same time);
* ``switch``: another tab made the active one;
* ``navigate``: the address bar, a link, back, forward, reload;
* ``input``: typing in or pressing a form control, finding, scrolling;
* ``close``.

Only ``http:`` and ``https:`` pages are traced (the format's rule): a tab
enters the trace with its first such page, recorded as its ``open``, and a
navigation to another kind of page (``about:``, ``file:``) is left out.

The size class of a page is judged from the text it shows, as the API
never hands out the document: a page whose text is under
:data:`MEDIUM_FROM_TEXT_BYTES` is small, under :data:`LARGE_FROM_TEXT_BYTES`
medium, large otherwise (the geometric midpoints between the classes'
document sizes; text is most of a page's bytes).
"""

from __future__ import annotations

import math
import os
import time
import urllib.parse
from collections.abc import Callable

from browser.simulate.trace import SECONDS_PER_DAY, Event, SizeClass, Trace, UserAction, write_trace

MEDIUM_FROM_TEXT_BYTES = int(math.sqrt(SizeClass.SMALL.document_bytes * SizeClass.MEDIUM.document_bytes))
HOUR = 3600.0
LARGE_FROM_TEXT_BYTES = int(math.sqrt(SizeClass.MEDIUM.document_bytes * SizeClass.LARGE.document_bytes))


def size_class_of(frame) -> SizeClass:
    """The size class of a page, from the text of its frame (see the module docstring)."""
    if frame is None:
        return SizeClass.SMALL
    text_bytes = sum(len(line.text.encode()) + 1 for line in frame.lines)
    if text_bytes < MEDIUM_FROM_TEXT_BYTES:
        return SizeClass.SMALL
    return SizeClass.MEDIUM if text_bytes < LARGE_FROM_TEXT_BYTES else SizeClass.LARGE


def _traceable(url: str) -> bool:
    parts = urllib.parse.urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.hostname) and len(url) <= 2048


class TraceRecorder:
    """Turns the user's actions on one browser into trace events; :meth:`close` writes them."""

    def __init__(self, path: str | os.PathLike, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.path = os.fspath(path)
        self._file = open(self.path, "w", encoding="utf-8")  # noqa: SIM115 - created now: a bad path fails at once
        self._clock = clock
        self._started = clock()
        self.events: list[Event] = []
        self._traced: set[int] = set()  # tabs in the trace (open, not closed)
        self._active: int | None = None  # the tab the trace says the user looks at

    def attach(self, browser) -> None:
        """Record what the user does on ``browser`` (a ``browser.api.Browser``),
        and write the trace when it shuts down."""
        browser.subscribe_actions(self.on_action)
        browser.subscribe_shutdown(self.close)

    def _now(self) -> float:
        t = round(self._clock() - self._started, 3)
        return max(t, self.events[-1].t) if self.events else max(t, 0.0)

    def _add(self, action: UserAction, tab: int, url: str | None = None, size: SizeClass | None = None) -> None:
        self.events.append(Event(self._now(), 0, tab, action, url, size))

    def on_action(self, action, tab, active) -> None:
        """One user action on ``tab``; ``active`` is the browser's active tab after it."""
        number = tab.id
        if action is UserAction.CLOSE:
            if number in self._traced:
                self._add(UserAction.CLOSE, number)
                self._traced.discard(number)
                if self._active == number:
                    self._active = None
            return
        if number not in self._traced:
            if action is UserAction.SWITCH or not _traceable(tab.url):
                return
            self._add(UserAction.OPEN, number, tab.url, size_class_of(tab.frame))  # the trace makes it the active tab
            self._traced.add(number)
            self._active = number
            if active is not None and active.id != number and active.id in self._traced:
                self._add(UserAction.SWITCH, active.id)  # opened in the background: the user still looks at that one
                self._active = active.id
            return
        if action is UserAction.NAVIGATE:
            if _traceable(tab.url):
                self._add(UserAction.NAVIGATE, number, tab.url, size_class_of(tab.frame))
        elif action is UserAction.INPUT:
            self._add(UserAction.INPUT, number)
            self._active = number
        elif action is UserAction.SWITCH and self._active != number:
            self._add(UserAction.SWITCH, number)
            self._active = number

    def trace(self) -> Trace:
        """The session so far as a trace of one user."""
        last = self.events[-1].t if self.events else 0.0
        days = math.ceil((last + 1) / HOUR) * HOUR / SECONDS_PER_DAY  # whole hours: a replay need not run a day
        return Trace(1, days, list(self.events), {"generator": "minibrowser recorded session"})

    def close(self) -> Trace:
        """Write the trace and close the file (once; later calls only return the trace)."""
        trace = self.trace()
        if self._file is not None:
            self._file.close()
            self._file = None
            write_trace(trace, self.path)
        return trace
