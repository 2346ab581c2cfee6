"""The control socket's contract: every message a control client and a
broker exchange (``broker/control.py``, ``broker/control_wire.py``).

Frames carry JSON (so that the ``minibrowser open`` hand-off can speak it
with the standard library alone); the broker decodes what a client sends
with :data:`CLIENT_DECODER`, which is the check: a message that does not
decode, is of an unknown type, holds an unknown field or a value outside
its bounds is refused, and the client is dropped with one line.  A client
is the same user (``SO_PEERCRED``), but it may still be a buggy script or a
program that fuzzes sockets: it cannot make the broker or a tab fail.

Client to broker:

* :class:`Describe`: who are you (``minibrowser ps``) -> :class:`Description`
* :class:`OpenUrls`: open these as new tabs (``minibrowser open``) ->
  :class:`TabOutput` per tab when dumping, then :class:`Opened`
* :class:`Attach`: send me everything, live (``minibrowser tui --attach``) ->
  :class:`Attached`, then events (:class:`TabUpdated`, :class:`FrameUpdated`,
  :class:`TabRemoved`, :class:`ProcessesUpdated`, :class:`IpcMessage`,
  :class:`Quitting`) until the client leaves
* :class:`Call`: an action on the browser or a tab, by an attached client ->
  :class:`CallResult` with the same ``id``
"""

from __future__ import annotations

import enum
from typing import Annotated

import msgspec
from msgspec import Meta

from broker.control_wire import MAX_CLIENT_FRAME, VERSION
from broker.lifecycle import DiscardRefusal
from broker.tabs import TabState
from network import protocol as network_protocol
from renderer import protocol

__all__ = [
    "VERSION", "Action", "Attach", "Attached", "BrowserFacts", "Call", "CallResult", "ClientMessage", "Describe",
    "Description", "FrameUpdated", "IpcMessage", "Opened", "OpenUrls", "ProcessFacts", "ProcessesUpdated", "Quitting",
    "TabFacts", "TabOutput", "TabRemoved", "TabUpdated", "decode_client", "encode",
]

MAX_URLS = 64  # addresses in one ``open``
MAX_CLIENT_TEXT = MAX_CLIENT_FRAME // 4  # a URL, typed text or a query: the frame bounds them anyway
MAX_NAME = 256
MAX_CALLS_IN_FLIGHT = 32  # per attached client; more is a flood

ClientText = Annotated[str, Meta(max_length=MAX_CLIENT_TEXT)]
Name = Annotated[str, Meta(max_length=MAX_NAME)]
Id = Annotated[int, Meta(ge=0, le=(1 << 53) - 1)]
Width = Annotated[int, Meta(ge=20, le=protocol.MAX_FRAME_WIDTH)]


class StartedBy(enum.StrEnum):
    """What started a browser (``minibrowser ps``)."""

    TUI = "tui"
    SCRIPT = "script"  # the Python API
    SIMULATOR = "simulator"
    OPEN = "open"  # ``minibrowser open --dump``: prints its pages and exits
    CHECK = "check"  # ``minibrowser sandbox`` or ``attack``: runs its checks and exits

    @property
    def takes_urls(self) -> bool:
        """Whether ``minibrowser open`` may hand it URLs (a browser that exits when done may not)."""
        return self not in (StartedBy.OPEN, StartedBy.CHECK)


class Action(enum.StrEnum):
    """What an attached client may ask of the browser (``Call.action``)."""

    OPEN = "open"  # url, width, activate
    ACTIVATE = "activate"  # tab: make it the active one and wait for it
    NAVIGATE = "navigate"  # tab, url
    FOLLOW = "follow"  # tab, number
    SET_FIELD = "set_field"  # tab, number (field id), value or checked
    PRESS = "press"  # tab, number
    FIND = "find"  # tab, text
    RESIZE = "resize"  # tab, width
    SCROLL_TO = "scroll_to"  # tab, number (line)
    BACK = "back"
    FORWARD = "forward"
    RELOAD = "reload"
    CLOSE = "close"
    FREEZE = "freeze"
    UNFREEZE = "unfreeze"
    DISCARD = "discard"
    END_PROCESS = "end_process"
    PIN = "pin"  # tab, on
    KEEP = "keep"  # tab, on
    AUTO_DISCARDABLE = "auto_discardable"  # tab, on
    SANDBOX_REPORT = "sandbox_report"


# -- client to broker ------------------------------------------------------------------


class Describe(msgspec.Struct, tag=True, forbid_unknown_fields=True):
    """Who are you, and how much do you hold?"""


class OpenUrls(msgspec.Struct, tag=True, forbid_unknown_fields=True):
    """Open each URL in a new tab; with ``dump``, answer with each tab's
    output as ``minibrowser open --dump`` prints it (``json``: its JSON line)."""

    urls: Annotated[list[ClientText], Meta(min_length=1, max_length=MAX_URLS)]
    dump: bool = False
    json: bool = False
    color: bool = False  # with dump: the page's colours as terminal escape sequences
    width: Width | None = None


class Attach(msgspec.Struct, tag=True, forbid_unknown_fields=True):
    """Send me the browser's state, then every change, until I leave."""


class Call(msgspec.Struct, tag=True, forbid_unknown_fields=True):
    """One action of an attached client; answered by a CallResult with the same id."""

    id: Id
    action: Action
    tab: Id | None = None
    url: ClientText | None = None
    text: ClientText | None = None  # typed into a field, or found
    number: Id | None = None  # a link, a field, a line
    checked: bool | None = None
    on: bool | None = None
    width: Width | None = None
    activate: bool = True
    urgent: bool = True  # a discard: urgent (the user's), or proactive (as the policy's)


ClientMessage = Describe | OpenUrls | Attach | Call


# -- broker to client ---------------------------------------------------------------


class Description(msgspec.Struct, tag=True):
    """One running browser, as ``minibrowser ps`` shows it."""

    pid: int
    profile: str
    started: float  # seconds since the epoch
    started_by: StartedBy
    tabs: int
    renderers: int  # renderer processes serving tabs (the spare is not one of them)
    spare: bool
    memory_uss: int | None  # renderers + broker + zygote, at their last samples
    version: int = VERSION


class TabOutput(msgspec.Struct, tag=True):
    """What ``open --dump`` prints for one tab: stdout text, and a stderr line or ''."""

    stdout: str
    stderr: str = ""


class Opened(msgspec.Struct, tag=True):
    """The answer to OpenUrls: the new tabs and the command's exit status."""

    tabs: list[int]
    status: int = 0


class MemoryFacts(msgspec.Struct, array_like=True):
    uss: int
    pss: int
    rss: int


class TabFacts(msgspec.Struct):
    """Everything a window shows about a tab but its frame."""

    id: int
    url: str
    final_url: str
    title: str
    state: TabState
    width: int
    navigation_id: int
    pid: int | None = None
    site: str | None = None
    error: str | None = None
    crash_cause: str | None = None
    crash_loop: bool = False
    pinned: bool = False
    kept: bool = False
    memory: MemoryFacts | None = None
    cpu_percent: float | None = None
    cpu_time: float | None = None
    snapshot_bytes: int | None = None
    discard_refusal: DiscardRefusal | None = None  # an urgent discard's
    proactive_discard_refusal: DiscardRefusal | None = None
    freeze_refusal: DiscardRefusal | None = None
    auto_discardable: bool = True
    messages_out: int = 0
    bytes_out: int = 0
    messages_in: int = 0
    bytes_in: int = 0
    last_round_trip_ms: float | None = None
    has_ipc: bool = False
    scroll: int = 0  # the line the browser keeps for this tab


class ProcessFacts(msgspec.Struct, array_like=True):
    """One row of ``Browser.processes()``."""

    pid: int
    ppid: int
    role: str
    tab: int | None
    state: str
    title: str
    tabs: list[int]
    site: str | None
    over_limit: bool
    memory: MemoryFacts | None = None


class DiscardsFacts(msgspec.Struct, array_like=True):
    """One row of ``Browser.discards()`` (``about:discards``)."""

    tab: int
    title: str
    url: str
    state: str
    visibility: str
    discard_refusal: DiscardRefusal | None
    freeze_refusal: DiscardRefusal | None
    auto_discardable: bool
    discard_count: int
    revisits: int
    last_active_s: float
    renderer: int | None
    shared_with: list[int]


class BrowserFacts(msgspec.Struct):
    pid: int
    profile: str
    started_by: StartedBy
    sandbox_enabled: bool
    sandbox_uid: int | None
    sandbox_gid: int | None
    width: int
    process_model: str
    process_limit: int
    zygote_pid: int


class Attached(msgspec.Struct, tag=True):
    """The state at attach time; changes follow as events."""

    browser: BrowserFacts
    tabs: list[TabFacts]
    frames: dict[int, protocol.Frame]  # tab id -> its frame, where it has one
    active: int | None
    processes: list[ProcessFacts]
    discards: list[DiscardsFacts] = []
    network_layers: list[network_protocol.SandboxLayer] = []


class TabUpdated(msgspec.Struct, tag=True):
    """A tab's facts changed (new tabs come this way too); ``tabs``: the order now."""

    tab: TabFacts
    order: list[int]
    active: int | None


class FrameUpdated(msgspec.Struct, tag=True):
    tab: int
    frame: protocol.Frame | None


class TabRemoved(msgspec.Struct, tag=True):
    tab: int
    active: int | None


class ProcessesUpdated(msgspec.Struct, tag=True):
    processes: list[ProcessFacts]
    network_layers: list[network_protocol.SandboxLayer] = []  # the network process's sandbox, once it reported it


class DiscardsUpdated(msgspec.Struct, tag=True):
    discards: list[DiscardsFacts]


class IpcMessage(msgspec.Struct, tag=True):
    """One broker-renderer message, for the IPC inspector."""

    time: float
    tab: int
    direction: str
    kind: str
    size: int
    round_trip_ms: float | None = None


class LifecycleEvent(msgspec.Struct, tag=True):
    """A tab's lifecycle transition, as ``Browser.subscribe`` reports it."""

    tab: int
    old: TabState
    new: TabState
    reason: str


class CallResult(msgspec.Struct, tag=True):
    """How a Call ended.  ``error``: one line, and ``refusal`` when it was a
    lifecycle refusal; otherwise the value the call returns, if any."""

    id: int
    error: str | None = None
    refusal: DiscardRefusal | None = None
    tab: int | None = None  # a tab the call opened
    matches: list[tuple[int, int, int]] | None = None
    layers: list[protocol.SandboxLayer] | None = None


class Quitting(msgspec.Struct, tag=True):
    """The browser is shutting down: the last message an attached client gets."""

    reason: str


BrokerMessage = (Description | TabOutput | Opened | Attached | TabUpdated | FrameUpdated | TabRemoved
                 | ProcessesUpdated | DiscardsUpdated | IpcMessage | LifecycleEvent | CallResult | Quitting)

_encoder = msgspec.json.Encoder()
CLIENT_DECODER = msgspec.json.Decoder(ClientMessage)
BROKER_DECODER = msgspec.json.Decoder(BrokerMessage)


def encode(message: msgspec.Struct) -> bytes:
    return _encoder.encode(message)


def decode_client(payload: bytes) -> ClientMessage:
    """A client's message, checked; raises msgspec.DecodeError (or ValidationError)."""
    return CLIENT_DECODER.decode(payload)


def decode_broker(payload: bytes) -> BrokerMessage:
    return BROKER_DECODER.decode(payload)
