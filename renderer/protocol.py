"""The one contract between the broker and its processes.

Every message that crosses a process boundary is declared here and nowhere
else, the way Ladybird keeps ``WebContentServer.ipc`` beside the service.
Messages are msgspec structs in tagged unions, encoded as MessagePack; no
pickle, no free-form dicts.

Three channels:

* broker -> renderer (:data:`ToRenderer`) and renderer -> broker
  (:data:`ToBroker`) over ZeroMQ: the broker binds a ROUTER, each renderer
  connects a DEALER.  Every renderer message names its tab, so that the
  broker can check that a renderer only speaks for its own tab.
* broker <-> zygote (:data:`ToZygote`, :data:`FromZygote`) over a socketpair
  with a 4-byte length prefix: the zygote never creates a ZeroMQ context,
  because it forks and ZeroMQ contexts do not survive a fork.

A message that fails to decode, is of an unknown type, or is larger than
:data:`MAX_MESSAGE_BYTES` is a bad message (see ``broker/bad_message.py``).
"""

from __future__ import annotations

import struct
import urllib.parse
from typing import Annotated, Union

import msgspec

#: Largest encoded message either side accepts.  A document of
#: ``MAX_DOCUMENT_BYTES`` plus its framing must fit.
MAX_MESSAGE_BYTES = 24 * 1024 * 1024
#: Largest document body the broker hands to a renderer.
MAX_DOCUMENT_BYTES = 8 * 1024 * 1024

PROTOCOL_VERSION = 1

#: Most fragment targets (ids, ``<a name>``) a frame lists, and the longest name.
MAX_ANCHORS = 20_000
MAX_ANCHOR_NAME_CHARS = 512


class ExitCode:
    """How a renderer says why it exited on its own."""

    OK = 0
    INTERNAL_ERROR = 70  # a bug: the traceback is in the renderer's log
    SANDBOX_UNAVAILABLE = 71  # a required sandbox layer could not be applied
    HANDSHAKE_FAILED = 72  # the broker did not accept the renderer
    OUT_OF_MEMORY = 73  # the page needed more memory than the renderer may have
    BROKER_LOST = 74  # the broker stopped talking to it


class Style:
    """Bit flags carried by a :class:`Span`: how the UI should show it."""

    PLAIN = 0
    HEADING = 1 << 0
    BOLD = 1 << 1
    EMPHASIS = 1 << 2
    CODE = 1 << 3
    LINK = 1 << 4
    TITLE = 1 << 5
    FORM = 1 << 6
    IMAGE = 1 << 7
    QUOTE = 1 << 8
    MARK = 1 << 9  # a find-in-page match
    ERROR = 1 << 10
    FOCUS = 1 << 11  # the form control that has the keyboard focus


# --------------------------------------------------------------------------
# Frames: what a renderer draws.
# --------------------------------------------------------------------------


class Span(msgspec.Struct, array_like=True, frozen=True):
    """A run of text on one line with one style."""

    text: str
    style: int = Style.PLAIN
    link: int = 0  # link number (1-based) when the span is part of a link
    field: int = 0  # form field id (1-based) when the span shows a control


class Line(msgspec.Struct, array_like=True, frozen=True):
    spans: list[Span]

    @property
    def text(self) -> str:
        return "".join(span.text for span in self.spans)


class Link(msgspec.Struct, frozen=True):
    number: int  # 1-based, as shown in the page: [n]
    url: str  # absolute
    text: str = ""
    line: int = 0  # first line (0-based) the link appears on


class FormField(msgspec.Struct, frozen=True):
    """A form control as the renderer shows it."""

    id: int  # 1-based, stable for the document
    kind: str  # text, password, checkbox, radio, select, textarea, button, submit, hidden...
    name: str = ""
    value: str = ""
    checked: bool = False
    options: list[str] = []
    line: int = 0


class Frame(msgspec.Struct):
    """One laid-out page: everything the UI needs to draw it."""

    url: str
    title: str
    width: int
    lines: list[Line]
    links: list[Link] = []
    fields: list[FormField] = []
    scroll: int = 0  # first visible line
    kind: str = "html"  # html, text, error, binary
    # Fragment targets: an element's id (or an <a name>) -> the line it starts on.
    anchors: Annotated[
        dict[
            Annotated[str, msgspec.Meta(max_length=MAX_ANCHOR_NAME_CHARS)],
            Annotated[int, msgspec.Meta(ge=0, le=2**31 - 1)],
        ],
        msgspec.Meta(max_length=MAX_ANCHORS),
    ] = {}

    @property
    def text(self) -> str:
        return "\n".join(line.text for line in self.lines)

    def anchor_line(self, fragment: str) -> int | None:
        """The line a URL fragment (``#name``, without the ``#``) scrolls to, as
        HTML finds it: the name as written, then percent-decoded; an empty
        fragment or ``top`` is the top of the page.  None: no such target."""
        for name in (fragment, urllib.parse.unquote(fragment)):
            line = self.anchors.get(name)
            if line is not None:
                return min(line, max(0, len(self.lines) - 1))
        if fragment == "" or fragment.lower() == "top":
            return 0
        return None

    def dump(self) -> str:
        """Plain text with numbered references at the end, like ``lynx -dump``."""
        text = self.text
        if self.links:
            references = "\n".join(f"{link.number:4d}. {link.url}" for link in self.links)
            text = f"{text}\n\nReferences\n\n{references}"
        return text + "\n"


class Snapshot(msgspec.Struct):
    """A discarded tab's state, enough to draw it again without the network."""

    url: str
    title: str
    content_type: str
    charset: str | None
    body: bytes
    kind: str
    width: int
    scroll: int = 0
    focused_field: int = 0
    form_values: dict[int, str] = {}
    form_checked: dict[int, bool] = {}
    history_index: int = 0
    # The frame as the user last saw it (form input and focus drawn in): a
    # restored renderer shows it at once and parses the document after.
    frame: Frame | None = None


# --------------------------------------------------------------------------
# Broker -> renderer (ZeroMQ).  Fire-and-forget unless a reply is named.
# --------------------------------------------------------------------------


class HelloAck(msgspec.Struct, tag="hello_ack"):
    """Handshake accepted; the renderer may finish locking down."""

    tab: int


class LoadDocument(msgspec.Struct, tag="load"):
    """Parse and lay out a document.  Reply: FrameReady."""

    request: int
    url: str
    content_type: str  # MIME type, lower case, no parameters
    charset: str | None  # from the Content-Type header, if any
    body: bytes
    kind: str  # html, text, binary, error
    width: int
    unsandboxed: bool = False  # the user passed --no-sandbox: say so on the page


class Resize(msgspec.Struct, tag="resize"):
    """Lay the document out again at a new width.  Reply: FrameReady."""

    request: int
    width: int


class ScrollTo(msgspec.Struct, tag="scroll"):
    """Remember the first visible line (kept in snapshots).  No reply."""

    line: int


class FollowLink(msgspec.Struct, tag="follow"):
    """The user picked link ``number``.  Reply: NavigateRequest or FrameReady."""

    request: int
    number: int


class SetField(msgspec.Struct, tag="set_field"):
    """The user edited a form control (None: leave as is; a checkbox with
    neither toggles).  Reply: FrameReady."""

    request: int
    field: int
    value: str | None = None
    checked: bool | None = None


class PressField(msgspec.Struct, tag="press"):
    """The user pressed a button (submit, reset...).  Reply: NavigateRequest
    for a form submission, else FrameReady."""

    request: int
    field: int


class Find(msgspec.Struct, tag="find"):
    """Find text in the page.  Reply: FindResult (and the frame marks matches)."""

    request: int
    query: str


class Ping(msgspec.Struct, tag="ping"):
    """Heartbeat.  Reply: Pong with the same sequence number."""

    seq: int


class TakeSnapshot(msgspec.Struct, tag="take_snapshot"):
    """Serialise the tab's state for a discard.  Reply: SnapshotReady."""

    request: int


class RestoreSnapshot(msgspec.Struct, tag="restore"):
    """Draw a discarded tab again from its snapshot.  Reply: FrameReady
    (the snapshot's own frame when it has one at this width, sent before
    the document is parsed again)."""

    request: int
    snapshot: Snapshot
    unsandboxed: bool = False  # as in LoadDocument


class ReportSandbox(msgspec.Struct, tag="report_sandbox"):
    """Describe the sandbox from the inside.  Reply: SandboxReport."""

    request: int


class DebugAction(msgspec.Struct, tag="debug"):
    """A debug URL the user typed (about:crash, about:hang...).  No reply."""

    action: str


class Shutdown(msgspec.Struct, tag="shutdown"):
    """Exit now.  No reply."""


ToRenderer = Union[
    HelloAck,
    LoadDocument,
    Resize,
    ScrollTo,
    FollowLink,
    SetField,
    PressField,
    Find,
    Ping,
    TakeSnapshot,
    RestoreSnapshot,
    ReportSandbox,
    DebugAction,
    Shutdown,
]


# --------------------------------------------------------------------------
# Renderer -> broker (ZeroMQ).  Every message names the sender's tab.
# --------------------------------------------------------------------------


class Hello(msgspec.Struct, tag="hello"):
    """First message: binds this ZeroMQ peer to a tab with a one-time token."""

    tab: int
    token: str
    pid: int
    version: int = PROTOCOL_VERSION


class FrameReady(msgspec.Struct, tag="frame"):
    """A new frame, in answer to ``request``."""

    tab: int
    request: int
    frame: Frame


class NavigateRequest(msgspec.Struct, tag="navigate"):
    """The page asks to go somewhere (a followed link, a form submission)."""

    tab: int
    request: int
    url: str
    method: str = "GET"
    form_body: str = ""  # application/x-www-form-urlencoded for POST


class FindResult(msgspec.Struct, tag="find_result"):
    tab: int
    request: int
    matches: list[tuple[int, int, int]]  # (line, column, length)
    frame: Frame | None = None


class Pong(msgspec.Struct, tag="pong"):
    tab: int
    seq: int


class SnapshotReady(msgspec.Struct, tag="snapshot"):
    tab: int
    request: int
    snapshot: Snapshot


class SandboxLayer(msgspec.Struct, frozen=True):
    """One layer of the sandbox as seen from inside the renderer."""

    name: str
    required: bool
    active: bool
    detail: str


class SandboxReport(msgspec.Struct, tag="sandbox_report"):
    tab: int
    request: int
    layers: list[SandboxLayer]


class ProbeResult(msgspec.Struct, tag="probe_result"):
    """Outcome of compromise-simulation code run inside the renderer."""

    tab: int
    outcome: str  # completed, raised
    detail: str = ""
    errno: int | None = None


ToBroker = Union[
    Hello,
    FrameReady,
    NavigateRequest,
    FindResult,
    Pong,
    SnapshotReady,
    SandboxReport,
    ProbeResult,
]


# --------------------------------------------------------------------------
# Broker <-> zygote (socketpair, length-prefixed).
# --------------------------------------------------------------------------


class SandboxPolicy(msgspec.Struct, frozen=True):
    """What the renderer must apply before it reads page content."""

    enabled: bool = True
    uid: int | None = None  # drop to this uid/gid when started as root
    gid: int | None = None
    memory_bytes: int = 2 * 1024**3
    open_files: int = 64
    file_size_bytes: int = 16 * 1024**2
    cpu_seconds: int = 3600


class SpawnRenderer(msgspec.Struct, tag="spawn"):
    """Fork a renderer for ``tab``.  Reply: Spawned."""

    tab: int
    token: str
    endpoint: str  # ipc:// address of the broker's ROUTER
    log_path: str  # stdout and stderr go here
    policy: SandboxPolicy
    probe: str | None = None  # compromise simulation only: code to run after lockdown


class Spawned(msgspec.Struct, tag="spawned"):
    tab: int
    pid: int


class ChildExited(msgspec.Struct, tag="exited"):
    """A renderer ended: ``code`` if it exited, ``signal`` if it was killed."""

    pid: int
    tab: int
    code: int | None
    signal: int | None


class ZygoteReady(msgspec.Struct, tag="zygote_ready"):
    pid: int
    preload_ms: float


class ZygoteShutdown(msgspec.Struct, tag="zygote_shutdown"):
    pass


ToZygote = Union[SpawnRenderer, ZygoteShutdown]
FromZygote = Union[ZygoteReady, Spawned, ChildExited]


# --------------------------------------------------------------------------
# Encoding helpers.
# --------------------------------------------------------------------------

_encoder = msgspec.msgpack.Encoder()
to_renderer_decoder = msgspec.msgpack.Decoder(ToRenderer)
to_broker_decoder = msgspec.msgpack.Decoder(ToBroker)
to_zygote_decoder = msgspec.msgpack.Decoder(ToZygote)
from_zygote_decoder = msgspec.msgpack.Decoder(FromZygote)

encode = _encoder.encode

_LENGTH = struct.Struct("!I")


def frame_message(message: msgspec.Struct) -> bytes:
    """Encode a zygote-channel message with its 4-byte length prefix."""
    payload = encode(message)
    return _LENGTH.pack(len(payload)) + payload


def read_framed(read_exactly) -> bytes:
    """Read one length-prefixed payload with ``read_exactly(n) -> bytes``."""
    (length,) = _LENGTH.unpack(read_exactly(_LENGTH.size))
    if length > MAX_MESSAGE_BYTES:
        raise ValueError(f"zygote channel message of {length} bytes is over the cap")
    return read_exactly(length)
