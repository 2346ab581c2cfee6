"""The broker's half of the sandbox, at the IPC boundary.

Every test runs attacker code in a real renderer (forked by the zygote, fully
locked down, talking on its own ZeroMQ DEALER) through the compromise-
simulation mechanism, and looks at how the broker ended it.  Where the
broker first hands the renderer a document (``commit_document``), the
attacker answers that real request.  The control test shows that the same
renderer telling the truth is answered and left alone, so each refusal is
for the lie, not for the mechanism.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re

import psutil
import pytest

from broker.bad_message import BadMessage
from browser import Browser, attacks
from browser.security import run_probe

LOGGER = "minibrowser.broker"


def _code(body: str) -> str:
    return attacks.BROWSER_HELPERS + body + "\nresult = ended_by_the_broker()\n"


async def _probe(browser: Browser, body: str, *, commit: bool = True):
    return await run_probe(browser, _code(body), commit_document=commit, timeout=30)


def _assert_ended_by(outcome, reason: BadMessage, caplog) -> None:
    """Ended by ``reason``, with one log line naming it and no traceback anywhere."""
    assert outcome.outcome == "killed", outcome
    assert outcome.bad_message == reason.name
    assert outcome.detail == f"ended by the browser: {reason.describe()}"
    lines = [r.getMessage() for r in caplog.records if f"renderer pid {outcome.pid} " in r.getMessage()]
    assert len(lines) == 1, lines
    assert re.fullmatch(rf"ending renderer pid {outcome.pid} \(tabs (?:[\d, ]+|none)\): {re.escape(reason.describe())}", lines[0])
    assert [r for r in caplog.records if r.exc_info] == []


@pytest.fixture
def broker_log(caplog):
    caplog.set_level(logging.INFO, logger=LOGGER)
    return caplog


async def test_an_honest_answer_is_accepted_and_the_renderer_left_alone(broker_log):
    """The control: the very mechanism the attacks use, without a lie."""
    async with Browser() as browser:
        outcome = await _probe(browser, "load = next_request()\n"
                                        "send(protocol.FrameReady(document=load.document, request=load.request, frame=frame(load.url)))")
    # It waited to be ended, and was not: the broker took the answer.
    assert (outcome.outcome, outcome.detail, outcome.load_answer) == ("completed", "not ended", "answered: FrameReady")
    assert [r for r in broker_log.records if "ending renderer" in r.getMessage()] == []


# -- issue 8, item 3: replies are checked ---------------------------------------


@pytest.mark.parametrize("reply", [
    "protocol.SandboxReport(renderer=RENDERER, request=load.request, layers=[])",
    "protocol.FindResult(document=load.document, request=load.request, matches=[])",
], ids=["SandboxReport", "FindResult"])
async def test_a_wrong_reply_ends_the_renderer_and_the_caller_gets_renderer_gone(reply, broker_log):
    async with Browser() as browser:
        outcome = await _probe(browser, f"load = next_request()\nsend({reply})")
        _assert_ended_by(outcome, BadMessage.WRONG_REPLY_TYPE, broker_log)
        assert re.fullmatch(r"RendererGone: the renderer \(pid \d+\) ended by the browser: bad message "
                            r"WRONG_REPLY_TYPE: the reply is not of a type its request accepts", outcome.load_answer)
        tab = await browser.open("about:blank")  # the broker goes on
        assert tab.state.value == "active"


async def test_a_forged_navigation_method_is_a_bad_message(broker_log):
    async with Browser() as browser:
        outcome = await _probe(browser, "load = next_request()\n"
                                        "send(protocol.NavigateRequest(document=load.document, request=load.request,"
                                        " url=load.url + 'x', method='DELETE'))")
    _assert_ended_by(outcome, BadMessage.FIELD_INVALID, broker_log)


# -- issue 8, item 4: any failure to decode ends the sender by name ------------------


MALFORMED = {
    BadMessage.INVALID_UTF8: "load = next_request()\n"
                             "payload = protocol.encode(protocol.FrameReady(document=load.document, request=load.request,"
                             " frame=frame(load.url)))\n"
                             "sock.send(payload.replace(load.url.encode(), b'\\xff' * len(load.url)))",
    BadMessage.TOO_DEEP: "head = msgspec.msgpack.encode({'type': 'pong', 'renderer': RENDERER, 'seq': None})\n"
                         "sock.send(head[:-1] + b'\\x91' * 100_000 + b'\\xc0')",
    BadMessage.MULTIPART: "sock.send_multipart([protocol.encode(protocol.Pong(renderer=RENDERER, seq=1)), b'two'])",
    BadMessage.DECODE_FAILED: "sock.send(b'\\xc1 never valid msgpack')",
    BadMessage.UNKNOWN_TYPE: "sock.send(msgspec.msgpack.encode({'type': 'read_file', 'renderer': RENDERER}))",
    BadMessage.FIELD_INVALID: "sock.send(msgspec.msgpack.encode({'type': 'pong', 'renderer': RENDERER, 'seq': 'one'}))",
}


@pytest.mark.parametrize("reason", list(MALFORMED), ids=lambda r: r.name)
async def test_a_message_that_fails_to_decode_ends_the_sender_by_name(reason, broker_log):
    async with Browser() as browser:
        outcome = await _probe(browser, MALFORMED[reason], commit=reason is BadMessage.INVALID_UTF8)
        _assert_ended_by(outcome, reason, broker_log)
        assert (await browser.open("about:blank")).state.value == "active"


# -- issue 8, item 5: unbounded values and floods -------------------------------------


OUT_OF_RANGE = {
    "two-million-lines": "load = next_request()\n"
                         "send(protocol.FrameReady(document=load.document, request=load.request,"
                         " frame=frame(load.url, lines=[protocol.Line([])] * 2_000_000)))",
    "negative-find-match": "load = next_request()\n"
                           "send(protocol.FindResult(document=load.document, request=load.request, matches=[(-1, 0, 1)]))",
    "huge-find-match": "load = next_request()\n"
                       "send(protocol.FindResult(document=load.document, request=load.request, matches=[(0, 2**62, 1)]))",
    "style-bit-out-of-range": "load = next_request()\n"
                              "send(protocol.FrameReady(document=load.document, request=load.request, frame=frame(load.url,"
                              " lines=[protocol.Line([protocol.Span('x', 1 << 40)])])))",
}


@pytest.mark.parametrize("name", list(OUT_OF_RANGE))
async def test_an_out_of_range_value_ends_the_sender(name, broker_log):
    async with Browser() as browser:
        outcome = await _probe(browser, OUT_OF_RANGE[name])
    _assert_ended_by(outcome, BadMessage.OUT_OF_RANGE, broker_log)


async def test_a_flood_is_ended_by_name_with_the_broker_memory_bounded_and_another_tab_served(broker_log):
    """A legal-looking 1 MB message flood (padded heartbeat answers): on the
    old broker this took it from 134 to 335 MB; now the first message ends
    the sender, and nothing it had in flight is read."""
    async with Browser() as browser:
        sibling = await browser.open("about:blank")
        broker = psutil.Process(os.getpid())
        before = broker.memory_info().rss
        flood = asyncio.ensure_future(_probe(browser, (
            "pong = msgspec.msgpack.encode({'type': 'pong', 'renderer': RENDERER, 'seq': 1, 'pad': 'x' * 2**20})\n"
            "for _ in range(300):\n"
            "    sock.send(pong)"), commit=False))
        answered = 0
        while not flood.done():  # the other tab is served all along
            await sibling.ping(timeout=30)
            answered += 1
        outcome = await flood
        grown = broker.memory_info().rss - before
        _assert_ended_by(outcome, BadMessage.FLOOD, broker_log)
        assert answered > 0
        assert grown < 64 * 1024 * 1024, f"the broker grew by {grown / 2**20:.0f} MB under a flood"
        assert (await sibling.navigate("about:blank")) is sibling.frame


async def test_a_second_answer_to_one_request_is_unexpected(broker_log):
    async with Browser() as browser:
        outcome = await _probe(browser, "load = next_request()\n"
                                        "send(protocol.FrameReady(document=load.document, request=load.request, frame=frame(load.url)))\n"
                                        "send(protocol.FrameReady(document=load.document, request=load.request, frame=frame(load.url)))")
    # The second answer to the one request: the probe still owes its result,
    # so it is read, and matches nothing.
    _assert_ended_by(outcome, BadMessage.UNEXPECTED_REPLY, broker_log)


# -- the broker's record: a frame must name the URL the broker committed ---------------


async def test_a_frame_claiming_file_urls_is_ended_before_it_can_navigate(broker_log):
    async with Browser() as browser:
        outcome = await run_probe(browser, attacks.by_name(["browser-read-file"])[0].code, commit_document=True)
    _assert_ended_by(outcome, BadMessage.URL_MISMATCH, broker_log)
    assert outcome.load_answer.endswith(BadMessage.URL_MISMATCH.describe())
