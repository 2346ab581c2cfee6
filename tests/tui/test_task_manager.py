"""The task manager (Shift+Esc / F2): real processes, lifecycle actions through the API."""

from __future__ import annotations

import re

from textual.widgets import DataTable

from tui.task_manager import Confirm, TaskManager

from tuihelpers import SIZE, make_app, started
from tests.support.waiting import wait_for


def select(screen: TaskManager, key: str) -> None:
    table = screen.query_one(DataTable)
    table.move_cursor(row=table.get_row_index(key), animate=False)


async def open_task_manager(pilot, key: str = "f2") -> TaskManager:
    await pilot.press(key)
    await wait_for(lambda: isinstance(pilot.app.screen, TaskManager), what="the task manager", pause=pilot.pause)
    return pilot.app.screen


async def test_lists_every_process_and_sorts(http_server):
    app = make_app([http_server.url("/hello"), http_server.url("/text")])
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        screen = await open_task_manager(pilot, "shift+escape")
        table = screen.query_one(DataTable)
        await wait_for(lambda: len(table.rows) == 6, what="every process, the spare renderer too", pause=pilot.pause)
        keys = {row.value for row in table.rows}
        spare = next(p for p in app.browser.processes() if p.role == "spare")
        assert keys == {"broker", "network", "zygote", f"spare-{spare.pid}"} | {f"tab-{t.id}" for t in app.browser.tabs}
        assert [str(cell) for cell in table.get_row(f"spare-{spare.pid}")][:3] == ["Spare renderer", str(spare.pid), "waiting"]
        network_pid = next(p.pid for p in app.browser.processes() if p.role == "network")
        headings = [str(c.label) for c in table.columns.values()]
        network = table.get_row("network")
        assert [str(cell) for cell in network[:2]] == ["Network process", str(network_pid)]
        assert str(network[headings.index("Sandbox")]) == "sandboxed"
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
        await wait_for(lambda: background.state.value == "frozen", what="freeze", pause=pilot.pause)
        select(screen, key)
        await pilot.press("r")
        await wait_for(lambda: background.state.value == "background", what="thaw", pause=pilot.pause)

        select(screen, f"tab-{active.id}")
        await pilot.press("d")  # the API refuses, and says why
        refusal = f"Cannot discard tab {active.id}: it is the tab you are looking at"
        await wait_for(lambda: any(n.message == refusal for n in app._notifications), what="the refusal",
                       pause=pilot.pause)
        assert active.state.value == "active"

        pid = background.pid
        select(screen, key)
        await pilot.press("d")
        await wait_for(lambda: background.state.value == "discarded", what="discard", pause=pilot.pause)
        assert background.pid is None
        select(screen, key)
        await pilot.press("r")  # restore: a new renderer, the page from the snapshot
        await wait_for(lambda: background.state.value in ("active", "background") and background.pid,
                       what="restore", pause=pilot.pause)
        assert background.pid != pid and background.title == "Forms"
        pid_after_restore = background.pid

        select(screen, key)
        await pilot.press("e")
        assert isinstance(app.screen, Confirm)
        await pilot.press("n")  # no: nothing happens
        await wait_for(lambda: not isinstance(app.screen, Confirm), what="the question to close", pause=pilot.pause)
        assert await background.ping() > 0  # the same renderer still answers
        assert background.pid == pid_after_restore and background.state.value != "crashed"
        select(screen, key)
        await pilot.press("e")
        await pilot.press("y")
        await wait_for(lambda: background.state.value == "crashed", what="end process", pause=pilot.pause)


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
        await wait_for(lambda: background.pinned, what="pin", pause=pilot.pause)
        await wait_for(lambda: "pinned" in str(screen.query_one(DataTable).get_row(key)[-1]),
                       what="the reason in the table", pause=pilot.pause)
        select(screen, key)
        await pilot.press("d")  # refused: pinned
        refusal = f"Cannot discard tab {background.id}: it is pinned"
        await wait_for(lambda: any(n.message == refusal for n in app._notifications), what="the refusal",
                       pause=pilot.pause)
        assert background.state.value != "discarded"
        select(screen, key)
        await pilot.press("p")  # unpin
        await wait_for(lambda: not background.pinned, what="unpin", pause=pilot.pause)
        select(screen, key)
        await pilot.press("k")
        await wait_for(lambda: background.kept, what="keep", pause=pilot.pause)


async def test_discards_columns_and_actions_urgent_proactive_and_auto_discardable(http_server):
    """What chrome://discards shows, per tab, and its actions: toggling auto-discardable (a) makes a
    proactive discard (D) refused, with the reason, while an urgent one (d) still goes."""
    app = make_app([http_server.url("/hello"), http_server.url("/text")])
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        first, second = app.browser.tabs
        background = first if app.current is second else second
        screen = await open_task_manager(pilot)
        table = screen.query_one(DataTable)
        headings = [str(c.label) for c in table.columns.values()]
        assert headings[-7:] == ["Visibility", "Freezable", "Auto-discard", "Discards", "Revisits", "Last active",
                                 "Discardable"]
        key = f"tab-{background.id}"
        await wait_for(lambda: [str(cell) for cell in table.get_row(key)[-7:-2]] == [
            "hidden", "yes", "on", "0", "0"], what="the tab's lifecycle row", pause=pilot.pause)
        assert re.fullmatch(r"now|\d+ s ago", str(table.get_row(key)[-2]))  # a real clock: seconds, not minutes

        select(screen, key)
        await pilot.press("a")
        await wait_for(lambda: not background.auto_discardable, what="auto-discardable off", pause=pilot.pause)
        await wait_for(lambda: str(table.get_row(key)[-5]) == "off", what="the switch in the table", pause=pilot.pause)
        assert str(table.get_row(key)[-1]) == "no: automatic discarding is off for it; an urgent discard still may"
        select(screen, key)
        await pilot.press("D")  # proactive: refused, as the policy's own discards are
        await wait_for(lambda: any(n.message == f"Cannot proactive-discard tab {background.id}: automatic "
                                   "discarding is off for it; an urgent discard still may"
                                   for n in app._notifications), what="the refusal", pause=pilot.pause)
        assert background.state.value == "background"
        select(screen, key)
        await pilot.press("d")  # urgent: the user's own
        await wait_for(lambda: background.state.value == "discarded", what="urgent discard", pause=pilot.pause)
        await wait_for(lambda: str(table.get_row(key)[-4]) == "1", what="the discard count", pause=pilot.pause)
        select(screen, key)
        await pilot.press("a")
        await wait_for(lambda: background.auto_discardable, what="auto-discardable on", pause=pilot.pause)
        select(screen, key)
        await pilot.press("r")
        await wait_for(lambda: background.state.value in ("active", "background") and background.pid,
                       what="restore", pause=pilot.pause)
        # Opened in the background: its first showing is no revisit (as Chrome's TabRevisitTracker counts).
        assert background.revisits == 0
        other = first if background is second else second
        await wait_for(lambda: other.state.value == "background", what="the other tab hidden", pause=pilot.pause)
        select(screen, f"tab-{other.id}")
        await pilot.press("D")
        await wait_for(lambda: other.state.value == "discarded", what="proactive discard", pause=pilot.pause)
        assert other.discard_count == 1

