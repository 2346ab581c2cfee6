"""The browser window driven with the Pilot, over real broker and renderer processes."""

from __future__ import annotations

import os
import threading

import psutil

from tui.process_tree import ProcessTree
from tui.processes import ProcessSource
from tui.tab_strip import InfoBar, TabStrip

from tuihelpers import SIZE, descendants, make_app, started
from tests.support.waiting import wait_for


def page_text(app) -> str:
    frame = app.page.frame
    return frame.text if frame is not None else ""


def rendered(widget) -> str:
    return str(widget.render())


async def test_opens_a_page_in_its_own_renderer_and_shows_it(http_server):
    app = make_app([http_server.url("/hello")])
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        tab = app.current
        assert tab.title == "Hello"
        assert "Hello, world" in page_text(app)
        assert "Hello" in rendered(app.query_one(TabStrip))
        assert app.address.value == http_server.url("/hello")
        assert psutil.Process(tab.pid).parent().pid == app.browser.zygote_pid
        # The first visible line of the page view is the heading, drawn with its style.
        line = app.page.render_line(0)
        assert line.text.startswith("Hello, world")
        assert any(segment.style and segment.style.bold for segment in line)


async def test_new_close_next_and_previous_tab(http_server):
    app = make_app([http_server.url("/hello"), http_server.url("/text")])
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        first, second = app.browser.tabs
        assert app.current is first
        await pilot.press("ctrl+pagedown")
        assert app.current is second and app.browser.active_tab is second
        await pilot.press("ctrl+pageup")
        assert app.current is first
        await pilot.press("ctrl+t")
        await wait_for(lambda: len(app.browser.tabs) == 3 and app.current.title, what="a new tab", pause=pilot.pause)
        assert app.address.has_focus  # type the address of the new tab straight away
        third = app.current
        assert third.pid not in (first.pid, second.pid)
        await pilot.press("escape")
        renderer = psutil.Process(third.pid)
        await pilot.press("ctrl+w")
        await wait_for(lambda: len(app.browser.tabs) == 2, what="the tab to close", pause=pilot.pause)
        renderer.wait(5)  # its renderer process is gone with it
        assert app.current in (first, second)


async def test_address_bar_navigates_and_shows_errors_in_the_page(http_server, unreachable_url):
    app = make_app(["about:blank"])
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        await pilot.press("ctrl+l")
        assert app.address.has_focus
        app.address.value = http_server.url("/hello")
        await pilot.press("enter")
        await wait_for(lambda: app.current.title == "Hello", what="the page to load", pause=pilot.pause)
        assert app.page.has_focus
        for bad in (unreachable_url, "http://exa mple.org/"):
            await pilot.press("ctrl+l")
            app.address.value = bad
            await pilot.press("enter")
            await wait_for(lambda: app.current.error is not None, what="the error", pause=pilot.pause)
            assert app.current.frame.kind == "error" and app.current.title in page_text(app)
            assert app.is_running


async def test_scroll_keys_move_the_page_and_tell_the_renderer(http_server):
    body = "".join(f"<p>Paragraph {n}</p>" for n in range(200)).encode()
    http_server.route("/long", body, content_type="text/html")
    app = make_app([http_server.url("/long")])
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        page = app.page
        await pilot.press("down", "down")
        assert page.scroll_y == 2
        await pilot.press("pagedown")
        after_page = page.scroll_y
        assert after_page > 10
        await pilot.press("space")
        assert page.scroll_y > after_page
        await pilot.press("up")
        await pilot.press("end")
        assert page.scroll_y == page.max_scroll_y > 100
        await pilot.press("home")
        assert page.scroll_y == 0
        await pilot.press("pagedown")
        await wait_for(lambda: app.current.frame.scroll == int(page.scroll_y), what="scroll sync", pause=pilot.pause)


async def test_follow_links_by_number_and_by_focus_then_back_and_forward(http_server):
    app = make_app([http_server.url("/hello")])
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        tab = app.current
        await pilot.press("2", "enter")  # link [2] is /form
        await wait_for(lambda: tab.title == "Forms", what="link 2", pause=pilot.pause)
        await pilot.press("alt+left")
        await wait_for(lambda: tab.title == "Hello", what="back", pause=pilot.pause)
        await pilot.press("alt+right")
        await wait_for(lambda: tab.title == "Forms", what="forward", pause=pilot.pause)
        await pilot.press("alt+left")
        await wait_for(lambda: tab.title == "Hello", what="back again", pause=pilot.pause)
        await pilot.press("tab")  # focus the first link, [1] /text
        assert app.page.focused is not None and app.page.focused.number == 1
        await pilot.press("enter")
        await wait_for(lambda: tab.url == http_server.url("/text"), what="the focused link", pause=pilot.pause)
        await pilot.press("9", "9", "enter")  # no such link: one line, no traceback
        await wait_for(lambda: "no link [99]" in rendered(app.query_one("#status")), what="the error", pause=pilot.pause)


async def test_form_fields_are_filled_through_the_renderer(http_server):
    app = make_app([http_server.url("/form")])
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        tab = app.current
        await pilot.press("tab")  # the first control: the text field "q"
        await pilot.press("enter")
        await pilot.press(*"minibrowser", "enter")
        await wait_for(lambda: any(f.value == "minibrowser" for f in tab.frame.fields), what="the value", pause=pilot.pause)
        await pilot.press("tab", "enter")  # Search
        await wait_for(lambda: "q=minibrowser" in tab.url, what="the form to submit", pause=pilot.pause)


async def test_find_in_page_marks_and_walks_the_matches(http_server):
    body = "".join(f"<p>line {n} {'needle' if n % 50 == 0 else 'hay'}</p>" for n in range(200)).encode()
    http_server.route("/find", body, content_type="text/html")
    app = make_app([http_server.url("/find")])
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        await pilot.press("slash")
        assert app.query_one("#find").has_focus
        await pilot.press(*"needle", "enter")
        await wait_for(lambda: len(app.find_matches) == 4, what="the matches", pause=pilot.pause)
        assert "Match 1 of 4" in rendered(app.query_one("#status"))
        await pilot.press("n", "n")
        line = app.find_matches[2][0]
        assert app.page.scroll_y <= line < app.page.scroll_y + app.page.size.height
        await pilot.press("ctrl+f")
        assert app.query_one("#find").has_focus
        await pilot.press("escape")
        assert app.page.has_focus and not app.query_one("#find").display


async def test_resizing_the_terminal_reflows_the_page_in_the_renderer(http_server):
    app = make_app([http_server.url("/hello")])
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        tab = app.current
        assert tab.frame.width == 119  # the whole width but the scrollbar's column
        await pilot.resize_terminal(90, 30)
        await wait_for(lambda: tab.width == tab.frame.width == 89, what="the reflow", pause=pilot.pause)
        await pilot.press("f3")  # showing the process tree takes its share of the page's room
        await wait_for(lambda: tab.frame.width == 90 - 36 - 1, what="the narrower reflow", pause=pilot.pause)


async def test_crashed_tab_shows_a_sad_tab_and_reloads():
    app = make_app(["about:blank"])
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        tab = app.current
        await pilot.press("ctrl+l")
        app.address.value = "about:crash"
        await pilot.press("enter")
        await wait_for(lambda: tab.state.value == "crashed", what="the crash", pause=pilot.pause)
        bar = app.query_one(InfoBar)
        await wait_for(lambda: bar.display and "Aw, snap" in rendered(bar) and "Aw, snap" in page_text(app),
                       what="the sad tab", pause=pilot.pause)
        assert "F5" in rendered(bar)
        await pilot.press("f5")
        await wait_for(lambda: tab.state.value == "active", what="the reload", pause=pilot.pause)
        await wait_for(lambda: not bar.display, what="the bar to go", pause=pilot.pause)
        assert tab.crash_cause is None


async def test_unresponsive_tab_offers_wait_and_end_process():
    from broker.lifecycle import LifecyclePolicy

    policy = LifecyclePolicy(freeze_after_s=None, discard_after_s=None, memory_budget_bytes=None,
                             heartbeat_interval_s=0.2, heartbeat_timeout_s=0.8)
    app = make_app(["about:blank"], policy=policy)
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        tab = app.current
        await pilot.press("ctrl+l")
        app.address.value = "about:hang"
        await pilot.press("enter")
        await wait_for(lambda: tab.state.value == "unresponsive", what="the hang to be noticed", pause=pilot.pause)
        bar = app.query_one(InfoBar)
        await wait_for(lambda: bar.display and "isn't responding" in rendered(bar), what="the bar", pause=pilot.pause)
        await pilot.press("w")  # wait: the bar goes, the tab stays unresponsive
        await wait_for(lambda: not bar.display, what="the bar to go", pause=pilot.pause)
        assert tab.state.value == "unresponsive"
        await pilot.press("k")  # end process
        await wait_for(lambda: tab.state.value == "crashed", what="the renderer to end", pause=pilot.pause)
        assert "ended by the user" in (tab.crash_cause or "")


async def test_no_sandbox_is_shown_on_the_page_and_in_the_tree(http_server):
    app = make_app([http_server.url("/hello")], sandbox=False)
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        bar = app.query_one(InfoBar)
        await wait_for(lambda: bar.display and "not sandboxed" in rendered(bar), what="the warning", pause=pilot.pause)
        key = f"tab-{app.current.id}"
        await wait_for(lambda: key in app.sandbox_status, what="a sample", pause=pilot.pause)
        assert app.sandbox_status[key].mark == "NOT sandboxed"


def rows_measured(app, key: str) -> bool:
    return any(row.key == key and row.measurement.uss for row in app.process_rows)


async def test_process_tree_shows_live_processes_measured_off_the_ui_thread(http_server):
    threads = []

    class Recording(ProcessSource):
        def measure(self, targets):
            threads.append(threading.current_thread())
            return super().measure(targets)

    app = make_app([http_server.url("/hello"), http_server.url("/text")], process_source=Recording())
    async with app.run_test(size=(160, 48)) as pilot:  # wide enough for the tree to be open
        await started(pilot)
        # A renderer's memory comes from the kernel as root, and from the
        # renderer's own report otherwise: either way it is known within a
        # sample or two of the page loading.
        # Broker, network process, zygote, two tabs' renderers and the spare renderer.
        await wait_for(lambda: app.samples_taken >= 2 and len(app.process_rows) == 6
                       and all(row.measurement.uss for row in app.process_rows if row.target.role == "renderer"),
                       what="two samples with every renderer's memory", pause=pilot.pause)
        assert threads and all(t is not threading.main_thread() for t in threads)
        panel = app.query_one(ProcessTree)
        tree = panel.node_tree
        assert tree.root.data == "broker"
        network, zygote = tree.root.children
        assert (network.data, zygote.data) == ("network", "zygote")
        network_pid = next(p.pid for p in app.browser.processes() if p.role == "network")
        assert str(network_pid) in str(network.label)
        # Not dumpable, the network process's memory is readable by root only (it reports none itself).
        assert rows_measured(app, "network") == (os.geteuid() == 0)
        spare = next(p for p in app.browser.processes() if p.role == "spare")
        assert [node.data for node in zygote.children] == [f"tab-{t.id}" for t in app.browser.tabs] + [f"spare-{spare.pid}"]
        assert str(zygote.children[-1].label).split()[:3] == [str(spare.pid), "spare", "renderer"]
        rows = {row.key: row for row in app.process_rows}
        for tab in app.browser.tabs:
            row = rows[f"tab-{tab.id}"]
            assert row.pid == tab.pid and row.measurement.uss > 0
            assert str(tab.pid) in str(zygote.children[app.browser.tabs.index(tab)].label)
        # Select the first renderer: its details and its memory history show.
        tree.focus()
        await pilot.press("down")
        assert panel.selected == "network"
        await wait_for(lambda: "Sandbox" in rendered(panel.query_one("#process-details")),
                       what="the network process's details", pause=pilot.pause)
        await pilot.press("down", "down")
        assert panel.selected == f"tab-{app.browser.tabs[0].id}"
        parts = ("Command", "uid", "Sandbox", "IPC out", "IPC in", "Last RTT", "messages")
        await wait_for(lambda: all(part in rendered(panel.query_one("#process-details")) for part in parts),
                       what="the process's details", pause=pilot.pause)
        assert panel.query_one("#memory-sparkline").data
        await pilot.press("f3")
        assert not panel.display
        await pilot.press("f3")
        assert panel.display


async def test_quit_leaves_no_process_and_no_runtime_directory(http_server):
    app = make_app([http_server.url("/hello"), http_server.url("/text")])
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        runtime = app.browser.runtime_dir
        pids = [t.pid for t in app.browser.tabs] + [app.browser.zygote_pid]
        await pilot.press("q")
        await wait_for(lambda: not app.is_running, what="the app to quit", pause=pilot.pause)
    assert app.return_code == 0
    for pid in pids:
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    import os

    assert not os.path.exists(runtime)
    assert [p for p in descendants() if "renderer" in " ".join(p.cmdline())] == []
