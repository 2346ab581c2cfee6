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
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from broker.host import ExitInfo, IpcEvent, RendererGone, RendererHost, RendererTimeout
from broker.ipc import IpcHub
from broker.runtime import RuntimeDir
from broker.zygote_client import ColdSpawner, ZygoteClient, ZygoteError
from browser import about
from browser.loader import LoadError, Loader, NavigationRefused, Response, normalize_url
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


@dataclass
class Timings:
    fetch_ms: float | None = None
    spawn_ms: float | None = None
    first_frame_ms: float | None = None


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


def sad_tab_frame(url: str, title: str, cause: str, width: int) -> protocol.Frame:
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
    return protocol.Frame(url=url, title=title or url, width=width, lines=lines, kind="error")


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
        self.crash_cause = info.cause
        self._set_state(TabState.CRASHED, info.cause)
        self.frame = sad_tab_frame(self.url, self.title, info.cause, self.width)

    def _set_state(self, state: TabState, reason: str = "") -> None:
        if state is self.state:
            return
        old, self.state = self.state, state
        self.browser._publish(TabEvent(self.id, old, state, reason, time.time()))

    def _settled_state(self) -> TabState:
        return TabState.ACTIVE if self.browser.active_tab is self else TabState.BACKGROUND

    async def _ask(self, make, *, timeout: float = 30.0):
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
            return await self._load(HistoryEntry(target), initiator=None)

    async def _load(self, entry: HistoryEntry, *, initiator: str | None, history: str = "push") -> protocol.Frame:
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
        entry.url = response.final_url
        self._record(entry, history)
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
        return await self._load(entry, initiator=self.final_url)

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

    async def set_field(self, field_id: int, *, value: str = "", checked: bool = False) -> protocol.Frame:
        """Type into, tick or press form control ``field_id``."""
        async with self._lock:
            reply = await self._ask(
                lambda request: protocol.SetField(request=request, field=field_id, value=value, checked=checked)
            )
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
            self.history_index = index
            entry = self.history[index]
            return await self._load(HistoryEntry(entry.url, entry.method, entry.form_body), initiator=None, history="replace")

    async def reload(self) -> protocol.Frame | None:
        async with self._lock:
            if not self.history:
                return await self._load(HistoryEntry(self.url), initiator=None)
            entry = self.history[self.history_index]
            return await self._load(HistoryEntry(entry.url, entry.method, entry.form_body), initiator=None, history="replace")

    async def sandbox_report(self) -> list[protocol.SandboxLayer]:
        """The sandbox of this tab's renderer, layer by layer, as it sees it."""
        reply = await self._ask(lambda request: protocol.ReportSandbox(request=request))
        self.browser.last_sandbox_report = reply.layers
        return reply.layers

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

    async def shutdown(self) -> None:
        for tab in list(self.tabs):
            tab._set_state(TabState.CLOSED, "browser shutdown")
        self.tabs.clear()
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
        return tab

    def activate(self, tab: Tab) -> None:
        previous, self.active_tab = self.active_tab, tab
        tab.last_active = time.monotonic()
        if previous is not None and previous is not tab and previous.state is TabState.ACTIVE:
            previous._set_state(TabState.BACKGROUND, "another tab was activated")
        if tab.state is TabState.BACKGROUND:
            tab._set_state(TabState.ACTIVE, "activated")

    async def _close_tab(self, tab: Tab) -> None:
        if tab in self.tabs:
            self.tabs.remove(tab)
        if self.active_tab is tab:
            self.active_tab = self.tabs[-1] if self.tabs else None
            if self.active_tab is not None:
                self.activate(self.active_tab)
        host, tab.host = tab.host, None
        if host is not None:
            await self._end_renderer(host)

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


def _last_log_message(host: RendererHost) -> str:
    tail = host.read_log_tail(1)
    if ": " in tail:
        tail = tail.split(": ", 1)[1]
    return tail.strip()
