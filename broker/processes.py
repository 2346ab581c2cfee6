"""RendererProcesses: every renderer process of one broker, from fork to exit.

This is the one owner of renderer processes, the way Chromium's
``RenderProcessHostImpl`` and its launcher are: it holds the private runtime
directory, the IPC hub and the zygote; it launches a renderer through the
zygote (for tabs, ahead of need as the spare, or to run
compromise-simulation code), waits for its handshake, keeps its heartbeat, ends it, and reports its exit to the
renderer's observers (the tabs it hosts).

The spare renderer is Chromium's spare ``RenderProcessHost``
(``render_process_host_impl.cc``): one renderer forked, sandboxed,
connected and unlocked in advance, handed to the next document that needs
a new process (:meth:`RendererProcesses.take`), and replaced in the
background.  Everything a renderer sends reaches the
broker through here and is checked by the hub and the renderer's
``RendererHost`` before anyone acts on it.  Nothing outside ``broker/``
touches a renderer process.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import secrets
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass

from broker.host import IpcEvent, RendererGone, RendererHost, RendererObserver
from broker.ipc import IpcHub
from broker.safe_text import safe_line
from broker.runtime import RuntimeDir
from broker.zygote_client import ColdSpawner, ZygoteClient, ZygoteError
from broker.zygote_launch import EarlyStart, default_renderer_ids, prepare_runtime, runtime_owner
from renderer import protocol

log = logging.getLogger("minibrowser.broker")

#: How long a new renderer may take to connect and finish its handshake.
HANDSHAKE_TIMEOUT_S = 15.0


class LaunchError(Exception):
    """A renderer could not be started; ``str()`` is one line for a person."""


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


def default_drop_ids() -> tuple[int | None, int | None]:
    """Root drops renderers to ``nobody``; anyone else keeps their own uid."""
    return default_renderer_ids()


@dataclass
class ProbeOutcome:
    """How compromise-simulation code ended inside its renderer."""

    outcome: str  # completed, raised, killed, exited, timeout, failed
    detail: str = ""
    errno: int | None = None
    signal: int | None = None
    bad_message: str | None = None  # set when the broker ended it for a message
    pid: int = 0
    # With a committed document: how the broker's load request ended, as
    # "ExceptionName: text" or "answered: ReplyType".
    load_answer: str | None = None

    def to_json(self) -> dict:
        # A bad-message kill names its reason in ``detail``.
        return {"outcome": self.outcome, "detail": self.detail, "errno": self.errno, "signal": self.signal}


class RendererProcesses:
    """The broker's renderer processes: launch, heartbeats, end, exit."""

    def __init__(self, sandbox: SandboxSettings, *, cold: bool = False, spare: bool = True) -> None:
        self.sandbox = sandbox
        self.cold = cold  # benchmarks only: every renderer a fresh interpreter
        self.spare_enabled = spare and not cold
        self._spare: RendererHost | None = None
        self._spare_task: asyncio.Task | None = None
        self.runtime: RuntimeDir | None = None
        self.hub: IpcHub | None = None
        self.zygote: ZygoteClient | ColdSpawner | None = None
        self._hosts: dict[int, RendererHost] = {}  # by pid, while alive
        # By renderer id, from the spawn request until its pid is known: the
        # zygote may report a renderer's exit before this side has read the
        # pid it answered (a renderer that cannot sandbox itself dies at once).
        self._forking: dict[int, RendererHost] = {}
        self._renderer_ids = itertools.count(1)
        self._document_ids = itertools.count(1)
        self._ipc_subscribers: list[Callable[[IpcEvent], None]] = []
        self._heartbeats: asyncio.Task | None = None
        self.started = False

    # -- start and stop -------------------------------------------------------

    async def start(
        self,
        *,
        heartbeat_interval_s: float,
        heartbeat_timeout_s: float,
        started_early: EarlyStart | None = None,
    ) -> None:
        """Start the zygote and the IPC hub.  ``started_early``: a runtime
        directory and zygote the command line started before its imports
        (``broker.zygote_launch.start_early``), adopted when its settings match."""
        early = started_early
        try:
            owner = runtime_owner(sandbox=self.sandbox.enabled, uid=self.sandbox.uid, gid=self.sandbox.gid)
            if early is not None and (self.cold or early.owner != owner):
                early.abandon()
                early = None
            self.runtime = early.runtime if early is not None else prepare_runtime(owner)
            if self.cold:
                self.zygote = ColdSpawner(self.runtime.path, on_exit=self._child_exited)
            else:
                self.zygote = ZygoteClient(
                    self.runtime.path, on_exit=self._child_exited, on_lost=self._zygote_lost)
            # The zygote first: it must be forked before ZeroMQ starts threads
            # here.  It preloads while the hub starts.
            self.zygote.launch(early.zygote if early is not None else None)
            self.hub = IpcHub(self.runtime.endpoint)
            self.hub.start()
            self.runtime.socket_bound()
            await self.zygote.start()
        except BaseException:
            await self.shutdown()
            raise
        self.started = True
        self._heartbeats = asyncio.create_task(
            self._heartbeat_loop(heartbeat_interval_s, heartbeat_timeout_s), name="heartbeats"
        )
        self._replace_spare()

    async def shutdown(self) -> None:
        """End every renderer, the zygote and the hub; remove the runtime directory."""
        self.started = False
        if self._spare_task is not None:
            self._spare_task.cancel()
            await asyncio.wait({self._spare_task}, timeout=5)
            self._spare_task = None
        self._spare = None
        if self._heartbeats is not None:
            self._heartbeats.cancel()
            await asyncio.wait({self._heartbeats}, timeout=5)
            self._heartbeats = None
        for host in list(self._hosts.values()):
            host.resume()  # a stopped renderer must be able to die quickly
        if self.zygote is not None:
            await self.zygote.stop()
            self.zygote = None
        if self.hub is not None:
            await self.hub.close()
            self.hub = None
        if self.runtime is not None:
            self.runtime.remove()
            self.runtime = None

    @property
    def zygote_pid(self) -> int:
        zygote = self.zygote
        return zygote.pid if zygote is not None and zygote.process is not None else 0

    @property
    def hosts(self) -> list[RendererHost]:
        """Every live renderer (the spare and probes included)."""
        return list(self._hosts.values())

    def new_document_id(self) -> int:
        """A document id, unique for the browser's life."""
        return next(self._document_ids)

    @property
    def spare(self) -> RendererHost | None:
        """The spare renderer, when one is connected and waiting."""
        spare = self._spare
        return spare if spare is not None and spare.alive else None

    # -- the spare renderer -----------------------------------------------------

    async def take(self, observer: RendererObserver) -> RendererHost:
        """A renderer for a document that needs a new process: the spare if
        one is waiting (then a new spare is started in the background), else
        a new one launched now."""
        spare = self.spare
        if spare is not None:
            self._spare = None
            spare.spare = False
            spare.observers.append(observer)
            self._replace_spare()
            return spare
        host = await self.launch(observer=observer)
        self._replace_spare()
        return host

    def _replace_spare(self) -> None:
        if not self.spare_enabled or not self.started or self.spare is not None:
            return
        if self._spare_task is not None and not self._spare_task.done():
            return
        self._spare_task = asyncio.create_task(self._launch_spare(), name="spare-renderer")

    async def _launch_spare(self) -> None:
        try:
            host = await self.launch()
        except LaunchError as error:
            # Not the user's concern: the next tab launches its own renderer
            # and says in one line why, if that fails too.
            log.debug("no spare renderer: %s", error)
            return
        host.spare = True
        self._spare = host

    # -- launching ------------------------------------------------------------

    async def launch(
        self,
        *,
        observer: RendererObserver | None = None,
        probe: str | None = None,
        policy: protocol.SandboxPolicy | None = None,
    ) -> RendererHost:
        """Fork a sandboxed renderer and wait for its handshake."""
        if not self.started:
            raise LaunchError("the browser is not started")
        token = secrets.token_urlsafe(24)
        renderer_id = next(self._renderer_ids)
        log_path = self.runtime.log_path(f"renderer-{renderer_id}.log")
        host = RendererHost(
            renderer_id,
            token=token,
            log_path=log_path,
            send=self.hub.send,
            probe=probe is not None,
            events=self._ipc_event if self._ipc_subscribers else None,
        )
        if observer is not None:
            host.observers.append(observer)
        self.hub.expect(host)
        request = protocol.SpawnRenderer(
            renderer=renderer_id,
            token=token,
            endpoint=self.runtime.endpoint,
            log_path=log_path,
            policy=policy or self.sandbox.policy(),
            probe=probe,
        )
        self._forking[renderer_id] = host
        try:
            pid = await self.zygote.spawn(request)
        except (ZygoteError, asyncio.TimeoutError) as error:
            self.hub.forget(host)
            raise LaunchError(f"could not start a renderer: {error or 'the zygote did not answer'}") from None
        finally:
            self._forking.pop(renderer_id, None)
        host.pid = pid
        if host.exit is None:  # not already reported gone while the pid was on its way
            self._hosts[pid] = host
        if self._ipc_subscribers:  # someone subscribed while the zygote forked it
            host.events = self._ipc_event
        try:
            await asyncio.wait_for(asyncio.shield(host.connected), HANDSHAKE_TIMEOUT_S)
        except RendererGone:
            detail = _last_log_message(host)
            if host.exit is not None and host.exit.code == protocol.ExitCode.SANDBOX_UNAVAILABLE and detail:
                # The renderer's own line already says what is missing and what to do.
                raise LaunchError(
                    f"cannot sandbox the renderer: {detail.removeprefix('sandbox unavailable: ')}"
                ) from None
            raise LaunchError(
                f"the renderer could not start: {host.exit.cause if host.exit else 'it exited'}"
                + (f" ({detail})" if detail else "")
            ) from None
        except asyncio.TimeoutError:
            host.terminate("it did not connect in time")
            raise LaunchError("the renderer did not connect to the broker in time") from None
        return host

    async def end(self, host: RendererHost, *, grace: float = 1.0, cause: str = "the tab was closed") -> None:
        """End a renderer the browser no longer needs: ask it to exit, then
        kill it if it does not within ``grace`` seconds."""
        host.resume()  # a stopped renderer cannot read its Shutdown
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
            host.terminate(cause)
            try:
                await asyncio.wait_for(asyncio.shield(host.exited), 5)
            except asyncio.TimeoutError:
                log.warning("renderer pid %s did not exit", host.pid)
        if self.hub is not None:
            self.hub.forget(host)

    def _child_exited(self, message: protocol.ChildExited, *, cause: str | None = None) -> None:
        host = self._hosts.pop(message.pid, None)
        if host is None:
            host = self._forking.pop(message.renderer, None)
            if host is None:
                return
            host.pid = message.pid
        if self.hub is not None:
            self.hub.forget(host)
        host.mark_exited(message.code, message.signal, cause=cause)

    def _zygote_lost(self, cause: str) -> None:
        """The zygote died, and every renderer with it (their parent-death
        signal); it will never report them, so they are marked exited here,
        with that cause.  The zygote client restarts it."""
        for pid, host in list(self._hosts.items()):
            self._child_exited(protocol.ChildExited(pid=pid, renderer=host.id, code=None, signal=signal.SIGKILL),
                               cause=cause)

    # -- compromise simulation -------------------------------------------------

    async def run_probe(self, code: str, *, cpu_seconds: int | None = None, timeout: float = 30.0,
                        document: tuple[str, bytes] | None = None) -> ProbeOutcome:
        """Run ``code`` inside a fresh, fully sandboxed renderer (after
        lockdown, as a compromised renderer would) and report how it ended.
        With ``document`` (URL, HTML body), the broker first hands the
        renderer that document, as it would a page's renderer, so that the
        code can answer (or lie in answer to) a real request.

        Probe code reaches a renderer only in the zygote's spawn request,
        which only the broker sends: nothing a page or a renderer sends can
        turn it on."""
        policy = self.sandbox.policy(**({"cpu_seconds": cpu_seconds} if cpu_seconds else {}))
        try:
            host = await self.launch(probe=code, policy=policy)
        except LaunchError as error:
            return ProbeOutcome("failed", str(error))
        load = None
        if document is not None:
            url, body = document
            document_id = self.new_document_id()
            host.add_document(document_id, tab=0)
            load = asyncio.ensure_future(host.request(
                lambda request: protocol.LoadDocument(
                    document=document_id, request=request, url=url, content_type="text/html", charset="utf-8", body=body,
                    kind=protocol.DocumentKind.HTML, width=80),
                timeout=timeout))
            load.add_done_callback(lambda done: done.cancelled() or done.exception())  # the probe's answer is the point
        outcome = await self._probe_outcome(host, timeout)
        if load is not None:
            if not load.done():
                load.cancel()
            elif load.exception() is not None:
                outcome.load_answer = f"{type(load.exception()).__name__}: {load.exception()}"
            else:
                outcome.load_answer = f"answered: {type(load.result()).__name__}"
        return outcome

    async def _probe_outcome(self, host: RendererHost, timeout: float) -> ProbeOutcome:
        done, _ = await asyncio.wait({host.probe_result, host.exited}, timeout=timeout,
                                     return_when=asyncio.FIRST_COMPLETED)
        if host.probe_result in done and host.probe_result.exception() is None:
            result = host.probe_result.result()
            await self.end(host, grace=2.0, cause="the probe finished")
            return ProbeOutcome(result.outcome, result.detail, result.errno, pid=host.pid)
        if not done:
            host.terminate("the probe did not finish in time")
            await asyncio.wait({host.exited}, timeout=5)
            return ProbeOutcome("timeout", f"did not finish within {timeout:g} s", pid=host.pid)
        info = host.exited.result()
        bad = host.bad_message.name if host.bad_message is not None else None
        if info.signal is not None or bad:
            return ProbeOutcome("killed", info.cause, signal=info.signal, bad_message=bad, pid=host.pid)
        return ProbeOutcome("exited", info.cause, pid=host.pid)

    # -- heartbeats --------------------------------------------------------------

    async def _heartbeat_loop(self, interval_s: float, timeout_s: float) -> None:
        """Ping every running renderer; a stopped (frozen) one is not pinged."""
        step = min(interval_s, timeout_s / 5)
        while True:
            await asyncio.sleep(step)
            now = time.monotonic()
            for host in list(self._hosts.values()):
                if not host.probe:
                    host.heartbeat(now, interval_s=interval_s, timeout_s=timeout_s)

    # -- IPC events (the IPC inspector) ------------------------------------------

    def subscribe_ipc(self, callback: Callable[[IpcEvent], None]) -> Callable[[], None]:
        """Call ``callback`` for every IPC message; returns an unsubscribe."""
        self._ipc_subscribers.append(callback)
        for host in self._hosts.values():
            host.events = self._ipc_event
        return lambda: self._ipc_subscribers.remove(callback)

    def _ipc_event(self, event: IpcEvent) -> None:
        for callback in list(self._ipc_subscribers):
            callback(event)


def _last_log_message(host: RendererHost) -> str:
    tail = host.read_log_tail(1)
    if ": " in tail:
        tail = tail.split(": ", 1)[1]
    return safe_line(tail.strip())  # the renderer wrote its log: hostile text
