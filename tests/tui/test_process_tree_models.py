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
