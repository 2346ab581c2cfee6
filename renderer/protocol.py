"""The one contract between the broker and its processes.

Every message that crosses a process boundary is declared here and nowhere
else, the way Ladybird keeps ``WebContentServer.ipc`` beside the service.
Messages are msgspec structs in tagged unions, encoded as MessagePack; no
pickle, no free-form dicts.

Three channels:

* broker -> renderer (:data:`ToRenderer`) and renderer -> broker
  (:data:`ToBroker`) over ZeroMQ: the broker binds a ROUTER, each renderer
  connects a DEALER.  A renderer may host several documents (of one tab
  or, under the shared process models, of several): every request about a
  document and every answer names its ``document`` (a broker-assigned id,
  unique for the browser's life), so that the broker can check that a
  renderer only speaks for the documents it committed there.  Messages
  about the process itself (handshake, heartbeat, sandbox and memory
  reports) name the ``renderer``.
* broker <-> zygote (:data:`ToZygote`, :data:`FromZygote`) over a socketpair
  with a 4-byte length prefix: the zygote never creates a ZeroMQ context,
  because it forks and ZeroMQ contexts do not survive a fork.

A message that fails to decode, is of an unknown type, or is larger than
:data:`MAX_MESSAGE_BYTES` is a bad message (see ``broker/bad_message.py``).

Everything a renderer sends is bounded here, so that decoding is the check:
every enum-like field is an enum, every length, count and number has a
range (``msgspec.Meta``), and unknown fields are refused.  Each bound says
why a legitimate page at :data:`MAX_DOCUMENT_BYTES` stays within it.  Each
request names the replies it accepts (:data:`REPLIES`, like ``.mojom``'s
``=> (...)``); the broker checks that in one place.
"""

from __future__ import annotations

import enum
import struct
import urllib.parse
from typing import Annotated, Union

import msgspec
from msgspec import Meta

#: Largest encoded message either side accepts.  A document of
#: ``MAX_DOCUMENT_BYTES`` plus its framing must fit.
MAX_MESSAGE_BYTES = 24 * 1024 * 1024
#: Largest document body the broker hands to a renderer.
MAX_DOCUMENT_BYTES = 8 * 1024 * 1024

#: Largest memory figure a renderer may report about itself: far above any
#: renderer's address-space limit, so only a lie reaches it.
MAX_MEMORY_BYTES = 1 << 40

PROTOCOL_VERSION = 1

# --------------------------------------------------------------------------
# Bounds on what a renderer sends.  A legitimate page of MAX_DOCUMENT_BYTES
# stays within every one: measured with generated 8 MB pages (prose with
# links, API documentation, plain text, one-element-per-few-bytes pages)
# laid out at widths 80 and 20.  The counts are what protects the broker:
# a frame's memory in the broker grows with its number of objects, far
# faster than with its encoded size.
# --------------------------------------------------------------------------

#: Widest layout: ``renderer/page.py`` clamps widths to 1..1000 columns.
MAX_FRAME_WIDTH = 1000
#: Lines in one frame.  An 8 MB prose page at width 20 lays out in about
#: 510,000 lines (the biggest layout measured: 11.5 MB encoded); 2^20 leaves
#: twice that.  A renderer cuts longer layouts (plain text of only newlines,
#: widths under 20) to this many lines: see ``renderer/main.py``.
MAX_FRAME_LINES = 1 << 20
#: Spans on one line: a line holds at most MAX_FRAME_WIDTH cells and every
#: span but zero-width ones covers at least one; 4x covers empty styled runs.
MAX_LINE_SPANS = 4 * MAX_FRAME_WIDTH
#: Links in one page: an ``<a href=x>y</a>`` is 15 bytes, so an 8 MB page
#: holds at most about 560,000; 2^20 leaves room.
MAX_LINKS = 1 << 20
#: Form fields in one page: an ``<input>`` is 7 bytes: at most 1.2 million.
MAX_FIELDS = 1 << 21
#: Options of one select: an ``<option>`` is 8 bytes: at most 1.05 million.
MAX_OPTIONS = 1 << 21
#: Find matches in one reply: one per line and column at most; a renderer
#: reports the first MAX_FIND_MATCHES (a one-letter query on a page of
#: that letter would otherwise exceed the message cap).
MAX_FIND_MATCHES = 1 << 18
#: Text copied out of a document (titles, span and link text, field names,
#: values and options) is never longer than the document it came from; the
#: decoded text of MAX_DOCUMENT_BYTES has at most that many characters.
MAX_TEXT_CHARS = MAX_DOCUMENT_BYTES
#: URLs: a link resolved from an 8 MB document, percent-encoded, stays
#: under the message cap, which is therefore its only honest bound.
MAX_URL_CHARS = MAX_MESSAGE_BYTES
#: A submitted form body: every field's name and value, percent-encoded.
MAX_FORM_BODY_CHARS = MAX_MESSAGE_BYTES
#: A MIME type ("text/html") or a charset label; RFC 6838 caps the two
#: parts of a media type at 127 characters each.
MAX_CONTENT_TYPE_CHARS = 255
MAX_CHARSET_CHARS = 64
#: Broker-issued tokens are ``secrets.token_urlsafe(24)``: 32 characters.
MAX_TOKEN_CHARS = 64
#: Tab ids, request ids and heartbeat sequence numbers are broker counters;
#: 2^53 is exact in every JSON reader and takes centuries to reach.
MAX_ID = (1 << 53) - 1
#: Linux pid_max is at most 2^22.
MAX_PID = 1 << 22
#: The sandbox report: a handful of named layers with one line each.
MAX_SANDBOX_LAYERS = 32
MAX_LAYER_NAME_CHARS = 64
MAX_LAYER_DETAIL_CHARS = 1024
#: What compromise-simulation code reports about itself.
MAX_PROBE_DETAIL_CHARS = 64 * 1024
MAX_ERRNO = 4095  # the kernel's -MAX_ERRNO
#: The largest heartbeat answer or probe result: a Pong is under 40 bytes;
#: a probe result's detail of MAX_PROBE_DETAIL_CHARS is at most 4 bytes a
#: character.  Owing only such a reply, a renderer may send no more.
MAX_SMALL_REPLY_BYTES = 4 * MAX_PROBE_DETAIL_CHARS + 1024

Id = Annotated[int, Meta(ge=0, le=MAX_ID)]
Pid = Annotated[int, Meta(ge=0, le=MAX_PID)]
Width = Annotated[int, Meta(ge=1, le=MAX_FRAME_WIDTH)]
LineNumber = Annotated[int, Meta(ge=0, le=MAX_FRAME_LINES)]
#: A column or length in cells: a line of MAX_TEXT_CHARS wide characters.
Cells = Annotated[int, Meta(ge=0, le=2 * MAX_TEXT_CHARS)]
LinkNumber = Annotated[int, Meta(ge=0, le=MAX_LINKS)]
FieldNumber = Annotated[int, Meta(ge=0, le=MAX_FIELDS)]
Text = Annotated[str, Meta(max_length=MAX_TEXT_CHARS)]
Url = Annotated[str, Meta(max_length=MAX_URL_CHARS)]
ContentType = Annotated[str, Meta(max_length=MAX_CONTENT_TYPE_CHARS)]
Charset = Annotated[str, Meta(max_length=MAX_CHARSET_CHARS)]
Body = Annotated[bytes, Meta(max_length=MAX_DOCUMENT_BYTES)]

#: A byte count a renderer reports: never negative, never absurd.
MemoryBytes = Annotated[int, msgspec.Meta(ge=0, le=MAX_MEMORY_BYTES)]
#: Linked style sheets one document may ask for (``<link rel=stylesheet>``,
#: in document order; the renderer asks for the first ones only), the
#: longest sheet URL the renderer may name (a real page's are under 300
#: characters), and the largest sheet the broker hands over (larger ones
#: are not used; real documentation sheets are under 100 KB).
MAX_SHEETS = 16
MAX_SHEET_ROUNDS = 4  # the links, then three levels of @import
MAX_SHEET_URL_CHARS = 4096
MAX_SHEET_BYTES = 512 * 1024
SheetUrl = Annotated[str, Meta(max_length=MAX_SHEET_URL_CHARS)]

#: Subframe slots (``<iframe>``, ``<frame>``) one document may report: the
#: broker loads at most ``broker/frames.py``'s per-page limit of them anyway.
MAX_FRAME_SLOTS = 64
#: The tallest slot, in rows: a ``height`` of 3200 px at 16 px a row.
MAX_SLOT_ROWS = 200
#: A slot's own markup (``srcdoc``): part of the document it came from.
MAX_SRCDOC_CHARS = MAX_TEXT_CHARS

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


class DocumentKind(enum.StrEnum):
    """How the broker classified a response body (``LoadDocument.kind``)."""

    HTML = "html"
    TEXT = "text"
    BINARY = "binary"
    ERROR = "error"


class FrameKind(enum.StrEnum):
    """What a frame shows: a laid-out document, or a page the broker made."""

    HTML = "html"
    TEXT = "text"
    ERROR = "error"
    BINARY = "binary"
    DISCARDED = "discarded"


class FieldKind(enum.StrEnum):
    """A form control as the UI treats it (``renderer/document.py`` maps
    every ``<input type>``, ``<button>``, ``<select>`` and ``<textarea>`` here)."""

    TEXT = "text"
    PASSWORD = "password"
    CHECKBOX = "checkbox"
    RADIO = "radio"
    SELECT = "select"
    TEXTAREA = "textarea"
    SUBMIT = "submit"
    RESET = "reset"
    BUTTON = "button"
    HIDDEN = "hidden"
    FILE = "file"


class LinkTarget(enum.StrEnum):
    """Where a link opens (its ``target``): this frame, the top page, the
    parent frame or a new tab.  The broker decides whether it may."""

    SELF = "self"
    TOP = "top"
    PARENT = "parent"
    BLANK = "blank"


class Method(enum.StrEnum):
    """The only methods a page may navigate with: links GET, forms GET or POST."""

    GET = "GET"
    POST = "POST"


class Debug(enum.StrEnum):
    """The debug URLs a user can type (about:crash...): ``DebugAction.action``."""

    CRASH = "crash"
    KILL = "kill"
    HANG = "hang"
    MEMORY_EXHAUST = "memory-exhaust"


class ProbeOutcome(enum.StrEnum):
    """How compromise-simulation code ended inside its renderer."""

    COMPLETED = "completed"
    RAISED = "raised"


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
    UNDERLINE = 1 << 12  # text-decoration: underline (author CSS)
    STRIKE = 1 << 13  # text-decoration: line-through (author CSS)
    ALL = (1 << 14) - 1  # every flag above: a span's style has no other bit


#: An author colour (CSS ``color``, ``background-color``) as 0xRRGGBB, or
#: NO_COLOR: the UI's own.
NO_COLOR = -1
Color = Annotated[int, Meta(ge=NO_COLOR, le=0xFFFFFF)]


StyleBits = Annotated[int, Meta(ge=0, le=Style.ALL)]


# --------------------------------------------------------------------------
# Frames: what a renderer draws.
# --------------------------------------------------------------------------


class Span(msgspec.Struct, array_like=True, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    """A run of text on one line with one style (trailing defaults are not sent)."""

    text: Text
    style: StyleBits = Style.PLAIN
    link: LinkNumber = 0  # link number (1-based) when the span is part of a link
    field: FieldNumber = 0  # form field id (1-based) when the span shows a control
    color: Color = NO_COLOR  # the page's text colour
    background: Color = NO_COLOR  # the page's background colour behind this text


class Line(msgspec.Struct, array_like=True, frozen=True, forbid_unknown_fields=True):
    spans: Annotated[list[Span], Meta(max_length=MAX_LINE_SPANS)]

    @property
    def text(self) -> str:
        return "".join(span.text for span in self.spans)


class Link(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    number: Annotated[int, Meta(ge=1, le=MAX_LINKS)]  # 1-based, as shown in the page: [n]
    url: Url  # absolute
    text: Text = ""
    line: LineNumber = 0  # first line (0-based) the link appears on
    target: LinkTarget = LinkTarget.SELF


class FormField(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A form control as the renderer shows it."""

    id: Annotated[int, Meta(ge=1, le=MAX_FIELDS)]  # 1-based, stable for the document
    kind: FieldKind
    name: Text = ""
    value: Text = ""
    checked: bool = False
    options: Annotated[list[Text], Meta(max_length=MAX_OPTIONS)] = []
    line: LineNumber = 0


class FrameSlot(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Where a subframe (``<iframe>``, ``<frame>``) goes in its parent's
    layout: a placeholder line, and the size its ``width``/``height`` ask
    for (``renderer/layout.py`` states the px-to-cell mapping).  The broker
    decides what, if anything, is loaded into it: ``src`` is only a claim."""

    index: Annotated[int, Meta(ge=1, le=MAX_FRAME_SLOTS)]  # 1-based, in document order
    src: Url  # absolute; "about:srcdoc" when the frame has a srcdoc, "about:blank" when none
    line: LineNumber  # the placeholder line the broker replaces
    columns: Annotated[int, Meta(ge=1, le=MAX_FRAME_WIDTH)]
    rows: Annotated[int, Meta(ge=1, le=MAX_SLOT_ROWS)]
    srcdoc: Annotated[str, Meta(max_length=MAX_SRCDOC_CHARS)] = ""
    sandboxed: bool = False  # it has a sandbox attribute: it may not navigate the top frame
    name: Annotated[str, Meta(max_length=MAX_ANCHOR_NAME_CHARS)] = ""


class Frame(msgspec.Struct, forbid_unknown_fields=True):
    """One laid-out page: everything the UI needs to draw it."""

    url: Url
    title: Text
    width: Width
    lines: Annotated[list[Line], Meta(max_length=MAX_FRAME_LINES)]
    links: Annotated[list[Link], Meta(max_length=MAX_LINKS)] = []
    fields: Annotated[list[FormField], Meta(max_length=MAX_FIELDS)] = []
    scroll: LineNumber = 0  # first visible line
    kind: FrameKind = FrameKind.HTML
    # Fragment targets: an element's id (or an <a name>) -> the line it starts on.
    anchors: Annotated[
        dict[
            Annotated[str, msgspec.Meta(max_length=MAX_ANCHOR_NAME_CHARS)],
            LineNumber,
        ],
        msgspec.Meta(max_length=MAX_ANCHORS),
    ] = {}
    # The subframes it embeds, in document order (the broker composes them in).
    slots: Annotated[list[FrameSlot], Meta(max_length=MAX_FRAME_SLOTS)] = []

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


class StyleSheet(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A linked style sheet as the broker fetched it: the renderer parses it."""

    url: SheetUrl  # as the renderer named it in SheetsWanted
    body: Annotated[bytes, Meta(max_length=MAX_SHEET_BYTES)]


class Snapshot(msgspec.Struct, forbid_unknown_fields=True):
    """A discarded tab's state, enough to draw it again without the network."""

    url: Url
    title: Text
    content_type: ContentType
    charset: Charset | None
    body: Body
    kind: DocumentKind
    width: Width
    scroll: LineNumber = 0
    focused_field: FieldNumber = 0
    form_values: Annotated[dict[FieldNumber, Text], Meta(max_length=MAX_FIELDS)] = {}
    form_checked: Annotated[dict[FieldNumber, bool], Meta(max_length=MAX_FIELDS)] = {}
    history_index: Annotated[int, Meta(ge=0, le=MAX_ID)] = 0
    # The frame as the user last saw it (form input and focus drawn in): a
    # restored renderer shows it at once and parses the document after.
    frame: Frame | None = None
    # The linked style sheets the document was drawn with: no network on restore.
    sheets: Annotated[list[StyleSheet], Meta(max_length=MAX_SHEETS)] = []


# --------------------------------------------------------------------------
# Broker -> renderer (ZeroMQ).  Fire-and-forget unless a reply is named.
# --------------------------------------------------------------------------


class HelloAck(msgspec.Struct, tag="hello_ack"):
    """Handshake accepted; the renderer may finish locking down."""

    renderer: int


class LoadDocument(msgspec.Struct, tag="load"):
    """Parse and lay out a document.  Reply: FrameReady, or SheetsWanted when
    it links style sheets (then LoadSheets brings them and gets the frame)."""

    document: int
    request: int
    url: str
    content_type: str  # MIME type, lower case, no parameters
    charset: str | None  # from the Content-Type header, if any
    body: bytes
    kind: DocumentKind
    width: int
    unsandboxed: bool = False  # the user passed --no-sandbox: say so on the page


class LoadSheets(msgspec.Struct, tag="load_sheets"):
    """The sheets a SheetsWanted named, as far as the broker would and could
    fetch them (a refused or failed one is absent).  Reply: FrameReady, or
    SheetsWanted for the sheets these ``@import`` (at most
    ``MAX_SHEET_ROUNDS`` rounds in all)."""

    document: int
    request: int
    sheets: list[StyleSheet]


class Resize(msgspec.Struct, tag="resize"):
    """Lay the document out again at a new width.  Reply: FrameReady."""

    document: int
    request: int
    width: int


class ScrollTo(msgspec.Struct, tag="scroll"):
    """Remember the first visible line (kept in snapshots).  No reply."""

    document: int
    line: int


class FollowLink(msgspec.Struct, tag="follow"):
    """The user picked link ``number``.  Reply: NavigateRequest or FrameReady."""

    document: int
    request: int
    number: int


class SetField(msgspec.Struct, tag="set_field"):
    """The user edited a form control (None: leave as is; a checkbox with
    neither toggles).  Reply: FrameReady."""

    document: int
    request: int
    field: int
    value: str | None = None
    checked: bool | None = None


class PressField(msgspec.Struct, tag="press"):
    """The user pressed a button (submit, reset...).  Reply: NavigateRequest
    for a form submission, else FrameReady."""

    document: int
    request: int
    field: int


class Find(msgspec.Struct, tag="find"):
    """Find text in the page.  Reply: FindResult (and the frame marks matches)."""

    document: int
    request: int
    query: str


class Ping(msgspec.Struct, tag="ping"):
    """Heartbeat.  Reply: Pong with the same sequence number."""

    seq: int


class TakeSnapshot(msgspec.Struct, tag="take_snapshot"):
    """Serialise the tab's state for a discard.  Reply: SnapshotReady."""

    document: int
    request: int


class RestoreSnapshot(msgspec.Struct, tag="restore"):
    """Draw a discarded tab again from its snapshot.  Reply: FrameReady
    (the snapshot's own frame when it has one at this width, sent before
    the document is parsed again)."""

    document: int
    request: int
    snapshot: Snapshot
    unsandboxed: bool = False  # as in LoadDocument


class ReportSandbox(msgspec.Struct, tag="report_sandbox"):
    """Describe the sandbox from the inside.  Reply: SandboxReport."""

    request: int


class MeasureMemory(msgspec.Struct, tag="measure_memory"):
    """Read your own memory figures (for a broker that may not read them
    itself: a non-root broker cannot read a non-dumpable renderer's smaps).
    Reply: MemoryReport."""

    request: int


class CloseDocument(msgspec.Struct, tag="close_document"):
    """Forget ``document``: its tab went elsewhere (navigated, was discarded
    or closed) and this renderer hosts others.  No reply."""

    document: int


class DebugAction(msgspec.Struct, tag="debug"):
    """A debug URL the user typed (about:crash, about:hang...).  No reply."""

    action: Debug


class Shutdown(msgspec.Struct, tag="shutdown"):
    """Exit now.  No reply."""


ToRenderer = Union[
    HelloAck,
    LoadDocument,
    LoadSheets,
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
    MeasureMemory,
    CloseDocument,
    DebugAction,
    Shutdown,
]


# --------------------------------------------------------------------------
# Renderer -> broker (ZeroMQ).  Every message names its document or its renderer.
# --------------------------------------------------------------------------


class Hello(msgspec.Struct, tag="hello", forbid_unknown_fields=True):
    """First message: binds this ZeroMQ peer to a renderer with a one-time token."""

    renderer: Id
    token: Annotated[str, Meta(max_length=MAX_TOKEN_CHARS)]
    pid: Pid
    version: Annotated[int, Meta(ge=0, le=MAX_ID)] = PROTOCOL_VERSION


class FrameReady(msgspec.Struct, tag="frame", forbid_unknown_fields=True):
    """A new frame, in answer to ``request``."""

    document: Id
    request: Id
    frame: Frame


class SheetsWanted(msgspec.Struct, tag="sheets_wanted", forbid_unknown_fields=True):
    """The document being loaded links these style sheets (absolute URLs, in
    document order): a claim the broker judges against the page it committed."""

    document: Id
    request: Id
    urls: Annotated[list[SheetUrl], Meta(min_length=1, max_length=MAX_SHEETS)]


class NavigateRequest(msgspec.Struct, tag="navigate", forbid_unknown_fields=True):
    """The page asks to go somewhere (a followed link, a form submission)."""

    document: Id
    request: Id
    url: Url
    method: Method = Method.GET
    form_body: Annotated[str, Meta(max_length=MAX_FORM_BODY_CHARS)] = ""  # urlencoded, for POST


#: One find match: (line, column, length), column and length in cells.
FindMatch = tuple[LineNumber, Cells, Cells]


class FindResult(msgspec.Struct, tag="find_result", forbid_unknown_fields=True):
    document: Id
    request: Id
    matches: Annotated[list[FindMatch], Meta(max_length=MAX_FIND_MATCHES)]
    frame: Frame | None = None


class Pong(msgspec.Struct, tag="pong", forbid_unknown_fields=True):
    renderer: Id
    seq: Id


class SnapshotReady(msgspec.Struct, tag="snapshot", forbid_unknown_fields=True):
    document: Id
    request: Id
    snapshot: Snapshot


class SandboxLayer(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One layer of the sandbox as seen from inside the renderer."""

    name: Annotated[str, Meta(max_length=MAX_LAYER_NAME_CHARS)]
    required: bool
    active: bool
    detail: Annotated[str, Meta(max_length=MAX_LAYER_DETAIL_CHARS)]


class SandboxReport(msgspec.Struct, tag="sandbox_report", forbid_unknown_fields=True):
    renderer: Id
    request: Id
    layers: Annotated[list[SandboxLayer], Meta(max_length=MAX_SANDBOX_LAYERS)]


class MemoryReport(msgspec.Struct, tag="memory_report", forbid_unknown_fields=True):
    """The renderer's memory from its own /proc/self/smaps_rollup, opened
    before lockdown: a claim the broker bounds by what it reads itself from
    /proc/PID/statm.  All None: the renderer cannot measure itself."""

    renderer: Id
    request: Id
    rss: MemoryBytes | None  # resident
    pss: MemoryBytes | None  # proportional share
    uss: MemoryBytes | None  # unique: Private_Clean + Private_Dirty


class ProbeResult(msgspec.Struct, tag="probe_result", forbid_unknown_fields=True):
    """Outcome of compromise-simulation code run inside the renderer."""

    renderer: Id
    outcome: ProbeOutcome
    detail: Annotated[str, Meta(max_length=MAX_PROBE_DETAIL_CHARS)] = ""
    errno: Annotated[int, Meta(ge=0, le=MAX_ERRNO)] | None = None


ToBroker = Union[
    Hello,
    FrameReady,
    SheetsWanted,
    NavigateRequest,
    FindResult,
    Pong,
    SnapshotReady,
    SandboxReport,
    MemoryReport,
    ProbeResult,
]


#: What each request accepts as its answer, like ``.mojom``'s ``=> (...)``
#: and Ladybird's ``.ipc``: the broker matches a reply to its request by id
#: and refuses any other type (bad message WRONG_REPLY_TYPE).  Messages not
#: listed here expect no reply.
REPLIES: dict[type[msgspec.Struct], tuple[type[msgspec.Struct], ...]] = {
    LoadDocument: (FrameReady, SheetsWanted),
    LoadSheets: (FrameReady, SheetsWanted),  # SheetsWanted: what those sheets @import
    Resize: (FrameReady,),
    FollowLink: (NavigateRequest, FrameReady),
    SetField: (FrameReady,),
    PressField: (NavigateRequest, FrameReady),
    Find: (FindResult,),
    Ping: (Pong,),
    TakeSnapshot: (SnapshotReady,),
    RestoreSnapshot: (FrameReady,),
    ReportSandbox: (SandboxReport,),
    MeasureMemory: (MemoryReport,),
}


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
    """Fork renderer ``renderer`` (a broker-assigned id).  Reply: Spawned."""

    renderer: int
    token: str
    endpoint: str  # ipc:// address of the broker's ROUTER
    log_path: str  # stdout and stderr go here
    policy: SandboxPolicy
    probe: str | None = None  # compromise simulation only: code to run after lockdown


class Spawned(msgspec.Struct, tag="spawned"):
    renderer: int
    pid: int


class ChildExited(msgspec.Struct, tag="exited"):
    """A renderer ended: ``code`` if it exited, ``signal`` if it was killed."""

    pid: int
    renderer: int
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
