"""Every reason the broker ends a renderer for what it sent.

Like Chromium's ``bad_message.h``: one enum, and each kill site names one
member.  The log line and the sad-tab page show the member's name and text.
"""

from __future__ import annotations

import enum


class BadMessage(enum.Enum):
    DECODE_FAILED = "the message could not be decoded"
    UNKNOWN_TYPE = "the message has a type that is not in the protocol"
    TOO_LARGE = "the message is larger than the size cap"
    WRONG_TAB = "the message speaks for another tab"
    HANDSHAKE_REPLAYED = "the renderer sent a second handshake"
    WRONG_PID = "the handshake names another process"
    UNEXPECTED_REPLY = "the message answers a request that was never made"
    NOT_ALLOWED = "the renderer asked for something its tab may not do"
    MEMORY_REPORT_OUT_OF_BOUNDS = "the renderer's memory report contradicts what the broker measured itself"

    def describe(self) -> str:
        return f"bad message {self.name}: {self.value}"
