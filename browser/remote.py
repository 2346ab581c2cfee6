"""A running browser driven from another process: ``RemoteBrowser``.

``minibrowser tui --attach`` drives a browser that some other program
started (a script, the simulator, another terminal's TUI) through its
control socket (``broker/control.py``).  ``RemoteBrowser`` and ``RemoteTab``
offer the part of ``Browser`` and ``Tab`` that a window uses, with the same
names and types, so that the window's code is the same in process and out
of process (Chromium's rule: the process boundary is a deployment choice
behind one interface).  The state (tabs, frames, processes) is a copy the
browser keeps up to date by pushing every change; actions are sent as
``Call``s and answered when the browser has carried them out.

Detaching (``shutdown``) leaves the browser running.  When the browser
quits, ``gone`` says why, and every subscriber of :meth:`RemoteBrowser.on_gone`
is told once.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable

import msgspec

from broker import control_protocol as cp
from broker.control_wire import MAX_BROKER_FRAME, VERSION, ControlError, running_browsers
from broker.errors import BrowserError, LifecycleRefused
from broker.host import IpcCounters, IpcEvent
from broker.kernel import DiscardsRow, ProcessInfo
from broker.lifecycle import DiscardRefusal
from broker.memory import MemoryInfo
from broker.tabs import TabEvent
from renderer import protocol

__all__ = ["RemoteBrowser", "RemoteTab", "find_running"]

def find_running(pid: int | None = None) -> dict:
    """The registry entry of the running browser with ``pid`` (None: the
    newest that runs); raises BrowserError with one line when there is none."""
    entries = [entry for entry in running_browsers() if entry.get("version") == VERSION]
    if pid is not None:
        entries = [entry for entry in entries if entry["pid"] == pid]
        if not entries:
            raise BrowserError(f"no minibrowser of yours runs with pid {pid}; 'minibrowser ps' lists them")
    if not entries:
        raise BrowserError("no minibrowser of yours is running; start one ('minibrowser tui'), or see 'minibrowser ps'")
    return entries[-1]


class RemoteTab:
    """A tab of a running browser, as ``browser.api.Tab`` offers it."""

    __slots__ = ("_browser", "_facts", "frame")

    def __init__(self, browser: RemoteBrowser, facts: cp.TabFacts) -> None:
        self._browser = browser
        self._facts = facts
        self.frame: protocol.Frame | None = None  # the laid-out page, as the browser last sent it

    def __repr__(self) -> str:
        return f"<RemoteTab {self.id} {self.state.value} {self.url!r}>"

    # -- what it shows -------------------------------------------------------------

    id = property(lambda self: self._facts.id)
    url = property(lambda self: self._facts.url)
    final_url = property(lambda self: self._facts.final_url)
    title = property(lambda self: self._facts.title)
    width = property(lambda self: self._facts.width)
    state = property(lambda self: self._facts.state)
    error = property(lambda self: self._facts.error)
    crash_cause = property(lambda self: self._facts.crash_cause)
    crash_loop = property(lambda self: self._facts.crash_loop)
    pid = property(lambda self: self._facts.pid)
    site = property(lambda self: self._facts.site)
    navigation_id = property(lambda self: self._facts.navigation_id)
    pinned = property(lambda self: self._facts.pinned)
    kept = property(lambda self: self._facts.kept)
    cpu_percent = property(lambda self: self._facts.cpu_percent)
    cpu_time = property(lambda self: self._facts.cpu_time)
    snapshot_bytes = property(lambda self: self._facts.snapshot_bytes)

    @property
    def memory(self) -> MemoryInfo | None:
        memory = self._facts.memory
        return MemoryInfo(memory.uss, memory.pss, memory.rss) if memory is not None else None

    @property
    def ipc(self) -> IpcCounters | None:
        f = self._facts
        if not f.has_ipc:
            return None
        return IpcCounters(f.messages_out, f.bytes_out, f.messages_in, f.bytes_in, f.last_round_trip_ms)

    def discard_refusal(self, *, urgent: bool = True) -> DiscardRefusal | None:
        return self._facts.discard_refusal if urgent else self._facts.proactive_discard_refusal

    @property
    def auto_discardable(self) -> bool:
        return self._facts.auto_discardable

    def set_auto_discardable(self, on: bool) -> None:
        self._facts.auto_discardable = on
        self._browser.call_soon(cp.Action.AUTO_DISCARDABLE, tab=self.id, on=on)

    def freeze_refusal(self) -> DiscardRefusal | None:
        return self._facts.freeze_refusal

    # -- actions: carried out by the browser -----------------------------------------------

    async def navigate(self, url: str) -> protocol.Frame | None:
        return await self._do(cp.Action.NAVIGATE, url=url)

    async def follow(self, number: int) -> protocol.Frame | None:
        return await self._do(cp.Action.FOLLOW, number=number)

    async def set_field(self, field_id: int, *, value: str | None = None, checked: bool | None = None):
        return await self._do(cp.Action.SET_FIELD, number=field_id, text=value, checked=checked)

    async def press(self, field_id: int) -> protocol.Frame | None:
        return await self._do(cp.Action.PRESS, number=field_id)

    async def find(self, query: str) -> list[tuple[int, int, int]]:
        result = await self._browser.call(cp.Action.FIND, tab=self.id, text=query)
        return [tuple(match) for match in result.matches or []]

    async def resize(self, width: int) -> protocol.Frame | None:
        return await self._do(cp.Action.RESIZE, width=width)

    def scroll_to(self, line: int) -> None:
        if self.frame is not None:
            self.frame.scroll = line
        self._browser.call_soon(cp.Action.SCROLL_TO, tab=self.id, number=line)

    async def back(self) -> protocol.Frame | None:
        return await self._do(cp.Action.BACK)

    async def forward(self) -> protocol.Frame | None:
        return await self._do(cp.Action.FORWARD)

    async def reload(self) -> protocol.Frame | None:
        return await self._do(cp.Action.RELOAD)

    async def activate(self) -> protocol.Frame | None:
        return await self._do(cp.Action.ACTIVATE)

    async def close(self) -> None:
        await self._do(cp.Action.CLOSE)

    async def freeze(self, *, reason: str = "frozen by the user") -> None:
        await self._do(cp.Action.FREEZE)

    async def unfreeze(self, *, reason: str = "thawed by the user") -> None:
        await self._do(cp.Action.UNFREEZE)

    async def discard(self, *, reason: str = "discarded by the user", urgent: bool = True) -> None:
        await self._do(cp.Action.DISCARD, urgent=urgent)

    def end_process(self) -> None:
        self._browser.call_soon(cp.Action.END_PROCESS, tab=self.id)

    def pin(self, on: bool = True) -> None:
        self._facts.pinned = on  # shown at once; the browser's next update confirms it
        self._browser.call_soon(cp.Action.PIN, tab=self.id, on=on)

    def keep(self, on: bool = True) -> None:
        self._facts.kept = on
        self._browser.call_soon(cp.Action.KEEP, tab=self.id, on=on)

    async def sandbox_report(self) -> list[protocol.SandboxLayer]:
        result = await self._browser.call(cp.Action.SANDBOX_REPORT, tab=self.id)
        return list(result.layers or [])

    async def _do(self, action: cp.Action, **fields) -> protocol.Frame | None:
        await self._browser.call(action, tab=self.id, **fields)
        return self.frame


class RemoteBrowser:
    """A running browser, attached to through its control socket."""

    def __init__(self, pid: int | None = None) -> None:
        self.wanted_pid = pid
        self.pid: int | None = None
        self.gone: str | None = None  # why the connection ended, once it has
        self._facts: cp.BrowserFacts | None = None
        self._tabs: dict[int, RemoteTab] = {}
        self._order: list[int] = []
        self._active: int | None = None
        self._processes: list[ProcessInfo] = []
        self._discards: list[DiscardsRow] = []
        self._network_layers: list = []
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._listener: asyncio.Task | None = None
        self._calls: dict[int, asyncio.Future] = {}
        self._call_ids = itertools.count(1)
        self._background: set[asyncio.Task] = set()
        self._subscribers: list[Callable[[TabEvent], None]] = []
        self._ipc_subscribers: list[Callable[[IpcEvent], None]] = []
        self._gone_subscribers: list[Callable[[str], None]] = []
        self._detaching = False

    # -- attach and detach -------------------------------------------------------------

    async def start(self) -> None:
        """Attach: connect, and take the browser's state."""
        entry = find_running(self.wanted_pid)
        try:
            self._reader, self._writer = await asyncio.open_unix_connection(entry["socket"], limit=1 << 20)
        except OSError as error:
            raise BrowserError(f"cannot reach the browser (pid {entry['pid']}): {error.strerror or error}") from None
        self._send(cp.Attach())
        first = await self._receive()
        if not isinstance(first, cp.Attached):
            raise BrowserError(f"the browser answered {type(first).__name__} to Attach")
        self._facts = first.browser
        self.pid = first.browser.pid
        for facts in first.tabs:
            tab = self._tabs[facts.id] = RemoteTab(self, facts)
            tab.frame = first.frames.get(facts.id)
        self._order = [facts.id for facts in first.tabs]
        self._active = first.active
        self._processes = [_process_info(p) for p in first.processes]
        self._discards = [_discards_row(r) for r in first.discards]
        self._network_layers = list(first.network_layers)
        self._listener = asyncio.create_task(self._listen(), name="remote-browser")

    async def shutdown(self) -> None:
        """Detach; the browser keeps running."""
        self._detaching = True
        if self._writer is not None:
            self._writer.close()
        if self._listener is not None:
            self._listener.cancel()
            await asyncio.wait({self._listener}, timeout=5)
        self._fail_calls("detached from the browser")

    @property
    def started(self) -> bool:
        return self._facts is not None and self.gone is None

    def on_gone(self, callback: Callable[[str], None]) -> None:
        """Call ``callback(why)`` once, when the browser quits or cannot be reached."""
        self._gone_subscribers.append(callback)

    # -- what a window reads ---------------------------------------------------------------

    @property
    def tabs(self) -> list[RemoteTab]:
        return [self._tabs[tab_id] for tab_id in self._order if tab_id in self._tabs]

    @property
    def active_tab(self) -> RemoteTab | None:
        return self._tabs.get(self._active) if self._active is not None else None

    @property
    def started_by(self) -> str:
        return self._facts.started_by.value

    @property
    def sandbox(self):
        from browser.api import SandboxInfo

        return SandboxInfo(self._facts.sandbox_enabled, self._facts.sandbox_uid, self._facts.sandbox_gid)

    @property
    def width(self) -> int:
        return self._facts.width

    @property
    def zygote_pid(self) -> int:
        return self._facts.zygote_pid

    @property
    def profile_path(self) -> str:
        return self._facts.profile

    def processes(self) -> list[ProcessInfo]:
        return list(self._processes)

    @property
    def network_sandbox_layers(self) -> list:
        """The network process's sandbox layers as it reported them (empty until it started)."""
        return list(self._network_layers)

    def discards(self) -> list[DiscardsRow]:
        """Every tab's lifecycle as ``about:discards`` shows it."""
        return list(self._discards)

    def subscribe(self, callback: Callable[[TabEvent], None]) -> Callable[[], None]:
        self._subscribers.append(callback)
        return lambda: self._subscribers.remove(callback)

    def subscribe_ipc(self, callback: Callable[[IpcEvent], None]) -> Callable[[], None]:
        self._ipc_subscribers.append(callback)
        return lambda: self._ipc_subscribers.remove(callback)

    # -- what a window asks -----------------------------------------------------------------

    async def open(self, url: str = "about:welcome", *, width: int | None = None, activate: bool = True) -> RemoteTab:
        result = await self.call(cp.Action.OPEN, url=url, width=width, activate=activate)
        return self._tabs[result.tab]

    def activate(self, tab: RemoteTab) -> None:
        self.call_soon(cp.Action.ACTIVATE, tab=tab.id)

    async def call(self, action: cp.Action, **fields) -> cp.CallResult:
        """Ask the browser to carry out ``action``; its answer, or the error it raised here."""
        if self.gone is not None:
            raise BrowserError(f"the browser is gone: {self.gone}")
        call_id = next(self._call_ids)
        future = asyncio.get_running_loop().create_future()
        self._calls[call_id] = future
        self._send(cp.Call(call_id, action, **fields))
        result: cp.CallResult = await future
        if result.refusal is not None:
            error = LifecycleRefused(fields.get("tab") or 0, action.value, result.refusal)
            error.args = (result.error or str(error),)
            raise error
        if result.error is not None:
            raise BrowserError(result.error)
        return result

    def call_soon(self, action: cp.Action, **fields) -> None:
        """``call`` without waiting (the API's synchronous actions); a failure is dropped."""
        task = asyncio.ensure_future(self.call(action, **fields))
        self._background.add(task)
        task.add_done_callback(lambda done: done.cancelled() or done.exception())
        task.add_done_callback(self._background.discard)

    # -- the wire ------------------------------------------------------------------------

    def _send(self, message: msgspec.Struct) -> None:
        payload = cp.encode(message)
        self._writer.write(len(payload).to_bytes(4, "big") + payload)

    async def _receive(self):
        head = await self._reader.readexactly(4)
        if head[0] >= 0x04:  # the browser dropped us, with one line
            rest = await self._reader.read(4096)
            line = (head + rest).split(b"\n", 1)[0].decode("utf-8", "replace").removeprefix("minibrowser: ")
            raise ControlError(line)
        size = int.from_bytes(head, "big")
        if size > MAX_BROKER_FRAME:
            raise ControlError(f"the browser sent a frame of {size} bytes, over the limit")
        return cp.decode_broker(await self._reader.readexactly(size))

    async def _listen(self) -> None:
        why = "the browser closed the connection"
        try:
            while True:
                message = await self._receive()
                if isinstance(message, cp.Quitting):
                    why = message.reason
                    break
                self._apply(message)
        except asyncio.CancelledError:
            raise
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            why = "the browser closed the connection"
        except ControlError as error:
            why = str(error)
        except (msgspec.DecodeError, msgspec.ValidationError) as error:
            why = f"the browser sent a message that does not decode ({error})"
        if self._detaching:
            return
        self.gone = why
        self._fail_calls(f"the browser is gone: {why}")
        for callback in list(self._gone_subscribers):
            callback(why)

    def _fail_calls(self, why: str) -> None:
        for future in self._calls.values():
            if not future.done():
                future.set_exception(BrowserError(why))
        self._calls.clear()

    def _apply(self, message) -> None:
        if isinstance(message, cp.TabUpdated):
            facts = message.tab
            tab = self._tabs.get(facts.id)
            if tab is None:
                tab = self._tabs[facts.id] = RemoteTab(self, facts)
            else:
                tab._facts = facts
            if tab.frame is not None:
                tab.frame.scroll = facts.scroll
            self._order, self._active = message.order, message.active
        elif isinstance(message, cp.FrameUpdated):
            tab = self._tabs.get(message.tab)
            if tab is not None:
                tab.frame = message.frame
        elif isinstance(message, cp.TabRemoved):
            self._tabs.pop(message.tab, None)
            self._order = [tab_id for tab_id in self._order if tab_id != message.tab]
            self._active = message.active
        elif isinstance(message, cp.ProcessesUpdated):
            self._processes = [_process_info(p) for p in message.processes]
            self._network_layers = list(message.network_layers)
        elif isinstance(message, cp.DiscardsUpdated):
            self._discards = [_discards_row(r) for r in message.discards]
        elif isinstance(message, cp.IpcMessage):
            event = IpcEvent(message.time, message.tab, message.direction, message.kind, message.size,
                             message.round_trip_ms)
            for callback in list(self._ipc_subscribers):
                callback(event)
        elif isinstance(message, cp.LifecycleEvent):
            event = TabEvent(message.tab, message.old, message.new, message.reason, time.time())
            for callback in list(self._subscribers):
                callback(event)
        elif isinstance(message, cp.CallResult):
            future = self._calls.pop(message.id, None)
            if future is not None and not future.done():
                future.set_result(message)


def _discards_row(facts: cp.DiscardsFacts) -> DiscardsRow:
    return DiscardsRow(facts.tab, facts.title, facts.url, facts.state, facts.visibility, facts.discard_refusal,
                       facts.freeze_refusal, facts.auto_discardable, facts.discard_count, facts.revisits,
                       facts.last_active_s, facts.renderer, tuple(facts.shared_with))


def _process_info(facts: cp.ProcessFacts) -> ProcessInfo:
    memory = facts.memory
    return ProcessInfo(facts.pid, facts.ppid, facts.role, tab=facts.tab, state=facts.state, title=facts.title,
                       tabs=tuple(facts.tabs), site=facts.site, over_limit=facts.over_limit,
                       memory=MemoryInfo(memory.uss, memory.pss, memory.rss) if memory is not None else None)

