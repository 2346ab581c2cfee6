"""The process tree under a shared process model: a renderer that hosts
several tabs is a node of its own, with its site and its tabs below it.

Real broker, zygote and renderers; pages from the local HTTP server.
"""

from __future__ import annotations

import os
import re

from broker.lifecycle import LifecyclePolicy
from browser.api import Browser
from tui.app import BrowserApp

from tuihelpers import screen_text, started
from tests.support.waiting import wait_for

#: Not dumpable, the network process's memory is readable by root only (it reports none itself).
NETWORK_MEMORY = r"[\d.]+[KMG]" if os.geteuid() == 0 else "–"


async def test_tabs_of_one_site_hang_under_their_shared_renderer(http_server):
    url = http_server.url("/hello")
    app = BrowserApp([url, url, "about:blank"], browser_factory=lambda: Browser(
        policy=LifecyclePolicy.manual(), process_model="process-per-site"))
    async with app.run_test(size=(160, 40)) as pilot:
        await started(pilot)
        browser = app.browser
        await wait_for(lambda: len(browser.tabs) == 3 and all(t.frame for t in browser.tabs), what="3 tabs", pause=pilot.pause)
        first, second, blank = browser.tabs
        assert first.pid == second.pid != blank.pid
        patterns = [
            r"▏ ▼ +\d+ broker +[\d.]+[KMG] +[\d.–%]+",
            rf"▏ ├ +\d+ network +{NETWORK_MEMORY} +[\d.–%]+ ✓sbx",
            r"▏ └ ▼ +\d+ zygote +[\d.]+[KMG] +[\d.–%]+",
            rf"▏   ├ ▼ +{first.pid} +[\d.]+[KMG] http://127\.0\.0\.1",
            r"▏   │ ├ +tab 1 ● Hello",
            r"▏   │ └ +tab 2 ○ Hello",
            rf"▏   ├ +{blank.pid} ○ about:blank +[\d.]+[KMG] +[\d.–%]+ ✓sbx",
            r"▏   └ +\d+ spare renderer +[\d.]+[KMG] +[\d.–%]+",  # started ahead of need, for the next tab
        ]

        def rows() -> list[str]:
            return [line[108:].rstrip() for line in screen_text(app)[2:10]]

        def as_expected() -> bool:
            return all(re.fullmatch(pattern, row) for pattern, row in zip(patterns, rows(), strict=True))

        # Until every process is measured (and the tree has settled its widths).
        try:
            await wait_for(as_expected, what="the grouped tree", pause=pilot.pause)
        except AssertionError:
            raise AssertionError(rows()) from None


async def test_a_renderer_of_cross_site_frames_shows_under_the_zygote_with_its_subframes(http_server):
    from tests.support.httpserver import LocalHTTPServer

    other = LocalHTTPServer("127.0.0.3")
    try:
        other.route("/ad.html", b"<p>An ad.</p>")
        url = http_server.route("/framed.html", f'<title>Framed</title><iframe src="{other.url("/ad.html")}">'
                                                f'</iframe>'.encode())
        app = BrowserApp([url], browser_factory=lambda: Browser(
            policy=LifecyclePolicy.manual(), process_model="site-per-process", spare=False))
        async with app.run_test(size=(160, 40)) as pilot:
            await started(pilot)
            browser = app.browser
            await wait_for(lambda: browser.tabs and browser.tabs[0].frames
                           and browser.tabs[0].frames[0].pid is not None, what="the frame", pause=pilot.pause)
            frame_pid = browser.tabs[0].frames[0].pid
            # Either order under the zygote; its memory as a normal user: the renderer of
            # frames is no tab's, so only root reads it from the kernel ("–" otherwise).
            patterns = [rf"▏   [├└] ▼ +{frame_pid} +(?:[\d.]+[KMG]|–) http://127\.0\.0\.3",
                        "▏   [│ ] └  frames ◇ Subframe: http"]  # the title cut to the panel's width

            def found() -> list[bool]:
                rows = [line[108:].rstrip() for line in screen_text(app)]
                return [any(re.fullmatch(p, row) for row in rows) for p in patterns]

            try:
                await wait_for(lambda: all(found()), what="the subframe renderer's rows", pause=pilot.pause)
            except AssertionError:
                raise AssertionError([line[108:].rstrip() for line in screen_text(app)][:12]) from None
    finally:
        other.close()
