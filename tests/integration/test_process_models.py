"""Process models with real processes: which tabs share a renderer, moves on
cross-site navigation, the limit, the spare, lifecycle in a shared renderer,
and the site lock enforced against a compromised renderer.

Sites are local HTTP servers on 127.0.0.2, 127.0.0.3 ...: loopback
addresses, each its own site."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys

import psutil
import pytest

from broker.bad_message import BadMessage
from browser import Browser, TabState
from tests.support.httpserver import LocalHTTPServer
from tests.support.processes import gone
from tests.support.waiting import wait_for


@pytest.fixture
def sites():
    """Three local sites: http://127.0.0.2:P, http://127.0.0.3:Q, http://127.0.0.4:R."""
    servers = [LocalHTTPServer(f"127.0.0.{n}") for n in (2, 3, 4)]
    yield servers
    for server in servers:
        server.close()




def renderers(browser: Browser) -> dict[int, tuple[tuple[int, ...], str | None]]:
    """pid -> (tabs, site) of every renderer, as ``processes()`` reports it."""
    return {p.pid: (p.tabs, p.site) for p in browser.processes() if p.role == "renderer"}


async def test_per_tab_gives_each_tab_its_own_unlocked_renderer_for_life(sites):
    a, b, _ = sites
    async with Browser(spare=False) as browser:
        first = await browser.open(a.url("/hello"))
        second = await browser.open(a.url("/hello"))
        pid = first.pid
        assert pid != second.pid
        await first.navigate(b.url("/hello"))
        assert first.pid == pid and first.title == "Hello"
        assert renderers(browser) == {pid: ((first.id,), None), second.pid: ((second.id,), None)}


async def test_site_per_process_moves_a_cross_site_navigation_and_ends_the_old_renderer(sites):
    a, b, _ = sites
    async with Browser(process_model="site-per-process", spare=False) as browser:
        tab = await browser.open(a.url("/hello"))
        old = tab.pid
        assert tab.site == "http://127.0.0.2"
        await tab.navigate(a.url("/text"))  # same site: same renderer
        assert tab.pid == old
        await tab.navigate(b.url("/hello"))
        assert tab.pid != old and tab.site == "http://127.0.0.3" and tab.title == "Hello"
        await wait_for(lambda: gone(old))
        assert renderers(browser) == {tab.pid: ((tab.id,), "http://127.0.0.3")}
        await tab.back()  # back across sites: a renderer of the first site again
        assert tab.site == "http://127.0.0.2" and tab.final_url == a.url("/text")


async def test_site_per_process_shares_a_sites_renderer_only_over_the_limit(sites):
    a, b, c = sites
    async with Browser(process_model="site-per-process", process_limit=2, spare=False) as browser:
        a1 = await browser.open(a.url("/hello"))
        b1 = await browser.open(b.url("/hello"))
        a2 = await browser.open(a.url("/text"))  # at the limit: A's renderer is reused
        assert a2.pid == a1.pid and b1.pid != a1.pid
        c1 = await browser.open(c.url("/hello"))  # no renderer of C: a new one, over the limit
        assert c1.pid not in (a1.pid, b1.pid)
        info = {p.pid: p for p in browser.processes() if p.role == "renderer"}
        assert info[a1.pid].tabs == (a1.id, a2.id) and info[a1.pid].site == "http://127.0.0.2"
        assert [pid for pid, p in info.items() if p.over_limit] == [c1.pid]
        assert (a1.frame.text, a2.frame.text) == ((await browser.open(a.url("/hello"))).frame.text,
                                                  (await browser.open(a.url("/text"))).frame.text)


async def test_process_per_site_shares_one_renderer_per_site(sites):
    a, b, _ = sites
    async with Browser(process_model="process-per-site", spare=False) as browser:
        tabs = [await browser.open(server.url("/hello")) for server in (a, b, a, b)]
        assert tabs[0].pid == tabs[2].pid and tabs[1].pid == tabs[3].pid and tabs[0].pid != tabs[1].pid
        assert renderers(browser) == {tabs[0].pid: ((tabs[0].id, tabs[2].id), "http://127.0.0.2"),
                                      tabs[1].pid: ((tabs[1].id, tabs[3].id), "http://127.0.0.3")}
        # each document answers for itself in the shared process
        await tabs[0].navigate(a.url("/text"))
        assert tabs[0].final_url == a.url("/text") and tabs[2].final_url == a.url("/hello")
        assert await tabs[2].find("world") == [(0, 7, 5)]  # "Hello, world" of /hello, not /text


async def test_single_hosts_every_tab_and_a_crash_shows_the_sad_tab_in_all(sites):
    a, b, _ = sites
    async with Browser(process_model="single", spare=False) as browser:
        tabs = [await browser.open(a.url("/hello")), await browser.open(b.url("/text")),
                await browser.open("about:blank")]
        pid = tabs[0].pid
        assert [tab.pid for tab in tabs] == [pid] * 3
        assert renderers(browser) == {pid: (tuple(tab.id for tab in tabs), None)}
        os.kill(pid, signal.SIGKILL)
        await wait_for(lambda: all(tab.state is TabState.CRASHED for tab in tabs))
        assert {tab.crash_cause for tab in tabs} == {"killed (SIGKILL)"}
        await tabs[1].reload()
        assert tabs[1].state is TabState.BACKGROUND
        assert tabs[1].pid != pid and tabs[1].frame.text == "Plain text.\n<b>not bold</b>"
        await tabs[0].reload()  # the one renderer again
        assert tabs[0].pid == tabs[1].pid and tabs[0].title == "Hello"


async def test_the_spare_renderer_is_taken_by_a_new_tab_and_replaced(sites):
    a, _, _ = sites
    async with Browser() as browser:
        await wait_for(lambda: any(p.role == "spare" for p in browser.processes()))
        (spare,) = [p.pid for p in browser.processes() if p.role == "spare"]
        tab = await browser.open(a.url("/hello"))
        assert tab.pid == spare and tab.title == "Hello"
        await wait_for(lambda: any(p.role == "spare" and p.pid != spare for p in browser.processes()))
    async with Browser(spare=False) as browser:
        await browser.open(a.url("/hello"))
        await asyncio.sleep(0)  # a spare would be launched from here on
        assert [p.role for p in browser.processes()].count("spare") == 0
        assert "spare renderer off" in browser.describe_process_model()


async def test_discard_and_restore_in_a_shared_renderer(sites):
    a, _, _ = sites
    async with Browser(process_model="process-per-site", spare=False) as browser:
        first = await browser.open(a.url("/hello"))
        second = await browser.open(a.url("/text"))
        shared = first.pid
        text = first.frame.text
        await first.discard()
        assert first.state is TabState.DISCARDED and not gone(shared)  # the other tab still lives in it
        assert second.pid == shared and await second.ping() > 0
        assert renderers(browser) == {shared: ((second.id,), "http://127.0.0.2")}
        await browser.open("about:blank")  # the active tab: the next discard is allowed
        await second.discard()
        await wait_for(lambda: gone(shared))  # it hosts nothing: it ends
        await first.activate()
        assert first.frame.text == text and first.pid not in (None, shared)


async def test_a_shared_renderer_is_stopped_only_when_every_tab_in_it_is_frozen(sites):
    a, _, _ = sites
    async with Browser(process_model="process-per-site", spare=False) as browser:
        first = await browser.open(a.url("/hello"))
        second = await browser.open(a.url("/text"))
        await browser.open("about:blank")  # the active tab
        await first.freeze()
        assert first.state is TabState.FROZEN
        assert psutil.Process(first.pid).status() != psutil.STATUS_STOPPED
        assert await second.ping() > 0
        await second.freeze()
        assert psutil.Process(first.pid).status() == psutil.STATUS_STOPPED
        await first.unfreeze()
        assert psutil.Process(first.pid).status() != psutil.STATUS_STOPPED


# A compromised renderer (attacker code after lockdown) that answers its load
# in another's name: ``CLAIM`` picks the lie.
LIAR = """
while True:
    message = protocol.to_renderer_decoder.decode(sock.recv())
    if isinstance(message, protocol.LoadDocument):
        document, url = message.document, message.url
        if CLAIM == "other-site":
            url = OTHER_URL
        elif CLAIM == "other-document":
            document += 1000
        frame = protocol.Frame(url=url, title="lie", width=message.width, lines=[])
        sock.send(protocol.encode(protocol.FrameReady(document=document, request=message.request, frame=frame)))
    elif isinstance(message, protocol.Ping):
        sock.send(protocol.encode(protocol.Pong(renderer=renderer, seq=message.seq)))
    elif isinstance(message, protocol.Shutdown):
        break
"""


@pytest.mark.parametrize(("claim", "reason"), [
    ("other-site", BadMessage.SITE_LOCK_VIOLATION),
    ("other-document", BadMessage.WRONG_DOCUMENT),
    ("honest", None),
])
async def test_a_locked_renderer_that_speaks_for_another_site_or_document_is_ended_by_name(sites, claim, reason):
    a, b, _ = sites
    async with Browser(process_model="site-per-process", spare=False) as browser:
        other = await browser.open(b.url("/hello"))
        code = f"CLAIM = {claim!r}\nOTHER_URL = {b.url('/hello')!r}\n{LIAR}"
        tab = await browser.open_compromised(a.url("/hello"), code)
        if reason is None:  # the same renderer telling the truth is served
            assert tab.state is not TabState.CRASHED and tab.frame.title == "lie"
            assert tab.site == "http://127.0.0.2"
        else:
            assert tab.state is TabState.CRASHED
            assert tab.crash_cause == f"ended by the browser: {reason.describe()}"
        assert await other.ping() > 0 and other.state is not TabState.CRASHED


CLI = [sys.executable, "-m", "browser.cli"]


def test_open_dump_json_gives_each_tabs_renderer_pid_and_site(sites):
    a, b, _ = sites
    result = subprocess.run(
        CLI + ["open", "--dump", "--json", "--process-model", "process-per-site",
               a.url("/hello"), b.url("/hello"), a.url("/text")],
        capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert (result.returncode, result.stderr) == (0, "")
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [row["renderer_site"] for row in rows] == ["http://127.0.0.2", "http://127.0.0.3", "http://127.0.0.2"]
    assert rows[0]["renderer_pid"] == rows[2]["renderer_pid"] != rows[1]["renderer_pid"]


def test_an_unknown_process_model_is_one_line_and_exit_2():
    result = subprocess.run(CLI + ["open", "--dump", "--process-model", "bogus", "about:blank"],
                            capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == ("minibrowser: --process-model: must be one of per-tab, site-per-process, "
                             "process-per-site, single, not 'bogus' (see 'minibrowser --help')\n")


def as_unprivileged(args: list[str]) -> subprocess.CompletedProcess:
    """Run ``args`` as uid 1000 (from root: in a user namespace, as tests/security/test_unprivileged.py does)."""
    prefix = ["unshare", "--user", "--map-user=1000", "--map-group=1000"] if os.geteuid() == 0 else []
    env = dict(os.environ)
    env.pop("XDG_RUNTIME_DIR", None)
    return subprocess.run(prefix + args, capture_output=True, text=True, timeout=180,
                          stdin=subprocess.DEVNULL, env=env)


def test_site_per_process_and_its_lock_hold_for_a_user_who_is_not_root(sites):
    a, b, _ = sites
    script = f"""
import asyncio
from browser import Browser
LIAR = {LIAR!r}
async def main():
    async with Browser(process_model="site-per-process", spare=False) as browser:
        first = await browser.open({a.url("/hello")!r})
        other = await browser.open({b.url("/hello")!r})
        assert first.pid != other.pid, "two sites share a renderer"
        code = "CLAIM = 'other-site'\\nOTHER_URL = {b.url("/hello")!r}\\n" + LIAR
        liar = await browser.open_compromised({a.url("/text")!r}, code)
        print(first.site, other.site, liar.crash_cause, sep="\\n")
asyncio.run(main())
"""
    result = as_unprivileged([sys.executable, "-c", script])
    assert result.returncode == 0
    # The broker's one log line for the kill, nothing else.
    assert re.fullmatch(rf"ending renderer pid \d+ \(tabs 3\): {re.escape(BadMessage.SITE_LOCK_VIOLATION.describe())}\n",
                        result.stderr)
    assert result.stdout.splitlines() == [
        "http://127.0.0.2", "http://127.0.0.3",
        f"ended by the browser: {BadMessage.SITE_LOCK_VIOLATION.describe()}"]
