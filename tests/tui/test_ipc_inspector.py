"""The IPC inspector (F4): a live, filterable log of broker-renderer messages."""

from __future__ import annotations

from textual.widgets import DataTable, Input

from tui.ipc_inspector import IpcInspector

from tuihelpers import SIZE, make_app, started
from tests.support.waiting import wait_for


async def test_shows_live_messages_and_filters_them(http_server):
    app = make_app([http_server.url("/text"), http_server.url("/hello")])
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        first, second = app.browser.tabs
        await pilot.press("f4")
        await wait_for(lambda: isinstance(app.screen, IpcInspector), what="the inspector", pause=pilot.pause)
        table = app.screen.query_one(DataTable)
        await wait_for(lambda: table.row_count > 4, what="messages", pause=pilot.pause)
        rows = [[str(cell) for cell in table.get_row_at(i)] for i in range(table.row_count)]
        types = {row[3] for row in rows}
        assert {"LoadDocument", "FrameReady"} <= types
        frame = next(row for row in rows if row[3] == "FrameReady")
        assert frame[2] == "renderer → broker" and frame[4].endswith(" B") and frame[5].endswith(" ms")
        # Live: a new navigation in tab 2 shows up.
        before = table.row_count
        await second.follow(1)
        await wait_for(lambda: table.row_count > before, what="new messages", pause=pilot.pause)
        # Filter: tab 2, messages to the broker, of type frame.
        app.screen.query_one(Input).focus()
        await pilot.press(*f"tab:{second.id} in frame")
        await wait_for(lambda: table.row_count > 0, what="filtered rows", pause=pilot.pause)
        rows = [[str(cell) for cell in table.get_row_at(i)] for i in range(table.row_count)]
        assert all(r[1] == str(second.id) and r[3] == "FrameReady" for r in rows)
        await pilot.press("escape")
        assert not isinstance(app.screen, IpcInspector)
