"""The contract's own checks: declared replies, bounds that legitimate pages
stay within, and a name for every way decoding can fail."""

from __future__ import annotations

import msgspec
import pytest

from broker.bad_message import PROTOCOL_MAX_DEPTH, BadMessage, classify_decode_failure, nesting_depth
from renderer import protocol
from renderer.main import within_bounds
from renderer.page import Page


def _decode_failure(payload: bytes) -> BadMessage:
    with pytest.raises(Exception) as raised:
        protocol.to_broker_decoder.decode(payload)
    return classify_decode_failure(payload, raised.value)


def test_every_request_declares_its_replies_and_every_reply_is_a_renderer_message():
    requests = {cls for cls in protocol.ToRenderer.__args__
                if "request" in cls.__struct_fields__ or cls is protocol.Ping}
    assert set(protocol.REPLIES) == requests
    for replies in protocol.REPLIES.values():
        assert set(replies) <= set(protocol.ToBroker.__args__)


@pytest.mark.parametrize(("payload", "reason"), [
    (b"\xc1", BadMessage.DECODE_FAILED),
    (b"\x2a", BadMessage.DECODE_FAILED),  # valid msgpack, not a message
    (msgspec.msgpack.encode({"type": "read_file", "renderer": 1}), BadMessage.UNKNOWN_TYPE),
    (msgspec.msgpack.encode({"renderer": 1, "seq": 1}), BadMessage.UNKNOWN_TYPE),
    (msgspec.msgpack.encode({"type": "pong", "renderer": 1, "seq": "1"}), BadMessage.FIELD_INVALID),
    (msgspec.msgpack.encode({"type": "pong", "renderer": 1, "seq": 1, "pad": "x"}), BadMessage.FIELD_INVALID),
    (msgspec.msgpack.encode({"type": "pong", "renderer": 1, "seq": -1}), BadMessage.OUT_OF_RANGE),
    (msgspec.msgpack.encode({"type": "find_result", "document": 1, "request": 1, "matches": [[0, 2**62, 1]]}),
     BadMessage.OUT_OF_RANGE),
    (msgspec.msgpack.encode({"type": "navigate", "document": 1, "request": 1, "url": "x", "method": "DELETE"}),
     BadMessage.FIELD_INVALID),
    (msgspec.msgpack.encode({"type": "navigate", "document": 1, "request": 1, "url": "AAAA"}).replace(b"AAAA", b"\xff" * 4),
     BadMessage.INVALID_UTF8),
    (b"\x91" * 100_000 + b"\xc0", BadMessage.TOO_DEEP),
    (msgspec.msgpack.encode({"type": "pong", "renderer": 1, "seq": None})[:-1] + b"\x91" * 100_000 + b"\xc0",
     BadMessage.TOO_DEEP),
], ids=["not-msgpack", "an-int", "unknown-tag", "no-tag", "wrong-type", "unknown-field", "negative",
        "huge-find-match", "method", "utf8", "deep", "deep-in-field"])
def test_every_decoding_failure_has_a_name(payload, reason):
    assert _decode_failure(payload) is reason


def test_exceptions_msgspec_lets_through_are_named_by_their_type():
    assert classify_decode_failure(b"", RecursionError()) is BadMessage.TOO_DEEP
    assert classify_decode_failure(b"", UnicodeDecodeError("utf-8", b"\xff", 0, 1, "bad")) is BadMessage.INVALID_UTF8
    assert classify_decode_failure(b"", MemoryError()) is BadMessage.DECODE_FAILED


def test_the_deepest_legitimate_message_is_within_the_depth_limit():
    frame = protocol.Frame(url="u", title="t", width=80, lines=[protocol.Line([protocol.Span("x")])],
                           fields=[protocol.FormField(1, protocol.FieldKind.SELECT, options=["a"])])
    snapshot = protocol.SnapshotReady(document=1, request=1, snapshot=protocol.Snapshot(
        url="u", title="t", content_type="text/html", charset=None, body=b"", kind=protocol.DocumentKind.HTML,
        width=80, form_values={1: "v"}, frame=frame))
    assert 0 < nesting_depth(protocol.encode(snapshot)) <= PROTOCOL_MAX_DEPTH


def test_nesting_depth_never_raises_on_garbage():
    for payload in (b"", b"\xc1", b"\xdc\xff", b"\x91\x91", b"\xdb\xff\xff\xff\xff"):
        assert nesting_depth(payload) >= 0


def _big_page(size: int) -> bytes:
    section = (b"<h2>Section</h2><p>A paragraph with <a href='/link'>a link</a>, <em>emphasis</em> and "
               b"<code>code()</code>. Lorem ipsum dolor sit amet, consectetur adipiscing elit.</p>"
               b"<ul><li>one</li><li>two</li></ul>")
    return b"<!doctype html><title>big</title>" + section * (size // len(section))


@pytest.mark.parametrize("width", [80, 20])
def test_a_large_legitimate_page_fits_every_bound(width):
    """A 1 MB page here (the 8 MB figures are in renderer/protocol.py)."""
    page = Page(_big_page(1024 * 1024), url="https://big.example/", content_type="text/html", charset="utf-8",
                kind="html")
    frame = page.layout(width)
    message = protocol.FrameReady(document=1, request=1, frame=frame)
    assert protocol.to_broker_decoder.decode(protocol.encode(message)) == message


def test_a_frame_over_the_line_bound_is_cut_by_the_renderer_and_then_fits():
    lines = [protocol.Line([protocol.Span(str(n))]) for n in range(protocol.MAX_FRAME_LINES + 5)]
    link = protocol.Link(1, "https://x.example/", "x", line=protocol.MAX_FRAME_LINES + 3)
    frame = protocol.Frame(url="https://x.example/", title="t", width=80, lines=lines, links=[link],
                           scroll=protocol.MAX_FRAME_LINES + 4)
    message = protocol.FrameReady(document=1, request=1, frame=frame)
    assert _decode_failure(protocol.encode(message)) is BadMessage.OUT_OF_RANGE
    cut = within_bounds(frame)
    assert len(cut.lines) == protocol.MAX_FRAME_LINES
    assert cut.lines[-1].text == f"[the rest of this page is cut: it is longer than {protocol.MAX_FRAME_LINES - 1} lines]"
    assert cut.lines[:-1] == lines[: protocol.MAX_FRAME_LINES - 1]
    assert (cut.links[0].line, cut.scroll) == (protocol.MAX_FRAME_LINES - 1, protocol.MAX_FRAME_LINES - 1)
    protocol.to_broker_decoder.decode(protocol.encode(protocol.FrameReady(document=1, request=1, frame=cut)))
