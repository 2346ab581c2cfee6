"""The browser window as a user meets it: where a page opens, #fragments,
Back, the panels and footer at 80x24 and 160x48, a slow first page, Ctrl+T.

Real broker, zygote and renderers; pages from the local HTTP server.
"""

from __future__ import annotations

import os
import re

from textual.widgets import Input

from tui.process_tree import ProcessTree
from tui.tab_strip import TabStrip

from tuihelpers import make_app, screen_text, started
from tests.support.waiting import wait_for

NARROW = (80, 24)
WIDE = (160, 48)

SECTIONS = 60
LONG_HTML = (
    "<!doctype html><title>Long</title><h1>Long page</h1>"
    "<p><a href='#s40'>to section 40</a> <a href='/other#p20'>other, part 20</a> <a href='/other'>other</a></p>"
    + "".join(f"<h2 id='s{n}'>Section {n}</h2><p>Text of section {n}.</p>" for n in range(SECTIONS))
).encode()
OTHER_HTML = (
    "<!doctype html><title>Other</title><h1>Other page</h1>"
    + "".join(f"<h2><a name='p{n}'></a>Part {n}</h2><p>Text of part {n}.</p>" for n in range(SECTIONS))
).encode()


def serve_pages(http_server) -> str:
    http_server.route("/other", OTHER_HTML)
    return http_server.route("/long", LONG_HTML)


def top_line(app) -> str:
    """The first line of the page the user sees."""
    return app.page.render_line(0).text.rstrip()


def footer_line(app) -> str:
    return screen_text(app)[-1].rstrip()


# -- where a page opens -----------------------------------------------------------


async def test_a_followed_link_opens_the_new_page_at_its_top(http_server):
    long_url = serve_pages(http_server)
    app = make_app([long_url])
    async with app.run_test(size=NARROW) as pilot:
        await started(pilot)
        tab = app.current
        await pilot.press("end")
        assert app.page.scroll_y == app.page.max_scroll_y > 100
        await pilot.press("3", "enter")  # [3] /other
        await wait_for(lambda: tab.title == "Other" and app.page.frame is tab.frame, what="the other page", pause=pilot.pause)
        await wait_for(lambda: (app.page.scroll_y, top_line(app)) == (0, "Other page"), what="its top",
                       pause=pilot.pause)


async def test_a_fragment_scrolls_to_its_target_in_the_same_page_without_a_reload(http_server):
    long_url = serve_pages(http_server)
    app = make_app([long_url])
    async with app.run_test(size=NARROW) as pilot:
        await started(pilot)
        tab, pid, fetches = app.current, app.current.pid, http_server.count("/long")
        await pilot.press("1", "enter")  # [1] #s40
        await wait_for(lambda: tab.url == long_url + "#s40", what="the fragment", pause=pilot.pause)
        await wait_for(lambda: top_line(app) == "Section 40", what="the target at the top", pause=pilot.pause)
        assert app.address.value == long_url + "#s40"
        assert (tab.pid, http_server.count("/long")) == (pid, fetches)  # the same document: nothing loaded
        await pilot.press("alt+left")
        await wait_for(lambda: tab.url == long_url, what="back", pause=pilot.pause)
        await wait_for(lambda: (app.page.scroll_y, top_line(app)) == (0, "Long page"), what="the page's top",
                       pause=pilot.pause)
        await pilot.press("alt+right")
        await wait_for(lambda: tab.url == long_url + "#s40", what="forward", pause=pilot.pause)
        await wait_for(lambda: top_line(app) == "Section 40", what="the target at the top again", pause=pilot.pause)
        assert (tab.pid, http_server.count("/long")) == (pid, fetches)


async def test_a_fragment_of_another_page_opens_it_at_the_target_and_back_returns_where_you_were(http_server):
    long_url = serve_pages(http_server)
    app = make_app([long_url])
    async with app.run_test(size=NARROW) as pilot:
        await started(pilot)
        tab = app.current
        await pilot.press(*["down"] * 7)
        where = top_line(app)
        assert app.page.scroll_y == 7 and where == "Text of section 0."
        await pilot.press("2", "enter")  # [2] /other#p20, straight after scrolling
        await wait_for(lambda: tab.title == "Other" and app.page.frame is tab.frame, what="the other page", pause=pilot.pause)
        await wait_for(lambda: top_line(app) == "Part 20", what="the target at the top", pause=pilot.pause)
        assert tab.url == http_server.url("/other#p20")
        await pilot.press("alt+left")
        await wait_for(lambda: tab.title == "Long" and app.page.frame is tab.frame, what="back", pause=pilot.pause)
        await wait_for(lambda: (app.page.scroll_y, top_line(app)) == (7, where), what="the place you were",
                       pause=pilot.pause)


# -- panels and footer adapt to the terminal --------------------------------------------


async def test_at_80x24_the_page_has_the_width_and_the_footer_the_keys_that_matter(http_server):
    preformatted = "\n".join(f"{n:02d} " + "word " * 14 for n in range(5))  # 73 columns a line
    url = http_server.route("/pre", f"<title>Pre</title><pre>{preformatted}</pre>".encode())
    app = make_app([url])
    async with app.run_test(size=NARROW) as pilot:
        await started(pilot)
        tab, tree = app.current, app.query_one(ProcessTree)
        assert not tree.display
        assert (tab.width, tab.frame.width) == (79, 79)
        assert tab.frame.text == "\n".join(line.rstrip() for line in preformatted.splitlines())
        await wait_for(lambda: footer_line(app), what="the footer", pause=pilot.pause)
        assert footer_line(app) == "^T New tab ^W Close ^L Address / Find F2 Tasks F3 Processes q Quit"
        await pilot.press("f3")  # asked for: a share of the width, beside the page
        await wait_for(lambda: tab.frame.width == 43, what="the narrower layout", pause=pilot.pause)
        assert tree.display and tree.outer_size.width == 36
        # Every row with its memory: as a normal user a renderer's figure comes
        # from its own report, a sample after the broker's and the zygote's.
        await wait_for(lambda: "broker" in screen_text(app)[2] and " Pre " in screen_text(app)[5]
                       and not any(line.rstrip().endswith("–") for line in screen_text(app)[5:7]),
                       what="the tree with every process measured", pause=pilot.pause)
        # Compact rows: pid, name and memory, beside the 44 columns of the page (scrollbar included).
        tree_rows = [line[44:].rstrip() for line in screen_text(app)[2:7]]
        assert re.fullmatch(r"▏ ▼ +\d+ broker +[\d.]+[KMG]", tree_rows[0]), tree_rows
        # Not dumpable, the network process's memory is readable by root only (it reports none itself).
        network_memory = r"[\d.]+[KMG]" if os.geteuid() == 0 else "–"
        assert re.fullmatch(rf"▏ ├ +\d+ network +{network_memory}", tree_rows[1]), tree_rows
        assert re.fullmatch(r"▏ └ ▼ +\d+ zygote +[\d.]+[KMG]", tree_rows[2]), tree_rows
        assert re.fullmatch(rf"▏   ├ +{tab.pid} ● Pre +[\d.]+[KMG]", tree_rows[3]), tree_rows
        assert re.fullmatch(r"▏   └ +\d+ spare +[\d.]+[KMG]", tree_rows[4]), tree_rows  # the spare renderer
        await pilot.press("f3")
        await wait_for(lambda: tab.frame.width == 79, what="the page's own width again", pause=pilot.pause)
        assert not tree.display


async def test_at_160x48_the_tree_is_open_beside_a_full_width_page_and_every_key_shows(http_server):
    url = serve_pages(http_server)
    app = make_app([url])
    async with app.run_test(size=WIDE) as pilot:
        await started(pilot)
        tree = app.query_one(ProcessTree)
        assert tree.display and tree.outer_size.width == 52
        assert app.current.frame.width == 160 - 52 - 1
        await wait_for(lambda: footer_line(app), what="the footer", pause=pilot.pause)
        assert footer_line(app) == (
            " ^PgUp Prev tab  ^PgDn Next tab  ^T New tab  ^W Close  ^L Address  / Find  F2 Tasks  F3 Processes"
            "  F4 IPC log  q Quit"
        )


async def test_the_tree_follows_the_terminal_until_the_user_chooses(http_server):
    app = make_app([http_server.url("/hello")])
    async with app.run_test(size=WIDE) as pilot:
        await started(pilot)
        tree, tab = app.query_one(ProcessTree), app.current
        assert tree.display
        await pilot.resize_terminal(*NARROW)
        await wait_for(lambda: tab.frame.width == 79, what="the narrow layout", pause=pilot.pause)
        assert not tree.display
        await pilot.resize_terminal(*WIDE)
        await wait_for(lambda: tab.frame.width == 107, what="the wide layout", pause=pilot.pause)
        assert tree.display
        await pilot.press("f3")  # the user closes it: it stays closed at any width
        await wait_for(lambda: tab.frame.width == 159, what="the page on its own", pause=pilot.pause)
        await pilot.resize_terminal(150, 40)
        await wait_for(lambda: tab.frame.width == 149, what="the resize", pause=pilot.pause)
        assert not tree.display


async def test_toggling_the_tree_lays_the_page_out_once_per_new_width(http_server):
    url = serve_pages(http_server)
    app = make_app([url])
    async with app.run_test(size=WIDE) as pilot:
        await started(pilot)
        tab = app.current
        await wait_for(lambda: tab.frame.width == 107 and not app.workers, what="the first layout", pause=pilot.pause)

        def relayouts() -> list[str]:
            return [f"{e.direction} {e.type}" for _, e in app.ipc_log.events if e.type in ("Resize", "FrameReady")]

        before = relayouts()
        await pilot.press("f3")
        await wait_for(lambda: tab.frame.width == 159, what="the wider layout", pause=pilot.pause)
        # A check that something does NOT happen has no condition to wait for:
        # a second request would follow the first within the app's resize
        # settle time (0.15 s); watch for more than three times that.
        await pilot.pause(0.5)
        assert relayouts()[len(before):] == ["to renderer Resize", "to broker FrameReady"]
        await pilot.press("f3")
        await wait_for(lambda: tab.frame.width == 107, what="the narrower layout", pause=pilot.pause)
        await pilot.resize_terminal(160, 30)  # a change of height only
        await wait_for(lambda: len(screen_text(app)) == 30, what="the shorter window", pause=pilot.pause)
        await pilot.pause(0.5)  # as above: no request may follow within the settle time
        assert relayouts()[len(before):] == ["to renderer Resize", "to broker FrameReady"] * 2


# -- a slow first page ------------------------------------------------------------------


async def test_a_slow_first_page_shows_its_tab_url_and_loading_time(http_server):
    url = http_server.url("/slow?seconds=2.5")
    app = make_app([url])
    async with app.run_test(size=NARROW) as pilot:
        await wait_for(lambda: app.browser is not None and app.browser.tabs, what="the tab", pause=pilot.pause)
        await wait_for(lambda: screen_text(app)[-2].strip() == f"Loading {url}… 1 s", what="a second", pause=pilot.pause)
        assert not app.ready.is_set()
        lines = screen_text(app)
        assert lines[0].rstrip() == f" ⟳ {url[:17]}… │ +"
        assert lines[1].rstrip() == f" {url}"
        await wait_for(app.ready.is_set, timeout=15, what="the page", pause=pilot.pause)
        await wait_for(lambda: screen_text(app)[0].rstrip() == " ● Slow │ +" and not screen_text(app)[-2].strip(),
                       what="the loaded tab, and the loading line gone", pause=pilot.pause)
        lines = screen_text(app)
        assert lines[0].rstrip() == " ● Slow │ +"
        assert lines[2].rstrip() == "finally"
        assert lines[-2].strip() == ""


# -- a new tab ---------------------------------------------------------------------------


async def test_ctrl_t_opens_a_blank_tab_with_the_address_bar_ready(http_server):
    app = make_app([http_server.url("/hello")])
    async with app.run_test(size=NARROW) as pilot:
        await started(pilot)
        await pilot.press("ctrl+t")
        await wait_for(lambda: len(app.browser.tabs) == 2 and app.current.frame is not None, what="the tab", pause=pilot.pause)
        await wait_for(lambda: screen_text(app)[0].rstrip() == " ○ Hello │ ● New tab │ +", what="the new tab drawn",
                       pause=pilot.pause)
        new = app.current
        assert new.url == "about:blank" and new.frame.text == ""
        address = app.query_one("#address", Input)
        assert address.has_focus and address.value == ""
        assert screen_text(app)[0].rstrip() == " ○ Hello │ ● New tab │ +"
        await pilot.press(*http_server.url("/text"), "enter")
        await wait_for(lambda: new.url == http_server.url("/text") and new.frame.kind == "text", what="the page", pause=pilot.pause)
        assert app.current is new and len(app.browser.tabs) == 2
        assert str(app.query_one(TabStrip).render()).count("│") == 2


async def test_a_relayout_keeps_the_view_in_the_same_part_of_the_page(http_server):
    long_url = serve_pages(http_server)
    app = make_app([long_url + "#s40"])
    async with app.run_test(size=WIDE) as pilot:
        await started(pilot)
        tab = app.current
        await wait_for(lambda: top_line(app) == "Section 40", what="the target", pause=pilot.pause)
        await pilot.press("f3")
        await wait_for(lambda: app.page.frame.width == 159, what="the wider layout", pause=pilot.pause)
        anchors = tab.frame.anchors
        await wait_for(lambda: anchors["s40"] <= app.page.scroll_y < anchors["s41"], what="the view in section 40",
                       pause=pilot.pause)
