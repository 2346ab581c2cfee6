"""``minibrowser tui --attach``: the window on a browser that another process
runs (a script here), through its control socket.

The browser is a real process with its real zygote and sandboxed
renderers (``tests/support/running_browser.py``); the window is the real app
driven with the Pilot, over a ``RemoteBrowser``.  A second ``RemoteBrowser``
attached at the same time checks what the first one did, from the outside.
"""

from __future__ import annotations

import psutil
import pytest
from textual.widgets import DataTable

from browser import RemoteBrowser
from tests.support.running_browser import RunningBrowser
from tui.app import BrowserApp
from tui.ipc_inspector import IpcInspector
from tui.process_tree import ProcessTree
from tui.task_manager import TaskManager

from tests.support.waiting import wait_for
from tuihelpers import screen_text

SIZE = (160, 48)


@pytest.fixture
def running(tmp_path, http_server):
    browser = RunningBrowser(tmp_path / "profile", [http_server.url("/hello"), http_server.url("/text")])
    yield browser
    browser.stop()


def attached_app(pid: int) -> BrowserApp:
    return BrowserApp([], browser_factory=lambda: RemoteBrowser(pid), attached=True, sample_seconds=0.3)


async def attached(pilot) -> BrowserApp:
    app = pilot.app
    await wait_for(app.ready.is_set, what="the window to attach", pause=pilot.pause)
    assert app.startup_error is None
    await wait_for(lambda: app.samples_taken > 0, what="a process sample", pause=pilot.pause)
    return app


async def test_an_attached_window_shows_and_drives_the_running_browser(running, http_server):
    observer = RemoteBrowser(running.pid)  # a second client, attached at the same time
    await observer.start()
    try:
        app = attached_app(running.pid)
        async with app.run_test(size=SIZE) as pilot:
            await attached(pilot)
            browser = app.browser
            # Its tabs and the page of its active one (the last it opened).
            assert [tab.url for tab in browser.tabs] == [http_server.url("/hello"), http_server.url("/text")]
            assert app.current is browser.active_tab and app.current.url == http_server.url("/text")
            await wait_for(lambda: app.page.frame is not None, what="the page", pause=pilot.pause)
            assert app.page.frame.text == "Plain text.\n<b>not bold</b>"
            # The process tree: the running browser's broker, zygote, renderers and spare.
            processes = {p.role: p for p in browser.processes()}
            assert processes["broker"].pid == running.pid
            tree = app.query_one(ProcessTree)
            await wait_for(lambda: any("spare renderer" in line for line in screen_text(app)),
                           what="the spare renderer in the tree", pause=pilot.pause)
            assert tree.node_tree.root.data == "broker" and str(running.pid) in str(tree.node_tree.root.label)
            assert psutil.Process(processes["zygote"].pid).ppid() == running.pid
            # Navigate from the address bar: the running browser's tab goes there.
            await pilot.press("ctrl+l")
            app.address.value = http_server.url("/form")
            await pilot.press("enter")
            shown = observer.tabs[1]
            await wait_for(lambda: shown.url == http_server.url("/form") and shown.state.value == "active"
                           and shown.title == app.current.title != "", what="the navigation, seen by the other client",
                           pause=pilot.pause)
            # The IPC inspector: the browser's messages for that navigation, live.
            await pilot.press("f4")
            await wait_for(lambda: isinstance(app.screen, IpcInspector), what="the inspector", pause=pilot.pause)
            table = app.screen.query_one(DataTable)
            await wait_for(lambda: table.row_count > 0, what="messages", pause=pilot.pause)
            types = {str(table.get_row_at(i)[3]) for i in range(table.row_count)}
            assert {"LoadDocument", "FrameReady"} <= types
            await pilot.press("escape")
            # The task manager's actions: discard the background tab.
            await pilot.press("f2")
            await wait_for(lambda: isinstance(app.screen, TaskManager), what="the task manager", pause=pilot.pause)
            rows = app.screen.query_one(DataTable)
            background = browser.tabs[0]
            await wait_for(lambda: f"tab-{background.id}" in {row.value for row in rows.rows}, what="its row", pause=pilot.pause)
            rows.move_cursor(row=rows.get_row_index(f"tab-{background.id}"))
            await pilot.press("d")
            await wait_for(lambda: observer.tabs[0].state.value == "discarded", what="the discard", pause=pilot.pause)
            assert background.state.value == "discarded" and background.pid is None
            await pilot.press("escape")
            # Detach: the browser keeps running, with its tabs.
            await pilot.press("q")
            await wait_for(lambda: not app.is_running, what="the window to close", pause=pilot.pause)
        assert app.return_code == 0 and app.gone_message is None
        assert running.process.poll() is None
        assert [tab.state.value for tab in observer.tabs] == ["discarded", "active"]
        assert observer.gone is None
    finally:
        await observer.shutdown()


async def test_when_the_browser_quits_the_attached_window_says_so_in_one_line(running):
    app = attached_app(running.pid)
    async with app.run_test(size=SIZE) as pilot:
        await attached(pilot)
        running.stop()
        await wait_for(lambda: not app.is_running, what="the window to close", timeout=30, pause=pilot.pause)
    assert app.return_code == 0
    assert app.gone_message == f"detached from the browser (pid {running.pid}): it quit"
