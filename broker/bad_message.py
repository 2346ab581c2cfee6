"""Every reason the broker ends a renderer for what it sent.

Like Chromium's ``bad_message.h``: one enum, and each kill site names one
member.  The log line and the sad-tab page show the member's name and text.

:func:`classify_decode_failure` turns *any* exception raised while decoding
a renderer's bytes into one member, so that renderer input never becomes a
traceback in the broker's log.
"""

from __future__ import annotations

import enum
import struct

import msgspec


class BadMessage(enum.Enum):
    # -- the bytes: transport and decoding
    DECODE_FAILED = "the message could not be decoded"
    INVALID_UTF8 = "a string in the message is not valid UTF-8"
    TOO_DEEP = "the message nests deeper than any message in the protocol"
    MULTIPART = "the message has more than one ZeroMQ frame"
    TOO_LARGE = "the message is larger than the size cap"
    UNKNOWN_TYPE = "the message has a type that is not in the protocol"
    # -- the fields
    FIELD_INVALID = "a field has the wrong type, a value outside its enum, or is missing or unknown"
    OUT_OF_RANGE = "a length, count or number is outside its bounds"
    # -- who speaks
    WRONG_RENDERER = "the message speaks for another renderer"
    WRONG_DOCUMENT = "the message speaks for a document this renderer does not hold, or was not asked about"
    WRONG_FRAME = "the message speaks for a frame the browser committed to another renderer"
    SITE_LOCK_VIOLATION = "the frame names a URL outside the site this renderer is locked to"
    HANDSHAKE_REPLAYED = "the renderer sent a second handshake"
    WRONG_PID = "the handshake names another process"
    # -- what it answers
    UNEXPECTED_REPLY = "the message answers a request that was never made"
    WRONG_REPLY_TYPE = "the reply is not of a type its request accepts"
    URL_MISMATCH = "the frame names a URL other than the document the browser committed to it"
    FLOOD = "the renderer sent more than the browser asked for"
    NOT_ALLOWED = "the renderer asked for something its tab may not do"
    MEMORY_REPORT_OUT_OF_BOUNDS = "the renderer's memory report contradicts what the broker measured itself"
    OVER_BUDGET = "the network process sent more body than the request allows"
    LONGER_THAN_DECLARED = "the network process sent more body than the response's Content-Length declares"

    def describe(self) -> str:
        return f"bad message {self.name}: {self.value}"


#: Deeper than any message of the protocol nests (a snapshot's frame's
#: lines' spans is the deepest, at 7 levels); used only to name a failure.
PROTOCOL_MAX_DEPTH = 16
#: How many msgpack items :func:`nesting_depth` looks at before it gives up:
#: deep nesting shows in the first items, and the scan must stay cheap.
_DEPTH_SCAN_ITEMS = 100_000


def classify_decode_failure(payload: bytes, error: BaseException) -> BadMessage:
    """The named reason for ``error``, raised while decoding ``payload``.

    Every exception type maps to a reason: the decoder's own errors by
    what they say, the ones msgspec lets through from Python
    (``UnicodeDecodeError``, ``RecursionError``) by their type (newer msgspec
    reports bad UTF-8 as a ``DecodeError`` of its own), anything
    else as ``DECODE_FAILED``.  Never raises.
    """
    if isinstance(error, UnicodeDecodeError):
        return BadMessage.INVALID_UTF8
    if isinstance(error, msgspec.DecodeError) and str(error).startswith("Invalid UTF-8"):
        return BadMessage.INVALID_UTF8  # msgspec 0.23 reports it as its own error
    if isinstance(error, RecursionError):
        return BadMessage.TOO_DEEP
    if not isinstance(error, msgspec.DecodeError):
        return BadMessage.DECODE_FAILED
    # A typed decoder stops at the first mismatch, which for deep nesting is
    # near the top ("expected object, got array"): look at the depth itself.
    if nesting_depth(payload) > PROTOCOL_MAX_DEPTH:
        return BadMessage.TOO_DEEP
    if not isinstance(error, msgspec.ValidationError):
        return BadMessage.DECODE_FAILED
    text = str(error)
    if text.startswith("Expected `object`, got") and " - at `$" not in text:
        return BadMessage.DECODE_FAILED  # valid msgpack, but not a message at all
    if text == "Object missing required field `type`" or (
            text.startswith("Invalid value") and text.endswith("at `$.type`")):
        return BadMessage.UNKNOWN_TYPE
    if (" <= " in text or " >= " in text) and text.startswith("Expected"):
        return BadMessage.OUT_OF_RANGE
    return BadMessage.FIELD_INVALID


# msgpack headers by their first byte (the fixed-size families are ranges).
_SKIP, _ARRAY, _MAP = 0, 1, 2
_LENGTH_FORMATS = {1: struct.Struct(">B"), 2: struct.Struct(">H"), 4: struct.Struct(">I")}
_FIXED_PAYLOAD = {0xCA: 4, 0xCB: 8, 0xCC: 1, 0xCD: 2, 0xCE: 4, 0xCF: 8, 0xD0: 1, 0xD1: 2, 0xD2: 4, 0xD3: 8,
                  0xD4: 2, 0xD5: 3, 0xD6: 5, 0xD7: 9, 0xD8: 17}  # floats, ints, fixext (type byte included)
_SIZED_PAYLOAD = {0xC4: 1, 0xC5: 2, 0xC6: 4, 0xD9: 1, 0xDA: 2, 0xDB: 4}  # bin and str: width of the length
_EXT_PAYLOAD = {0xC7: 1, 0xC8: 2, 0xC9: 4}  # ext: width of the length, then a type byte
_CONTAINERS = {0xDC: (_ARRAY, 2), 0xDD: (_ARRAY, 4), 0xDE: (_MAP, 2), 0xDF: (_MAP, 4)}


def _header(data: bytes, at: int) -> tuple[int, int, int]:
    """``(kind, count_or_size, header_length)`` of the msgpack item at ``at``.

    For ``_SKIP`` items, ``count_or_size`` is the payload size after the header.
    """
    b = data[at]
    if b <= 0x7F or b >= 0xE0 or b in (0xC0, 0xC2, 0xC3):  # fixints, nil, false, true
        return _SKIP, 0, 1
    if 0x80 <= b <= 0x8F:
        return _MAP, b & 0x0F, 1
    if 0x90 <= b <= 0x9F:
        return _ARRAY, b & 0x0F, 1
    if 0xA0 <= b <= 0xBF:
        return _SKIP, b & 0x1F, 1
    if b in _FIXED_PAYLOAD:
        return _SKIP, _FIXED_PAYLOAD[b], 1
    if b in _SIZED_PAYLOAD or b in _EXT_PAYLOAD:
        width = _SIZED_PAYLOAD.get(b) or _EXT_PAYLOAD[b]
        (size,) = _LENGTH_FORMATS[width].unpack_from(data, at + 1)
        return _SKIP, size + (b in _EXT_PAYLOAD), 1 + width
    if b in _CONTAINERS:
        kind, width = _CONTAINERS[b]
        (count,) = _LENGTH_FORMATS[width].unpack_from(data, at + 1)
        return kind, count, 1 + width
    raise ValueError("not a msgpack header")  # 0xC1 is never used


def nesting_depth(payload: bytes) -> int:
    """How deep arrays and maps nest in ``payload`` (0 if it is not msgpack).

    Iterative and bounded (``_DEPTH_SCAN_ITEMS`` items), so hostile input
    cannot make it recurse or run long.
    """
    depth = deepest = 0
    remaining: list[int] = []  # items still to read in each open container
    at = 0
    try:
        for _ in range(_DEPTH_SCAN_ITEMS):
            if at >= len(payload):
                break
            kind, count, header = _header(payload, at)
            at += header
            if kind == _SKIP:
                at += count
            elif count:
                remaining.append(count * 2 if kind == _MAP else count)
                depth += 1
                deepest = max(deepest, depth)
                continue
            # one item finished: close every container it completes
            while remaining:
                remaining[-1] -= 1
                if remaining[-1]:
                    break
                remaining.pop()
                depth -= 1
            if not remaining:
                break
    except (ValueError, IndexError, struct.error):
        pass
    return deepest
