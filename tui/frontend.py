"""The terminal UI as the command line's front end: the window run in this
terminal, and the window a trace plays in.

``pyproject.toml`` declares this module in the ``minibrowser.frontends``
entry point group under the name ``terminal``; ``browser.frontends`` finds it
there, so that the command line opens the window without importing ``tui/``.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import threading
from collections.abc import Callable

from tui.app import BrowserApp
from tui.trace_window import TraceWindow

HANGUP_GRACE_SECONDS = 5.0  # after the terminal closed, at most this long to quit cleanly


async def run(urls: list[str], *, browser_factory: Callable[[], object] | None = None,
              attached: bool = False) -> int:
    """The browser window on ``urls`` in this terminal until the user quits;
    returns the exit status.  ``browser_factory()`` makes the browser
    (default: ``Browser()``); with ``attached``, a ``RemoteBrowser`` (a browser
    another process runs, whose own tabs are shown).  The terminal closing
    (SIGHUP) or a SIGTERM quits cleanly."""
    app = BrowserApp(urls, browser_factory=browser_factory, attached=attached)
    loop = asyncio.get_running_loop()

    def terminal_closed(signum, frame) -> None:
        # The terminal is gone: whatever is still drawn goes to /dev/null,
        # so that no thread dies writing to it (Textual's writer thread
        # would, and its shutdown would then wait for it for ever).  Quit
        # cleanly; if that cannot finish in time, leave anyway: the zygote
        # notices its broker is gone and ends every renderer and removes the
        # runtime directory.
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        deadline = threading.Timer(HANGUP_GRACE_SECONDS, os._exit, args=(0,))
        deadline.daemon = True
        deadline.start()
        loop.call_soon_threadsafe(app.hang_up)

    previous_hup = signal.signal(signal.SIGHUP, terminal_closed)
    try:
        loop.add_signal_handler(signal.SIGTERM, app.hang_up)  # asked to stop: quit cleanly
        handles_term = True
    except (NotImplementedError, RuntimeError):
        handles_term = False
    try:
        result = await app.run_async()
    finally:
        await app.shutdown_browser()
        signal.signal(signal.SIGHUP, previous_hup)
        if handles_term:
            loop.remove_signal_handler(signal.SIGTERM)
    if app.startup_error:
        print(f"minibrowser: {app.startup_error}", file=sys.stderr)
        return 1
    if app.gone_message:
        print(f"minibrowser: {app.gone_message}", file=sys.stderr)
    return result if isinstance(result, int) else 0


def trace_window() -> TraceWindow:
    """A window on the browser a trace plays on (``simulate run --engine real --tui``)."""
    return TraceWindow()
