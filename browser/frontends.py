"""Windows for the browser, found by name, so that ``browser/`` never imports them.

A front end (the terminal UI in ``tui/``) is built on the public API
(``browser.api``); the command line, the one composition root, opens it
without an import arrow from ``browser/`` to ``tui/``: front ends are
declared in the ``minibrowser.frontends`` entry point group of
``pyproject.toml`` and looked up here with ``importlib.metadata``.  A build
without one says so in one line instead of failing to import.

A front end is a module (or object) with:

* ``async run(urls, *, browser_factory) -> int``: show a browser window on
  ``urls`` until the user quits; ``browser_factory()`` makes the (not yet
  started) ``Browser``; returns the exit status; with ``attached=True``
  it makes a ``RemoteBrowser`` (``tui --attach``), whose own tabs are shown;
* ``trace_window() -> TraceWindow``: a window that shows the browser a
  trace plays on (``minibrowser simulate run --engine real --tui``).
"""

from __future__ import annotations

import contextlib
import importlib.metadata
from collections.abc import Callable
from typing import Any, Protocol

GROUP = "minibrowser.frontends"
#: The front end ``minibrowser tui`` opens.
TERMINAL = "terminal"


class SimulationStopped(RuntimeError):
    """A trace window was closed before the end of the trace; ``str()`` is one line."""


class FrontendMissing(LookupError):
    """No front end of that name is installed (or it cannot be imported); ``str()`` is one line."""


class TraceWindow(Protocol):
    """Shows a browser while a trace plays on it; raises :class:`SimulationStopped`
    when the user closes it before the end."""

    def showing(self, browser: Any) -> contextlib.AbstractAsyncContextManager[Any]: ...


class Frontend(Protocol):
    async def run(self, urls: list[str], *, browser_factory: Callable[[], Any], attached: bool = False) -> int: ...

    def trace_window(self) -> TraceWindow: ...


def find_frontend(name: str = TERMINAL) -> Frontend:
    """The installed front end called ``name``, or :class:`FrontendMissing`."""
    for entry in importlib.metadata.entry_points(group=GROUP, name=name):
        try:
            return entry.load()
        except ImportError:
            break
    raise FrontendMissing(f"the {name} window is not available in this build")
