"""Recording a session driven through the public API, and replaying it with both engines."""

from __future__ import annotations

import asyncio
import json

from browser import Browser, LifecyclePolicy
from browser.simulate.costs import CostModel
from browser.simulate.model import Design, ProcessModel, run_design
from browser.simulate.pages import PageServer
from browser.simulate.real import run_real
from browser.simulate.record import TraceRecorder
from browser.simulate.trace import SizeClass, read_trace


async def browse(path, server: PageServer) -> str:
    """Three tabs on two sites: opens (one in the background), switches, a link, scrolling, a close."""
    browser = Browser(policy=LifecyclePolicy.manual())
    TraceRecorder(path).attach(browser)
    async with browser:
        first = await browser.open(server.url(0, "/p/1", SizeClass.SMALL))
        await browser.open(server.url(1, "/p/2", SizeClass.MEDIUM))
        await first.activate()
        await first.follow(1)
        followed = first.url
        first.scroll_to(3)
        third = await browser.open(server.url(0, "/p/3", SizeClass.LARGE), activate=False)
        await browser.open("about:blank")  # not an http(s) page: not in the trace
        browser.activate(third)
        await third.close()
    return followed


def test_a_session_recorded_through_the_api_replays_on_both_engines(tmp_path):
    path = tmp_path / "session.jsonl"
    with PageServer(sites=2) as server:
        followed = asyncio.run(browse(path, server))
        site_a, site_b = (server.url(i, "", SizeClass.SMALL).split("?")[0] for i in (0, 1))
    lines = path.read_text().splitlines()
    header = json.loads(lines[0])
    assert header == {"format": "minibrowser-trace", "version": 1, "users": 1, "days": 1 / 24,
                      "generator": "minibrowser recorded session"}
    events = [json.loads(line) for line in lines[1:]]
    times = [event.pop("t") for event in events]
    assert times == sorted(times) and times[-1] < 60
    assert followed.startswith(f"{site_a}/p/") and followed.endswith("?size=small")
    assert events == [
        {"user": 0, "tab": 1, "action": "open", "url": f"{site_a}/p/1?size=small", "size": "small"},
        {"user": 0, "tab": 2, "action": "open", "url": f"{site_b}/p/2?size=medium", "size": "medium"},
        {"user": 0, "tab": 1, "action": "switch"},
        {"user": 0, "tab": 1, "action": "navigate", "url": followed, "size": "small"},
        {"user": 0, "tab": 1, "action": "input"},
        {"user": 0, "tab": 3, "action": "open", "url": f"{site_a}/p/3?size=large", "size": "large"},
        {"user": 0, "tab": 1, "action": "switch"},
        {"user": 0, "tab": 3, "action": "switch"},
        {"user": 0, "tab": 3, "action": "close"},
    ]
    trace = read_trace(path)
    design = Design("none", ProcessModel.PER_TAB, 1024**3)
    model = run_design(trace, design, CostModel(process_limit=8))
    real = asyncio.run(run_real(trace, design, speed=trace.duration_s / 5))  # an hour of trace in 5 s
    summary = ("users", "activations", "restores", "discards", "freezes", "peak_processes")
    assert [real.summary()[k] for k in summary] == [model.summary()[k] for k in summary] == [1, 3, 0, 0, 0, 3]


def test_open_dump_records_its_tabs_and_a_bad_trace_path_is_one_line(tmp_path):
    from tests.simulate.test_command_and_engines import minibrowser

    path = tmp_path / "dump.jsonl"
    with PageServer(sites=1) as server:
        urls = [server.url(0, "/p/1", SizeClass.SMALL), server.url(0, "/p/2", SizeClass.LARGE)]
        done = minibrowser("open", "--dump", "--record-trace", str(path), *urls)
    assert (done.returncode, done.stderr) == (0, "")
    events = [{k: v for k, v in json.loads(line).items() if k != "t"} for line in path.read_text().splitlines()[1:]]
    opened = [{"user": 0, "tab": 1, "action": "open", "url": urls[0], "size": "small"},
              {"user": 0, "tab": 2, "action": "open", "url": urls[1], "size": "large"}]
    # The pages load side by side, and the browser shows the first tab: whichever loads last, the trace ends on it.
    assert events in ([*opened, {"user": 0, "tab": 1, "action": "switch"}], opened[::-1])
    read_trace(path)
    bad = tmp_path / "no-such-directory" / "t.jsonl"
    done = minibrowser("open", "--dump", "--record-trace", str(bad), "about:blank")
    assert (done.returncode, done.stderr, done.stdout) == (
        2, f"minibrowser: {bad}: cannot write the trace (No such file or directory)\n", "")


async def test_the_terminal_ui_records_what_the_user_does(tmp_path):
    """``minibrowser open --record-trace FILE`` on a terminal: the window's own tabs and keys, recorded."""
    from tests.tui.tuihelpers import SIZE, started
    from tests.support.waiting import wait_for
    from tui.app import BrowserApp

    path = tmp_path / "tui.jsonl"
    with PageServer(sites=2) as server:
        urls = [server.url(0, "/p/1", SizeClass.SMALL), server.url(1, "/p/2", SizeClass.MEDIUM)]
        def recorded_browser() -> Browser:
            browser = Browser()
            TraceRecorder(path).attach(browser)
            return browser

        app = BrowserApp(urls, browser_factory=recorded_browser)
        async with app.run_test(size=SIZE) as pilot:
            await started(pilot)
            await pilot.press("ctrl+pagedown")  # the next tab
            await wait_for(lambda: app.browser.active_tab.id == 2, what="the second tab to be active", pause=pilot.pause)
            await app.action_quit()
    events = [{k: v for k, v in json.loads(line).items() if k != "t"} for line in path.read_text().splitlines()[1:]]
    assert events == [
        {"user": 0, "tab": 1, "action": "open", "url": urls[0], "size": "small"},
        {"user": 0, "tab": 2, "action": "open", "url": urls[1], "size": "medium"},
        {"user": 0, "tab": 1, "action": "switch"},  # the second tab opened in the background
        {"user": 0, "tab": 2, "action": "switch"},
    ]
