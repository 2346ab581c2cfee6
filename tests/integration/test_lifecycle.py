"""The tab lifecycle over real processes: freeze, discard to SQLite, restore
without the network, crashes and hangs, and the policy's decisions."""

from __future__ import annotations

import asyncio
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time

import psutil
import pytest

from broker.lifecycle import DiscardRefusal, LifecyclePolicy
from broker.memory import cpu_time_now
from browser.api import Browser, LifecycleRefused, TabState
from browser.output import tab_json, tab_problem
from tests.support.processes import gone
from tests.support.waiting import wait_for

pytestmark = pytest.mark.timeout(60)

FORM_PAGE = ("<!doctype html><html><head><title>Long form</title></head><body><h1>Long form</h1>"
             + "".join(f"<p>Paragraph {n}: the quick brown fox jumps over the lazy dog.</p>" for n in range(60))
             + "<form action='/echo' method='get'><input type='text' name='who' value=''>"
             "<input type='checkbox' name='sure' value='yes'><textarea name='note'></textarea>"
             "<input type='submit' value='Go'></form>"
             + "".join(f"<p>After {n}</p>" for n in range(30)) + "</body></html>").encode()


@pytest.fixture
async def make_browser(tmp_path):
    browsers = []

    async def make(policy: LifecyclePolicy | None = None, profile=None) -> Browser:
        browser = Browser(policy=policy or LifecyclePolicy.manual(), profile=profile or tmp_path / "profile")
        await browser.start()
        browsers.append(browser)
        return browser

    yield make
    for browser in browsers:
        await browser.shutdown()


def field(frame, name):
    return next(f for f in frame.fields if f.name == name)


async def fill_in(tab):
    await tab.set_field(field(tab.frame, "who").id, value="Ada Lovelace")
    await tab.set_field(field(tab.frame, "sure").id, checked=True)
    await tab.set_field(field(tab.frame, "note").id, value="remember me")
    tab.scroll_to(37)


# -- freeze ----------------------------------------------------------------------


async def test_freeze_stops_the_renderer_and_its_messages_wait(make_browser, http_server):
    browser = await make_browser()
    tab = await browser.open(http_server.url("/hello"))
    await browser.open(http_server.url("/hello"))  # tab goes to the background
    await tab.freeze()
    assert tab.state is TabState.FROZEN
    assert psutil.Process(tab.pid).status() == psutil.STATUS_STOPPED
    other = browser.tabs[-1]
    find = asyncio.ensure_future(tab.find("world"))
    await other.find("world")  # a round trip through the same broker, asked after the frozen tab's
    assert not find.done()  # the frozen tab's waits for the thaw
    await tab.unfreeze()
    assert tab.state is TabState.BACKGROUND
    assert (await asyncio.wait_for(find, 10))[0][2] == len("world")
    assert psutil.Process(tab.pid).status() != psutil.STATUS_STOPPED


async def test_a_frozen_tab_uses_no_cpu_and_a_hung_one_is_found_and_ended(make_browser, http_server):
    policy = LifecyclePolicy.manual()
    policy.heartbeat_interval_s, policy.heartbeat_timeout_s = 0.2, 1.0
    browser = await make_browser(policy)
    events = []
    browser.subscribe(events.append)
    tab = await browser.open(http_server.url("/hello"))
    await tab.navigate("about:hang")  # typed by the user: the renderer spins
    other = await browser.open(http_server.url("/hello"))
    await wait_for(lambda: tab.state is TabState.UNRESPONSIVE, what="the hang to be noticed")
    assert other.state is TabState.ACTIVE
    hangs = [(e.tab, e.new) for e in events if e.new is TabState.UNRESPONSIVE]
    assert hangs == [(tab.id, TabState.UNRESPONSIVE)]
    hang = next(e for e in events if e.new is TabState.UNRESPONSIVE)
    assert re.fullmatch(r"its renderer did not answer a heartbeat for \d+ s", hang.reason), hang.reason
    assert hang.old is TabState.BACKGROUND

    await tab.freeze()
    assert tab.state is TabState.FROZEN
    assert psutil.Process(tab.pid).status() == psutil.STATUS_STOPPED
    frozen_at = cpu_time_now(tab.pid)
    # The broker goes on pinging the other tab; past the heartbeat timeout, the
    # frozen one has been neither pinged (it is not marked unresponsive) nor run.
    answered = other.ipc.messages_in
    beats = int(policy.heartbeat_timeout_s / policy.heartbeat_interval_s) + 2
    await wait_for(lambda: other.ipc.messages_in >= answered + beats, what=f"{beats} heartbeats of the other tab")
    assert cpu_time_now(tab.pid) == frozen_at
    assert psutil.Process(tab.pid).status() == psutil.STATUS_STOPPED
    assert tab.state is TabState.FROZEN

    await tab.unfreeze()
    running_at = cpu_time_now(tab.pid)
    await wait_for(lambda: cpu_time_now(tab.pid) > running_at + 0.1, what="the renderer to spin again")
    await wait_for(lambda: tab.state is TabState.UNRESPONSIVE, what="the hang to be noticed again")

    pid = tab.pid
    tab.end_process()
    await wait_for(lambda: tab.state is TabState.CRASHED)
    assert tab.crash_cause == "ended by the user"
    assert "ended by the user" in tab.frame.text
    assert gone(pid)
    await tab.reload()
    assert tab.state is TabState.BACKGROUND
    assert "Hello, world" in tab.frame.text


async def test_closing_a_frozen_tab_and_shutting_down_are_prompt(make_browser, http_server):
    browser = await make_browser()
    first = await browser.open(http_server.url("/hello"))
    second = await browser.open(http_server.url("/hello"))
    await browser.open(http_server.url("/hello"))
    await first.freeze()
    await second.freeze()
    pid = first.pid
    started = time.monotonic()
    await first.close()
    assert gone(pid)
    assert time.monotonic() - started < 2
    pid = second.pid
    await browser.shutdown()
    await wait_for(lambda: gone(pid), timeout=5, what="the renderer to end")


# -- discard and restore -----------------------------------------------------------


async def test_discard_and_restore_keep_the_page_as_it_was_without_the_network(make_browser, http_server):
    url = http_server.route("/long", FORM_PAGE)
    browser = await make_browser()
    tab = await browser.open(url, width=60)
    await fill_in(tab)
    await browser.open(http_server.url("/hello"))
    before = tab.frame
    old_pid = tab.pid
    requests = http_server.count("/long")

    await tab.discard()
    assert tab.state is TabState.DISCARDED
    assert tab.pid is None and gone(old_pid)
    assert tab.title == "Long form"  # the tab strip keeps its title
    assert tab.snapshot_bytes and tab.snapshot_bytes < len(FORM_PAGE)
    rows = sqlite3.connect(browser.profile.database).execute("SELECT tab, url FROM tabs").fetchall()
    assert rows == [(tab.id, url)]
    assert browser.memory().discarded == 1

    frame = await tab.activate()
    assert tab.state is TabState.ACTIVE
    assert tab.pid and tab.pid != old_pid
    assert http_server.count("/long") == requests  # no network
    assert frame == before
    assert frame.text == before.text and frame.scroll == 37
    assert field(frame, "who").value == "Ada Lovelace"
    assert field(frame, "sure").checked
    assert field(frame, "note").value == "remember me"
    assert "Ada Lovelace" in frame.text
    # The new renderer really has the form: submitting it sends what was typed.
    await tab.set_field(field(tab.frame, "who").id, value="Ada Lovelace")
    await tab.press(next(f for f in tab.frame.fields if f.kind == "submit").id)
    assert "who=Ada+Lovelace" in tab.final_url and "sure=yes" in tab.final_url
    await tab.back()  # history survived the discard
    assert tab.final_url == url
    assert browser.profile.rows() == []  # a restored tab's snapshot is gone


async def test_a_frozen_tab_can_be_discarded_and_a_closed_tab_leaves_no_snapshot(make_browser, http_server):
    browser = await make_browser()
    tab = await browser.open(http_server.url("/hello"))
    await browser.open(http_server.url("/hello"))
    await tab.freeze()
    await tab.discard()
    assert tab.state is TabState.DISCARDED
    assert len(browser.profile.rows()) == 1
    await tab.close()
    assert browser.profile.rows() == []


async def test_refusals_have_reasons(make_browser, http_server):
    browser = await make_browser()
    pinned = await browser.open(http_server.url("/hello"))
    kept = await browser.open(http_server.url("/hello"))
    active = await browser.open(http_server.url("/hello"))
    pinned.pin()
    kept.keep()
    assert active.discard_refusal() is DiscardRefusal.ACTIVE_TAB
    assert pinned.discard_refusal() is DiscardRefusal.PINNED
    assert kept.discard_refusal() is DiscardRefusal.KEPT
    for tab, reason in ((active, DiscardRefusal.ACTIVE_TAB), (pinned, DiscardRefusal.PINNED),
                        (kept, DiscardRefusal.KEPT)):
        with pytest.raises(LifecycleRefused) as refused:
            await tab.discard()
        assert refused.value.reason is reason
        assert reason.describe() in str(refused.value)
    with pytest.raises(LifecycleRefused) as refused:
        await kept.freeze()
    assert refused.value.reason is DiscardRefusal.KEPT
    pinned.pin(False)
    await pinned.discard()
    assert pinned.discard_refusal() is DiscardRefusal.ALREADY_DISCARDED
    with pytest.raises(LifecycleRefused):
        await pinned.freeze()


# -- policy --------------------------------------------------------------------------


async def test_idle_background_tabs_are_frozen_then_discarded_by_policy(make_browser, http_server):
    policy = LifecyclePolicy(freeze_after_s=0.3, discard_after_s=1.5, memory_budget_bytes=None, tick_interval_s=0.1)
    browser = await make_browser(policy)
    events = []
    browser.subscribe(events.append)
    idle = await browser.open(http_server.url("/hello"))
    pinned = await browser.open(http_server.url("/hello"))
    pinned.pin()
    active = await browser.open(http_server.url("/hello"))
    await wait_for(lambda: idle.state is TabState.DISCARDED)
    mine = [(e.old, e.new) for e in events if e.tab == idle.id]
    assert (TabState.BACKGROUND, TabState.FROZEN) in mine
    assert (TabState.FROZEN, TabState.DISCARDED) in mine
    assert all("in the background for" in e.reason for e in events
               if e.tab == idle.id and e.new in (TabState.FROZEN, TabState.DISCARDED))
    assert active.state is TabState.ACTIVE
    assert pinned.state is TabState.BACKGROUND  # pinned: neither frozen nor discarded
    assert [(r.tab, r.action, r.outcome) for r in browser.decisions] == [
        (idle.id, "freeze", "done"), (idle.id, "discard", "done")]


async def test_memory_budget_discards_least_recently_used_tabs(make_browser, http_server):
    probe = await make_browser(LifecyclePolicy.manual(), profile="/nonexistent-unused")
    one = await probe.open(http_server.url("/hello"))
    await probe.sample_now()
    per_tab = one.memory.uss
    await probe.shutdown()

    budget = int(per_tab * 3.5)
    policy = LifecyclePolicy(freeze_after_s=None, discard_after_s=None, memory_budget_bytes=budget,
                             tick_interval_s=0.1)
    browser = await make_browser(policy)
    tabs = [await browser.open(http_server.url("/hello")) for _ in range(6)]
    await wait_for(lambda: sum(t.state is TabState.DISCARDED for t in tabs) >= 3, what="three discards")
    # Under the budget by the survivors' own samples (the policy discards until it is).
    def fits() -> bool:
        live = [t for t in tabs if t.pid]
        return (all(t.memory for t in live) and sum(t.memory.uss for t in live) <= budget
                and browser.memory().renderers.uss <= budget)

    await wait_for(fits, timeout=15, what="the live renderers, every one measured, to fit the budget")
    discarded = [t for t in tabs if t.state is TabState.DISCARDED]
    live = [t for t in tabs if t.pid]
    assert tabs[-1] in live  # the active tab is never discarded
    assert discarded == tabs[: len(discarded)]  # least recently used first
    assert sum(t.memory.uss for t in live) <= budget
    assert browser.memory().renderers.uss <= budget
    assert all("memory budget" in r.reason for r in browser.decisions)
    for tab in discarded:  # every one comes back
        await tab.activate()
        assert "Hello, world" in tab.frame.text


async def test_memory_is_measured(make_browser, http_server):
    browser = await make_browser()
    tab = await browser.open(http_server.url("/hello"))
    await browser.sample_now()
    assert tab.memory.uss > 0 and tab.memory.pss >= tab.memory.uss and tab.memory.rss >= tab.memory.pss
    assert tab.cpu_time is not None
    totals = browser.memory()
    assert totals.renderers == tab.memory and totals.live_renderers == 1
    assert totals.broker.uss > 0 and totals.zygote.uss > 0


# -- crashes ---------------------------------------------------------------------------


@pytest.mark.parametrize(("url", "cause"), [
    ("about:crash", "SIGSEGV"),
    ("about:kill", "SIGKILL"),
    ("about:memory-exhaust", "memory"),
])
async def test_debug_urls_crash_the_renderer_with_a_cause(make_browser, http_server, url, cause):
    browser = await make_browser()
    tab = await browser.open(http_server.url("/hello"))
    await tab.navigate(url)
    await wait_for(lambda: tab.state is TabState.CRASHED)
    assert cause in tab.crash_cause
    assert cause in tab.frame.text and tab.frame.kind == "error"
    assert tab_problem(tab) == f"tab {tab.id} {tab.crash_cause}"
    await tab.reload()
    assert "Hello, world" in tab.frame.text
    # The crash is over: neither the API nor --json still reports it.
    assert (tab.state, tab.crash_cause, tab.error) == (TabState.ACTIVE, None, None)
    reported = tab_json(tab.final_url, tab, tab_problem(tab))
    assert (reported["state"], reported["error"]) == ("active", None)


async def test_a_page_cannot_link_to_a_debug_url(make_browser, http_server):
    browser = await make_browser()
    page = http_server.route("/lure", b"<title>lure</title><a href='about:crash'>click</a>")
    tab = await browser.open(page)
    pid = tab.pid
    await tab.follow(1)
    assert await tab.ping() > 0  # the same renderer answers: it did not crash
    assert tab.state is not TabState.CRASHED and tab.pid == pid


async def test_three_crashes_in_ten_seconds_stop_automatic_restarts(make_browser, http_server):
    browser = await make_browser()
    tab = await browser.open(http_server.url("/hello"))
    other = await browser.open(http_server.url("/hello"))
    await tab.activate()
    await tab.navigate("about:crash")
    await wait_for(lambda: tab.state is TabState.CRASHED)
    await other.activate()
    await tab.activate()  # a crashed tab is restarted when activated
    assert "Hello, world" in tab.frame.text
    for _ in range(2):
        await tab.navigate("about:crash")
        await wait_for(lambda: tab.state is TabState.CRASHED)
        if not tab.crash_loop:
            await tab.reload()
    assert tab.crash_loop
    await other.activate()
    await tab.activate()
    assert tab.state is TabState.CRASHED  # not restarted, and it says so
    assert "not restarted automatically" in tab.frame.text
    await tab.reload()  # the user still can
    assert "Hello, world" in tab.frame.text


# -- the broker killed in the middle of a discard -------------------------------------------

CHILD = textwrap.dedent("""
    import asyncio, sys
    from broker.lifecycle import LifecyclePolicy
    from browser.api import Browser

    async def main(profile, url):
        browser = Browser(policy=LifecyclePolicy.manual(), profile=profile)
        await browser.start()
        keep = await browser.open(url)
        await keep.set_field(next(f.id for f in keep.frame.fields if f.name == "who"), value="Ada Lovelace")
        cycle = await browser.open(url)
        await cycle.set_field(next(f.id for f in cycle.frame.fields if f.name == "who"), value="Ada Lovelace")
        await browser.open("about:blank")
        await keep.discard()
        print("kept", flush=True)
        while True:
            await cycle.discard()
            await cycle.activate()
            await browser.tabs[-1].activate()
            print("cycle", flush=True)

    asyncio.run(main(sys.argv[1], sys.argv[2]))
""")


async def test_broker_killed_mid_discard_then_a_fresh_start_restores(make_browser, http_server, tmp_path):
    url = http_server.route("/long", FORM_PAGE)
    profile = tmp_path / "killed"
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    for attempt in range(2):
        child = subprocess.Popen([sys.executable, "-c", CHILD, str(profile), url], cwd=root,
                                 stdout=subprocess.PIPE, text=True)
        assert child.stdout.readline().strip() == "kept"
        for _ in range(random.randint(1, 3)):
            assert child.stdout.readline().strip() == "cycle"
        await asyncio.sleep(random.uniform(0, 0.05))
        child.send_signal(signal.SIGKILL)
        child.wait()
        child.stdout.close()

        before = http_server.count("/long")
        browser = await make_browser(profile=profile)
        assert await asyncio.to_thread(browser.profile.integrity_check) == "ok"
        tabs = await browser.restore_session()
        # The kept tab's snapshot is never lost; the cycling one may or may not be on disk.
        assert 1 <= len(tabs) <= 2
        for tab in tabs:
            assert tab.state is TabState.DISCARDED and tab.title == "Long form"
            frame = await tab.activate()
            assert field(frame, "who").value == "Ada Lovelace"
        assert http_server.count("/long") == before  # restored without the network
        await browser.shutdown()
