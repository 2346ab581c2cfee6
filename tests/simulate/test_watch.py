"""The real engine shown in the ordinary browser window (``simulate run --engine real --tui``), driven headless."""

from __future__ import annotations

import asyncio

from browser.simulate.model import Design, ProcessModel
from browser.simulate.real import run_real
from tui.trace_window import TraceWindow
from tests.simulate.test_command_and_engines import small_trace


class SeenWindow(TraceWindow):
    """Keeps what the window showed once the trace had played."""

    async def finished(self, app) -> None:
        from tui.process_tree import ProcessTree
        from tui.tab_strip import TabStrip

        self.tabs = [(tab.id, tab.state.value) for tab in app.browser.tabs]
        self.on_screen = app.current.id
        self.address = app.address.value
        self.active_url = app.browser.active_tab.url
        self.strip = str(app.window.query_one(TabStrip).render())
        self.tree_shown = app.window.query_one(ProcessTree).display


def test_the_window_follows_the_trace_and_shows_its_tabs():
    window = SeenWindow(headless_size=(140, 40))
    design = Design("chrome-memory-saver-maximum", ProcessModel.PER_TAB, 1024**3)
    result = asyncio.run(run_real(small_trace(), design, speed=1800, window=window))
    assert (result.discards, result.restores) == (2, 2)
    # The window's own blank tab was 1 and is closed: trace tab N is browser tab N + 1.  Trace tab 3 was
    # discarded, brought back, made active and navigated: the window shows it, at its new address.
    assert window.tabs == [(2, "background"), (3, "background"), (4, "active"), (5, "background")]
    assert window.strip.strip() == "○ Page /1 │ ○ Page /2 │ ● Page /5 │ ○ Page /4 │ +"
    assert window.on_screen == 4 and window.address == window.active_url and window.active_url.endswith("/5?size=medium")
    assert window.tree_shown
