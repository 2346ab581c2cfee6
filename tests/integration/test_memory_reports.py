"""A renderer measures itself, for a broker the kernel will not show its memory.

As a normal user the broker may not read a renderer's smaps (renderers are
not dumpable), so it asks the renderer (MeasureMemory -> MemoryReport) and
holds the claim against the peak resident size it reads itself.  These tests
ask directly, so they check the same path as root and as a normal user.
They drive the broker itself (``BrowserImpl``), under the public API.
"""

from __future__ import annotations

import asyncio
import logging
import re
import signal

import psutil
import pytest

from broker.bad_message import BadMessage
from broker.lifecycle import LifecyclePolicy
from broker.memory import MemoryInfo, peak_resident
from broker.kernel import BrowserImpl
from broker.tabs import TabState
from renderer import protocol

pytestmark = pytest.mark.timeout(60)

MiB = 1024 * 1024

# Compromise simulation: a renderer that answers MeasureMemory with ``CLAIM``.
LYING_PROBE = """
while True:
    message = protocol.to_renderer_decoder.decode(sock.recv())
    if isinstance(message, protocol.MeasureMemory):
        sock.send(protocol.encode(protocol.MemoryReport(
            renderer=renderer, request=message.request, rss=CLAIM, pss=CLAIM, uss=CLAIM)))
        break
sock.poll(5000)
result = 'not ended'
"""

# The same lie from a tab's renderer: it draws its page honestly first.
LYING_TAB = """
while True:
    message = protocol.to_renderer_decoder.decode(sock.recv())
    if isinstance(message, protocol.LoadDocument):
        sock.send(protocol.encode(protocol.FrameReady(document=message.document, request=message.request,
            frame=protocol.Frame(url=message.url, title="honest so far", width=message.width, lines=[]))))
    elif isinstance(message, protocol.Ping):
        sock.send(protocol.encode(protocol.Pong(renderer=renderer, seq=message.seq)))
    elif isinstance(message, protocol.MeasureMemory):
        sock.send(protocol.encode(protocol.MemoryReport(
            renderer=renderer, request=message.request, rss=1 << 39, pss=1 << 39, uss=1 << 39)))
"""


@pytest.fixture
async def browser(tmp_path):
    browser = BrowserImpl(policy=LifecyclePolicy.manual(), profile=tmp_path / "profile")
    await browser.start()
    try:
        yield browser
    finally:
        await browser.shutdown()


async def test_a_renderer_reports_its_own_memory(browser, http_server):
    tab = await browser.open(http_server.url("/hello"))
    reported = await browser.sampler.ask_renderers({tab.pid: tab.host})
    memory = reported[tab.pid]
    resident = psutil.Process(tab.pid).memory_info().rss  # statm: readable by the renderer's owner
    assert isinstance(memory, MemoryInfo)
    assert 0 < memory.uss <= memory.pss <= memory.rss <= peak_resident(tab.pid)
    assert abs(memory.rss - resident) < 2 * MiB  # an idle renderer: the same pages, counted twice
    assert tab.state is TabState.ACTIVE and tab.host.alive


async def test_a_late_report_is_not_a_bad_message(browser, http_server):
    tab = await browser.open(http_server.url("/hello"))
    await browser.open(http_server.url("/hello"))  # tab goes to the background
    await tab.freeze()
    assert await browser.sampler.ask_renderers({tab.pid: tab.host}) == {}  # stopped: no answer yet
    question = tab.host.measure_memory()
    assert not question.done()
    assert tab.host.measure_memory() is question  # one question at a time, still outstanding
    await tab.unfreeze()
    answer = await asyncio.wait_for(question, 10)
    assert isinstance(answer, protocol.MemoryReport) and answer.renderer == tab.host.id and answer.uss > 0
    assert (await browser.sampler.ask_renderers({tab.pid: tab.host}))[tab.pid].uss > 0
    assert tab.state is TabState.BACKGROUND and tab.host.alive


@pytest.mark.parametrize(
    ("claim", "cause"),
    [
        (1 << 39, "ended by the browser: bad message MEMORY_REPORT_OUT_OF_BOUNDS: "
                  "the renderer's memory report contradicts what the broker measured itself"),
        (-1, "ended by the browser: bad message OUT_OF_RANGE: a length, count or number is outside its bounds"),
    ],
    ids=["more-than-its-peak", "negative"],
)
async def test_a_renderer_that_lies_about_its_memory_is_ended_by_name(browser, http_server, claim, cause, caplog):
    caplog.set_level(logging.INFO, logger="minibrowser.broker")
    honest = await browser.open(http_server.url("/hello"))
    # A renderer of its own (no tab shows it), running the lying code after lockdown.
    host = await browser.processes.launch(probe=f"CLAIM = {claim}\n{LYING_PROBE}")
    assert await browser.sampler.ask_renderers({host.pid: host}) == {}
    ended = await asyncio.wait_for(host.exited, 10)
    assert (ended.cause, ended.signal) == (cause, signal.SIGKILL)
    # A bad message like any other: one log line, and nothing it sent after is read.
    assert [r.getMessage() for r in caplog.records] == [
        f"ending renderer pid {host.pid} (tabs none): {cause.removeprefix('ended by the browser: ')}"]
    assert host.bad_message is not None and cause.endswith(host.bad_message.describe())
    # The broker and the other tab go on, and the other tab still reports.
    assert honest.state is TabState.ACTIVE
    assert (await browser.sampler.ask_renderers({honest.pid: honest.host}))[honest.pid].uss > 0


async def test_a_tab_whose_renderer_lies_about_its_memory_shows_the_bad_message(browser, http_server, caplog):
    """A compromised tab renderer (Browser.open_compromised) answers its
    load, then claims more memory than its peak: the tab's sad page and the
    broker's one log line name MEMORY_REPORT_OUT_OF_BOUNDS."""
    caplog.set_level(logging.INFO, logger="minibrowser.broker")
    page = http_server.url("/hello")
    other = await browser.open(page)
    tab = await browser.open_compromised(page, LYING_TAB)
    assert (tab.state, tab.title) == (TabState.BACKGROUND, "honest so far")
    pid, host = tab.pid, tab.host
    assert await browser.sampler.ask_renderers({pid: host}) == {}
    assert host.bad_message is BadMessage.MEMORY_REPORT_OUT_OF_BOUNDS  # the hub reads nothing more from it
    await asyncio.wait_for(host.exited, 10)
    reason = BadMessage.MEMORY_REPORT_OUT_OF_BOUNDS.describe()
    assert (tab.state, tab.crash_cause) == (TabState.CRASHED, f"ended by the browser: {reason}")
    assert tab.frame.text.splitlines()[:3] == [
        "Aw, snap! This tab's renderer stopped.", "", f"Cause: ended by the browser: {reason}"]
    assert [r.getMessage() for r in caplog.records if re.match(r"ending renderer", r.getMessage())] == [
        f"ending renderer pid {pid} (tabs {tab.id}): {reason}"]
    assert (await browser.sampler.ask_renderers({other.pid: other.host}))[other.pid].uss > 0
