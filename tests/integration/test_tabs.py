"""Tabs over the real process architecture: broker, zygote, one renderer per tab."""

from __future__ import annotations

import asyncio
import os
import signal

import psutil

from browser import TabState
from tests.support.waiting import wait_for


async def test_open_renders_a_page_in_its_own_renderer(browser, http_server):
    tab = await browser.open(http_server.url("/hello"))
    assert tab.state is TabState.ACTIVE
    assert tab.title == "Hello"
    assert "Hello, world" in tab.frame.text
    assert [link.url for link in tab.frame.links] == [http_server.url("/text"), http_server.url("/form")]
    renderer = psutil.Process(tab.pid)
    zygote = renderer.parent()
    assert "renderer.zygote" in " ".join(zygote.cmdline())
    assert zygote.ppid() == os.getpid()
    assert tab.pid != os.getpid()
    roles = {p.role for p in browser.processes() if p.role != "spare"}  # the spare has its own tests
    assert roles == {"broker", "zygote", "renderer", "network"}  # an http: page: the network process too


async def test_every_tab_gets_its_own_process(browser, http_server):
    tabs = await asyncio.gather(*(browser.open(http_server.url("/hello")) for _ in range(3)))
    pids = {tab.pid for tab in tabs}
    assert len(pids) == 3
    renderers = [p for p in browser.processes() if p.role == "renderer"]
    assert sorted(p.pid for p in renderers) == sorted(pids)


async def test_sigkill_of_one_renderer_crashes_only_its_tab(browser, http_server):
    tabs = await asyncio.gather(*(browser.open(http_server.url("/hello")) for _ in range(3)))
    victim = tabs[1]
    os.kill(victim.pid, signal.SIGKILL)
    await wait_for(lambda: victim.state is TabState.CRASHED, what="the tab to crash")
    assert "SIGKILL" in victim.crash_cause
    assert "SIGKILL" in victim.frame.text  # the sad tab says why
    for tab in (tabs[0], tabs[2]):
        frame = await tab.navigate(http_server.url("/text"))
        assert tab.state in (TabState.ACTIVE, TabState.BACKGROUND)
        assert frame.kind == "text"
    # reload brings the crashed tab back in a new renderer
    await victim.reload()
    assert victim.state is not TabState.CRASHED
    assert "Hello, world" in victim.frame.text


async def test_follow_back_forward(browser, http_server):
    tab = await browser.open(http_server.url("/hello"))
    await tab.follow(1)
    assert tab.final_url == http_server.url("/text")
    assert tab.frame.kind == "text"
    await tab.back()
    assert tab.final_url == http_server.url("/hello")
    await tab.forward()
    assert tab.final_url == http_server.url("/text")


async def test_a_web_page_cannot_open_a_local_file(browser, http_server, tmp_path):
    secret = tmp_path / "secret.html"
    secret.write_text("<title>secret</title><p>top secret</p>")
    page = http_server.route("/to-file", f'<title>lure</title><a href="file://{secret}">x</a>'.encode(),
                             content_type="text/html")
    tab = await browser.open(page)
    frame = await tab.follow(1)
    assert "top secret" not in frame.text
    assert "local file" in (tab.error or "") or "local file" in frame.text
    # typed by the user, the same URL opens
    await tab.navigate(f"file://{secret}")
    assert "top secret" in tab.frame.text


async def test_form_submission_get_and_post(browser, http_server):
    tab = await browser.open(http_server.url("/form"))
    fields = {f.name or f.kind: f for f in tab.frame.fields}
    text_field = next(f for f in tab.frame.fields if f.name == "q")
    await tab.set_field(text_field.id, value="zygote fork")
    submit = next(f for f in tab.frame.fields if f.kind == "submit")
    await tab.press(submit.id)
    assert "q=zygote+fork" in tab.final_url
    assert http_server.last.method == "GET"
    await tab.back()
    name = next(f for f in tab.frame.fields if f.name == "name")
    await tab.set_field(name.id, value="Ada")
    send = [f for f in tab.frame.fields if f.kind == "submit"][1]
    await tab.press(send.id)
    assert http_server.last.method == "POST"
    assert b"name=Ada" in http_server.last.body
    assert "Ada" in tab.frame.text
    assert fields  # the page had controls


async def test_find_and_resize(browser, http_server):
    tab = await browser.open(http_server.url("/hello"), width=80)
    matches = await tab.find("world")
    assert matches and matches[0][2] == len("world")
    narrow = await tab.resize(20)
    assert narrow.width == 20
    assert max(len(line.text) for line in narrow.lines) <= 20


async def test_load_errors_show_an_error_page(browser, http_server, unreachable_url):
    tab = await browser.open(unreachable_url)
    assert tab.error and "127.0.0.1" in tab.error
    assert "This site can't be reached" in tab.frame.text
    assert tab.state is TabState.ACTIVE  # an error page is a page; the renderer is fine
    binary = await browser.open(http_server.url("/binary"))
    assert "Cannot display" in binary.frame.text
    not_found = await browser.open(http_server.url("/404"))
    assert not_found.error is None and not_found.frame.text


async def test_closing_a_tab_ends_its_renderer(browser, http_server):
    tab = await browser.open(http_server.url("/hello"))
    pid = tab.pid
    await tab.close()
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    assert tab not in browser.tabs


async def test_network_pages_through_the_whole_browser(browser, http_server):
    redirected = await browser.open(http_server.url("/redirect/3"))
    assert redirected.final_url == http_server.url("/hello") and redirected.title == "Hello"
    latin1 = await browser.open(http_server.url("/charset/latin1"))
    assert "café – “quoted” €5" in latin1.frame.text
    sjis = await browser.open(http_server.url("/charset/meta-sjis"))
    assert "こんにちは世界" in sjis.frame.text  # decoded by the renderer from <meta charset>
    loop = await browser.open(http_server.url("/redirect-loop"))
    assert loop.error and "redirect" in loop.error
    huge = await browser.open(http_server.url("/huge"))
    assert huge.error and "too large" in huge.error.lower()
    assert "This page is too large to show" in huge.frame.text


async def test_a_slow_server_times_out_with_a_clear_error(http_server):
    from browser import Browser

    async with Browser(load_timeout=0.5) as browser:
        tab = await browser.open(http_server.url("/slow?seconds=30"))
        assert tab.error and "127.0.0.1" in tab.error
        assert "This site took too long to answer" in tab.frame.text
        other = await browser.open(http_server.url("/hello"))  # the browser goes on
        assert other.title == "Hello"
