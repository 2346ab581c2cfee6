"""The browser half of the sandbox: a compromised tab renderer against the broker.

Each test opens a tab whose renderer runs attacker code in place of its
message loop, after full lockdown (``Browser.open_compromised``): a real
renderer forked by the real zygote, sandboxed, on the real ZeroMQ socket.
The broker drives the tab as it drives any tab; the test is what the user
and the machine see.
"""

from __future__ import annotations

import asyncio
import logging
import re
import os

import pytest

from broker.bad_message import BadMessage
from broker.host import describe_exit
from broker.ipc import MAX_WIRE_BYTES
from browser import Browser, TabState
from tests.support.httpserver import LocalHTTPServer

SECRET_LINE = "root:x:0:0:"

#: A renderer that draws one link [1] to file:///etc/passwd, claims its
#: document is CLAIMED_URL, and asks to go there when the link is followed.
FILE_THROUGH_NAVIGATION = """
def frame(width):
    link = protocol.Link(number=1, url="file:///etc/passwd", text="passwd")
    line = protocol.Line([protocol.Span("[1]passwd", protocol.Style.LINK, 1)])
    return protocol.Frame(url=CLAIMED_URL, title="innocent", width=width, lines=[line], links=[link])

while True:
    message = protocol.to_renderer_decoder.decode(sock.recv())
    if isinstance(message, protocol.LoadDocument):
        sock.send(protocol.encode(protocol.FrameReady(document=message.document, request=message.request, frame=frame(message.width))))
    elif isinstance(message, protocol.FollowLink):
        sock.send(protocol.encode(protocol.NavigateRequest(document=message.document, request=message.request, url="file:///etc/passwd")))
    elif isinstance(message, protocol.Ping):
        sock.send(protocol.encode(protocol.Pong(renderer=renderer, seq=message.seq)))
    elif isinstance(message, protocol.Shutdown):
        break
"""

#: A renderer that reads every request and never answers one.
SILENT = """
while True:
    sock.recv()
"""


#: A renderer that answers its load with one 30 MB frame: over the wire limit,
#: so ZeroMQ drops its connection before the broker reads a byte of it.
HUGE_ANSWER = """
sock.recv()
sock.send(b"\\0" * (30 * 1024 * 1024))
sock.poll(10000)
"""

#: Renderers whose connection ends on their way out, as an honest one's does:
#: killed (by itself), or closing its socket first and exiting with a status.
DIES_ON_ITS_OWN = {
    "killed": ("import os, signal\nsock.recv()\nos.kill(os.getpid(), signal.SIGKILL)\n", "killed (SIGKILL)"),
    "closes-then-exits": ("import os, time\nsock.recv()\nsock.close(linger=0)\ntime.sleep(1)\nos._exit(3)\n",
                          describe_exit(3, None)),
}


@pytest.fixture
def http_server():
    with LocalHTTPServer() as server:
        yield server


def test_the_secret_file_is_readable_outside_the_browser():
    """The file the attack is after exists and holds what the test looks for."""
    with open("/etc/passwd", encoding="utf-8") as passwd:
        assert SECRET_LINE in passwd.read()


async def test_a_renderer_with_its_true_url_cannot_navigate_to_a_file(http_server):
    page = http_server.url("/hello")
    code = f"CLAIMED_URL = {page!r}\n" + FILE_THROUGH_NAVIGATION
    async with Browser() as browser:
        tab = await browser.open_compromised(page, code)
        assert tab.state is TabState.ACTIVE
        await tab.follow(1)
        assert tab.error == (
            f"the page at {page} tried to open a local file (file:///etc/passwd): "
            "only a URL you type can open local files"
        )
        assert SECRET_LINE not in tab.frame.text


async def test_a_renderer_that_reports_a_file_url_cannot_read_files_through_the_broker(http_server):
    """Chromium's rule: the broker decides from the URL it committed, never
    from the one the renderer reports.  Reporting file:///etc/ is itself a
    bad message; the tab never holds the file."""
    page = http_server.url("/hello")
    code = "CLAIMED_URL = 'file:///etc/'\n" + FILE_THROUGH_NAVIGATION
    async with Browser() as browser:
        tab = await browser.open_compromised(page, code)
        assert tab.state is TabState.CRASHED
        assert tab.crash_cause == (
            "ended by the browser: bad message URL_MISMATCH: "
            "the frame names a URL other than the document the browser committed to it"
        )
        assert tab.final_url == page
        if tab.frame is not None:
            assert SECRET_LINE not in tab.frame.text
        await tab.navigate(page)  # the same attacker, again: it never gets further
        assert tab.state is TabState.CRASHED
        assert SECRET_LINE not in tab.frame.text


async def test_a_renderer_that_never_answers_is_ended_with_a_clear_cause(http_server):
    page = http_server.url("/hello")
    async with Browser(request_timeout=1.0) as browser:
        other = await browser.open(page, activate=False)
        tab = await browser.open_compromised(page, SILENT)
        assert tab.state is TabState.CRASHED
        assert re.fullmatch(r"its renderer did not answer in time \(the renderer \(pid \d+\) "
                            r"did not answer LoadDocument within 1 s\)", tab.crash_cause)
        assert tab.frame.text.splitlines()[:4] == [
            "Aw, snap! This tab's renderer stopped.",
            "",
            f"Cause: {tab.crash_cause}",
            f"Page:  {page}",
        ]
        assert tab.pid is None
        # The broker and the other tab go on.
        await other.navigate(page)
        assert other.state is TabState.ACTIVE
        assert "Hello, world" in other.frame.text
        assert await asyncio.wait_for(other.ping(), 5) > 0


async def test_the_api_exposes_no_broker_machinery():
    """The API is a façade: nothing of the broker's machinery is reachable
    as a public attribute of a Browser or a Tab."""
    async with Browser() as browser:
        tab = await browser.open("about:blank")
        for obj in (browser, tab):
            public = {name for name in dir(obj) if not name.startswith("_")}
            assert not public & {"host", "hub", "zygote", "runtime", "processes_impl", "sampler", "loader"}
        assert os.path.isdir(browser.runtime_dir)


async def test_a_renderer_that_sends_30_mb_is_ended_for_the_message_not_by_the_sandbox(http_server, caplog):
    """ZeroMQ drops a frame over the wire limit together with its connection;
    the renderer's reconnect is refused by seccomp (SIGSYS).  The broker saw
    the connection of a running renderer dropped, and names the message:
    its tab and the log say TOO_LARGE, not the sandbox."""
    assert 30 * 1024 * 1024 > MAX_WIRE_BYTES
    caplog.set_level(logging.INFO, logger="minibrowser.broker")
    page = http_server.url("/hello")
    async with Browser() as browser:
        other = await browser.open(page, activate=False)
        tab = await browser.open_compromised(page, HUGE_ANSWER)
        reason = BadMessage.TOO_LARGE.describe()
        assert (tab.state, tab.crash_cause) == (TabState.CRASHED, f"ended by the browser: {reason}")
        assert tab.frame.text.splitlines()[:4] == [
            "Aw, snap! This tab's renderer stopped.", "", f"Cause: ended by the browser: {reason}", f"Page:  {page}"]
        [line] = [r.getMessage() for r in caplog.records if r.getMessage().startswith("ending renderer")]
        assert re.fullmatch(rf"ending renderer pid \d+ \(tabs {tab.id}\): {re.escape(reason)}", line)
        await other.navigate(page)  # the broker and the other tab go on
        assert other.state is TabState.ACTIVE and "Hello, world" in other.frame.text


@pytest.mark.parametrize("how", list(DIES_ON_ITS_OWN))
async def test_a_renderer_that_ends_on_its_own_is_not_blamed_for_its_lost_connection(http_server, caplog, how):
    """The control: a renderer's connection also ends when it dies, or when
    it closes it on its way out; that is its exit, reported as such, and no
    bad message."""
    code, cause = DIES_ON_ITS_OWN[how]
    caplog.set_level(logging.INFO, logger="minibrowser.broker")
    async with Browser() as browser:
        tab = await browser.open_compromised(http_server.url("/hello"), code)
        assert (tab.state, tab.crash_cause) == (TabState.CRASHED, cause)
    assert [r.getMessage() for r in caplog.records if r.getMessage().startswith("ending renderer")] == []
