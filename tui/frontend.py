"""The terminal UI as the command line's front end.

``pyproject.toml`` declares this module in the ``minibrowser.frontends``
entry point group under the name ``terminal``; ``browser.frontends`` finds it
there, so that the command line opens the window without importing ``tui/``.
"""

from __future__ import annotations

from collections.abc import Callable

from tui.app import run_app
from tui.trace_window import TraceWindow


async def run(urls: list[str], *, browser_factory: Callable[[], object]) -> int:
    """The browser window on ``urls`` until the user quits; the exit status."""
    return await run_app(urls, browser_factory=browser_factory)


def trace_window() -> TraceWindow:
    """A window on the browser a trace plays on (``simulate run --engine real --tui``)."""
    return TraceWindow()
