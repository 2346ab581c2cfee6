"""The broker's side of the zygote: start it, ask it to fork, hear exits,
notice its death and start it again.

Interface for the owner of the renderer processes::

    zygote = ZygoteClient(runtime_dir, on_exit=..., on_lost=...)
    zygote.launch(early)        # synchronous: fork/exec before ZeroMQ starts threads
    await zygote.start()        # wait until it has preloaded
    pid = await zygote.spawn(request)
    await zygote.restart()      # also started by itself when the zygote dies
    await zygote.stop()

``on_exit(ChildExited)`` is called for every renderer the zygote reaps.
``on_lost(cause)`` is called once, at once, when the zygote dies (its
channel closes): every renderer it had dies with it (their parent-death
signal), and the zygote never reports them, so the owner marks them exited.
The client then restarts the zygote in the same runtime directory, after a
delay that grows while deaths follow one another (``RestartBackoff``); it
never gives up.  A ``spawn`` while a restart is due within
``WAIT_FOR_RESTART_S`` waits for it; one while a longer delay runs fails at
once, and its error says in how many seconds the zygote is started again.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Callable

import msgspec

from broker.restart_backoff import RestartBackoff
from broker.zygote_launch import ZygoteProcess, start_zygote_process
from renderer import protocol

#: The cause every renderer of a dead zygote is reported with.
ZYGOTE_DIED = "the zygote process died"

#: A new tab waits for a zygote restart due within this many seconds; a
#: longer wait is said in one line instead (a tab that hangs looks broken).
WAIT_FOR_RESTART_S = 1.0


class ZygoteError(Exception):
    """The zygote could not be started, died, or stopped answering.
    ``str()`` is one line for a person."""


class ZygoteClient:
    """Runs ``python -m renderer.zygote`` and talks to it over a socketpair."""

    def __init__(
        self,
        runtime_dir: str,
        *,
        on_exit: Callable[[protocol.ChildExited], None],
        on_lost: Callable[[str], None] | None = None,
        backoff: RestartBackoff | None = None,
    ) -> None:
        self.runtime_dir = runtime_dir
        self.on_exit = on_exit
        self.on_lost = on_lost
        self.zygote: ZygoteProcess | None = None
        self.preload_ms = 0.0
        self.restarts = 0  # zygotes started after a death
        self.backoff = backoff if backoff is not None else RestartBackoff()
        self.closed = False  # no zygote is running (died, or stopped)
        self._stopping = False
        self._writer: asyncio.StreamWriter | None = None
        self._reader_task: asyncio.Task | None = None
        self._spawning: dict[int, asyncio.Future[int]] = {}
        self._ready: asyncio.Future | None = None
        self._restarting: asyncio.Task | None = None

    @property
    def process(self):
        """The zygote's ``subprocess.Popen`` while one runs, else None."""
        return self.zygote.process if self.zygote is not None and not self.closed else None

    @property
    def pid(self) -> int:
        return self.zygote.pid if self.zygote is not None else 0

    # -- start ----------------------------------------------------------------

    def launch(self, started: ZygoteProcess | None = None) -> None:
        """Start the zygote's process now (or adopt one started earlier),
        without waiting for it: its preload runs while the caller goes on."""
        if self.zygote is None:
            self.zygote = started if started is not None else start_zygote_process(self.runtime_dir)

    async def start(self, *, timeout: float = 30.0) -> None:
        """Launch the zygote if needed and wait until it is ready."""
        self.launch()
        zygote = self.zygote
        self.closed = False
        reader, self._writer = await asyncio.open_unix_connection(
            sock=zygote.channel, limit=protocol.MAX_MESSAGE_BYTES)
        self._ready = asyncio.get_running_loop().create_future()
        self._reader_task = asyncio.create_task(self._read_loop(reader, zygote), name="zygote-reader")
        try:
            await asyncio.wait_for(asyncio.shield(self._ready), timeout)
        except asyncio.TimeoutError:
            self._ready.cancel()  # it never ran: its channel closing is not a death
            await self._reap()
            raise ZygoteError(f"the zygote did not start within {timeout:.0f} s; "
                              f"see {self.runtime_dir}/zygote.log") from None

    async def _read_loop(self, reader: asyncio.StreamReader, zygote: ZygoteProcess) -> None:
        try:
            while True:
                header = await reader.readexactly(4)
                length = int.from_bytes(header, "big")
                if length > protocol.MAX_MESSAGE_BYTES:
                    raise ZygoteError("oversized message from the zygote")
                message = protocol.from_zygote_decoder.decode(await reader.readexactly(length))
                match message:
                    case protocol.ZygoteReady(preload_ms=preload_ms):
                        self.preload_ms = preload_ms
                        if not self._ready.done():
                            self._ready.set_result(None)
                    case protocol.Spawned(renderer=renderer, pid=pid):
                        future = self._spawning.pop(renderer, None)
                        if future is not None and not future.done():
                            future.set_result(pid)
                    case protocol.ChildExited():
                        self.on_exit(message)
        except (asyncio.IncompleteReadError, ConnectionError, ZygoteError, msgspec.MsgspecError):
            pass
        finally:
            if zygote is self.zygote:
                self._channel_closed()

    def _channel_closed(self) -> None:
        """The zygote exited (or broke its channel): fail whatever waits on
        it; if it was running, tell the owner and start another one."""
        ready = self._ready
        was_running = (ready is not None and ready.done() and not ready.cancelled()
                       and ready.exception() is None)
        self.closed = True
        error = ZygoteError(f"{ZYGOTE_DIED} while starting the renderer; it is started again: reload the tab")
        if ready is not None and not ready.done():
            ready.set_exception(error)
            ready.exception()  # retrieved: its start() may be gone
        for future in self._spawning.values():
            if not future.done():
                future.set_exception(error)
        self._spawning.clear()
        if self._stopping or not was_running:
            return
        self.backoff.record_death()
        if self.on_lost is not None:
            self.on_lost(ZYGOTE_DIED)
        self._restarting = asyncio.ensure_future(self._restart())
        self._restarting.add_done_callback(_retrieve)

    # -- restart --------------------------------------------------------------

    async def restart(self) -> None:
        """Wait until a zygote runs again: the restart under way (after its
        backoff), or a new one."""
        if self._restarting is None or self._restarting.done():
            if not self.closed and self._writer is not None:
                return
            self._restarting = asyncio.ensure_future(self._restart())
            self._restarting.add_done_callback(_retrieve)
        await asyncio.shield(self._restarting)

    async def _restart(self) -> None:
        """Start a new zygote once the backoff allows; a zygote that dies
        before it is ready counts as a death, and is tried again later."""
        while True:
            await asyncio.sleep(self.backoff.delay_now())
            await self._reap()
            self.zygote = None
            self.restarts += 1
            try:
                await self.start()
                return
            except ZygoteError:
                self.backoff.record_death()

    async def _reap(self) -> None:
        """Close the channel and collect the zygote's exit status (ending it
        first if it broke its channel but lives on)."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        if self._reader_task is not None and not self._reader_task.done():
            self._reader_task.cancel()
            try:
                await self._reader_task
            except asyncio.CancelledError:
                pass
        if self.zygote is not None:
            if self.zygote.process.poll() is not None:
                self.zygote.kill()  # it has exited: only reaped, nothing to wait for
            else:
                await asyncio.to_thread(self.zygote.kill)

    # -- renderers ------------------------------------------------------------

    async def spawn(self, request: protocol.SpawnRenderer, *, timeout: float = 10.0) -> int:
        """Fork a renderer; returns its pid.  Waits for a zygote being restarted."""
        if self._stopping:
            raise ZygoteError("the browser is shutting down; no new tabs can be opened")
        if self.closed or self._writer is None:
            wait = self.backoff.delay_now()
            if wait > WAIT_FOR_RESTART_S:
                raise ZygoteError(f"{ZYGOTE_DIED} {self.backoff.deaths} times in a row and is started again "
                                  f"in {wait:.1f} s; open the tab or reload it then")
            await self.restart()
        future = asyncio.get_running_loop().create_future()
        self._spawning[request.renderer] = future
        try:
            self._writer.write(protocol.frame_message(request))
            await self._writer.drain()
        except (ConnectionError, RuntimeError):
            pass  # the reader sees the channel close and fails the future
        return await asyncio.wait_for(future, timeout)

    # -- stop -----------------------------------------------------------------

    async def stop(self, *, timeout: float = 3.0) -> None:
        """Ask the zygote to kill its renderers and exit; force it if needed."""
        self._stopping = True
        if self._restarting is not None and not self._restarting.done():
            self._restarting.cancel()
            try:
                await self._restarting
            except (asyncio.CancelledError, ZygoteError):
                pass
        if self.zygote is None:
            return
        if self._writer is not None and not self.closed:
            try:
                self._writer.write(protocol.frame_message(protocol.ZygoteShutdown()))
                await self._writer.drain()
            except (ConnectionError, RuntimeError):
                pass
        if self._reader_task is not None:
            # Its channel closes when the zygote exits.
            await asyncio.wait({self._reader_task}, timeout=timeout)
        await self._reap()
        self.closed = True
        self.zygote = None


def _retrieve(task: asyncio.Future) -> None:
    """Mark a background restart's failure as seen: spawn() reports it."""
    if not task.cancelled():
        task.exception()


class ColdSpawner:
    """Starts every renderer as a fresh interpreter (``python -m renderer.cold``).

    The baseline the zygote is measured against; same interface as
    ``ZygoteClient``.  Not used for browsing.
    """

    def __init__(self, runtime_dir: str, *, on_exit: Callable[[protocol.ChildExited], None]) -> None:
        self.runtime_dir = runtime_dir
        self.on_exit = on_exit
        self.pid = 0
        self.process = None
        self.closed = False
        self._children: dict[int, asyncio.subprocess.Process] = {}
        self._waiters: set[asyncio.Task] = set()

    def launch(self, started: ZygoteProcess | None = None) -> None:
        """Nothing to start: every renderer is an interpreter of its own
        (``Browser`` abandons an early-started zygote for cold renderers)."""

    async def start(self) -> None:
        pass

    async def spawn(self, request: protocol.SpawnRenderer, *, timeout: float = 10.0) -> int:
        child = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "renderer.cold",
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd="/",
        )
        child.stdin.write(protocol.frame_message(request))
        await child.stdin.drain()
        child.stdin.close()
        self._children[child.pid] = child
        task = asyncio.create_task(self._wait(child, request.renderer))
        self._waiters.add(task)
        task.add_done_callback(self._waiters.discard)
        return child.pid

    async def _wait(self, child: asyncio.subprocess.Process, renderer: int) -> None:
        code = await child.wait()
        self._children.pop(child.pid, None)
        self.on_exit(protocol.ChildExited(
            pid=child.pid, renderer=renderer, code=code if code >= 0 else None, signal=-code if code < 0 else None))

    async def stop(self, *, timeout: float = 3.0) -> None:
        for child in list(self._children.values()):
            try:
                child.kill()
            except ProcessLookupError:
                pass
        for task in list(self._waiters):
            try:
                await asyncio.wait_for(task, timeout)
            except (asyncio.TimeoutError, asyncio.CancelledError):
                pass
