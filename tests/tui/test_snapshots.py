"""What the screens look like (pytest-textual-snapshot).

The pages and tabs are real (data: and about: URLs, real renderers); the
process figures come from ``FixedProcessSource``, because live pids, memory
and message counts would change the picture on every run.
Update after a deliberate change with ``pytest tests/tui --snapshot-update``
and look at every changed picture.
"""

from __future__ import annotations

from tui.task_manager import TaskManager

from tuihelpers import FixedProcessSource, make_app, started
from tests.support.waiting import wait_for

PAGE = (
    "data:text/html,<title>Snapshot</title><h1>A heading</h1>"
    "<p>Some <em>emphasis</em>, <b>bold</b> and <code>code</code>, "
    "a <a href='about:version'>link</a> and <a href='about:blank'>another</a>.</p>"
    "<blockquote>A quote.</blockquote><ul><li>one</li><li>two</li></ul>"
)
SIZE = (110, 32)


def fixed_app(urls):
    return make_app(urls, process_source=FixedProcessSource(), sample_seconds=0.2)


async def settled(pilot) -> None:
    app = await started(pilot)
    await wait_for(lambda: all(
        row.key in app.sandbox_status and app.sandbox_status[row.key].mark != "checking" for row in app.process_rows
    ) and len(app.process_rows) == 3 + len(app.browser.tabs), what="the sandbox reports", pause=pilot.pause)  # the spare too
    await next_sample(pilot)


async def next_sample(pilot) -> None:
    """Wait for the process tree's next sample: what the screen shows now is drawn."""
    app = pilot.app
    taken = app.samples_taken
    await wait_for(lambda: app.samples_taken > taken, what="the next sample", pause=pilot.pause)


def test_browser_window(snap_compare):
    """160x48: the page beside the open process tree, every key in the footer."""

    async def run_before(pilot):
        await settled(pilot)
        await pilot.press("tab")  # focus link [1]

    assert snap_compare(fixed_app([PAGE, "about:blank"]), terminal_size=(160, 48), run_before=run_before)


def test_browser_window_at_80x24(snap_compare):
    """80x24: the page has the width (the tree is closed), the footer the keys that matter."""

    async def run_before(pilot):
        await settled(pilot)
        await pilot.press("tab")

    assert snap_compare(fixed_app([PAGE, "about:blank"]), terminal_size=(80, 24), run_before=run_before)


def test_task_manager(snap_compare):
    async def run_before(pilot):
        await settled(pilot)
        await pilot.press("f2")
        await wait_for(lambda: isinstance(pilot.app.screen, TaskManager), what="the task manager", pause=pilot.pause)
        await next_sample(pilot)

    assert snap_compare(fixed_app([PAGE, "about:blank"]), terminal_size=SIZE, run_before=run_before)


def test_sad_tab(snap_compare):
    async def run_before(pilot):
        app = await started(pilot)
        tab = app.current
        await pilot.press("ctrl+l")
        app.address.value = "about:crash"
        await pilot.press("enter")
        await wait_for(lambda: tab.state.value == "crashed", what="the crash", pause=pilot.pause)
        await wait_for(lambda: any(r.target.state == "crashed" for r in app.process_rows)
                       and any(r.target.role == "spare" for r in app.process_rows), what="a sample", pause=pilot.pause)
        await next_sample(pilot)

    assert snap_compare(fixed_app(["about:blank"]), terminal_size=SIZE, run_before=run_before)
