"""The broker's side of the zygote: start it, ask it to fork, hear exits."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable

from renderer import protocol


class ZygoteError(Exception):
    """The zygote could not be started or stopped answering."""


class ZygoteClient:
    """Starts ``python -m renderer.zygote`` and talks to it over a socketpair."""

    def __init__(self, runtime_dir: str, *, on_exit: Callable[[protocol.ChildExited], None]) -> None:
        self.runtime_dir = runtime_dir
        self.on_exit = on_exit
        self.process: subprocess.Popen | None = None
        self.pid = 0
        self.preload_ms = 0.0
        self._writer: asyncio.StreamWriter | None = None
        self._reader_task: asyncio.Task | None = None
        self._spawning: dict[int, asyncio.Future[int]] = {}
        self._ready: asyncio.Future | None = None
        self.closed = False

    async def start(self, *, timeout: float = 30.0) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        log = open(os.path.join(self.runtime_dir, "zygote.log"), "ab")
        try:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "renderer.zygote",
                    "--fd",
                    str(theirs.fileno()),
                    "--broker-pid",
                    str(os.getpid()),
                    "--runtime-dir",
                    self.runtime_dir,
                ],
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                cwd="/",
            )
        finally:
            theirs.close()
            log.close()
        self.pid = self.process.pid
        reader, self._writer = await asyncio.open_unix_connection(sock=ours, limit=protocol.MAX_MESSAGE_BYTES)
        self._ready = asyncio.get_running_loop().create_future()
        self._reader_task = asyncio.create_task(self._read_loop(reader), name="zygote-reader")
        try:
            await asyncio.wait_for(asyncio.shield(self._ready), timeout)
        except asyncio.TimeoutError:
            await self.stop()
            raise ZygoteError(f"the zygote did not start within {timeout:.0f} s; see {self.runtime_dir}/zygote.log")

    async def _read_loop(self, reader: asyncio.StreamReader) -> None:
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
                    case protocol.Spawned(tab=tab, pid=pid):
                        future = self._spawning.pop(tab, None)
                        if future is not None and not future.done():
                            future.set_result(pid)
                    case protocol.ChildExited():
                        self.on_exit(message)
        except (asyncio.IncompleteReadError, ConnectionError, ZygoteError):
            pass
        finally:
            self.closed = True
            error = ZygoteError("the zygote exited; no new tabs can be opened")
            if self._ready is not None and not self._ready.done():
                self._ready.set_exception(error)
            for future in self._spawning.values():
                if not future.done():
                    future.set_exception(error)
            self._spawning.clear()

    async def spawn(self, request: protocol.SpawnRenderer, *, timeout: float = 10.0) -> int:
        """Fork a renderer; returns its pid."""
        if self.closed or self._writer is None:
            raise ZygoteError("the zygote is not running; no new tabs can be opened")
        future = asyncio.get_running_loop().create_future()
        self._spawning[request.tab] = future
        self._writer.write(protocol.frame_message(request))
        await self._writer.drain()
        return await asyncio.wait_for(future, timeout)

    async def stop(self, *, timeout: float = 3.0) -> None:
        """Ask the zygote to kill its renderers and exit; force it if needed."""
        if self.process is None:
            return
        if self._writer is not None and not self.closed:
            try:
                self._writer.write(protocol.frame_message(protocol.ZygoteShutdown()))
                await self._writer.drain()
            except (ConnectionError, RuntimeError):
                pass
        deadline = time.monotonic() + timeout
        while self.process.poll() is None and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()
        if self._writer is not None:
            self._writer.close()
        if self._reader_task is not None:
            self._reader_task.cancel()
            try:
                await self._reader_task
            except (asyncio.CancelledError, Exception):
                pass
        self.process = None


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
        task = asyncio.create_task(self._wait(child, request.tab))
        self._waiters.add(task)
        task.add_done_callback(self._waiters.discard)
        return child.pid

    async def _wait(self, child: asyncio.subprocess.Process, tab: int) -> None:
        code = await child.wait()
        self._children.pop(child.pid, None)
        self.on_exit(protocol.ChildExited(
            pid=child.pid, tab=tab, code=code if code >= 0 else None, signal=-code if code < 0 else None))

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
