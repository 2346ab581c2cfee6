"""The task manager (Shift+Esc / F2): real processes, lifecycle actions through the API."""

from __future__ import annotations

from textual.widgets import DataTable

from tui.task_manager import Confirm, TaskManager

from tuihelpers import SIZE, make_app, started, wait_for


def select(screen: TaskManager, key: str) -> None:
    table = screen.query_one(DataTable)
    table.move_cursor(row=table.get_row_index(key), animate=False)


async def open_task_manager(pilot, key: str = "f2") -> TaskManager:
    await pilot.press(key)
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, TaskManager), what="the task manager")
    return pilot.app.screen


async def test_lists_every_process_and_sorts(http_server):
    app = make_app([http_server.url("/hello"), http_server.url("/text")])
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        screen = await open_task_manager(pilot, "shift+escape")
        table = screen.query_one(DataTable)
        await wait_for(pilot, lambda: len(table.rows) == 5, what="every process, the spare renderer too")
        keys = {row.value for row in table.rows}
        spare = next(p for p in app.browser.processes() if p.role == "spare")
        assert keys == {"broker", "zygote", f"spare-{spare.pid}"} | {f"tab-{t.id}" for t in app.browser.tabs}
        assert [str(cell) for cell in table.get_row(f"spare-{spare.pid}")][:3] == ["Spare renderer", str(spare.pid), "waiting"]
        headings = [str(c.label) for c in table.columns.values()]
        for heading in ("Task", "PID", "State", "USS", "PSS", "CPU %", "CPU time", "IPC msgs", "Sandbox", "Discardable"):
            assert heading in headings
        active = f"tab-{app.current.id}"
        assert str(table.get_row(active)[-1]).startswith("no: ")  # and why not
        await pilot.press("s")  # next column: PSS, largest first
        assert screen.sort_column == "pss" and screen.sort_reverse
        pss = [r.measurement.pss or 0 for r in sorted(app.process_rows, key=lambda r: -(r.measurement.pss or 0))]
        first = table.coordinate_to_cell_key((0, 0)).row_key.value
        assert next(r for r in app.process_rows if r.key == first).measurement.pss == pss[0]
        await pilot.press("S")
        assert not screen.sort_reverse
        await pilot.click("#task-table", offset=(3, 0))  # the Task heading
        assert screen.sort_column == "task"
        await pilot.press("escape")
        assert not isinstance(app.screen, TaskManager)


async def test_freeze_restore_discard_and_end_process(http_server):
    app = make_app([http_server.url("/hello"), http_server.url("/form")])
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        active, background = app.browser.tabs
        screen = await open_task_manager(pilot)
        key = f"tab-{background.id}"

        select(screen, key)
        await pilot.press("f")
        await wait_for(pilot, lambda: background.state.value == "frozen", what="freeze")
        select(screen, key)
        await pilot.press("r")
        await wait_for(pilot, lambda: background.state.value == "background", what="thaw")

        select(screen, f"tab-{active.id}")
        await pilot.press("d")  # the API refuses, and says why
        await pilot.pause(0.2)
        assert active.state.value == "active"
        assert any("Cannot discard" in n.message for n in app._notifications)

        pid = background.pid
        select(screen, key)
        await pilot.press("d")
        await wait_for(pilot, lambda: background.state.value == "discarded", what="discard")
        assert background.pid is None
        select(screen, key)
        await pilot.press("r")  # restore: a new renderer, the page from the snapshot
        await wait_for(pilot, lambda: background.state.value in ("active", "background") and background.pid,
                       what="restore")
        assert background.pid != pid and background.title == "Forms"

        select(screen, key)
        await pilot.press("e")
        assert isinstance(app.screen, Confirm)
        await pilot.press("n")  # no: nothing happens
        await pilot.pause(0.1)
        assert background.pid and background.state.value != "crashed"
        select(screen, key)
        await pilot.press("e")
        await pilot.press("y")
        await wait_for(pilot, lambda: background.state.value == "crashed", what="end process")


async def test_pin_and_keep_protect_a_tab_from_discarding(http_server):
    app = make_app([http_server.url("/hello"), http_server.url("/text")])
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        first, second = app.browser.tabs
        background = first if app.current is second else second
        screen = await open_task_manager(pilot)
        key = f"tab-{background.id}"
        select(screen, key)
        await pilot.press("p")
        await wait_for(pilot, lambda: background.pinned, what="pin")
        await wait_for(pilot, lambda: "pinned" in str(screen.query_one(DataTable).get_row(key)[-1]),
                       what="the reason in the table")
        select(screen, key)
        await pilot.press("d")  # refused: pinned
        await pilot.pause(0.2)
        assert background.state.value != "discarded"
        select(screen, key)
        await pilot.press("p")  # unpin
        await wait_for(pilot, lambda: not background.pinned, what="unpin")
        select(screen, key)
        await pilot.press("k")
        await wait_for(pilot, lambda: background.kept, what="keep")
