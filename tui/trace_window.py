"""``simulate run --engine real --tui``: the ordinary browser window on the browser a trace plays on.

The window is minibrowser's own terminal UI (tabs, page, process tree,
task manager with ``m``), following whichever tab the trace makes active.
It starts and shuts down the browser the real engine plays on, as it does
its own.  Quitting the window (``q``) stops the run: the engine reports
``SimulationStopped``.  The command line finds it through ``tui.frontend``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from browser import SimulationStopped
from tui.app import BrowserApp


class TraceWindow:
    """Shows a browser in the terminal UI while a trace plays on it.

    ``headless_size`` runs the window without a terminal (Textual's test
    driver), as tests do; :meth:`finished` is called with the app once the
    trace has played, before the window closes."""

    def __init__(self, *, headless_size: tuple[int, int] | None = None) -> None:
        self.headless_size = headless_size

    async def finished(self, app) -> None:
        """The trace has played; the window is still up."""

    @contextlib.asynccontextmanager
    async def showing(self, browser) -> AsyncIterator[object]:
        """Run the window on ``browser`` (not yet started: the window starts it) while the body runs."""
        app = BrowserApp(["about:blank"], browser_factory=lambda: browser, follow_active=True)
        if self.headless_size is not None:
            async with app.run_test(size=self.headless_size):
                await self._until_ready(app)
                yield browser
                app.show_current_state()
                await self.finished(app)
                await app.shutdown_browser()
            return
        running = asyncio.ensure_future(app.run_async())
        player = asyncio.current_task()
        closed_by_user = False

        def window_closed(_task) -> None:
            nonlocal closed_by_user
            if not leaving:
                closed_by_user = True
                player.cancel()

        leaving = False
        running.add_done_callback(window_closed)
        try:
            await self._until_ready(app, running)
            yield browser
            app.show_current_state()
            await self.finished(app)
        except asyncio.CancelledError:
            if closed_by_user:
                raise SimulationStopped("the window was closed before the end of the trace") from None
            raise
        finally:
            leaving = True
            app.exit(0)
            with contextlib.suppress(Exception):
                await running
            await app.shutdown_browser()
        if app.startup_error:
            raise SimulationStopped(app.startup_error)

    @staticmethod
    async def _until_ready(app, running: asyncio.Future | None = None) -> None:
        """Wait for the window's browser; close the blank tab the window opens first."""
        while not app.ready.is_set():
            if app.startup_error or (running is not None and running.done()):
                raise SimulationStopped(app.startup_error or "the window closed before the browser started")
            await asyncio.sleep(0.05)
        for tab in list(app.browser.tabs):
            await tab.close()
