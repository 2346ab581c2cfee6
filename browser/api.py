"""The public Python API: ``Browser`` and ``Tab``.

The CLI, the TUI and the tests all drive minibrowser through this::

    async with Browser() as browser:
        tab = await browser.open("https://example.org/")
        print(tab.title, tab.pid)
        print(tab.frame.text)
        await tab.follow(1)

``Browser`` is the broker assembled: the private runtime directory, the IPC
hub, the zygote, the URL loader and the tabs.  Each tab has its own renderer
process, forked by the zygote and locked down before it sees the page.
"""

from __future__ import annotations

import asyncio
import enum
import html
import itertools
import logging
import os
import pwd
import secrets
import signal
import time
import urllib.parse
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from broker.host import ExitInfo, IpcEvent, RendererGone, RendererHost, RendererTimeout
from broker.ipc import IpcHub
from broker.lifecycle import (
    Action,
    CrashHistory,
    DiscardRefusal,
    LifecyclePolicy,
    TabFacts,
    decide,
    discard_refusal,
    freeze_refusal,
)
from broker.memory import ZERO, MemoryInfo, MemorySampler
from broker.runtime import RuntimeDir
from broker.zygote_client import ColdSpawner, ZygoteClient, ZygoteError
from browser import about
from browser.loader import LoadError, Loader, Response, normalize_url
from browser.profile import Profile, ProfileError, StoredHistoryEntry, StoredTab
from renderer import protocol

log = logging.getLogger("minibrowser.broker")

DEFAULT_WIDTH = 80
DEBUG_URLS = {
    "about:crash": "crash",
    "about:kill": "kill",
    "about:hang": "hang",
    "about:memory-exhaust": "memory-exhaust",
}


class TabState(enum.Enum):
    LOADING = "loading"
    ACTIVE = "active"
    BACKGROUND = "background"
    FROZEN = "frozen"
    DISCARDED = "discarded"
    CRASHED = "crashed"
    UNRESPONSIVE = "unresponsive"
    CLOSED = "closed"


class BrowserError(Exception):
    """Base of the API's errors; ``str()`` is one line for a person."""


class TabClosed(BrowserError):
    pass


class NoSuchLink(BrowserError):
    pass


class TabCrashed(BrowserError):
    pass


class LifecycleRefused(BrowserError):
    """A freeze or discard that may not happen now; ``reason`` says why."""

    def __init__(self, tab: int, action: str, reason: DiscardRefusal) -> None:
        super().__init__(f"tab {tab} cannot be {action}: {reason.describe()}")
        self.tab = tab
        self.reason = reason


@dataclass(frozen=True)
class MemoryTotals:
    """``Browser.memory()``: the last samples, added up."""

    renderers: MemoryInfo  # every live renderer (frozen ones included)
    broker: MemoryInfo | None
    zygote: MemoryInfo | None
    live_renderers: int
    frozen: int
    discarded: int
    snapshot_bytes: int  # what the discarded tabs still cost: their rows on disk

    @property
    def total(self) -> MemoryInfo:
        return self.renderers + (self.broker or ZERO) + (self.zygote or ZERO)


@dataclass(frozen=True)
class LifecycleRecord:
    """One policy decision and what came of it (for the UI's discards page)."""

    time: float
    tab: int
    action: str  # freeze, discard
    reason: str
    outcome: str  # done, or why not


@dataclass(frozen=True)
class ProcessInfo:
    pid: int
    ppid: int
    role: str  # broker, zygote, renderer
    tab: int | None = None
    state: str = ""
    title: str = ""


@dataclass
class HistoryEntry:
    url: str
    method: str = "GET"
    form_body: str = ""
    title: str = ""
    scroll: int | None = None  # the first line shown when the user left it; None: not left yet


@dataclass
class Timings:
    fetch_ms: float | None = None
    spawn_ms: float | None = None
    first_frame_ms: float | None = None
    restore_ms: float | None = None  # a discarded tab back on screen


@dataclass
class SandboxSettings:
    """What the broker asks every renderer to apply."""

    enabled: bool = True
    uid: int | None = None
    gid: int | None = None
    memory_bytes: int = 2 * 1024**3
    open_files: int = 64
    file_size_bytes: int = 16 * 1024**2
    cpu_seconds: int = 3600

    def policy(self, **overrides) -> protocol.SandboxPolicy:
        values = dict(
            enabled=self.enabled,
            uid=self.uid,
            gid=self.gid,
            memory_bytes=self.memory_bytes,
            open_files=self.open_files,
            file_size_bytes=self.file_size_bytes,
            cpu_seconds=self.cpu_seconds,
        )
        values.update(overrides)
        return protocol.SandboxPolicy(**values)


def _default_drop_ids() -> tuple[int | None, int | None]:
    """Root drops renderers to ``nobody``; anyone else keeps their own uid."""
    if os.getuid() != 0:
        return None, None
    try:
        entry = pwd.getpwnam("nobody")
    except KeyError:
        return 65534, 65534
    return entry.pw_uid, entry.pw_gid


def sad_tab_frame(url: str, title: str, cause: str, width: int, *, note: str | None = None) -> protocol.Frame:
    """The page a crashed tab shows.  Built by the broker from plain lines:
    there is no renderer left to draw it, and it holds no page content."""
    S = protocol.Style
    lines = [
        protocol.Line([protocol.Span("Aw, snap! This tab's renderer stopped.", S.HEADING | S.ERROR)]),
        protocol.Line([]),
        protocol.Line([protocol.Span(f"Cause: {cause}")]),
        protocol.Line([protocol.Span(f"Page:  {url}")]),
        protocol.Line([]),
        protocol.Line([protocol.Span("Reload the tab to start a new renderer for it.")]),
    ]
    if note:
        lines += [protocol.Line([]), protocol.Line([protocol.Span(f"Note: {note}", S.ERROR)])]
    return protocol.Frame(url=url, title=title or url, width=width, lines=lines, kind="error")


def discarded_frame(url: str, title: str, width: int) -> protocol.Frame:
    """What a discarded tab holds in the broker: a placeholder, not the page
    (the page is in the profile until the tab is activated)."""
    lines = [
        protocol.Line([protocol.Span("This tab was discarded to save memory.", protocol.Style.HEADING)]),
        protocol.Line([]),
        protocol.Line([protocol.Span(f"Page:  {url}")]),
        protocol.Line([protocol.Span("Activate it to bring it back as you left it, without the network.")]),
    ]
    return protocol.Frame(url=url, title=title or url, width=width, lines=lines, kind="discarded")


def error_page(url: str, error: Exception) -> bytes:
    """An HTML page for a load that failed; the renderer lays it out."""
    message = html.escape(str(error))
    return (
        "<!doctype html><html><head><title>Can't open this page</title></head><body>"
        f"<h1>Can't open this page</h1><p>{message}</p>"
        f"<p>Address: <code>{html.escape(url)}</code></p></body></html>"
    ).encode("utf-8")


def binary_page(response: Response) -> bytes:
    return (
        "<!doctype html><html><head><title>Cannot display this file</title></head><body>"
        "<h1>Cannot display this file</h1>"
        f"<p>{html.escape(response.final_url)} is {html.escape(response.content_type or 'binary data')}"
        f" ({len(response.body)} bytes), which a text browser cannot show.</p>"
        "</body></html>"
    ).encode("utf-8")


async def _until_stopped(pid: int, *, timeout: float = 1.0) -> None:
    """Wait until ``pid`` is really stopped: SIGSTOP is delivered asynchronously."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat", "rb") as stat:
                state = stat.read().rsplit(b")", 1)[1].split()[0]
        except (OSError, IndexError):
            return
        if state in (b"T", b"t", b"Z", b"X"):
            return
        await asyncio.sleep(0.002)


class Tab:
    """One tab: its URL, its frame, its history, its renderer process."""

    def __init__(self, browser: Browser, tab_id: int, width: int) -> None:
        self.browser = browser
        self.id = tab_id
        self.width = width
        self.url = "about:blank"
        self.title = ""
        self.frame: protocol.Frame | None = None
        self.state = TabState.LOADING
        self.error: str | None = None  # last load error, one line
        self.crash_cause: str | None = None
        self.host: RendererHost | None = None
        self.history: list[HistoryEntry] = []
        self.history_index = -1
        self.timings = Timings()
        self.last_active = time.monotonic()
        self._lock = asyncio.Lock()
        # -- lifecycle
        self._pinned = False
        self._kept = False
        self.crashes = CrashHistory(browser.policy.crash_limit, browser.policy.crash_window_s)
        self.crash_loop = False  # crashed too often: no automatic restart
        self.snapshot_bytes: int | None = None  # size of its row in the profile while discarded
        self._running = asyncio.Event()  # cleared while the renderer is stopped (frozen)
        self._running.set()
        self._discarding = False
        self._policy_busy = False  # a policy action for this tab is in flight
        self._end_cause: str | None = None  # set when the user ends the renderer
        self._heartbeat: asyncio.Task | None = None
        self._heartbeat_sent = 0.0
        self._last_pong = 0.0
        self._state_before_hang: TabState | None = None
        # Bumped by every navigation (fragments, Back and Forward included) and
        # restore: a UI then shows the frame at ``frame.scroll``, not where it was.
        self.navigation_id = 0

    def __repr__(self) -> str:
        return f"<Tab {self.id} {self.state.value} {self.url!r}>"

    @property
    def pid(self) -> int | None:
        return self.host.pid if self.host is not None and self.host.alive else None

    @property
    def final_url(self) -> str:
        return self.frame.url if self.frame is not None else self.url

    # -- the renderer ---------------------------------------------------------

    async def _renderer(self) -> RendererHost:
        if self.state is TabState.CLOSED:
            raise TabClosed(f"tab {self.id} is closed")
        if self.host is None or not self.host.alive:
            started = time.perf_counter()
            self.host = await self.browser._spawn_renderer(self)
            self.timings.spawn_ms = (time.perf_counter() - started) * 1000
        return self.host

    def _renderer_exited(self, host: RendererHost, info: ExitInfo) -> None:
        if host is not self.host or self.state is TabState.CLOSED:
            return
        cause, self._end_cause = self._end_cause or info.cause, None
        now = time.monotonic()
        self.crashes.record(now)
        self.crash_loop = self.crashes.looping(now)
        note = self.crashes.describe() if self.crash_loop else None
        self.crash_cause = cause
        self._running.set()
        self._set_state(TabState.CRASHED, cause + (f"; {note}" if note else ""))
        self.frame = sad_tab_frame(self.url, self.title, cause, self.width, note=note)

    def _set_state(self, state: TabState, reason: str = "") -> None:
        if state is self.state:
            return
        old, self.state = self.state, state
        self.browser._publish(TabEvent(self.id, old, state, reason, time.time()))

    def _settled_state(self) -> TabState:
        return TabState.ACTIVE if self.browser.active_tab is self else TabState.BACKGROUND

    async def _ask(self, make, *, timeout: float = 30.0):
        # A frozen renderer's messages wait here and go out once it is thawed.
        await self._running.wait()
        host = await self._renderer()
        try:
            return await host.request(make, timeout=timeout)
        except RendererGone as gone:
            raise TabCrashed(str(gone)) from None
        except RendererTimeout as slow:
            raise TabCrashed(str(slow)) from None

    # -- loading --------------------------------------------------------------

    async def navigate(self, url: str, *, typed: bool = True) -> protocol.Frame:
        """Go to ``url`` as if the user typed it in the address bar."""
        async with self._lock:
            try:
                target = normalize_url(url)
            except LoadError as error:
                await self._show_error(url, error)
                return self.frame
            if typed and target in DEBUG_URLS:
                return await self._debug(DEBUG_URLS[target])
            if "#" in target and self._shows_document_of(target):
                return self._navigate_within(HistoryEntry(target))
            return await self._load(HistoryEntry(target), initiator=None)

    async def _load(self, entry: HistoryEntry, *, initiator: str | None, history: str = "push") -> protocol.Frame:
        if self.state is TabState.FROZEN:
            self._continue_process()
        if self.state is TabState.DISCARDED:
            await self._forget_snapshot()
        if history == "push":
            self._remember_scroll()
        self._set_state(TabState.LOADING, "navigation")
        self.url = entry.url
        self.error = None
        started = time.perf_counter()
        if entry.url == "about:sandbox":  # a live page: ask this tab's own renderer first
            try:
                await self.sandbox_report()
            except (BrowserError, ZygoteError, RendererGone) as error:
                return self._spawn_failed(error)
        spawn = asyncio.ensure_future(self._renderer())
        try:
            response = await self.browser.loader.load(
                entry.url, initiator=initiator, method=entry.method, form_body=entry.form_body
            )
        except LoadError as error:
            response = error
        self.timings.fetch_ms = (time.perf_counter() - started) * 1000
        try:
            await spawn
        except (BrowserError, ZygoteError, RendererGone) as spawn_error:
            return self._spawn_failed(spawn_error)
        if isinstance(response, LoadError):
            await self._show_error(entry.url, response, history=history, entry=entry)
            return self.frame
        body, kind = response.body, response.kind
        if kind == "binary":
            body, kind = binary_page(response), "html"
        frame = await self._render(
            lambda request: protocol.LoadDocument(
                request=request,
                url=response.final_url,
                content_type=response.content_type,
                charset=response.charset,
                body=body,
                kind=kind,
                width=self.width,
                unsandboxed=not self.browser.sandbox.enabled,
            )
        )
        self.timings.first_frame_ms = (time.perf_counter() - started) * 1000
        fragment = entry.url.partition("#")[2] if "#" in entry.url else None
        entry.url = response.final_url
        if fragment is not None and "#" not in entry.url:  # a redirect keeps the fragment (HTML, RFC 9110)
            entry.url += "#" + fragment
        self._record(entry, history)
        self._place_view(entry)
        return frame

    def _spawn_failed(self, error: Exception) -> protocol.Frame:
        cause = str(error)
        self.error = cause
        self.crash_cause = cause
        self._set_state(TabState.CRASHED, cause)
        self.frame = sad_tab_frame(self.url, self.title, cause, self.width)
        return self.frame

    async def _render(self, make) -> protocol.Frame:
        try:
            reply = await self._ask(make)
        except TabCrashed:
            return self.frame  # _renderer_exited has put up the sad tab
        if isinstance(reply, protocol.NavigateRequest):
            raise BrowserError("unexpected navigation while loading")
        self._apply_frame(reply.frame)
        return self.frame

    def _apply_frame(self, frame: protocol.Frame) -> None:
        self.frame = frame
        self.title = frame.title
        self._set_state(self._settled_state(), "loaded")

    def _record(self, entry: HistoryEntry, history: str) -> None:
        entry.title = self.title
        self.navigation_id += 1
        if history == "push":
            del self.history[self.history_index + 1 :]
            self.history.append(entry)
            self.history_index = len(self.history) - 1
        elif history == "replace" and self.history:
            self.history[self.history_index] = entry

    async def _show_error(
        self, url: str, error: Exception, *, history: str = "push", entry: HistoryEntry | None = None
    ) -> None:
        self.error = str(error)
        self.url = url
        try:
            await self._renderer()
        except (BrowserError, ZygoteError, RendererGone) as spawn_error:
            self._spawn_failed(spawn_error)
            return
        await self._render(
            lambda request: protocol.LoadDocument(
                request=request,
                url=url,
                content_type="text/html",
                charset="utf-8",
                body=error_page(url, error),
                kind="error",
                width=self.width,
                unsandboxed=not self.browser.sandbox.enabled,
            )
        )
        self._record(entry or HistoryEntry(url), history)

    async def _debug(self, action: str) -> protocol.Frame:
        host = await self._renderer()
        host.send(protocol.DebugAction(action=action))
        if action in ("crash", "kill", "memory-exhaust"):
            try:
                await asyncio.wait_for(asyncio.shield(host.exited), 30)
            except asyncio.TimeoutError:
                pass
        return self.frame

    async def _navigate_from_page(self, request: protocol.NavigateRequest) -> protocol.Frame:
        entry = HistoryEntry(request.url, method=request.method, form_body=request.form_body)
        if request.method == "GET" and "#" in request.url and self._shows_document_of(request.url):
            return self._navigate_within(entry)
        return await self._load(entry, initiator=self.final_url)

    # -- where the view is: fragments, Back and Forward -------------------------

    def _shows_document_of(self, url: str) -> bool:
        """Whether the committed document is ``url`` but for the fragment, so
        that going there needs no reload (HTML's same-document navigation).
        Decided from the broker's own history, not from the renderer."""
        if self.error is not None or self.frame is None or self.host is None or not self.host.alive:
            return False
        if self.state not in (TabState.ACTIVE, TabState.BACKGROUND) or not 0 <= self.history_index < len(self.history):
            return False
        current = self.history[self.history_index]
        return current.method == "GET" and urllib.parse.urldefrag(current.url).url == urllib.parse.urldefrag(url).url

    def _navigate_within(self, entry: HistoryEntry) -> protocol.Frame:
        """Go to another fragment of the document on screen: a new history
        entry and the view at its target, without loading anything."""
        self._remember_scroll()
        self.url = entry.url
        self._record(entry, "push")
        self._place_view(entry)
        return self.frame

    def _remember_scroll(self) -> None:
        """Keep where the user is in the current history entry, for Back and Forward."""
        if self.frame is not None and 0 <= self.history_index < len(self.history):
            self.history[self.history_index].scroll = self.frame.scroll

    def _place_view(self, entry: HistoryEntry) -> None:
        """Put the view where ``entry`` wants it: where the user left it, else at
        its fragment's target (a fragment with no target leaves it alone), else
        at the top."""
        if self.frame is None:
            return
        if entry.scroll is not None:
            line = min(entry.scroll, max(0, len(self.frame.lines) - 1))
        elif "#" in entry.url:
            line = self.frame.anchor_line(entry.url.partition("#")[2])
            if line is None:
                return
        else:
            line = 0
        if line != self.frame.scroll:
            self.scroll_to(line)

    # -- page actions -----------------------------------------------------------

    async def follow(self, number: int) -> protocol.Frame:
        """Follow link ``[number]``.  A navigation the page may not make
        (a web page opening a local file) raises NavigationRefused."""
        async with self._lock:
            if self.frame is None or not any(link.number == number for link in self.frame.links):
                raise NoSuchLink(f"there is no link [{number}] on this page")
            reply = await self._ask(lambda request: protocol.FollowLink(request=request, number=number))
            if isinstance(reply, protocol.NavigateRequest):
                return await self._navigate_from_page(reply)
            return self.frame

    async def set_field(self, field_id: int, *, value: str | None = None, checked: bool | None = None) -> protocol.Frame:
        """Type into, tick or choose in form control ``field_id`` (a checkbox
        or radio with neither ``value`` nor ``checked`` toggles)."""
        async with self._lock:
            reply = await self._ask(
                lambda request: protocol.SetField(request=request, field=field_id, value=value, checked=checked)
            )
            self._apply_frame(reply.frame)
            return self.frame

    async def press(self, field_id: int) -> protocol.Frame:
        """Press button ``field_id``: a submit button sends its form."""
        async with self._lock:
            reply = await self._ask(lambda request: protocol.PressField(request=request, field=field_id))
            if isinstance(reply, protocol.NavigateRequest):
                return await self._navigate_from_page(reply)
            self._apply_frame(reply.frame)
            return self.frame

    async def find(self, query: str) -> list[tuple[int, int, int]]:
        async with self._lock:
            reply = await self._ask(lambda request: protocol.Find(request=request, query=query))
            if reply.frame is not None:
                self.frame = reply.frame
            return reply.matches

    async def resize(self, width: int) -> protocol.Frame:
        async with self._lock:
            self.width = width
            if self.host is None or not self.host.alive or self.frame is None:
                return self.frame
            reply = await self._ask(lambda request: protocol.Resize(request=request, width=width))
            self._apply_frame(reply.frame)
            return self.frame

    def scroll_to(self, line: int) -> None:
        if self.frame is not None:
            self.frame.scroll = line
        if self.host is not None and self.host.alive:
            self.host.send(protocol.ScrollTo(line=line))

    async def back(self) -> protocol.Frame | None:
        return await self._go(-1)

    async def forward(self) -> protocol.Frame | None:
        return await self._go(+1)

    async def _go(self, step: int) -> protocol.Frame | None:
        async with self._lock:
            index = self.history_index + step
            if not 0 <= index < len(self.history):
                return None
            entry = self.history[index]
            same_document = entry.method == "GET" and self._shows_document_of(entry.url)
            self._remember_scroll()
            self.history_index = index
            if same_document:
                self.url = entry.url
                self.navigation_id += 1
                self._place_view(entry)
                return self.frame
            return await self._load(
                HistoryEntry(entry.url, entry.method, entry.form_body, scroll=entry.scroll),
                initiator=None,
                history="replace",
            )

    async def reload(self) -> protocol.Frame | None:
        async with self._lock:
            if not self.history:
                return await self._load(HistoryEntry(self.url), initiator=None)
            entry = self.history[self.history_index]
            here = self.frame.scroll if self.frame is not None and self.error is None else None
            return await self._load(
                HistoryEntry(entry.url, entry.method, entry.form_body, scroll=here), initiator=None, history="replace"
            )

    async def sandbox_report(self) -> list[protocol.SandboxLayer]:
        """The sandbox of this tab's renderer, layer by layer, as it sees it."""
        reply = await self._ask(lambda request: protocol.ReportSandbox(request=request))
        self.browser.last_sandbox_report = reply.layers
        return reply.layers

    # -- lifecycle: freeze, discard, restore, crashes and hangs -----------------

    @property
    def pinned(self) -> bool:
        return self._pinned

    @property
    def kept(self) -> bool:
        return self._kept

    def pin(self, on: bool = True) -> None:
        """Pinned tabs are never discarded (nor frozen by the policy)."""
        self._pinned = on

    def keep(self, on: bool = True) -> None:
        """The user asks to keep this tab: never frozen or discarded."""
        self._kept = on

    @property
    def memory(self) -> MemoryInfo | None:
        """The renderer's memory at the last sample (None before one, or without a renderer)."""
        sample = self.browser.sampler.last(self.pid)
        return sample.memory if sample is not None else None

    @property
    def cpu_percent(self) -> float | None:
        sample = self.browser.sampler.last(self.pid)
        return sample.cpu_percent if sample is not None else None

    @property
    def cpu_time(self) -> float | None:
        """User + system CPU seconds of the renderer, at the last sample."""
        sample = self.browser.sampler.last(self.pid)
        return sample.cpu_time if sample is not None else None

    def _facts(self, now: float) -> TabFacts:
        active = self.browser.active_tab is self
        busy = self._lock.locked() or self._discarding or self._policy_busy
        return TabFacts(
            id=self.id,
            state=self.state.value,
            active=active,
            pinned=self._pinned,
            kept=self._kept,
            has_document=self.frame is not None and self.host is not None and self.host.alive,
            busy=busy,
            idle_s=0.0 if active else max(0.0, now - self.last_active),
            uss=None if self._discarding else getattr(self.memory, "uss", None),
        )

    def discard_refusal(self) -> DiscardRefusal | None:
        """Why this tab may not be discarded now, or None."""
        return discard_refusal(self._facts(time.monotonic()))

    def freeze_refusal(self) -> DiscardRefusal | None:
        """Why this tab may not be frozen now, or None."""
        return freeze_refusal(self._facts(time.monotonic()))

    async def freeze(self, *, reason: str = "frozen by the user") -> None:
        """Stop the renderer (SIGSTOP): no CPU; messages for it wait until it is thawed."""
        if (refusal := self.freeze_refusal()) is not None:
            raise LifecycleRefused(self.id, "frozen", refusal)
        async with self._lock:  # let a request in flight finish first
            if (refusal := self.freeze_refusal()) is not None:
                raise LifecycleRefused(self.id, "frozen", refusal)
            if self.host is None or not self.host.alive:
                raise LifecycleRefused(self.id, "frozen", DiscardRefusal.NO_DOCUMENT)
            self._running.clear()
            try:
                os.kill(self.host.pid, signal.SIGSTOP)
            except ProcessLookupError:
                self._running.set()
                return  # it is gone; its exit makes the tab crashed
            await _until_stopped(self.host.pid)
            self._set_state(TabState.FROZEN, reason)

    async def unfreeze(self, *, reason: str = "thawed by the user") -> None:
        """Let a frozen renderer run again (SIGCONT); waiting messages are delivered."""
        if self.state is not TabState.FROZEN:
            return
        self._continue_process()
        self._set_state(self._settled_state(), reason)

    def _continue_process(self) -> None:
        if self.host is not None and self.host.alive and not self._running.is_set():
            try:
                os.kill(self.host.pid, signal.SIGCONT)
            except ProcessLookupError:
                pass
        self._heartbeat_sent = time.monotonic()  # the time it was stopped does not count as a hang
        self._running.set()

    async def discard(self, *, reason: str = "discarded by the user") -> None:
        """Swap the tab out: its renderer writes a snapshot, the broker stores it
        in the profile, and the process is ended.  The tab keeps its title."""
        if (refusal := self.discard_refusal()) is not None:
            raise LifecycleRefused(self.id, "discarded", refusal)
        self._discarding = True
        try:
            if self.state is TabState.FROZEN:
                self._continue_process()  # it must run to write its snapshot
            async with self._lock:
                self._discarding = False
                if (refusal := self.discard_refusal()) is not None:
                    raise LifecycleRefused(self.id, "discarded", refusal)
                self._discarding = True
                await self._swap_out(reason)
        finally:
            self._discarding = False

    async def _swap_out(self, reason: str) -> None:
        host = self.host
        timeout = max(10.0, self.browser.policy.heartbeat_timeout_s)
        try:
            reply = await host.request(lambda request: protocol.TakeSnapshot(request=request), timeout=timeout)
        except (RendererGone, RendererTimeout) as error:
            raise BrowserError(f"tab {self.id} could not save its state: {error}") from None
        snapshot = reply.snapshot
        if self.history and 0 <= self.history_index < len(self.history):
            snapshot.url = self.history[self.history_index].url  # the broker's word, not the renderer's
        stored = StoredTab(
            snapshot=snapshot,
            history=[StoredHistoryEntry(e.url, e.method, e.form_body, e.title) for e in self.history],
            history_index=self.history_index,
            pinned=self._pinned,
            kept=self._kept,
            width=self.width,
        )
        try:
            self.snapshot_bytes = await self.browser.profile.save_async(self.id, stored)
        except ProfileError as error:
            raise BrowserError(f"tab {self.id} could not be discarded: {error}") from None
        # Committed: from here on the tab can always be restored.
        self.host = None  # its exit is not a crash
        self._running.set()
        self.browser.sampler.forget(host.pid)
        final_url = self.final_url
        await self.browser._end_renderer(host)
        self.frame = discarded_frame(final_url, self.title, self.width)
        self._set_state(TabState.DISCARDED, reason)

    async def activate(self) -> protocol.Frame | None:
        """Make this the active tab: a discarded tab is restored from its
        snapshot (no network), a frozen one thawed, a crashed one reloaded
        (unless it keeps crashing)."""
        self.browser._make_active(self)
        return await self._wake()

    async def _wake(self) -> protocol.Frame | None:
        if self.state is TabState.DISCARDED:
            return await self._restore()
        if self.state is TabState.CRASHED and not self.crash_loop:
            return await self.reload()
        return self.frame

    async def _restore(self) -> protocol.Frame | None:
        async with self._lock:
            if self.state is not TabState.DISCARDED:
                return self.frame
            started = time.perf_counter()
            self._set_state(TabState.LOADING, "restoring from the profile")
            load = asyncio.ensure_future(self.browser.profile.load_async(self.id))
            spawn = asyncio.ensure_future(self._renderer())
            try:
                stored = await load
            except ProfileError as error:
                stored = None
                log.warning("%s", error)
            try:
                await spawn
            except (BrowserError, ZygoteError, RendererGone) as spawn_error:
                return self._spawn_failed(spawn_error)
            if stored is None:  # nothing to restore from: load it again
                self.snapshot_bytes = None
                entry = self.history[self.history_index] if self.history else HistoryEntry(self.url)
                return await self._load(HistoryEntry(entry.url, entry.method, entry.form_body),
                                        initiator=None, history="replace")
            snapshot = stored.snapshot
            snapshot.width = self.width  # the saved frame is used only at the same width
            self.history = [HistoryEntry(e.url, e.method, e.form_body, e.title) for e in stored.history]
            self.history_index = stored.history_index
            self._pinned, self._kept = stored.pinned or self._pinned, stored.kept or self._kept
            self.url = snapshot.url
            unsandboxed = not self.browser.sandbox.enabled
            frame = await self._render(
                lambda request: protocol.RestoreSnapshot(request=request, snapshot=snapshot, unsandboxed=unsandboxed)
            )
            self.navigation_id += 1  # back where the user left it: the snapshot's scroll
            self.timings.restore_ms = (time.perf_counter() - started) * 1000
            if self.state is not TabState.CRASHED:
                await self._forget_snapshot()
            return frame

    async def _forget_snapshot(self) -> None:
        self.snapshot_bytes = None
        try:
            await asyncio.to_thread(self.browser.profile.delete, self.id)
        except ProfileError as error:
            log.warning("%s", error)

    def end_process(self) -> None:
        """The user ends this tab's renderer (hung or not): the tab becomes
        crashed with the cause "ended by the user" and can be reloaded."""
        host = self.host
        if host is None or not host.alive:
            return
        self._end_cause = "ended by the user"
        host.terminate("ended by the user")  # SIGKILL: works on a stopped process too

    async def _beat(self, host: RendererHost) -> None:
        """One heartbeat, waited for as long as it takes; the browser's
        heartbeat loop marks the tab unresponsive if it takes too long."""
        try:
            await host.ping(timeout=3600)
        except (RendererGone, RendererTimeout):
            return
        finally:
            self._heartbeat = None
            self._last_pong = time.monotonic()
        if self.state is TabState.UNRESPONSIVE and host is self.host:
            back = self._state_before_hang
            if back is not TabState.LOADING or not self._lock.locked():
                back = self._settled_state()
            self._set_state(back, "the renderer answers again")

    def _hung(self, waited: float) -> None:
        self._state_before_hang = self.state
        self._set_state(TabState.UNRESPONSIVE, f"its renderer did not answer a heartbeat for {waited:.0f} s")

    async def close(self) -> None:
        if self.state is TabState.CLOSED:
            return
        self._set_state(TabState.CLOSED, "closed")
        await self.browser._close_tab(self)


@dataclass(frozen=True)
class TabEvent:
    """A lifecycle transition, published to every subscriber."""

    tab: int
    old: TabState
    new: TabState
    reason: str
    time: float


class Browser:
    """The broker: tabs, the network, policy, and the processes behind them."""

    def __init__(
        self,
        *,
        sandbox: bool = True,
        width: int = DEFAULT_WIDTH,
        load_timeout: float = 15.0,
        renderer_uid: int | None = None,
        renderer_gid: int | None = None,
        cold_renderers: bool = False,
        policy: LifecyclePolicy | None = None,
        profile: str | os.PathLike | None = None,
    ) -> None:
        uid, gid = _default_drop_ids()
        self.sandbox = SandboxSettings(
            enabled=sandbox,
            uid=renderer_uid if renderer_uid is not None else uid,
            gid=renderer_gid if renderer_gid is not None else gid,
        )
        self.width = width
        self.cold_renderers = cold_renderers  # benchmarks only: no zygote
        self.tabs: list[Tab] = []
        self.active_tab: Tab | None = None
        self.loader = Loader(timeout=load_timeout, about_pages=lambda url: about.page(self, url))
        self.runtime: RuntimeDir | None = None
        self.hub: IpcHub | None = None
        self.zygote: ZygoteClient | None = None
        self._tab_ids = itertools.count(1)
        self._spawn_ids = itertools.count(1)
        self._hosts_by_pid: dict[int, RendererHost] = {}
        self._tab_of_host: dict[RendererHost, Tab] = {}
        self._subscribers: list[Callable[[TabEvent], None]] = []
        self._ipc_subscribers: list[Callable[[IpcEvent], None]] = []
        self.started = False
        self.last_sandbox_report: list[protocol.SandboxLayer] = []
        # -- lifecycle
        self.policy = policy or LifecyclePolicy()
        self.profile = Profile(os.fspath(profile) if profile is not None else None)  # opened on first use
        self.sampler = MemorySampler(min_interval_s=self.policy.sample_interval_s)
        self.decisions: deque[LifecycleRecord] = deque(maxlen=500)
        self._lifecycle_tasks: list[asyncio.Task] = []
        self._policy_wakeup = asyncio.Event()

    # -- start and stop -----------------------------------------------------------

    async def __aenter__(self) -> Browser:
        await self.start()
        return self

    async def __aexit__(self, *exc_info) -> None:
        await self.shutdown()

    async def start(self) -> None:
        self.runtime = RuntimeDir()
        try:
            if self.sandbox.enabled and os.getuid() == 0 and self.sandbox.uid not in (None, 0):
                self.runtime.hand_to(self.sandbox.uid, self.sandbox.gid)
            # The zygote first: it must be forked before ZeroMQ starts threads here.
            spawner = ColdSpawner if self.cold_renderers else ZygoteClient
            self.zygote = spawner(self.runtime.path, on_exit=self._child_exited)
            await self.zygote.start()
            self.hub = IpcHub(self.runtime.endpoint)
            self.hub.start()
            self.runtime.socket_bound()
        except BaseException:
            await self.shutdown()
            raise
        self.started = True
        self._lifecycle_tasks = [
            asyncio.create_task(self._heartbeat_loop(), name="heartbeats"),
            asyncio.create_task(self._policy_loop(), name="lifecycle-policy"),
        ]

    async def shutdown(self) -> None:
        for task in self._lifecycle_tasks:
            task.cancel()
        if self._lifecycle_tasks:
            await asyncio.wait(self._lifecycle_tasks, timeout=5)
        self._lifecycle_tasks = []
        for tab in list(self.tabs):
            tab._continue_process()  # a stopped renderer must be able to die quickly
            if tab._heartbeat is not None:
                tab._heartbeat.cancel()
            tab._set_state(TabState.CLOSED, "browser shutdown")
        self.tabs.clear()
        try:
            await asyncio.to_thread(self.profile.close)  # this session's snapshots go
        except Exception as error:  # noqa: BLE001 - shutting down must finish
            log.warning("could not close the profile: %s", error)
        if self.zygote is not None:
            await self.zygote.stop()
            self.zygote = None
        if self.hub is not None:
            await self.hub.close()
            self.hub = None
        await self.loader.aclose()
        if self.runtime is not None:
            self.runtime.remove()
            self.runtime = None
        self.started = False

    def _new_tab_id(self) -> int:
        return next(self._tab_ids)

    def sandbox_page(self) -> str:
        """about:sandbox, from the last report a renderer gave."""
        return about.sandbox_html(self.last_sandbox_report, enabled=self.sandbox.enabled)

    # -- tabs ---------------------------------------------------------------------

    async def open(self, url: str = "about:welcome", *, width: int | None = None, activate: bool = True) -> Tab:
        """Open ``url`` in a new tab with its own renderer process."""
        tab = Tab(self, next(self._tab_ids), width or self.width)
        self.tabs.append(tab)
        if activate or self.active_tab is None:
            self.activate(tab)
        await tab.navigate(url)
        self._policy_wakeup.set()  # a new renderer to measure
        return tab

    def activate(self, tab: Tab) -> None:
        """Make ``tab`` the active tab.  A frozen tab is thawed at once; a
        discarded (or crashed) one is brought back in the background; use
        ``await tab.activate()`` to wait for it."""
        self._make_active(tab)
        if tab.state is TabState.DISCARDED or (tab.state is TabState.CRASHED and not tab.crash_loop):
            task = asyncio.ensure_future(tab._wake())
            task.add_done_callback(_log_task_failure)

    def _make_active(self, tab: Tab) -> None:
        previous, self.active_tab = self.active_tab, tab
        now = time.monotonic()
        tab.last_active = now
        if previous is not None and previous is not tab:
            previous.last_active = now  # idle from now on
            if previous.state is TabState.ACTIVE:
                previous._set_state(TabState.BACKGROUND, "another tab was activated")
        if tab.state is TabState.FROZEN:
            tab._continue_process()
            tab._set_state(TabState.ACTIVE, "activated: thawed")
        elif tab.state is TabState.BACKGROUND:
            tab._set_state(TabState.ACTIVE, "activated")
        self._policy_wakeup.set()

    async def _close_tab(self, tab: Tab) -> None:
        if tab in self.tabs:
            self.tabs.remove(tab)
        if self.active_tab is tab:
            self.active_tab = self.tabs[-1] if self.tabs else None
            if self.active_tab is not None:
                self.activate(self.active_tab)
        tab._continue_process()  # a stopped renderer cannot read its Shutdown
        # A heartbeat in flight ends with the renderer; cancelling it would
        # make its Pong an answer to nothing, which is a bad message.
        host, tab.host = tab.host, None
        if host is not None:
            self.sampler.forget(host.pid)
            await self._end_renderer(host)
        if tab.snapshot_bytes is not None or self.profile.opened:
            await tab._forget_snapshot()  # snapshots of closed tabs are deleted

    async def _end_renderer(self, host: RendererHost, *, grace: float = 1.0) -> None:
        if host.alive and host.routing_id is not None:
            try:
                host.send(protocol.Shutdown())
            except RendererGone:
                pass
            try:
                await asyncio.wait_for(asyncio.shield(host.exited), grace)
            except asyncio.TimeoutError:
                pass
        if host.alive:
            host.terminate("the tab was closed")
            try:
                await asyncio.wait_for(asyncio.shield(host.exited), 5)
            except asyncio.TimeoutError:
                log.warning("renderer pid %s did not exit", host.pid)
        self.hub.forget(host)

    # -- renderers ----------------------------------------------------------------

    async def _spawn_renderer(self, tab: Tab, *, probe: str | None = None, policy=None) -> RendererHost:
        if not self.started:
            raise BrowserError("the browser is not started")
        token = secrets.token_urlsafe(24)
        log_path = self.runtime.log_path(f"renderer-{tab.id}-{next(self._spawn_ids)}.log")
        host = RendererHost(
            tab.id,
            token=token,
            log_path=log_path,
            send=self.hub.send,
            probe=probe is not None,
            events=self._ipc_event if self._ipc_subscribers else None,
        )
        self.hub.expect(host)
        request = protocol.SpawnRenderer(
            tab=tab.id,
            token=token,
            endpoint=self.runtime.endpoint,
            log_path=log_path,
            policy=policy or self.sandbox.policy(),
            probe=probe,
        )
        try:
            pid = await self.zygote.spawn(request)
        except (ZygoteError, asyncio.TimeoutError) as error:
            self.hub.forget(host)
            raise BrowserError(f"could not start a renderer: {error}") from None
        host.pid = pid
        self._hosts_by_pid[pid] = host
        self._tab_of_host[host] = tab
        try:
            await asyncio.wait_for(asyncio.shield(host.connected), 15)
        except RendererGone:
            detail = _last_log_message(host)
            if host.exit is not None and host.exit.code == protocol.ExitCode.SANDBOX_UNAVAILABLE and detail:
                # The renderer's own line already says what is missing and what to do.
                raise BrowserError(
                    f"cannot sandbox the renderer: {detail.removeprefix('sandbox unavailable: ')}"
                ) from None
            raise BrowserError(
                f"the renderer could not start: {host.exit.cause if host.exit else 'it exited'}"
                + (f" ({detail})" if detail else "")
            ) from None
        except asyncio.TimeoutError:
            host.terminate("it did not connect in time")
            raise BrowserError("the renderer did not connect to the broker in time") from None
        return host

    def _child_exited(self, message: protocol.ChildExited) -> None:
        host = self._hosts_by_pid.pop(message.pid, None)
        if host is None:
            return
        info = host.mark_exited(message.code, message.signal)
        self.sampler.forget(message.pid)
        if self.hub is not None:
            self.hub.forget(host)
        tab = self._tab_of_host.pop(host, None)
        if tab is not None:
            tab._renderer_exited(host, info)

    # -- events -------------------------------------------------------------------

    def subscribe(self, callback: Callable[[TabEvent], None]) -> Callable[[], None]:
        """Call ``callback`` on every lifecycle transition; returns an unsubscribe."""
        self._subscribers.append(callback)
        return lambda: self._subscribers.remove(callback)

    def subscribe_ipc(self, callback: Callable[[IpcEvent], None]) -> Callable[[], None]:
        """Call ``callback`` for every IPC message (for the IPC inspector)."""
        self._ipc_subscribers.append(callback)
        for host in self._hosts_by_pid.values():
            host._events = self._ipc_event
        return lambda: self._ipc_subscribers.remove(callback)

    def _publish(self, event: TabEvent) -> None:
        for callback in list(self._subscribers):
            try:
                callback(event)
            except Exception:  # noqa: BLE001
                log.exception("lifecycle subscriber failed")

    def _ipc_event(self, event: IpcEvent) -> None:
        for callback in list(self._ipc_subscribers):
            callback(event)

    # -- inspection -----------------------------------------------------------------

    def processes(self) -> list[ProcessInfo]:
        """The live process tree: broker, zygote, one renderer per live tab."""
        result = [ProcessInfo(os.getpid(), os.getppid(), "broker", state="running", title="minibrowser")]
        zygote_pid = self.zygote.pid if self.zygote is not None and self.zygote.process is not None else 0
        if zygote_pid:
            result.append(ProcessInfo(zygote_pid, os.getpid(), "zygote", state="running", title="zygote"))
        for tab in self.tabs:
            if tab.pid:
                result.append(
                    ProcessInfo(tab.pid, zygote_pid, "renderer", tab=tab.id, state=tab.state.value, title=tab.title)
                )
        return result

    # -- lifecycle ------------------------------------------------------------------

    def memory(self) -> MemoryTotals:
        """Memory of the renderers, the broker and the zygote at their last samples."""
        renderers = ZERO
        live = frozen = discarded = snapshot_bytes = 0
        for tab in self.tabs:
            if tab.state is TabState.DISCARDED:
                discarded += 1
                snapshot_bytes += tab.snapshot_bytes or 0
            elif tab.pid:
                live += 1
                frozen += tab.state is TabState.FROZEN
                renderers = renderers + (tab.memory or ZERO)
        broker = self.sampler.last(os.getpid())
        zygote = self.sampler.last(self.zygote.pid if self.zygote is not None else 0)
        return MemoryTotals(
            renderers=renderers,
            broker=broker.memory if broker else None,
            zygote=zygote.memory if zygote else None,
            live_renderers=live,
            frozen=frozen,
            discarded=discarded,
            snapshot_bytes=snapshot_bytes,
        )

    async def sample_now(self) -> None:
        """Measure every process whose last sample is over a second old (off the event loop)."""
        pids = [tab.pid for tab in self.tabs if tab.pid]
        pids.append(os.getpid())
        if self.zygote is not None and self.zygote.pid:
            pids.append(self.zygote.pid)
        await self.sampler.sample(pids)

    async def restore_session(self) -> list[Tab]:
        """Bring back, as discarded tabs, the snapshots a broker that was
        killed left in this profile.  Each is restored when activated."""
        rows = await asyncio.to_thread(self.profile.orphaned)
        tabs = []
        for row in rows:
            tab = Tab(self, self._new_tab_id(), self.width)
            await asyncio.to_thread(self.profile.adopt, row.session, row.tab, tab.id)
            tab.url, tab.title, tab.snapshot_bytes = row.url, row.title, row.size
            tab.frame = discarded_frame(row.url, row.title, tab.width)
            self.tabs.append(tab)
            tab._set_state(TabState.DISCARDED, "saved by a previous session")
            tabs.append(tab)
        await asyncio.to_thread(self.profile.forget_dead_sessions)
        return tabs

    async def _heartbeat_loop(self) -> None:
        """Ping every running renderer; one that does not answer within the
        timeout is unresponsive until it answers.  Frozen tabs are not pinged."""
        policy = self.policy
        step = min(policy.heartbeat_interval_s, policy.heartbeat_timeout_s / 5)
        while True:
            await asyncio.sleep(step)
            now = time.monotonic()
            for tab in self.tabs:
                host = tab.host
                if (host is None or not host.alive or host.routing_id is None or not tab._running.is_set()
                        or tab.state in (TabState.FROZEN, TabState.DISCARDED, TabState.CRASHED, TabState.CLOSED)):
                    continue
                if tab._heartbeat is None:
                    if now - tab._last_pong >= policy.heartbeat_interval_s:
                        tab._heartbeat_sent = now
                        tab._heartbeat = asyncio.create_task(tab._beat(host))
                elif now - tab._heartbeat_sent > policy.heartbeat_timeout_s and tab.state is not TabState.UNRESPONSIVE:
                    tab._hung(now - tab._heartbeat_sent)

    async def _policy_loop(self) -> None:
        """Measure the renderers (in a thread) and carry out the policy's decisions."""
        while True:
            # asyncio.wait, not wait_for: on 3.11 wait_for can swallow a
            # cancellation that races with the event, and shutdown would hang.
            waiter = asyncio.ensure_future(self._policy_wakeup.wait())
            try:
                await asyncio.wait({waiter}, timeout=self.policy.tick_interval_s)
            finally:
                waiter.cancel()
            self._policy_wakeup.clear()
            try:
                await self.sample_now()
                self._apply_policy()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - the policy must outlive one bad tick
                log.exception("lifecycle policy tick failed")

    def _apply_policy(self) -> None:
        now = time.monotonic()
        by_id = {tab.id: tab for tab in self.tabs}
        for decision in decide([tab._facts(now) for tab in self.tabs], self.policy):
            tab = by_id[decision.tab]
            tab._policy_busy = True
            task = asyncio.ensure_future(self._carry_out(tab, decision.action, decision.reason))
            task.add_done_callback(_log_task_failure)

    async def _carry_out(self, tab: Tab, action: Action, reason: str) -> None:
        outcome = "done"
        try:
            if action is Action.DISCARD:
                await tab.discard(reason=reason)
            else:
                await tab.freeze(reason=reason)
        except LifecycleRefused as refused:
            outcome = refused.reason.describe()
        except BrowserError as error:
            outcome = str(error)
        finally:
            tab._policy_busy = False
        self.decisions.append(LifecycleRecord(time.time(), tab.id, action.value, reason, outcome))


def _log_task_failure(task: asyncio.Future) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("lifecycle task failed: %s", task.exception())


def _last_log_message(host: RendererHost) -> str:
    tail = host.read_log_tail(1)
    if ": " in tail:
        tail = tail.split(": ", 1)[1]
    return tail.strip()
