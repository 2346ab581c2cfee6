"""The broker's side of the network process: the one owner of its life.

Like ``RendererHost`` for a renderer: :class:`NetworkHost` starts the
process when the first network URL needs it (a ``file:``, ``data:`` or
``about:`` page never does), waits for its handshake, writes every request
and reads every reply, matches replies to requests, sees its exit and
starts it again after a backoff (``broker/restart_backoff.py``) when the
next request comes.

Everything the network process sends is hostile input: it is decoded
against the bounded types of ``network/protocol.py`` and checked against
the broker's own record of what it asked for.  A message that fails
(undecodable, too large, a reply to a request that was never made, a reply
its request does not accept or out of order, body beyond the request's
budget, a second handshake) ends the process at once with a named reason
from ``broker/bad_message.py``, in one log line; every fetch in flight then
fails with :class:`NetworkProcessLost`, whose text is one line; the next
fetch starts a new process.

The broker never reads a server's bytes here: it gets a status, headers as
(name, value) data, and body bytes the network process already decoded.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass, field

import msgspec

from broker.bad_message import BadMessage, classify_decode_failure
from broker.restart_backoff import RestartBackoff
from network import protocol

log = logging.getLogger("minibrowser.broker")

__all__ = ["NetworkFailure", "NetworkHost", "NetworkProcessLost", "NetworkReply"]


class NetworkProcessLost(Exception):
    """The network process ended while a request was in flight.  ``str()`` is
    the cause in a few words ("killed by SIGKILL", "bad message FLOOD: ...")."""


class NetworkFailure(Exception):
    """The network process answered with :class:`~network.protocol.Failed`."""

    def __init__(self, failed: protocol.Failed) -> None:
        super().__init__(failed.kind.value)
        self.failed = failed


@dataclass
class NetworkReply:
    """One response, as data: a redirect is one too (its Location in ``headers``)."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key == name:
                return value
        return None

    def header_list(self, name: str) -> list[str]:
        return [value for key, value in self.headers if key == name]


@dataclass
class _Pending:
    max_bytes: int
    future: asyncio.Future
    head: protocol.Head | None = None
    declared: int | None = None  # the head's Content-Length, when the body is not content-coded
    chunks: list[bytes] = field(default_factory=list)
    size: int = 0


class NetworkHost:
    """Runs ``python -m network.main`` and talks to it over a socketpair."""

    def __init__(self, *, sandbox: bool = True, uid: int | None = None, gid: int | None = None,
                 log_dir: str | None = None, probes: bool = False, backoff: RestartBackoff | None = None,
                 start_timeout: float = 20.0) -> None:
        self.sandbox = sandbox
        self.uid = uid
        self.gid = gid
        self.log_dir = log_dir
        self.probes = probes
        self.backoff = backoff or RestartBackoff()
        self.start_timeout = start_timeout
        self.process: subprocess.Popen | None = None
        self.layers: list[protocol.SandboxLayer] = []
        self.starts = 0  # processes started
        self.last_exit: str | None = None  # why the last one ended
        self.last_bad_message: BadMessage | None = None
        self.last_signal: int | None = None  # the signal that ended the last one, if one did
        self._writer: asyncio.StreamWriter | None = None
        self._reader_task: asyncio.Task | None = None
        self._pending: dict[int, _Pending] = {}
        self._probe: asyncio.Future | None = None
        self._next_id = 0
        self._starting: asyncio.Lock | None = None
        self._ready: asyncio.Future | None = None
        self._closed = False
        self._bad: BadMessage | None = None  # the reason the running process is being ended

    # -- the process's life ----------------------------------------------------

    @property
    def pid(self) -> int:
        return self.process.pid if self.process is not None and self.process.poll() is None else 0

    @property
    def running(self) -> bool:
        return self._writer is not None and self.pid != 0

    async def start(self) -> None:
        """Start the process (after the backoff, if the last one died) and
        wait for its handshake.  Does nothing if it runs."""
        if self._closed:
            raise NetworkProcessLost("the browser is shutting down")
        if self._starting is None:
            self._starting = asyncio.Lock()
        async with self._starting:
            if self.running:
                return
            delay = self.backoff.delay_now()
            if delay > 0:
                await asyncio.sleep(delay)
            await self._launch()

    def _command(self, fd: int) -> list[str]:
        command = [sys.executable, "-m", "network.main", "--fd", str(fd), "--broker-pid", str(os.getpid())]
        if not self.sandbox:
            command.append("--no-sandbox")
        if self.uid is not None:
            command += ["--uid", str(self.uid)]
        if self.gid is not None:
            command += ["--gid", str(self.gid)]
        if self.probes:
            command.append("--probes")
        return command

    async def _launch(self) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        log_path = os.path.join(self.log_dir, "network.log") if self.log_dir else os.devnull
        try:
            with open(log_path, "ab") as output:
                self.process = subprocess.Popen(
                    self._command(theirs.fileno()), pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL,
                    stdout=output, stderr=output, cwd="/", start_new_session=True,
                )
        except OSError as error:
            ours.close()
            raise NetworkProcessLost(f"it could not be started ({error.strerror or error})") from None
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        self.starts += 1
        self._bad = None
        process = self.process
        reader, self._writer = await asyncio.open_unix_connection(sock=ours, limit=protocol.MAX_MESSAGE_BYTES)
        self._ready = asyncio.get_running_loop().create_future()
        self._reader_task = asyncio.create_task(self._read_loop(reader, process), name="network-reader")
        try:
            await asyncio.wait_for(asyncio.shield(self._ready), self.start_timeout)
        except asyncio.TimeoutError:
            self._end(process, None)
            raise NetworkProcessLost(f"the network process did not start within {self.start_timeout:g} s") from None

    async def stop(self, *, timeout: float = 3.0) -> None:
        """Ask it to exit; force it if it does not."""
        self._closed = True
        process = self.process
        if process is None:
            return
        if self._writer is not None:
            try:
                self._writer.write(protocol.frame_message(protocol.Shutdown()))
                await self._writer.drain()
            except (ConnectionError, RuntimeError):
                pass
        try:
            await asyncio.wait_for(asyncio.to_thread(process.wait), timeout)
        except asyncio.TimeoutError:
            process.kill()
            await asyncio.to_thread(process.wait)
        if self._reader_task is not None:
            await asyncio.wait({self._reader_task}, timeout=timeout)

    def kill(self) -> None:
        """End it now (it is started again by the next request)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()

    # -- requests --------------------------------------------------------------

    async def fetch(self, *, method: protocol.Method, url: str, headers: list[tuple[str, str]],
                    body: bytes = b"", max_bytes: int, timeout_s: float) -> NetworkReply:
        """One HTTP(S) exchange, redirects not followed.  Raises
        :class:`NetworkFailure` or :class:`NetworkProcessLost`."""
        await self.start()
        self._next_id += 1
        request = self._next_id
        future = asyncio.get_running_loop().create_future()
        self._pending[request] = _Pending(max_bytes=max_bytes, future=future)
        message = protocol.Fetch(request=request, method=method, url=url,
                                 headers=[protocol.Header(name=k, value=v) for k, v in headers],
                                 body=body, max_bytes=max_bytes, timeout_s=timeout_s)
        try:
            self._send(message)
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            if request in self._pending and self._writer is not None:
                self._send(protocol.Cancel(request=request))  # its Failed(CANCELLED) closes the record
            raise
        except NetworkProcessLost:
            self._pending.pop(request, None)
            raise

    async def run_probe(self, code: str, *, timeout: float = 30.0) -> protocol.ProbeResult:
        """Compromise simulation (a process started with ``probes=True``)."""
        await self.start()
        return await asyncio.wait_for(asyncio.shield(self.start_probe(code)), timeout)

    def start_probe(self, code: str) -> asyncio.Future:
        """Send the probe now (the process must be running); the future gets its result.
        Requests sent after this are the probe's to answer."""
        self._probe = asyncio.get_running_loop().create_future()
        self._send(protocol.RunProbe(code=code))
        return self._probe

    def _send(self, message: msgspec.Struct) -> None:
        if self._writer is None:
            raise NetworkProcessLost(self.last_exit or "the network process is not running")
        self._writer.write(protocol.frame_message(message))

    # -- what it sends ---------------------------------------------------------

    async def _read_loop(self, reader: asyncio.StreamReader, process: subprocess.Popen) -> None:
        try:
            while True:
                header = await reader.readexactly(protocol.LENGTH_BYTES)
                length = protocol.frame_length(header)
                if length > protocol.MAX_MESSAGE_BYTES:
                    self._end(process, BadMessage.TOO_LARGE)
                    return
                payload = await reader.readexactly(length)
                try:
                    message = protocol.from_network_decoder.decode(payload)
                except Exception as error:  # noqa: BLE001 - every failure has a name, none a traceback
                    self._end(process, classify_decode_failure(payload, error))
                    return
                reason = self._deliver(message)
                if reason is not None:
                    self._end(process, reason)
                    return
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            await self._exited(process)

    def _deliver(self, message: msgspec.Struct) -> BadMessage | None:
        """Act on one decoded message, or name why it is a bad message."""
        if isinstance(message, protocol.Hello):
            if self._ready is None or self._ready.done():
                return BadMessage.HANDSHAKE_REPLAYED
            if message.pid != self.process.pid:
                return BadMessage.WRONG_PID
            self.layers = list(message.layers)
            self._ready.set_result(None)
            return None
        if self._ready is None or not self._ready.done():
            return BadMessage.UNEXPECTED_REPLY  # anything before the handshake
        if isinstance(message, protocol.ProbeResult):
            if self._probe is None or self._probe.done():
                return BadMessage.UNEXPECTED_REPLY
            self._probe.set_result(message)
            return None
        pending = self._pending.get(message.request)
        if pending is None:
            return BadMessage.UNEXPECTED_REPLY
        match message:
            case protocol.Head():
                if pending.head is not None:
                    return BadMessage.WRONG_REPLY_TYPE
                pending.head = message
                pending.declared = _declared_length(message)
            case protocol.Body(data=data):
                if pending.head is None:
                    return BadMessage.WRONG_REPLY_TYPE
                pending.size += len(data)
                if pending.size > pending.max_bytes:
                    return BadMessage.OVER_BUDGET
                if pending.declared is not None and pending.size > pending.declared:
                    return BadMessage.LONGER_THAN_DECLARED
                pending.chunks.append(data)
            case protocol.Done():
                if pending.head is None:
                    return BadMessage.WRONG_REPLY_TYPE
                del self._pending[message.request]
                head = pending.head
                reply = NetworkReply(status=head.status, headers=[(h.name, h.value) for h in head.headers],
                                     body=b"".join(pending.chunks))
                if not pending.future.done():
                    pending.future.set_result(reply)
            case protocol.Failed():
                del self._pending[message.request]
                if not pending.future.done():
                    pending.future.set_exception(NetworkFailure(message))
                    pending.future.exception()  # retrieved: a cancelled load no longer waits
        return None

    def _end(self, process: subprocess.Popen, reason: BadMessage | None) -> None:
        """End the process now (a bad message, or no handshake)."""
        if reason is not None:
            self._bad = reason
            self.last_bad_message = reason
            log.warning("network process %d ended: %s", process.pid, reason.describe())
        if process.poll() is None:
            process.kill()

    async def _exited(self, process: subprocess.Popen) -> None:
        """Its channel closed: reap it, fail what was in flight, arm the backoff."""
        if self._writer is not None and process is self.process:
            self._writer.close()
            self._writer = None
        if process.poll() is None:
            try:
                await asyncio.wait_for(asyncio.to_thread(process.wait), 2.0)
            except asyncio.TimeoutError:
                process.kill()
                await asyncio.to_thread(process.wait)
        code = process.returncode
        self.last_signal = -code if code is not None and code < 0 else None
        if self._bad is not None:
            cause = self._bad.describe()
        elif code is not None and code < 0:
            cause = f"killed by {_signal_name(-code)}"
        elif code == protocol.SANDBOX_UNAVAILABLE_EXIT:
            cause = ("its sandbox could not be applied on this kernel (see network.log in the runtime "
                     "directory); run with --no-sandbox to load pages without it")
        else:
            cause = f"exited with code {code}"
        self.last_exit = cause
        if not self._closed:
            handshaken = self._ready is not None and self._ready.done() and not self._ready.cancelled() \
                and self._ready.exception() is None
            if self._bad is None and handshaken:  # one that never started is reported by the load that waited
                log.warning("network process %d ended: %s", process.pid, cause)
            self.backoff.record_death()
        error = NetworkProcessLost(cause)
        if self._ready is not None and not self._ready.done():
            self._ready.set_exception(error)
            self._ready.exception()
        for pending in self._pending.values():
            if not pending.future.done():
                pending.future.set_exception(error)
                pending.future.exception()
        self._pending.clear()
        if self._probe is not None and not self._probe.done():
            self._probe.set_exception(error)
            self._probe.exception()


def _declared_length(head: protocol.Head) -> int | None:
    """The length a head declares for its body as delivered, if it does: an
    honest network process never delivers more (decoded bytes differ from the
    wire's only under a content coding)."""
    lengths = [h.value.strip() for h in head.headers if h.name == "content-length"]
    coded = any(h.value.strip().lower() not in ("", "identity") for h in head.headers if h.name == "content-encoding")
    if coded or not lengths or not lengths[0].isdigit():
        return None
    return int(lengths[0])


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"

