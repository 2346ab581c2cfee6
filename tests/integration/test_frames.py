"""Frames with real processes: the composed page, which frames share a
renderer under each process model, the limits, a sad frame, discard and
restore of a page with frames, and a frame that embeds its parent.

Sites are local HTTP servers on 127.0.0.2 (the page), 127.0.0.3 and
127.0.0.4 (what it embeds): loopback addresses, each its own site."""

from __future__ import annotations

import os
import signal

import pytest

from browser import Browser, BrowserError, TabState
from tests.support.httpserver import LocalHTTPServer
from tests.support.waiting import wait_for


@pytest.fixture
def sites():
    servers = [LocalHTTPServer(f"127.0.0.{n}") for n in (2, 3, 4)]
    yield servers
    for server in servers:
        server.close()


def serve_page(a: LocalHTTPServer, b: LocalHTTPServer, c: LocalHTTPServer) -> str:
    """A page on site A that embeds a frame of its own site, two of site B
    (one of them twice), one of site C and a srcdoc frame."""
    a.route("/same.html", b"<p>Same-site frame with <a href=/hello>a link</a>.</p>")
    b.route("/ad.html", b"<title>Ad</title><p>Buy things at B.</p>")
    b.route("/widget.html", b"<p>B widget.</p>")
    c.route("/embed.html", b"<p>C embed, <a href=/hello>say hello</a>.</p>")
    page = (f'<title>Frames</title><p>Top of the page, <a href="/hello">hello</a>.</p>'
            f'<iframe src="/same.html" width=320 height=48></iframe>'
            f'<iframe src="{b.url("/ad.html")}" width=240 height=32></iframe>'
            f'<iframe src="{c.url("/embed.html")}" width=320 height=48></iframe>'
            f'<iframe src="{b.url("/widget.html")}" width=240 height=32></iframe>'
            f'<iframe srcdoc="<p>Inline srcdoc.</p>" width=240 height=32></iframe>'
            f'<p>Bottom of the page.</p>').encode()
    return a.route("/page.html", page)


COMPOSED = """\
Top of the page, hello[1].

-- frame 1: {a} --
Same-site frame with a link[2].
-- frame 2: {b} --
Buy things at B.
-- frame 3: {c} --
C embed, say hello[3].
-- frame 4: {b} --
B widget.
-- frame 5: {a} --
Inline srcdoc.

Bottom of the page.

References

   1. {a}/hello
   2. {a}/hello
   3. {c}/hello
"""


@pytest.mark.parametrize("model", ["per-tab", "site-per-process", "process-per-site", "single"])
async def test_the_composed_page_and_which_frames_share_a_renderer(sites, model):
    a, b, c = sites
    url = serve_page(a, b, c)
    async with Browser(process_model=model, spare=False, width=60) as browser:
        tab = await browser.open(url)
        assert tab.frame.dump() == COMPOSED.format(a=a.base_url, b=b.base_url, c=c.base_url)
        frames = tab.frames
        assert [(f.url, f.state) for f in frames] == [
            (a.url("/same.html"), "loaded"), (b.url("/ad.html"), "loaded"), (c.url("/embed.html"), "loaded"),
            (b.url("/widget.html"), "loaded"), ("about:srcdoc", "loaded")]
        pids = [f.pid for f in frames]
        top = tab.pid
        if model == "site-per-process":
            # Same-site and srcdoc frames stay with the page; each other site has one locked renderer of its own.
            assert pids[0] == pids[4] == top
            assert len({top, pids[1], pids[2]}) == 3 and pids[3] == pids[1]
            site_a, site_b, site_c = (f"http://{server.host}" for server in sites)  # a site has no port
            assert [f.site for f in frames] == [site_a, site_b, site_c, site_b, site_a]
            by_pid = {p.pid: p for p in browser.processes() if p.role == "renderer"}
            assert by_pid[pids[1]].site == site_b and by_pid[pids[2]].site == site_c
            assert by_pid[pids[1]].frames == (f"Subframe: {b.base_url}", f"Subframe: {b.base_url}")
            assert by_pid[top].frames == (f"Subframe: {a.base_url}", f"Subframe: {a.base_url}")
            about = await browser.open("about:processes")
            block = about.frame.text.split(f"PID: {pids[2]}\n")[1].split("\n\n")[0]
            assert block.split("\n")[-1] == f"Frames: Subframe: {c.base_url}"
        else:  # no site isolation: every frame in the page's renderer
            assert pids == [top] * 5


async def test_following_a_link_in_a_frame_navigates_that_frame(sites):
    a, b, c = sites
    url = serve_page(a, b, c)
    async with Browser(process_model="site-per-process", spare=False, width=60) as browser:
        tab = await browser.open(url)
        await tab.follow(3)  # "say hello" in site C's frame
        assert tab.url == url and tab.frames[2].url == c.url("/hello")
        assert tab.frame.text.split("\n")[6:8] == [f"-- frame 3: {c.base_url} --", "Hello, world"]


async def test_limits_a_page_that_embeds_itself_and_a_refused_file_frame(sites):
    a, _, _ = sites
    a.route("/loop.html", b'<p>Outer.</p><iframe src="/loop.html"></iframe><iframe src="file:///etc/passwd"></iframe>')
    async with Browser(spare=False, width=60) as browser:
        tab = await browser.open(a.url("/loop.html"))
        assert [(f.state, f.cause) for f in tab.frames] == [
            ("blocked", "the frame would load a page that embeds it (a page embedding itself): not loaded"),
            ("blocked", f"the page at {a.url('/loop.html')} tried to open a local file (file:///etc/passwd): "
                        "only a URL you type can open local files"),
        ]
        assert "root:" not in tab.frame.text


async def test_a_crashed_subframe_renderer_shows_a_sad_frame_and_the_page_stays(sites):
    a, b, c = sites
    url = serve_page(a, b, c)
    async with Browser(process_model="site-per-process", spare=False, width=60) as browser:
        tab = await browser.open(url)
        victim = tab.frames[2].pid
        os.kill(victim, signal.SIGKILL)
        await wait_for(lambda: tab.frames[2].state == "crashed", what="the frame's renderer exit is seen")
        assert tab.state is TabState.ACTIVE and tab.pid is not None
        expected = COMPOSED.format(a=a.base_url, b=b.base_url, c=c.base_url).replace(
            "C embed, say hello[3].\n",
            "Aw, snap! This frame's renderer stopped.\n"
            "Cause: killed (SIGKILL)\n").replace(f"   3. {c.base_url}/hello\n", "")
        assert tab.frame.dump() == expected


async def test_discard_and_restore_keep_the_frames_and_their_state(sites):
    a, b, c = sites
    url = serve_page(a, b, c)
    c.route("/embed.html", b'<p>C embed, <a href=/hello>say hello</a>.</p><input name=q>')
    async with Browser(process_model="site-per-process", spare=False, width=60) as browser:
        tab = await browser.open(url)
        other = await browser.open(a.url("/hello"))
        (field,) = tab.frame.fields
        await tab.set_field(field.id, value="typed in a frame")
        before = tab.frame.dump()
        fetched = (b.count(), c.count())
        await tab.discard()
        assert tab.frames == [] and tab.state is TabState.DISCARDED
        await tab.activate()
        assert tab.frame.dump() == before
        assert [f.state for f in tab.frames] == ["loaded"] * 5
        assert [f.value for f in tab.frame.fields] == ["typed in a frame"]
        assert (b.count(), c.count()) == fetched  # the frames came back from their snapshots: no network
        await other.close()


async def test_link_targets_and_the_sandbox_attribute(sites):
    a, b, _ = sites
    b.route("/links.html", b'<p><a href="/hello" target="_top">top</a> <a href="/hello" target="_blank">new</a></p>')
    a.route("/targets.html", (f'<iframe src="{b.url("/links.html")}"></iframe>'
                              f'<iframe src="{b.url("/links.html")}" sandbox></iframe>').encode())
    async with Browser(process_model="site-per-process", spare=False, width=60) as browser:
        tab = await browser.open(a.url("/targets.html"))
        assert [(link.number, link.target) for link in tab.frame.links] == [
            (1, "top"), (2, "blank"), (3, "top"), (4, "blank")]
        with pytest.raises(BrowserError) as refused:
            await tab.follow(3)  # _top from the sandboxed frame
        assert str(refused.value) == (f"the sandboxed frame at {b.url('/links.html')} may not navigate the top page")
        assert tab.url == a.url("/targets.html")
        await tab.follow(2)  # _blank: a new tab, the page stays
        assert [t.url for t in browser.tabs] == [a.url("/targets.html"), b.url("/hello")]
        await tab.follow(1)  # _top: the whole tab navigates
        assert tab.url == b.url("/hello") and tab.frames == [] and tab.title == "Hello"


async def test_a_frame_that_embeds_its_parent_and_the_depth_limit(sites):
    a, b, _ = sites
    a.route("/outer.html", f'<p>Outer.</p><iframe src="{b.url("/middle.html")}" height=320></iframe>'.encode())
    b.route("/middle.html", f'<p>Middle.</p><iframe src="{a.url("/outer.html")}"></iframe>'
                            f'<iframe src="/d1.html" height=320></iframe>'.encode())
    b.route("/d1.html", b'<p>Depth 2.</p><iframe src="/d2.html" height=320></iframe>')
    b.route("/d2.html", b'<p>Depth 3.</p><iframe src="/d3.html"></iframe>')
    b.route("/d3.html", b"<p>Depth 4.</p>")
    async with Browser(process_model="site-per-process", spare=False, width=60) as browser:
        tab = await browser.open(a.url("/outer.html"))
        assert [(f.depth, f.url, f.state, f.cause) for f in tab.frames] == [
            (1, b.url("/middle.html"), "loaded", ""),
            (2, a.url("/outer.html"), "blocked",
             "the frame would load a page that embeds it (a page embedding itself): not loaded"),
            (2, b.url("/d1.html"), "loaded", ""),
            (3, b.url("/d2.html"), "loaded", ""),
            (4, b.url("/d3.html"), "blocked", "frames nest at most 3 deep: this one was not loaded"),
        ]
        assert b.count("/d3.html") == 0 and a.count("/outer.html") == 1
