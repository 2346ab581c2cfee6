"""#fragments and the view's place in history, through the API, over real processes."""

from __future__ import annotations

import pytest

from browser.api import Browser

pytestmark = pytest.mark.timeout(60)

PAGE = (
    "<!doctype html><title>Sections</title><h1>Sections</h1>"
    "<p><a href='#s30'>thirty</a> <a href='#nowhere'>nowhere</a> <a href='/plain'>plain</a></p>"
    + "".join(f"<h2 id='s{n}'>Section {n}</h2><p>Body {n}.</p>" for n in range(50))
).encode()


def top_line(tab) -> str:
    return tab.frame.lines[tab.frame.scroll].text


async def test_a_same_document_fragment_moves_the_view_and_history_without_a_load(http_server):
    url = http_server.route("/sections", PAGE)
    http_server.route("/plain", b"<title>Plain</title><p>plain")
    async with Browser() as browser:
        tab = await browser.open(url)
        frame, pid, fetches, navigation = tab.frame, tab.pid, http_server.count("/sections"), tab.navigation_id
        await tab.follow(1)
        assert (tab.url, top_line(tab)) == (url + "#s30", "Section 30")
        assert (tab.frame is frame, tab.pid, http_server.count("/sections")) == (True, pid, fetches)
        assert tab.navigation_id == navigation + 1
        assert [entry.url for entry in tab.history] == [url, url + "#s30"]
        tab.scroll_to(40)  # the user scrolls on from the target
        await tab.follow(2)  # no such target: the URL changes, the view stays
        assert (tab.url, tab.frame.scroll) == (url + "#nowhere", 40)
        await tab.back()
        assert (tab.url, tab.frame.scroll) == (url + "#s30", 40)  # where the user left it
        await tab.back()
        assert (tab.url, tab.frame.scroll, http_server.count("/sections")) == (url, 0, fetches)
        await tab.navigate(url + "#s12")  # typed: the same document too
        assert (top_line(tab), http_server.count("/sections")) == ("Section 12", fetches)
        assert [entry.url for entry in tab.history] == [url, url + "#s12"]  # forward entries dropped


async def test_another_document_opens_at_its_target_and_back_reloads_it_where_you_were(http_server):
    url = http_server.route("/sections", PAGE)
    http_server.route("/plain", b"<title>Plain</title><p>plain")
    async with Browser() as browser:
        tab = await browser.open(http_server.url("/redirect-to?url=/sections") + "#s7")
        assert tab.url.endswith("#s7") and top_line(tab) == "Section 7"
        assert tab.history[-1].url == url + "#s7"  # the redirect kept the fragment
        tab.scroll_to(25)
        await tab.follow(3)  # /plain: a new document starts at the top
        assert (tab.title, tab.frame.scroll) == ("Plain", 0)
        await tab.back()
        assert (tab.title, tab.frame.scroll, http_server.count("/sections")) == ("Sections", 25, 2)
        await tab.reload()  # a reload keeps the place too
        assert (tab.frame.scroll, http_server.count("/sections")) == (25, 3)
