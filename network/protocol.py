"""The one contract between the broker and the network process.

Like ``renderer/protocol.py`` for renderers: every message either side may
send is declared here, as msgspec structs in two tagged unions, encoded as
MessagePack over the process's socketpair with a 4-byte big-endian length
prefix.  Nothing else is ever sent.

The broker asks (:data:`ToNetwork`); the network process answers
(:data:`FromNetwork`).  Every :class:`Fetch` is answered by at most one
:class:`Head`, then any number of :class:`Body` chunks, and ends with exactly
one :class:`Done` or :class:`Failed` (a :class:`Cancel` ends it with
``Failed(kind=CANCELLED)``).  The network process never follows a redirect:
a 3xx is an ordinary :class:`Head` with its ``Location`` among the headers,
and the broker decides, from its own record of what it asked for, whether to
ask for the next hop.

The broker treats everything in :data:`FromNetwork` as hostile, as it treats
a renderer: any failure to decode (``broker/bad_message.py`` names each), a
reply to a request that was never made, a reply of a type its request does
not accept (:data:`REPLIES`), or body beyond the request's budget ends the
network process by a named reason.

Every field the network process sends is bounded here; each bound says why
an honest answer stays within it.
"""

from __future__ import annotations

import enum
import struct
from typing import Annotated, Union

import msgspec
from msgspec import Meta

#: Largest encoded message either side accepts: a body chunk plus its framing,
#: or a response head at its bounds (256 headers of 8 KiB are 2 MiB).
MAX_MESSAGE_BYTES = 4 * 1024 * 1024
#: Largest body chunk the network process sends: 64 KiB is the decoder's
#: step, and a few of them per message keep the message count of an 8 MiB
#: page low without making one message costly.
MAX_CHUNK_BYTES = 256 * 1024
#: Largest body budget the broker may ask for (its own document cap is 8 MiB).
MAX_BUDGET_BYTES = 64 * 1024 * 1024
#: URLs: the broker normalises what it sends; browsers cap URLs near 2 MB but
#: this browser's loader refuses longer redirect targets long before.
MAX_URL_CHARS = 16 * 1024
#: A response head: the network process refuses heads over this many wire
#: bytes (``network/http.py``, the limit browsers' HTTP stacks use).
MAX_HEAD_BYTES = 100 * 1024
#: Header lines in a head: the shortest line is "a:\\r\\n", 4 bytes.
MAX_HEADERS = MAX_HEAD_BYTES // 4
#: One header name or value: within the head limit.
MAX_HEADER_NAME_CHARS = 256
MAX_HEADER_VALUE_CHARS = MAX_HEAD_BYTES
#: Headers the broker sends with a request (User-Agent, Accept, Cookie, Referer...).
MAX_REQUEST_HEADERS = 32
#: A request body: the broker only sends url-encoded forms.
MAX_REQUEST_BODY_BYTES = 1024 * 1024
#: Request ids are the broker's counter; a browser's life never reaches 2^31.
MAX_ID = (1 << 31) - 1
#: Words a failure carries from an OS or TLS error ("connection refused",
#: "certificate verify failed"): short, and only these characters, so that a
#: compromised network process cannot write the user's error line.
FAILURE_DETAIL_PATTERN = r"^[a-z0-9 ,.'()_/-]{0,80}$"
#: A content-coding name the server used, kept only when it is a plain token.
ENCODING_NAME_PATTERN = r"^[a-z0-9!#$%&'*+.^_`|~-]{1,32}$"
#: Attacker code for the compromise simulation (the attack catalogue's longest is a few KiB).
MAX_PROBE_CODE_CHARS = 64 * 1024
MAX_LAYER_NAME_CHARS = 32
MAX_LAYER_DETAIL_CHARS = 400
MAX_SANDBOX_LAYERS = 16

#: The network process's exit status when a required sandbox layer cannot be
#: applied on this kernel (it exits before its handshake; its log says which).
SANDBOX_UNAVAILABLE_EXIT = 3

Id = Annotated[int, Meta(ge=1, le=MAX_ID)]
Url = Annotated[str, Meta(min_length=1, max_length=MAX_URL_CHARS)]


class Method(enum.Enum):
    GET = "GET"
    POST = "POST"


class Header(msgspec.Struct, frozen=True, array_like=True, forbid_unknown_fields=True):
    """One header line: the name lower case, the value as ISO-8859-1 text
    (every byte a server may send maps to one character)."""

    name: Annotated[str, Meta(min_length=1, max_length=MAX_HEADER_NAME_CHARS)]
    value: Annotated[str, Meta(max_length=MAX_HEADER_VALUE_CHARS)]


class SandboxLayer(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One layer of the network process's sandbox, seen from inside."""

    name: Annotated[str, Meta(max_length=MAX_LAYER_NAME_CHARS)]
    required: bool
    active: bool
    detail: Annotated[str, Meta(max_length=MAX_LAYER_DETAIL_CHARS)]


# --------------------------------------------------------------------------
# Broker -> network process
# --------------------------------------------------------------------------


class Fetch(msgspec.Struct, tag="fetch", forbid_unknown_fields=True):
    """Make one HTTP(S) request; do not follow a redirect."""

    request: Id
    method: Method
    url: Url  # absolute http: or https:, normalised by the broker
    headers: Annotated[list[Header], Meta(max_length=MAX_REQUEST_HEADERS)]
    body: Annotated[bytes, Meta(max_length=MAX_REQUEST_BODY_BYTES)] = b""
    max_bytes: Annotated[int, Meta(ge=1, le=MAX_BUDGET_BYTES)] = 8 * 1024 * 1024  # decoded, every layer
    timeout_s: Annotated[float, Meta(gt=0, le=3600)] = 15.0  # each step: connect, each read


class Cancel(msgspec.Struct, tag="cancel", forbid_unknown_fields=True):
    """Stop a fetch (the broker's deadline passed, or nobody waits for it)."""

    request: Id


class RunProbe(msgspec.Struct, tag="run_probe", forbid_unknown_fields=True):
    """Compromise simulation: run attacker code inside the locked-down
    process.  Honoured only by a network process started for probes."""

    code: Annotated[str, Meta(max_length=MAX_PROBE_CODE_CHARS)]


class Shutdown(msgspec.Struct, tag="shutdown", forbid_unknown_fields=True):
    """Close every connection and exit."""


ToNetwork = Union[Fetch, Cancel, RunProbe, Shutdown]


# --------------------------------------------------------------------------
# Network process -> broker
# --------------------------------------------------------------------------


class Hello(msgspec.Struct, tag="hello", forbid_unknown_fields=True):
    """The handshake: sent once, after the whole lockdown."""

    pid: Annotated[int, Meta(ge=1, le=1 << 22)]  # pid_max is at most 2^22
    layers: Annotated[list[SandboxLayer], Meta(max_length=MAX_SANDBOX_LAYERS)]


class Head(msgspec.Struct, tag="head", forbid_unknown_fields=True):
    """A response's status and headers, as data.  A redirect is one too."""

    request: Id
    status: Annotated[int, Meta(ge=100, le=599)]
    headers: Annotated[list[Header], Meta(max_length=MAX_HEADERS)]


class Body(msgspec.Struct, tag="body", forbid_unknown_fields=True):
    """Decoded body bytes (every content-coding layer undone)."""

    request: Id
    data: Annotated[bytes, Meta(min_length=1, max_length=MAX_CHUNK_BYTES)]


class Done(msgspec.Struct, tag="done", forbid_unknown_fields=True):
    """The body is complete."""

    request: Id


class FailureKind(enum.Enum):
    """Why a fetch failed; the broker words each for the user."""

    CONNECT_TIMEOUT = "connect_timeout"  # no connection within timeout_s
    READ_TIMEOUT = "read_timeout"  # no bytes within timeout_s
    DNS_FAILED = "dns_failed"
    REFUSED = "refused"  # connection refused
    CONNECT_FAILED = "connect_failed"  # any other reason (detail: the OS's words)
    TLS_FAILED = "tls_failed"  # detail: OpenSSL's reason, lower case
    RESET = "reset"
    BROKEN = "broken"  # the connection broke (detail: when)
    PROTOCOL = "protocol"  # not valid HTTP (problem says which way)
    TOO_LARGE = "too_large"  # over max_bytes (size: a declared Content-Length, if that told)
    UNSUPPORTED_ENCODING = "unsupported_encoding"  # encoding: the name, if a plain token
    TOO_MANY_LAYERS = "too_many_layers"
    CORRUPT_ENCODING = "corrupt_encoding"  # encoding: gzip or deflate
    TRUNCATED_ENCODING = "truncated_encoding"
    INVALID_URL = "invalid_url"  # the URL cannot be requested (bad host, port)
    CANCELLED = "cancelled"  # the broker sent Cancel


class ProtocolProblem(enum.Enum):
    """How a response was not valid HTTP (never the parser's own text: it can quote the server)."""

    NO_RESPONSE = "no_response"
    SHORT_BODY = "short_body"
    BROKEN_CHUNKS = "broken_chunks"
    HEADERS_TOO_LARGE = "headers_too_large"
    BAD_CONTENT_LENGTH = "bad_content_length"
    BAD_TRANSFER_ENCODING = "bad_transfer_encoding"
    BAD_STATUS_LINE = "bad_status_line"
    BAD_HEADER = "bad_header"
    OTHER = "other"


class Failed(msgspec.Struct, tag="failed", forbid_unknown_fields=True):
    """The fetch ended without a complete body."""

    request: Id
    kind: FailureKind
    problem: ProtocolProblem | None = None  # with PROTOCOL
    detail: Annotated[str, Meta(pattern=FAILURE_DETAIL_PATTERN)] = ""
    size: Annotated[int, Meta(ge=0, le=1 << 62)] | None = None  # with TOO_LARGE: the declared length
    encoding: Annotated[str, Meta(pattern=ENCODING_NAME_PATTERN)] | None = None


class ProbeResult(msgspec.Struct, tag="probe_result", forbid_unknown_fields=True):
    """How attacker code ended: ``completed`` (the action worked) or ``raised``."""

    outcome: Annotated[str, Meta(pattern=r"^(completed|raised)$")]
    detail: Annotated[str, Meta(max_length=400)] = ""
    errno: Annotated[int, Meta(ge=0, le=4095)] | None = None


FromNetwork = Union[Hello, Head, Body, Done, Failed, ProbeResult]

#: What each request accepts in reply (like ``.mojom``'s ``=> (...)``).
#: A Fetch's replies come in order: Head?, Body*, then Done or Failed.
REPLIES: dict[type[msgspec.Struct], tuple[type[msgspec.Struct], ...]] = {
    Fetch: (Head, Body, Done, Failed),
    Cancel: (),  # the fetch it names ends with Failed(CANCELLED)
    RunProbe: (ProbeResult,),
    Shutdown: (),
}

to_network_decoder = msgspec.msgpack.Decoder(ToNetwork)
from_network_decoder = msgspec.msgpack.Decoder(FromNetwork)
_encoder = msgspec.msgpack.Encoder()
_LENGTH = struct.Struct(">I")
LENGTH_BYTES = _LENGTH.size


def encode(message: msgspec.Struct) -> bytes:
    return _encoder.encode(message)


def frame_message(message: msgspec.Struct) -> bytes:
    """``message`` encoded, behind its 4-byte length."""
    payload = _encoder.encode(message)
    return _LENGTH.pack(len(payload)) + payload


def frame_length(header: bytes) -> int:
    return _LENGTH.unpack(header)[0]
