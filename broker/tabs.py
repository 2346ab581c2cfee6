"""Tabs: navigation, history and the lifecycle of one tab, in the broker.

``TabImpl`` is the broker's record of a tab: the URL it committed, its
history, the frame its renderer last drew, and its lifecycle state.  Every
decision about a tab (which URL may load, which file may be read, what a
snapshot's URL is) is made from this record, never from what a renderer
reports.  The renderer behind a tab is a ``RendererHost`` owned by
``RendererProcesses``; the tab only observes it.  Which renderer a document
goes to is the process model's choice (``broker/process_model.py``, carried
out by ``BrowserImpl.renderer_for``): under the shared models a renderer
hosts documents of several tabs, and each load or restore commits a new
document (a broker-assigned id) there.

The public face of a tab is ``browser.api.Tab``.
"""

from __future__ import annotations

import asyncio
import enum
import html
import logging
import time
import urllib.parse
from dataclasses import dataclass
from typing import Protocol

from broker import frames as frame_tree
from broker.errors import BrowserError, LifecycleRefused, NoSuchLink, SandboxedFrame, TabClosed, TabCrashed
from broker.frames import Composed, FrameNode, FrameState, compose, drawn_frame, find_in_lines, sad_frame
from broker.host import ExitInfo, RendererGone, RendererHost, RendererTimeout, SiteLockError
from broker.lifecycle import (
    CrashHistory,
    DiscardRefusal,
    LifecyclePolicy,
    TabFacts,
    discard_refusal,
    freeze_refusal,
)
from broker.loader import LoadError, Loader, Response, normalize_url
from broker.memory import MemoryInfo, MemorySampler
from broker.pages import error_html
from broker.process_model import ProcessModel
from broker.processes import LaunchError, RendererProcesses, SandboxSettings
from broker.profile import Profile, ProfileError, StoredFrame, StoredHistoryEntry, StoredTab
from broker.safe_text import safe_frame, safe_line
from broker.sites import site_of
from broker.subresources import fetch_sheets
from renderer import protocol

log = logging.getLogger("minibrowser.broker")

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
    return safe_frame(protocol.Frame(url=url, title=title or url, width=width, lines=lines, kind="error"))


def discarded_frame(url: str, title: str, width: int) -> protocol.Frame:
    """What a discarded tab holds in the broker: a placeholder, not the page
    (the page is in the profile until the tab is activated)."""
    lines = [
        protocol.Line([protocol.Span("This tab was discarded to save memory.", protocol.Style.HEADING)]),
        protocol.Line([]),
        protocol.Line([protocol.Span(f"Page:  {url}")]),
        protocol.Line([protocol.Span("Activate it to bring it back as you left it, without the network.")]),
    ]
    return safe_frame(protocol.Frame(url=url, title=title or url, width=width, lines=lines, kind="discarded"))


def error_page(url: str, error: Exception) -> bytes:
    """An HTML page for a load that failed; the renderer lays it out like any page."""
    return error_html(url, error).encode("utf-8")


def binary_page(response: Response) -> bytes:
    return (
        "<!doctype html><html><head><title>Cannot display this file</title></head><body>"
        "<h1>Cannot display this file</h1>"
        f"<p>{html.escape(response.final_url)} is {html.escape(response.content_type or 'binary data')}"
        f" ({len(response.body)} bytes), which a text browser cannot show.</p>"
        "</body></html>"
    ).encode("utf-8")



@dataclass(frozen=True)
class TabEvent:
    """A lifecycle transition, published to every subscriber."""

    tab: int
    old: TabState
    new: TabState
    reason: str
    time: float



class TabOwner(Protocol):
    """What a tab asks of the browser kernel that owns it (``broker.kernel.BrowserImpl``).

    Written out so that the kernel's module and this one do not import each
    other: the kernel makes tabs, a tab only calls back through this.
    """

    loader: Loader
    profile: Profile
    processes: RendererProcesses
    process_model: ProcessModel
    sandbox: SandboxSettings
    sampler: MemorySampler
    policy: LifecyclePolicy
    request_timeout: float
    tabs: list[TabImpl]
    active_tab: TabImpl | None
    last_sandbox_report: list[protocol.SandboxLayer]

    async def renderer_for(self, tab: TabImpl, url: str | None) -> RendererHost: ...

    async def frame_renderer_for(self, tab: TabImpl, parent: RendererHost, site: str | None,
                                 parent_site: str | None) -> RendererHost: ...

    async def release(self, host: RendererHost, *, cause: str = ...) -> None: ...

    async def open_from_page(self, url: str, *, initiator: str) -> TabImpl: ...

    def publish(self, event: TabEvent) -> None: ...

    def make_active(self, tab: TabImpl) -> None: ...

    async def close_tab(self, tab: TabImpl) -> None: ...


class TabImpl:
    """One tab in the broker: its committed URL, its frame, its history, its
    lifecycle state; the observer of its renderer process."""

    def __init__(self, browser: TabOwner, tab_id: int, width: int) -> None:
        self.browser = browser
        self.id = tab_id
        self.width = width
        self.url = "about:blank"
        self.title = ""
        self.frame: protocol.Frame | None = None  # what the tab shows: the composed page
        self.top_frame: protocol.Frame | None = None  # the top document's own frame, as its renderer drew it
        self.subframes: dict[int, FrameNode] = {}  # the top document's frames, by slot
        self.frame_limits = frame_tree.DEFAULT_LIMITS
        self._composed: Composed | None = None
        self._frame_count = 0
        self.state = TabState.LOADING
        self.error: str | None = None  # last load error, one line
        self.crash_cause: str | None = None
        self.host: RendererHost | None = None
        self.document: int | None = None  # its document in ``host`` (the last one committed or being committed)
        self.history: list[HistoryEntry] = []
        self.history_index = -1
        self.timings = Timings()
        self.last_active = browser.clock()  # on the clock the policy sees
        self.shown = False  # it has been the active tab once (a later activation is a revisit)
        self.revisits = 0
        self.discard_count = 0
        self.auto_discardable = True  # automatic (proactive) discards allowed; chrome://discards' toggle
        self.worked_at = 0.0  # time.monotonic() when its renderer last did work for it (a page, input)
        self._lock = asyncio.Lock()
        # -- lifecycle
        self._pinned = False
        self._kept = False
        self.crashes = CrashHistory(browser.policy.crash_limit, browser.policy.crash_window_s)
        self.crash_loop = False  # crashed too often: no automatic restart
        self.snapshot_bytes: int | None = None  # size of its row in the profile while discarded
        self._discarding = False
        self.policy_busy = False  # a policy action for this tab is in flight
        self._end_cause: str | None = None  # set when the browser or the user ends the renderer
        self._state_before_hang: TabState | None = None
        self.public = None  # the one browser.api.Tab that shows this tab
        # Bumped by every navigation (fragments, Back and Forward included) and
        # restore: a UI then shows the frame at ``frame.scroll``, not where it was.
        self.navigation_id = 0
        # Compromise simulation: attacker code that replaces this tab's
        # renderer's message loop after lockdown (None for every real tab).
        self.compromised_by: str | None = None

    def __repr__(self) -> str:
        return f"<Tab {self.id} {self.state.value} {self.url!r}>"

    @property
    def pid(self) -> int | None:
        return self.host.pid if self.host is not None and self.host.alive else None

    @property
    def committed_url(self) -> str:
        """The URL of the document the broker committed to this tab: its own
        record, never what the renderer reports."""
        if 0 <= self.history_index < len(self.history):
            return self.history[self.history_index].url
        return self.url

    # -- the renderer ---------------------------------------------------------

    async def _renderer(self, url: str | None = None) -> RendererHost:
        """The renderer for this tab's next document at ``url`` (None: the URL
        does not matter, e.g. a process-level question): the process model
        decides whether it stays, moves into a live renderer or gets a new
        one.  The tab observes the renderer from here on."""
        if self.state is TabState.CLOSED:
            raise TabClosed(f"tab {self.id} is closed")
        started = time.perf_counter()
        try:
            host = await self.browser.renderer_for(self, url)
        except LaunchError as error:
            raise BrowserError(str(error)) from None
        if host is not self.host:
            self.timings.spawn_ms = (time.perf_counter() - started) * 1000
            if self.host is None or not self.host.alive:
                self.host = host  # nothing to move from: adopt it now (a move happens at commit)
        return host

    def _new_document(self, host: RendererHost) -> int:
        """Record a new document of this tab in ``host``; returns its id."""
        document = self.browser.processes.new_document_id()
        host.add_document(document, self.id, self)
        return document

    async def _commit(self, host: RendererHost, make, document: int) -> protocol.Frame:
        """Send the load or restore ``make(request)`` for ``document`` and, once
        it is answered, let go of the tab's previous document (and of its
        renderer, if this tab was the last in it)."""
        previous_host, previous = self.host, self.document
        self.host, self.document = host, document
        frame = await self._render(make)
        self.worked_at = time.monotonic()
        if previous is not None and previous_host is not None and previous != document:
            previous_host.remove_document(previous)
            if previous_host is not host:
                await self.browser.release(previous_host)
        return frame

    # -- what the renderer process tells its observer --------------------------

    def renderer_exited(self, host: RendererHost, info: ExitInfo) -> None:
        if host is not self.host and self.state is not TabState.CLOSED:
            self._frames_exited(host, info.cause)
            return
        if self.state is TabState.CLOSED:
            return
        cause, self._end_cause = self._end_cause or info.cause, None
        now = time.monotonic()
        self.crashes.record(now)
        self.crash_loop = self.crashes.looping(now)
        note = self.crashes.describe() if self.crash_loop else None
        self.crash_cause = cause
        self.set_state(TabState.CRASHED, cause + (f"; {note}" if note else ""))
        self.frame = sad_tab_frame(self.url, self.title, cause, self.width, note=note)

    def renderer_unresponsive(self, host: RendererHost, waited_s: float) -> None:
        if host is not self.host or self.state in (TabState.CLOSED, TabState.CRASHED):
            return
        self._state_before_hang = self.state
        self.set_state(TabState.UNRESPONSIVE, f"its renderer did not answer a heartbeat for {waited_s:.0f} s")

    def renderer_responsive(self, host: RendererHost) -> None:
        if self.state is not TabState.UNRESPONSIVE or host is not self.host:
            return
        back = self._state_before_hang
        if back is not TabState.LOADING or not self._lock.locked():
            back = self._settled_state()
        self.set_state(back, "the renderer answers again")

    def set_state(self, state: TabState, reason: str = "") -> None:
        if state is self.state:
            return
        old, self.state = self.state, state
        self.browser.publish(TabEvent(self.id, old, state, reason, time.time()))

    def _settled_state(self) -> TabState:
        return TabState.ACTIVE if self.browser.active_tab is self else TabState.BACKGROUND

    async def _ask(self, make):
        host = self.host if self.host is not None and self.host.alive else await self._renderer()
        await host.wait_running()  # a frozen renderer's messages wait here until it is thawed
        try:
            reply = await host.request(make, timeout=self.browser.request_timeout)
            self.worked_at = time.monotonic()
            return reply
        except RendererGone as gone:
            raise TabCrashed(str(gone)) from None
        except RendererTimeout as slow:
            # A renderer that does not answer is ended; the tab shows why.
            await self._end_renderer(host, f"its renderer did not answer in time ({slow})")
            raise TabCrashed(str(slow)) from None

    async def _end_renderer(self, host: RendererHost, cause: str) -> None:
        """End this tab's renderer now; the tab becomes crashed with ``cause``."""
        if host.alive:
            self._end_cause = cause
            host.terminate(cause)
            await asyncio.wait({host.exited}, timeout=5)

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

    async def open_from_page(self, url: str, *, initiator: str) -> protocol.Frame:
        """Load ``url`` as a page at ``initiator`` asked (a ``target=_blank`` link)."""
        async with self._lock:
            return await self._load(HistoryEntry(url), initiator=initiator)

    async def _load(self, entry: HistoryEntry, *, initiator: str | None, history: str = "push") -> protocol.Frame:
        if self.state is TabState.FROZEN:
            self.resume_renderer()
        if self.state is TabState.DISCARDED:
            await self.forget_snapshot()
        if history == "push":
            self._remember_scroll()
        self.set_state(TabState.LOADING, "navigation")
        await self._drop_subframes()
        self.url = entry.url
        self.error = None
        started = time.perf_counter()
        if entry.url == "about:sandbox":  # a live page: ask this tab's own renderer first
            try:
                await self.sandbox_report()
            except (BrowserError, RendererGone) as error:
                return self._spawn_failed(error)
        # Where the document goes may depend on its final URL (after
        # redirects): then the renderer is chosen once the response is in;
        # otherwise it starts while the page is fetched.
        by_site = self.browser.process_model.places_by_site
        spawn = None if by_site else asyncio.ensure_future(self._renderer())
        try:
            response = await self.browser.loader.load(
                entry.url, initiator=initiator, method=entry.method, form_body=entry.form_body
            )
        except LoadError as error:
            response = error
        self.timings.fetch_ms = (time.perf_counter() - started) * 1000
        if spawn is not None:
            try:
                await spawn
            except (BrowserError, RendererGone) as spawn_error:
                return self._spawn_failed(spawn_error)
        if isinstance(response, LoadError):
            await self._show_error(entry.url, response, history=history, entry=entry)
            return self.frame
        try:
            host = await self._renderer(response.final_url)
        except (BrowserError, RendererGone) as spawn_error:
            return self._spawn_failed(spawn_error)
        body, kind = response.body, response.kind
        if kind == "binary":
            body, kind = binary_page(response), "html"
        document = self._new_document(host)
        frame = await self._commit(host, lambda request: protocol.LoadDocument(
                document=document,
                request=request,
                url=response.final_url,
                content_type=response.content_type,
                charset=response.charset,
                body=body,
                kind=kind,
                width=self.width,
                unsandboxed=not self.browser.sandbox.enabled,
            ), document)
        self.timings.first_frame_ms = (time.perf_counter() - started) * 1000
        fragment = entry.url.partition("#")[2] if "#" in entry.url else None
        entry.url = response.final_url
        if fragment is not None and "#" not in entry.url:  # a redirect keeps the fragment (HTML, RFC 9110)
            entry.url += "#" + fragment
        self._record(entry, history)
        await self._load_subframes()
        self.timings.first_frame_ms = (time.perf_counter() - started) * 1000  # with its frames
        self._place_view(entry)
        return self.frame

    def _spawn_failed(self, error: Exception) -> protocol.Frame:
        cause = str(error)
        self.error = cause
        self.crash_cause = cause
        self.set_state(TabState.CRASHED, cause)
        self.frame = sad_tab_frame(self.url, self.title, cause, self.width)
        return self.frame

    async def _render(self, make) -> protocol.Frame:
        try:
            reply = await self._ask(make)
            rounds = 0
            while isinstance(reply, protocol.SheetsWanted):
                rounds += 1
                if rounds > protocol.MAX_SHEET_ROUNDS:
                    host = self.host
                    await self._end_renderer(host, "its renderer asked for style sheets past the protocol's limit")
                    raise TabCrashed("style sheets asked for past the limit")
                reply = await self._ask_with_sheets(reply)
        except TabCrashed:
            return self.frame  # _renderer_exited has put up the sad tab
        self._apply_frame(reply.frame)
        return self.frame

    async def _ask_with_sheets(self, wanted: protocol.SheetsWanted):
        """Fetch the style sheets the document being loaded asked for, by the
        rules for the page the broker committed (``broker/subresources.py``),
        and hand them over: the answer is its first frame, or the sheets
        these ``@import`` (at most ``protocol.MAX_SHEET_ROUNDS`` rounds)."""
        page_url = self.host.committed_url(wanted.document) if self.host is not None else None
        sheets = await fetch_sheets(self.browser.loader, page_url, wanted.urls) if page_url else []
        return await self._ask(lambda request: protocol.LoadSheets(
            document=wanted.document, request=request, sheets=sheets))

    def _apply_frame(self, frame: protocol.Frame) -> None:
        # The one door by which a renderer's frame enters the tab's record.
        self.top_frame = frame = safe_frame(frame)
        self._recompose()
        self.title = frame.title
        self.crash_cause = None  # a renderer drew the page: whatever ended the last one is over
        self.set_state(self._settled_state(), "loaded")

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
            host = await self._renderer(url)
        except (BrowserError, RendererGone) as spawn_error:
            self._spawn_failed(spawn_error)
            return
        document = self._new_document(host)
        await self._commit(host, lambda request: protocol.LoadDocument(
                document=document,
                request=request,
                url=url,
                content_type="text/html",
                charset="utf-8",
                body=error_page(url, error),
                kind="error",
                width=self.width,
                unsandboxed=not self.browser.sandbox.enabled,
            ), document)
        self._record(entry or HistoryEntry(url), history)

    async def _debug(self, action: str) -> protocol.Frame:
        host = self.host if self.host is not None and self.host.alive else await self._renderer()
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
        # The initiator is the document the broker committed, not the URL the renderer reports.
        return await self._load(entry, initiator=self.committed_url)

    # -- frames -------------------------------------------------------------------

    def _recompose(self) -> None:
        """The page the tab shows: the top frame with its frames spliced in."""
        if self.top_frame is None:
            return
        if not self.subframes:
            self._composed = None
            self.frame = self.top_frame
            return
        scroll = self.frame.scroll if self.frame is not None else 0
        self._composed = compose(self.top_frame, self.subframes)
        self.frame = self._composed.frame
        self.frame.scroll = min(scroll, max(0, len(self.frame.lines) - 1))

    @property
    def frames(self) -> list[FrameNode]:
        """Every subframe, parents first."""
        return list(frame_tree.walk(self.subframes))

    async def _load_subframes(self) -> None:
        """Load the frames the top document's slots ask for, replacing the tab's old ones."""
        await self._drop_subframes()
        top, host = self.top_frame, self.host
        if top is None or not top.slots or host is None or not host.alive or self.error is not None:
            return
        url = host.committed_url(self.document) or self.committed_url
        self.subframes = await self._load_children(top, None, host, url, url, depth=1, ancestors=[url])
        self._recompose()

    async def _load_children(self, frame: protocol.Frame, parent: FrameNode | None, host: RendererHost,
                             url: str, policy_url: str, *, depth: int, ancestors: list[str]) -> dict[int, FrameNode]:
        """The frames ``frame`` (at ``url``, in ``host``) embeds, loaded together.
        ``policy_url``: the URL the navigation policy sees as their initiator
        (a srcdoc frame's is its parent's)."""
        children: dict[int, FrameNode] = {}
        loads = []
        parent_site = parent.site if parent is not None else site_of(url)
        for slot in frame.slots:
            node = FrameNode(id=0, index=slot.index, url=slot.src, depth=depth, parent=parent,
                             sandboxed=slot.sandboxed)
            children[slot.index] = node
            width = max(1, min(slot.columns, frame.width))
            why = frame_tree.refusal(slot.src, depth=depth, count=self._frame_count, ancestors=ancestors,
                                     limits=self.frame_limits)
            if why is not None:
                node.state, node.cause = FrameState.BLOCKED, why
                node.frame = drawn_frame(slot.src, width, "This frame was not loaded.", [why])
                continue
            self._frame_count += 1
            loads.append(self._load_frame(node, slot, width, host, parent_site, policy_url, ancestors))
        await asyncio.gather(*loads)
        return children

    async def _load_frame(self, node: FrameNode, slot: protocol.FrameSlot, width: int, parent_host: RendererHost,
                          parent_site: str | None, policy_url: str, ancestors: list[str],
                          *, target: HistoryEntry | None = None) -> None:
        """Commit one frame: the loader fetches it by the rules for a page at
        ``policy_url`` (a failure is drawn in the slot), the placement
        function picks its renderer, which lays it out at the slot's width."""
        url = target.url if target is not None else slot.src
        content_type, charset, kind = "text/html", "utf-8", "html"
        if url == "about:srcdoc" and target is None:
            body = slot.srcdoc.encode("utf-8")
        elif url in frame_tree.INHERITING_URLS:
            body = b""
        else:
            try:
                response = await self.browser.loader.load(
                    url, initiator=policy_url, method=target.method if target else "GET",
                    form_body=target.form_body if target else "")
            except LoadError as error:
                node.state, node.cause, node.url = FrameState.BLOCKED, str(error), url
                node.frame = drawn_frame(url, width, "This frame could not be loaded.", [str(error)])
                return
            why = frame_tree.refusal(response.final_url, depth=node.depth, count=0, ancestors=ancestors,
                                     limits=self.frame_limits)
            if why is not None:  # a redirect back to an ancestor
                node.state, node.cause, node.url = FrameState.BLOCKED, why, response.final_url
                node.frame = drawn_frame(response.final_url, width, "This frame was not loaded.", [why])
                return
            url, body, kind = response.final_url, response.body, response.kind
            content_type, charset = response.content_type, response.charset
            if kind == "binary":
                body, kind = binary_page(response), "html"
        node.url = url
        node.site = frame_tree.placement_site(url, parent_site)
        if url in frame_tree.INHERITING_URLS:
            node.inherited_origin = node.parent.origin if node.parent is not None else frame_tree.origin_of(policy_url)
        try:
            host = await self.browser.frame_renderer_for(self, parent_host, node.site, parent_site)
        except (LaunchError, RendererGone) as error:
            node.state, node.cause = FrameState.CRASHED, str(error)
            node.frame = sad_frame(url, str(error), width)
            return
        document = self.browser.processes.new_document_id()
        host.add_document(document, self.id, self, frame=True, lock_exempt=host is parent_host)
        node.id, node.host = document, host
        unsandboxed = not self.browser.sandbox.enabled
        try:
            reply = await self._frame_request(host, lambda request: protocol.LoadDocument(
                document=document, request=request, url=url, content_type=content_type, charset=charset,
                body=body, kind=kind, width=width, unsandboxed=unsandboxed))
        except (RendererGone, RendererTimeout, SiteLockError, TabCrashed) as error:
            node.state, node.cause = FrameState.CRASHED, str(error)
            node.frame = sad_frame(url, str(error), width)
            return
        node.state, node.frame = FrameState.LOADED, safe_frame(reply.frame)
        if node.frame.slots:
            policy = policy_url if frame_tree.inherits_origin(url) else url
            node.children = await self._load_children(node.frame, node, host, url, policy, depth=node.depth + 1,
                                                      ancestors=[*ancestors, url])

    async def _frame_request(self, host: RendererHost, make):
        """A request to a frame's renderer that answers with a frame (fetching
        the style sheets it asks for on the way)."""
        await host.wait_running()
        reply = await host.request(make, timeout=self.browser.request_timeout)
        rounds = 0
        while isinstance(reply, protocol.SheetsWanted):
            rounds += 1
            if rounds > protocol.MAX_SHEET_ROUNDS:
                host.terminate("its renderer asked for style sheets past the protocol's limit")
                raise TabCrashed("style sheets asked for past the limit")
            wanted = reply
            page_url = host.committed_url(wanted.document)
            sheets = await fetch_sheets(self.browser.loader, page_url, wanted.urls) if page_url else []
            reply = await host.request(lambda request: protocol.LoadSheets(
                document=wanted.document, request=request, sheets=sheets), timeout=self.browser.request_timeout)
        self.worked_at = time.monotonic()
        return reply

    async def _snapshot_frames(self, timeout: float) -> list[StoredFrame]:
        """Each subframe's document as its renderer saves it (form input,
        scroll), parents first, for a discard; a frame whose renderer cannot
        answer is stored without one and loaded again on restore."""
        stored = []
        for node in self.frames:
            path = [frame.index for frame in reversed(self._chain(node))]
            snapshot = None
            if node.state == FrameState.LOADED and node.host is not None and node.host.alive and node.id:
                try:
                    reply = await node.host.request(lambda request, node=node: protocol.TakeSnapshot(
                        document=node.id, request=request), timeout=timeout)
                    snapshot = reply.snapshot
                    snapshot.url = node.url  # the broker's word, not the renderer's
                except (RendererGone, RendererTimeout):
                    snapshot = None
            stored.append(StoredFrame(path=path, url=node.url, site=node.site, sandboxed=node.sandboxed,
                                      state=node.state, cause=node.cause, inherited_origin=node.inherited_origin,
                                      snapshot=snapshot))
        return stored

    async def _restore_frames(self, stored: list[StoredFrame]) -> None:
        """Bring the frame tree back from a discard: each frame's snapshot
        into the renderer placement picks now (no network); a frame stored
        without one is loaded again."""
        await self._drop_subframes()
        top, host = self.top_frame, self.host
        if top is None or host is None or not host.alive:
            return
        top_url = host.committed_url(self.document) or self.committed_url
        by_path: dict[tuple[int, ...], FrameNode] = {}
        for record in stored:
            path = tuple(record.path)
            parent = by_path.get(path[:-1]) if len(path) > 1 else None
            if len(path) > 1 and parent is None:
                continue
            parent_frame = parent.frame if parent is not None else top
            slot = next((s for s in parent_frame.slots if s.index == path[-1]), None) if parent_frame else None
            if slot is None:
                continue
            node = FrameNode(id=0, index=slot.index, url=record.url, depth=len(path), parent=parent,
                             site=record.site, sandboxed=record.sandboxed, state=record.state, cause=record.cause,
                             inherited_origin=record.inherited_origin)
            (parent.children if parent is not None else self.subframes)[slot.index] = node
            by_path[path] = node
            self._frame_count += 1
            width = max(1, min(slot.columns, parent_frame.width))
            parent_host = parent.host if parent is not None else host
            parent_site = parent.site if parent is not None else site_of(top_url)
            if record.snapshot is None or parent_host is None or not parent_host.alive:
                heading = "This frame was not loaded." if record.state == FrameState.BLOCKED else \
                    "Aw, snap! This frame's renderer stopped."
                node.frame = drawn_frame(record.url, width, heading, [record.cause or "it was not saved"])
                continue
            try:
                frame_host = await self.browser.frame_renderer_for(self, parent_host, node.site, parent_site)
                document = self.browser.processes.new_document_id()
                frame_host.add_document(document, self.id, self, frame=True, lock_exempt=frame_host is parent_host)
                node.id, node.host = document, frame_host
                snapshot = record.snapshot
                snapshot.width = width
                reply = await self._frame_request(frame_host, lambda request: protocol.RestoreSnapshot(
                    document=document, request=request, snapshot=snapshot,
                    unsandboxed=not self.browser.sandbox.enabled))
                node.frame = safe_frame(reply.frame)
            except (LaunchError, RendererGone, RendererTimeout, SiteLockError, TabCrashed) as error:
                node.state, node.cause = FrameState.CRASHED, str(error)
                node.frame = sad_frame(record.url, str(error), width)
        self._recompose()

    async def _drop_subframes(self) -> None:
        """Every subframe leaves its renderer (which ends if it hosts nothing else)."""
        nodes = self.frames
        self.subframes, self._composed, self._frame_count = {}, None, 0
        hosts: list[RendererHost] = []
        for node in nodes:
            if node.host is not None and node.id:
                node.host.remove_document(node.id)
                hosts.append(node.host)
        for host in dict.fromkeys(hosts):
            if host is not self.host:
                await self.browser.release(host, cause="the page that embedded its frames went away")

    def _frames_exited(self, host: RendererHost, cause: str) -> None:
        """A renderer that hosted some of this tab's frames ended: each shows
        a sad frame in its slot, and the rest of the page stays."""
        hit = False
        for node in self.frames:
            if node.host is host:
                width = node.frame.width if node.frame is not None else 40
                node.state, node.cause, node.host = FrameState.CRASHED, cause, None
                node.frame = sad_frame(node.url, cause, width)  # no slots: its children are not shown
                hit = True
        if hit:
            self._recompose()

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

    def _owner_of(self, number: int, *, field: bool = False) -> tuple[FrameNode | None, int]:
        """The frame that holds composed link (or field) ``number``, and the
        number its own renderer knows (None: the top frame)."""
        if self._composed is None:
            return None, number
        table = self._composed.fields if field else self._composed.links
        return table.get(number, (None, 0))

    async def _ask_frame(self, node: FrameNode, make):
        if node.host is None or not node.host.alive:
            raise TabCrashed(f"the renderer of the frame {node.url} has ended")
        try:
            return await self._frame_request(node.host, make)
        except (RendererGone, RendererTimeout) as error:
            raise TabCrashed(str(error)) from None

    async def follow(self, number: int) -> protocol.Frame:
        """Follow link ``[number]`` (numbered across the composed page; a link
        in a frame navigates that frame).  A navigation the page may not make
        (a web page opening a local file) raises NavigationRefused."""
        async with self._lock:
            if self.frame is None or not any(link.number == number for link in self.frame.links):
                raise NoSuchLink(f"there is no link [{number}] on this page")
            node, local = self._owner_of(number)
            target = next(link.target for link in self.frame.links if link.number == number)
            if node is None:
                reply = await self._ask(lambda request: protocol.FollowLink(
                    document=self.document, request=request, number=local))
                if not isinstance(reply, protocol.NavigateRequest):
                    return self.frame
                if target == protocol.LinkTarget.BLANK:
                    await self.browser.open_from_page(reply.url, initiator=self.committed_url)
                    return self.frame
                return await self._navigate_from_page(reply)
            reply = await self._ask_frame(node, lambda request: protocol.FollowLink(
                document=node.id, request=request, number=local))
            if not isinstance(reply, protocol.NavigateRequest):
                return self.frame
            if target == protocol.LinkTarget.BLANK:
                await self.browser.open_from_page(reply.url, initiator=self._policy_url(node))
                return self.frame
            if target == protocol.LinkTarget.PARENT and node.parent is not None:
                await self._navigate_frame(node.parent, reply)
                return self.frame
            if target in (protocol.LinkTarget.TOP, protocol.LinkTarget.PARENT):
                if any(frame.sandboxed for frame in self._chain(node)):
                    raise SandboxedFrame(f"the sandboxed frame at {safe_line(node.url)} may not navigate the top page")
                entry = HistoryEntry(reply.url, method=reply.method, form_body=reply.form_body)
                return await self._load(entry, initiator=self._policy_url(node))
            await self._navigate_frame(node, reply)
            return self.frame

    async def set_field(self, field_id: int, *, value: str | None = None, checked: bool | None = None) -> protocol.Frame:
        """Type into, tick or choose in form control ``field_id`` (a checkbox
        or radio with neither ``value`` nor ``checked`` toggles)."""
        async with self._lock:
            node, local = self._owner_of(field_id, field=True)
            make = lambda document: lambda request: protocol.SetField(  # noqa: E731
                document=document, request=request, field=local, value=value, checked=checked)
            if node is not None:
                reply = await self._ask_frame(node, make(node.id))
                node.frame = safe_frame(reply.frame)
                self._recompose()
                return self.frame
            reply = await self._ask(make(self.document))
            self._apply_frame(reply.frame)
            return self.frame

    async def press(self, field_id: int) -> protocol.Frame:
        """Press button ``field_id``: a submit button sends its form (a form in
        a frame navigates that frame)."""
        async with self._lock:
            node, local = self._owner_of(field_id, field=True)
            if node is not None:
                reply = await self._ask_frame(node, lambda request: protocol.PressField(
                    document=node.id, request=request, field=local))
                if isinstance(reply, protocol.NavigateRequest):
                    await self._navigate_frame(node, reply)
                else:
                    node.frame = safe_frame(reply.frame)
                    self._recompose()
                return self.frame
            reply = await self._ask(lambda request: protocol.PressField(document=self.document, request=request, field=local))
            if isinstance(reply, protocol.NavigateRequest):
                return await self._navigate_from_page(reply)
            self._apply_frame(reply.frame)
            return self.frame

    async def _navigate_frame(self, node: FrameNode, request: protocol.NavigateRequest) -> None:
        """The page in frame ``node`` asked to go to ``request.url``: that frame
        navigates, by the rules for a page at the URL the broker committed
        there (never the one the renderer names), and is placed again."""
        parent = node.parent
        parent_frame = parent.frame if parent is not None else self.top_frame
        parent_host = parent.host if parent is not None else self.host
        top_url = self.host.committed_url(self.document) if self.host is not None else None
        parent_url = parent.url if parent is not None else (top_url or self.committed_url)
        parent_site = parent.site if parent is not None else site_of(parent_url)
        slot = next((s for s in (parent_frame.slots if parent_frame else []) if s.index == node.index), None)
        if slot is None or parent_host is None or not parent_host.alive:
            return
        ancestors = [a.url for a in self._ancestors(node)]
        policy_url = self._policy_url(node)
        fresh = FrameNode(id=0, index=node.index, url=request.url, depth=node.depth, parent=parent,
                          sandboxed=node.sandboxed)
        width = node.frame.width if node.frame is not None else slot.columns
        await self._load_frame(fresh, slot, width, parent_host, parent_site, policy_url, ancestors,
                               target=HistoryEntry(request.url, method=request.method, form_body=request.form_body))
        (parent.children if parent is not None else self.subframes)[node.index] = fresh
        hosts = []
        for old in node.walk():
            if old.host is not None and old.id:
                old.host.remove_document(old.id)
                hosts.append(old.host)
        for host in dict.fromkeys(hosts):
            if host is not self.host:
                await self.browser.release(host, cause="its frame navigated elsewhere")
        self._recompose()

    def _chain(self, node: FrameNode) -> list[FrameNode]:
        """``node`` and every frame above it (the top frame not included)."""
        chain = []
        while node is not None:
            chain.append(node)
            node = node.parent
        return chain

    def _policy_url(self, node: FrameNode) -> str:
        """The URL a navigation from frame ``node`` is judged as coming from:
        its committed URL, or for a srcdoc/about:blank frame its nearest
        ancestor's that has one of its own (the top page's at last)."""
        for frame in self._chain(node):
            if not frame_tree.inherits_origin(frame.url):
                return frame.url
        top = self.host.committed_url(self.document) if self.host is not None else None
        return top or self.committed_url

    def _ancestors(self, node: FrameNode) -> list[FrameNode]:
        """The top frame (as a pseudo-node with the committed URL) and every
        frame above ``node``, outermost first."""
        chain = []
        parent = node.parent
        while parent is not None:
            chain.append(parent)
            parent = parent.parent
        top_url = self.host.committed_url(self.document) if self.host is not None else None
        return [FrameNode(id=self.document or 0, index=0, url=top_url or self.committed_url, depth=0),
                *reversed(chain)]

    async def find(self, query: str) -> list[tuple[int, int, int]]:
        """Matches as ``(line, column, length)``.  A page with frames is
        searched in the broker, on the composed page the user sees (no
        renderer holds all of it)."""
        async with self._lock:
            if self._composed is not None and self.frame is not None:
                return find_in_lines([line.text for line in self.frame.lines], query)
            reply = await self._ask(lambda request: protocol.Find(document=self.document, request=request, query=query))
            if reply.frame is not None:
                self.frame = safe_frame(reply.frame)
            return reply.matches

    async def resize(self, width: int) -> protocol.Frame:
        async with self._lock:
            self.width = width
            if self.host is None or not self.host.alive or self.frame is None:
                return self.frame
            reply = await self._ask(lambda request: protocol.Resize(document=self.document, request=request, width=width))
            self._apply_frame(reply.frame)
            return self.frame

    def scroll_to(self, line: int) -> None:
        if self.frame is not None:
            self.frame.scroll = line
        if self.host is not None and self.host.alive:
            self.host.send(protocol.ScrollTo(document=self.document, line=line))

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

    async def ping(self, *, timeout: float) -> float:
        """One heartbeat round trip to the renderer, in milliseconds."""
        host = await self._renderer()
        await host.wait_running()
        try:
            return await host.ping(timeout=timeout)
        except (RendererGone, RendererTimeout) as error:
            raise TabCrashed(str(error)) from None

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

    @property
    def discarding(self) -> bool:
        """A discard is under way: its renderer is saving the tab and will end."""
        return self._discarding

    def measured_uss(self) -> int | None:
        sample = self.browser.sampler.last(self.pid)
        return sample.memory.uss if sample is not None and sample.memory is not None else None

    def measured_since_work(self) -> bool:
        """Whether its renderer's last sample was taken after it last worked for it (loaded, typed)."""
        sample = self.browser.sampler.last(self.pid)
        return sample is not None and sample.memory is not None and sample.time >= self.worked_at

    def facts(self, now: float, *, sharing: int = 1, estimate: int | None = None) -> TabFacts:
        """What the policy knows of this tab: its renderer's memory split
        between the ``sharing`` tabs in it; a renderer not measured since it
        last worked for the tab at no less than ``estimate``."""
        active = self.browser.active_tab is self
        busy = self._lock.locked() or self._discarding or self.policy_busy
        uss = None
        if not self._discarding and self.pid is not None:
            uss = self.measured_uss()
            if estimate is not None and (uss is None or not self.measured_since_work()):
                uss = max(uss or 0, estimate)  # measured before its page grew it: at least the estimate
            if uss is not None:
                uss //= max(1, sharing)
        return TabFacts(
            id=self.id,
            state=self.state.value,
            active=active,
            pinned=self._pinned,
            kept=self._kept,
            has_document=self.frame is not None and self.host is not None and self.host.alive,
            busy=busy,
            idle_s=0.0 if active else max(0.0, now - self.last_active),
            uss=uss,
            revisits=self.revisits,
            renderer=self.pid,
            auto_discardable=self.auto_discardable,
        )

    def discard_refusal(self, *, urgent: bool = True) -> DiscardRefusal | None:
        """Why this tab may not be discarded now, or None (``urgent=False``: as
        the policy would discard it, respecting its auto-discardable switch)."""
        return discard_refusal(self.facts(self.browser.clock()), urgent=urgent)

    def freeze_refusal(self) -> DiscardRefusal | None:
        """Why this tab may not be frozen now, or None."""
        return freeze_refusal(self.facts(self.browser.clock()))

    async def freeze(self, *, reason: str = "frozen by the user") -> None:
        """Stop the renderer (SIGSTOP): no CPU; messages for it wait until it is
        thawed.  A renderer shared with tabs that are not frozen keeps running."""
        if (refusal := self.freeze_refusal()) is not None:
            raise LifecycleRefused(self.id, "frozen", refusal)
        async with self._lock:  # let a request in flight finish first
            if (refusal := self.freeze_refusal()) is not None:
                raise LifecycleRefused(self.id, "frozen", refusal)
            if self.host is None or not self.host.alive:
                raise LifecycleRefused(self.id, "frozen", DiscardRefusal.NO_DOCUMENT)
            # A shared renderer is stopped only when every tab it hosts is frozen.
            host = self.host
            others = [tab for tab in self.browser.tabs if tab is not self and tab.host is host]
            if all(tab.state is TabState.FROZEN for tab in others) and not await host.stop():
                return  # it is gone; its exit makes the tab crashed
            self.set_state(TabState.FROZEN, reason)

    async def unfreeze(self, *, reason: str = "thawed by the user") -> None:
        """Let a frozen renderer run again (SIGCONT); waiting messages are delivered."""
        if self.state is not TabState.FROZEN:
            return
        self.resume_renderer()
        self.set_state(self._settled_state(), reason)

    def resume_renderer(self) -> None:
        if self.host is not None:
            self.host.resume()

    async def discard(self, *, reason: str = "discarded by the user", urgent: bool = True) -> None:
        """Swap the tab out: its renderer writes a snapshot, the broker stores it
        in the profile, and the process is ended.  The tab keeps its title.
        ``urgent=False`` is a proactive discard, as the policy makes: refused
        for a tab whose auto-discardable switch is off."""
        if (refusal := self.discard_refusal(urgent=urgent)) is not None:
            raise LifecycleRefused(self.id, "discarded", refusal)
        self._discarding = True
        try:
            if self.state is TabState.FROZEN:
                self.resume_renderer()  # it must run to write its snapshot
            async with self._lock:
                self._discarding = False
                if (refusal := self.discard_refusal(urgent=urgent)) is not None:
                    raise LifecycleRefused(self.id, "discarded", refusal)
                self._discarding = True
                await self._swap_out(reason)
        finally:
            self._discarding = False

    async def _swap_out(self, reason: str) -> None:
        host = self.host
        timeout = max(10.0, self.browser.policy.heartbeat_timeout_s)
        try:
            reply = await host.request(lambda request: protocol.TakeSnapshot(document=self.document, request=request),
                                       timeout=timeout)
        except (RendererGone, RendererTimeout) as error:
            raise BrowserError(f"tab {self.id} could not save its state: {error}") from None
        snapshot = reply.snapshot
        frames = await self._snapshot_frames(timeout)
        if self.history and 0 <= self.history_index < len(self.history):
            snapshot.url = self.history[self.history_index].url  # the broker's word, not the renderer's
        stored = StoredTab(
            snapshot=snapshot,
            history=[StoredHistoryEntry(e.url, e.method, e.form_body, e.title) for e in self.history],
            history_index=self.history_index,
            pinned=self._pinned,
            kept=self._kept,
            width=self.width,
            frames=frames,
        )
        try:
            self.snapshot_bytes = await self.browser.profile.save_async(self.id, stored)
        except ProfileError as error:
            raise BrowserError(f"tab {self.id} could not be discarded: {error}") from None
        # Committed: from here on the tab can always be restored.
        # The document leaves its renderer, which ends if it hosts nothing else.
        await self._drop_subframes()
        self.host, self.document = None, None  # its exit is not a crash
        host.remove_tab(self.id)
        await self.browser.release(host, cause="the tab was discarded")
        self.frame = discarded_frame(self.committed_url, self.title, self.width)
        self.discard_count += 1
        self.set_state(TabState.DISCARDED, reason)

    async def activate(self) -> protocol.Frame | None:
        """Make this the active tab: a discarded tab is restored from its
        snapshot (no network), a frozen one thawed, a crashed one reloaded
        (unless it keeps crashing)."""
        self.browser.make_active(self)
        return await self.wake()

    async def wake(self) -> protocol.Frame | None:
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
            self.set_state(TabState.LOADING, "restoring from the profile")
            load = asyncio.ensure_future(self.browser.profile.load_async(self.id))
            spawn = asyncio.ensure_future(self._renderer(self.committed_url))
            try:
                stored = await load
            except ProfileError as error:
                stored = None
                log.warning("%s", error)
            try:
                host = await spawn
            except (BrowserError, RendererGone) as spawn_error:
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
            document = self._new_document(host)
            frame = await self._commit(host, lambda request: protocol.RestoreSnapshot(
                document=document, request=request, snapshot=snapshot, unsandboxed=unsandboxed), document)
            if stored.frames:
                await self._restore_frames(stored.frames)
            else:
                await self._load_subframes()
            self.navigation_id += 1  # back where the user left it: the snapshot's scroll
            self.timings.restore_ms = (time.perf_counter() - started) * 1000
            if self.state is not TabState.CRASHED:
                await self.forget_snapshot()
            return frame

    async def forget_snapshot(self) -> None:
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

    async def close(self) -> None:
        if self.state is TabState.CLOSED:
            return
        self.set_state(TabState.CLOSED, "closed")
        await self._drop_subframes()
        await self.browser.close_tab(self)


