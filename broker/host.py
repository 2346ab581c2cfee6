"""RendererHost: the broker's handle on one renderer process.

It sends requests and matches their replies, counts the traffic, and ends
the process: for a bad message (``received_bad_message(reason)``, the
reason is kept for the sad-tab page) or because the browser is done with it
(``terminate(cause)``).  It never looks inside page content: frames are
data to pass on, not documents to parse.

It also keeps the broker's own record of what it committed to its renderer:
the documents it hosts (:class:`DocumentRecord`: document id -> tab, the
committed URL and its site) and the site the process is locked to
(:attr:`RendererHost.lock`, Chromium's process lock).  Every answer must
name a document of that record, the one its request was about; every frame
must name that document's committed URL; a locked renderer's must be of its
site.  Policy decides from the record, never from a frame.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import msgspec

from broker.bad_message import BadMessage
from broker.sites import site_of
from renderer import protocol
from renderer.protocol import ExitCode

log = logging.getLogger("minibrowser.broker")


class SiteLockError(Exception):
    """The broker was about to commit a document to a renderer locked to
    another site: a broker bug, refused before anything is sent."""


class RendererGone(Exception):
    """The renderer exited or was ended before it answered."""


class RendererTimeout(Exception):
    """The renderer did not answer in time."""


@dataclass
class IpcCounters:
    messages_out: int = 0
    bytes_out: int = 0
    messages_in: int = 0
    bytes_in: int = 0
    last_round_trip_ms: float | None = None


@dataclass
class IpcEvent:
    """One message on the wire, for the IPC inspector."""

    time: float
    tab: int
    direction: str  # "to renderer" or "to broker"
    type: str
    size: int
    round_trip_ms: float | None = None


_SIGNAL_CAUSES = {
    signal.SIGSEGV: "crashed (SIGSEGV: invalid memory access)",
    signal.SIGABRT: "crashed (SIGABRT: aborted)",
    signal.SIGBUS: "crashed (SIGBUS)",
    signal.SIGILL: "crashed (SIGILL)",
    signal.SIGFPE: "crashed (SIGFPE)",
    signal.SIGSYS: "killed by the sandbox (SIGSYS: a forbidden system call)",
    signal.SIGXCPU: "killed for using too much CPU time (SIGXCPU)",
    signal.SIGXFSZ: "killed for writing too much (SIGXFSZ)",
    signal.SIGKILL: "killed (SIGKILL)",
    signal.SIGTERM: "terminated (SIGTERM)",
}

_EXIT_CAUSES = {
    ExitCode.OK: "exited",
    ExitCode.INTERNAL_ERROR: "crashed with an internal error (see its log)",
    ExitCode.SANDBOX_UNAVAILABLE: "could not apply its sandbox",
    ExitCode.HANDSHAKE_FAILED: "failed its handshake with the broker",
    ExitCode.OUT_OF_MEMORY: "ran out of memory (its memory limit was reached)",
    ExitCode.BROKER_LOST: "lost its connection to the broker",
}


def describe_exit(code: int | None, sig: int | None) -> str:
    if sig is not None:
        return _SIGNAL_CAUSES.get(sig, f"killed by signal {sig} ({signal.Signals(sig).name})")
    return _EXIT_CAUSES.get(code, f"exited with status {code}")


@dataclass
class ExitInfo:
    code: int | None
    signal: int | None
    reason: BadMessage | str | None = None  # set when the broker ended it
    known_cause: str | None = None  # what ended it, when the broker knows (not from the exit status)

    @property
    def cause(self) -> str:
        if self.known_cause:
            return self.known_cause
        if isinstance(self.reason, BadMessage):
            return f"ended by the browser: {self.reason.describe()}"
        if self.reason:
            return f"ended by the browser: {self.reason}"
        return describe_exit(self.code, self.signal)


class RendererObserver(Protocol):
    """What a renderer's user (its tab) hears about the process's life, like
    Chromium's ``RenderProcessHostObserver``."""

    def renderer_exited(self, host: RendererHost, info: ExitInfo) -> None: ...

    def renderer_unresponsive(self, host: RendererHost, waited_s: float) -> None: ...

    def renderer_responsive(self, host: RendererHost) -> None: ...


def _mark_retrieved(future: asyncio.Future) -> None:
    if not future.cancelled():
        future.exception()  # nobody need be waiting when the renderer ends


def _expire(future: asyncio.Future) -> None:
    if not future.done():
        future.set_exception(asyncio.TimeoutError())


class _Pending:
    """A request waiting for its reply: what it accepts and what it commits."""

    __slots__ = ("future", "started", "accepts", "commits", "document")

    def __init__(self, future: asyncio.Future, started: float, accepts: tuple[type, ...], commits: str | None,
                 document: int | None = None):
        self.future = future
        self.document = document  # the document the request is about (None: the process)
        self.started = started
        self.accepts = accepts  # protocol.REPLIES of the request
        self.commits = commits  # the URL a load or restore puts in the renderer, else None


def _commits(message: msgspec.Struct) -> str | None:
    """The URL of the document ``message`` hands the renderer, if it hands one."""
    if isinstance(message, protocol.LoadDocument):
        return message.url
    if isinstance(message, protocol.RestoreSnapshot):
        return message.snapshot.url
    return None


def _frame_urls(message: msgspec.Struct) -> tuple[str, ...]:
    """Every URL a reply claims its frame or snapshot shows."""
    if isinstance(message, protocol.FrameReady):
        return (message.frame.url,)
    if isinstance(message, protocol.FindResult):
        return (message.frame.url,) if message.frame is not None else ()
    if isinstance(message, protocol.SnapshotReady):
        snapshot = message.snapshot
        return (snapshot.url,) if snapshot.frame is None else (snapshot.url, snapshot.frame.url)
    return ()


_PONG = (protocol.Pong,)

#: Answers about one document (they name it); every other answer names the renderer.
_DOCUMENT_REPLIES = (protocol.FrameReady, protocol.SheetsWanted, protocol.NavigateRequest, protocol.FindResult,
                     protocol.SnapshotReady)


@dataclass
class DocumentRecord:
    """One document the broker committed (or is committing) to a renderer."""

    tab: int
    url: str | None = None  # the committed URL; None until its load or restore is answered
    frame: bool = False  # a subframe (not a tab's top document)
    lock_exempt: bool = False  # a subframe placed with its parent (the model keeps it there): no site lock applies


class RendererHost:
    """One renderer process, seen from the broker."""

    def __init__(
        self,
        renderer_id: int,
        *,
        token: str,
        log_path: str,
        send: Callable[[bytes, bytes], None],
        probe: bool = False,
        events: Callable[[IpcEvent], None] | None = None,
    ) -> None:
        self.id = renderer_id
        self.token = token
        self.log_path = log_path
        self.pid = 0
        self.routing_id: bytes | None = None
        self.probe = probe
        self.counters = IpcCounters()
        self.exit: ExitInfo | None = None
        self._send_raw = send
        self.events = events
        # Requests and heartbeats share one id space, so that a reply can
        # only ever match the one request it names.
        self._request_ids = itertools.count(1)
        self._pending: dict[int, _Pending] = {}
        self._requests_owed = 0  # outstanding requests other than heartbeats
        # The broker's record: the documents committed here and the lock.
        self.documents: dict[int, DocumentRecord] = {}
        self.lock: str | None = None  # the site this process is locked to; None: unlocked
        self.spare = False  # launched ahead of need, hosting nothing yet
        loop = asyncio.get_running_loop()
        self.connected: asyncio.Future[None] = loop.create_future()
        self.exited: asyncio.Future[ExitInfo] = loop.create_future()
        self.probe_result: asyncio.Future[protocol.ProbeResult] = loop.create_future()
        self.pending_reason: BadMessage | str | None = None  # why the broker is ending it
        self.bad_message: BadMessage | None = None  # set once it sent one; nothing it sends counts after
        # ZeroMQ dropped its connection while it ran (broker/ipc.py): if it
        # then dies by SIGSYS, its reconnect was refused, and the frame that
        # got it dropped was too large.
        self.connection_dropped = False
        self.observers: list[RendererObserver] = []  # the tabs it hosts
        # -- process control: stopped (frozen) and heartbeats
        self._running = asyncio.Event()  # cleared while the process is stopped (SIGSTOP)
        self._running.set()
        self._beat: asyncio.Task | None = None
        self._beat_sent = 0.0
        self._last_pong = 0.0
        self.unresponsive = False
        self._memory_query: asyncio.Future | None = None

    @property
    def alive(self) -> bool:
        return self.exit is None

    @property
    def tabs(self) -> list[int]:
        """The tabs with a document in this renderer, in the order they came."""
        return list(dict.fromkeys(record.tab for record in self.documents.values()))

    def describe(self) -> str:
        """"renderer PID" for messages to a person."""
        return f"the renderer (pid {self.pid})" if self.pid else "the renderer"

    # -- the documents it hosts ---------------------------------------------

    def add_document(self, document: int, tab: int, observer: RendererObserver | None = None, *,
                     frame: bool = False, lock_exempt: bool = False) -> None:
        """Record that tab ``tab`` is about to commit ``document`` here
        (``frame``: a subframe; ``lock_exempt``: one the process model keeps
        in its parent's renderer: a srcdoc frame, or any frame under a model
        without site isolation, so the renderer's site lock does not apply)."""
        self.documents[document] = DocumentRecord(tab, frame=frame, lock_exempt=lock_exempt)
        if observer is not None and observer not in self.observers:
            self.observers.append(observer)

    def committed_url(self, document: int) -> str | None:
        """The URL the broker committed as ``document`` here (None before
        its load is answered, or if it is not here).  Policy decides from
        this, never from a URL a renderer reports."""
        record = self.documents.get(document)
        return record.url if record is not None else None

    def remove_document(self, document: int) -> None:
        """``document`` leaves this renderer (its tab navigated elsewhere, was
        discarded or closed); the renderer is told to drop it.  A tab with
        no document left here stops observing the process."""
        record = self.documents.pop(document, None)
        if record is None:
            return
        if self.alive and self.routing_id is not None:
            try:
                self.send(protocol.CloseDocument(document=document))
            except RendererGone:
                pass
        if record.tab not in self.tabs:
            self.observers = [o for o in self.observers if getattr(o, "id", None) != record.tab]

    def remove_tab(self, tab: int) -> None:
        """Every document of tab ``tab`` leaves this renderer."""
        for document in [d for d, record in self.documents.items() if record.tab == tab]:
            self.remove_document(document)
        self.observers = [o for o in self.observers if getattr(o, "id", None) != tab]

    def check_lock(self, url: str) -> None:
        """Refuse to commit ``url`` here if this renderer is locked to another site."""
        if self.lock is not None and site_of(url) != self.lock:
            raise SiteLockError(f"{url!r} is not of the site {self.describe()} is locked to ({self.lock})")

    def reply_budget(self) -> int:
        """The largest message the renderer may send now, in bytes.

        A renderer speaks only when spoken to: with a request outstanding it
        may send up to the message cap; owing only a heartbeat (or, a
        compromise-simulation renderer, its probe result) a small reply;
        owing nothing, nothing.  More is a flood (bad message FLOOD)."""
        if self._requests_owed:
            return protocol.MAX_MESSAGE_BYTES
        if self._pending or (self.probe and not self.probe_result.done()):
            return protocol.MAX_SMALL_REPLY_BYTES
        return 0

    # -- sending ------------------------------------------------------------

    def send(self, message: msgspec.Struct) -> None:
        if self.routing_id is None or not self.alive:
            raise RendererGone(f"{self.describe()} is not connected")
        payload = protocol.encode(message)
        counters = self.counters
        counters.messages_out += 1
        counters.bytes_out += len(payload)
        if self.events:
            self.events(IpcEvent(time.time(), self._event_tab(getattr(message, "document", None)), "to renderer",
                                 type(message).__name__, len(payload)))
        self._send_raw(self.routing_id, payload)

    async def request(self, make: Callable[[int], msgspec.Struct], *, timeout: float = 30.0):
        """Send ``make(request_id)`` and wait for the reply with that id.

        The reply is of one of the types ``protocol.REPLIES`` lists for the
        request: anything else ends the renderer (WRONG_REPLY_TYPE)."""
        request_id = next(self._request_ids)
        message = make(request_id)
        accepts = protocol.REPLIES[type(message)]
        commits = _commits(message)
        document = getattr(message, "document", None)
        if document is not None and document not in self.documents:
            raise RendererGone(f"{self.describe()} does not hold document {document}")
        if commits is not None and not self.documents[document].lock_exempt:
            self.check_lock(commits)
        self._requests_owed += 1
        try:
            return await self._exchange(request_id, message, accepts, commits, timeout, document)
        except asyncio.TimeoutError:
            raise RendererTimeout(
                f"{self.describe()} did not answer {type(message).__name__} within {timeout:g} s"
            ) from None
        finally:
            self._requests_owed -= 1

    def measure_memory(self) -> asyncio.Future:
        """Ask the renderer for its own memory figures: MeasureMemory, answered
        by a MemoryReport (checked by the caller: it is only a claim).

        Unlike :meth:`request` there is no timeout: a busy or stopped renderer
        answers when it can, and an answer that comes late must not count as
        a reply to nothing.  So one question is outstanding at a time, and
        asking while it is returns the same future.  It fails with
        RendererGone if the renderer ends first, and at once if it is gone."""
        if self._memory_query is not None and not self._memory_query.done():
            return self._memory_query
        request_id = next(self._request_ids)
        query = asyncio.get_running_loop().create_future()
        query.add_done_callback(_mark_retrieved)
        query.add_done_callback(lambda _: self._pending.pop(request_id, None))
        self._pending[request_id] = _Pending(query, time.perf_counter(), (protocol.MemoryReport,), None)
        self._memory_query = query
        try:
            self.send(protocol.MeasureMemory(request=request_id))
        except RendererGone as gone:
            query.set_exception(gone)
        return query

    async def ping(self, *, timeout: float) -> float:
        """Heartbeat: returns the round trip in milliseconds."""
        seq = next(self._request_ids)
        started = time.perf_counter()
        try:
            await self._exchange(seq, protocol.Ping(seq=seq), _PONG, None, timeout)
        except asyncio.TimeoutError:
            raise RendererTimeout(f"{self.describe()} did not answer a heartbeat") from None
        return (time.perf_counter() - started) * 1000

    async def _exchange(self, request_id: int, message: msgspec.Struct, accepts: tuple[type, ...],
                        commits: str | None, timeout: float, document: int | None = None):
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._pending[request_id] = _Pending(future, time.perf_counter(), accepts, commits, document)
        # A timer instead of wait_for: no extra task on the request path.
        timer = loop.call_later(timeout, _expire, future)
        try:
            self.send(message)
            return await future
        finally:
            timer.cancel()
            self._pending.pop(request_id, None)

    # -- receiving (called by the hub with a decoded, identity-checked message)

    def deliver(self, message: msgspec.Struct, size: int) -> BadMessage | None:
        """Handle one message; returns a reason if it is a bad message.

        This is the one place a reply is matched to its request: by the
        renderer or document it names, by id, by the reply types the
        request accepts, and by the URL the broker committed (and, when the
        renderer is locked, by the site).  A reply consumes its request: a
        second answer to it is UNEXPECTED_REPLY."""
        counters = self.counters
        counters.messages_in += 1
        counters.bytes_in += size
        kind = type(message)
        if kind in _DOCUMENT_REPLIES:
            document = message.document
            record = self.documents.get(document)
            if record is None:
                return BadMessage.WRONG_DOCUMENT
        else:
            document = record = None
            if message.renderer != self.id:
                return BadMessage.WRONG_RENDERER
        if kind is protocol.ProbeResult:
            if not self.probe:
                return BadMessage.NOT_ALLOWED
            if self.probe_result.done():
                return BadMessage.UNEXPECTED_REPLY
            self.probe_result.set_result(message)
            return None
        pending = self._pending.get(message.seq if kind is protocol.Pong else message.request)
        if pending is None or pending.future.done():
            return BadMessage.UNEXPECTED_REPLY
        if kind not in pending.accepts:
            return BadMessage.WRONG_REPLY_TYPE
        if pending.document != document:
            return BadMessage.WRONG_DOCUMENT  # it answers for a document it was not asked about
        if record is not None:
            urls = _frame_urls(message)
            if urls:
                expected = pending.commits if pending.commits is not None else record.url
                lock = self.lock
                for url in urls:
                    if url != expected:
                        if lock is not None and site_of(url) != lock:
                            return BadMessage.SITE_LOCK_VIOLATION
                        return BadMessage.URL_MISMATCH
            if pending.commits is not None:
                record.url = pending.commits
        round_trip = (time.perf_counter() - pending.started) * 1000
        counters.last_round_trip_ms = round_trip
        pending.future.set_result(message)
        if self.events:
            self.events(IpcEvent(time.time(), self._event_tab(document), "to broker", kind.__name__, size, round_trip))
        return None

    # -- ending -------------------------------------------------------------

    def received_bad_message(self, reason: BadMessage) -> None:
        """End the renderer for a bad message (Chromium's ``ReceivedBadMessage``).

        The reason is logged in one line and kept for the sad-tab page;
        nothing the renderer sends after this is read."""
        if self.bad_message is not None:
            return
        self._record_bad_message(reason)
        self._end(reason)

    def _record_bad_message(self, reason: BadMessage) -> None:
        self.bad_message = self.pending_reason = reason
        tabs = ", ".join(map(str, self.tabs)) or "none"
        self._log_line(f"ending renderer pid {self.pid} (tabs {tabs}): {reason.describe()}")

    def terminate(self, cause: str) -> None:
        """End the renderer because the browser is done with it (its tab
        closed, the user ended it, it did not start in time); ``cause`` is
        shown on the sad-tab page."""
        self._end(cause)

    def _end(self, reason: BadMessage | str) -> None:
        if self.pending_reason is None or isinstance(reason, BadMessage):
            self.pending_reason = reason
        if self.pid and self.alive:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def _log_line(self, text: str) -> None:
        log.warning(text)

    def mark_exited(self, code: int | None, sig: int | None, *, cause: str | None = None) -> ExitInfo:
        """The process is gone (``cause``: why, when the broker knows better
        than the exit status, e.g. its zygote died)."""
        if sig == signal.SIGSYS and self.connection_dropped and self.bad_message is None:
            # Its connection was dropped for a frame over the wire limit, and
            # its reconnect met seccomp: name the message, not the sandbox.
            self._record_bad_message(BadMessage.TOO_LARGE)
        info = ExitInfo(code=code, signal=sig, reason=self.pending_reason, known_cause=cause)
        self.exit = info
        error = RendererGone(f"{self.describe()} {info.cause}")
        for pending in list(self._pending.values()):
            if not pending.future.done():
                pending.future.set_exception(error)
        for future in (self.connected, self.probe_result):
            if not future.done():
                future.set_exception(error)
                future.exception()  # mark retrieved: nobody may be waiting
        if not self.exited.done():
            self.exited.set_result(info)
        self._running.set()
        for observer in list(self.observers):  # every tab it hosted shows the sad tab
            observer.renderer_exited(self, info)
        return info

    # -- process control ----------------------------------------------------

    @property
    def stopped(self) -> bool:
        """True while the process is stopped (a frozen tab)."""
        return not self._running.is_set()

    async def wait_running(self) -> None:
        """Wait until the process runs (messages for a stopped renderer wait here)."""
        await self._running.wait()

    async def stop(self) -> bool:
        """Stop the process (SIGSTOP) and wait until it really is stopped;
        False if it is already gone."""
        if not self.alive or not self.pid:
            return False
        self._running.clear()
        try:
            os.kill(self.pid, signal.SIGSTOP)
        except ProcessLookupError:
            self._running.set()
            return False
        await _until_stopped(self.pid)
        return True

    def resume(self) -> None:
        """Let a stopped process run again (SIGCONT)."""
        if self.alive and self.pid and self.stopped:
            try:
                os.kill(self.pid, signal.SIGCONT)
            except ProcessLookupError:
                pass
        # The time it was stopped does not count as a hang: the clock starts again.
        self._beat_sent = time.monotonic()
        self.unresponsive = False
        self._running.set()

    def heartbeat(self, now: float, *, interval_s: float, timeout_s: float) -> None:
        """One tick of the broker's heartbeat clock: ping when one is due; a
        ping unanswered past ``timeout_s`` makes the renderer unresponsive
        until it answers."""
        if not self.alive or self.routing_id is None or self.stopped:
            return
        if self._beat is None:
            if now - self._last_pong >= interval_s:
                self._beat_sent = now
                self._beat = asyncio.create_task(self._beat_once(), name=f"heartbeat-{self.pid}")
        elif now - self._beat_sent > timeout_s and not self.unresponsive:
            self.unresponsive = True
            for observer in list(self.observers):
                observer.renderer_unresponsive(self, now - self._beat_sent)

    async def _beat_once(self) -> None:
        # Waited for as long as it takes: the clock above marks a slow one.
        # A heartbeat is never cancelled while the renderer lives: its Pong
        # would then answer nothing, which is a bad message.
        try:
            await self.ping(timeout=3600)
        except (RendererGone, RendererTimeout):
            return
        finally:
            self._beat = None
            self._last_pong = time.monotonic()
        if self.unresponsive:
            self.unresponsive = False
            for observer in list(self.observers):
                observer.renderer_responsive(self)

    def _event_tab(self, document: int | None) -> int:
        """The tab an IPC event is shown under: the document's, or for
        messages about the process its first tab (0 for none)."""
        record = self.documents.get(document) if document is not None else None
        if record is not None:
            return record.tab
        tabs = self.tabs
        return tabs[0] if tabs else 0

    def read_log_tail(self, lines: int = 5) -> str:
        try:
            with open(self.log_path, "rb") as log:
                log.seek(0, os.SEEK_END)
                size = log.tell()
                log.seek(max(0, size - 4096))
                text = log.read().decode("utf-8", "replace")
        except OSError:
            return ""
        return "\n".join(text.strip().splitlines()[-lines:])


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
