"""The broker's control socket: how other programs of the same user reach a
running browser (``minibrowser open`` hands it URLs, ``minibrowser ps``
asks what it holds, ``minibrowser tui --attach`` drives it).

A plain AF_UNIX stream socket, ``control.sock`` in the broker's private
runtime directory, carrying length-prefixed JSON frames
(``broker/control_wire.py``) of the typed messages in
``broker/control_protocol.py``.  Not ZeroMQ, for two reasons: the broker
must know *who* connected, which ``SO_PEERCRED`` tells on a plain socket's
connection (ZeroMQ hides its connections), and a client should start in a
few milliseconds, which importing pyzmq (tens of ms) would not allow.

Each connection is checked before a byte is read:

* the peer's uid (``SO_PEERCRED``) must be the broker's own: anyone else
  gets one line and is dropped;
* at most :data:`MAX_CONNECTIONS` at a time: one more gets one line;
* each frame is at most :data:`MAX_CLIENT_FRAME` bytes, must arrive within
  :data:`FRAME_TIMEOUT_S` once begun, and must decode as a
  :data:`~broker.control_protocol.ClientMessage`; anything else gets one
  line naming what was wrong, and the connection is closed.

The broker and its tabs carry on whatever a client does.  What a request
*does* is the handler's business (the product's, ``browser/``): this module
only carries checked messages.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import struct
import time
from collections.abc import Awaitable, Callable

import msgspec

from broker import control_protocol as cp
from broker.control_wire import MAX_CLIENT_FRAME, MAX_CONNECTIONS, SOCKET_NAME, VERSION, process_start_ticks, register, unregister

log = logging.getLogger("minibrowser.broker")

#: A client has this long to send its first request, and to finish a frame it began.
FRAME_TIMEOUT_S = 10.0
#: Bytes queued for a client that does not read: it is dropped beyond this.
MAX_PENDING_OUTPUT = 64 * 1024 * 1024


#: After the line that drops a client: how long, and how much, it may still send before the connection closes.
LINGER_S = 1.0
LINGER_BYTES = 4 * 1024 * 1024
_lingering: set[asyncio.Task] = set()


class Dropped(Exception):
    """The client was dropped; ``str()`` is the line it was sent."""


def peer_credentials(sock: socket.socket) -> tuple[int, int, int]:
    """The connected peer's (pid, uid, gid), from the kernel (``SO_PEERCRED``)."""
    raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    return struct.unpack("3i", raw)


class ControlConnection:
    """One connected client, already known to be the broker's own user."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, pid: int) -> None:
        self.reader = reader
        self.writer = writer
        self.peer_pid = pid
        self.closed = False

    async def receive(self, *, timeout: float | None = FRAME_TIMEOUT_S) -> cp.ClientMessage | None:
        """The client's next message, checked; None when it closed the
        connection.  Anything malformed drops it (:class:`Dropped`)."""
        try:
            head = await asyncio.wait_for(self.reader.readexactly(4), timeout) if timeout else \
                await self.reader.readexactly(4)
        except asyncio.IncompleteReadError as error:
            if error.partial:
                raise self.drop("a frame was cut short") from None
            return None
        except asyncio.TimeoutError:
            raise self.drop(f"nothing was asked within {FRAME_TIMEOUT_S:g} s") from None
        except (ConnectionError, OSError):
            return None
        size = int.from_bytes(head, "big")
        if size > MAX_CLIENT_FRAME:
            raise self.drop(f"a frame of {size} bytes is over the limit of {MAX_CLIENT_FRAME}")
        try:
            payload = await asyncio.wait_for(self.reader.readexactly(size), FRAME_TIMEOUT_S)
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            raise self.drop("a frame was cut short") from None
        except asyncio.TimeoutError:
            raise self.drop(f"a frame did not arrive within {FRAME_TIMEOUT_S:g} s") from None
        try:
            return cp.decode_client(payload)
        except msgspec.ValidationError as error:
            raise self.drop(f"a message is not valid: {_first_line(error)}") from None
        except (msgspec.DecodeError, UnicodeDecodeError):
            raise self.drop("a message is not JSON") from None

    def send(self, message: msgspec.Struct) -> None:
        """Queue one message; a client that lets too much pile up is dropped."""
        if self.closed:
            return
        payload = cp.encode(message)
        transport = self.writer.transport
        if transport.get_write_buffer_size() + len(payload) > MAX_PENDING_OUTPUT:
            self.drop("you are not reading what the browser sends")
            return
        self.writer.write(len(payload).to_bytes(4, "big") + payload)

    async def drain(self) -> None:
        if not self.closed:
            try:
                await self.writer.drain()
            except (ConnectionError, OSError):
                self.close()

    def drop(self, reason: str) -> Dropped:
        """Tell the client in one line why, and close the connection; returns the exception to raise."""
        reason = "".join(c if c.isprintable() else "\ufffd" for c in reason)
        line = f"minibrowser: control socket: {reason}; the connection is closed"
        if not self.closed:
            log.info("control client pid %s dropped: %s", self.peer_pid, reason)
            self.closed = True
            try:
                self.writer.write(line.encode() + b"\n")
                self.writer.write_eof()
            except (ConnectionError, OSError, RuntimeError):
                self.writer.close()
                return Dropped(line)
            # Closing with the client's bytes unread would reset the
            # connection, and the client might never read the line: read
            # and discard what it still sends, for a little while.
            linger = asyncio.ensure_future(self._linger())
            _lingering.add(linger)
            linger.add_done_callback(_lingering.discard)
        return Dropped(line)

    async def _linger(self) -> None:
        try:
            left = LINGER_BYTES
            async with asyncio.timeout(LINGER_S):
                while left > 0 and (chunk := await self.reader.read(min(left, 65536))):
                    left -= len(chunk)
        except (TimeoutError, ConnectionError, OSError):
            pass
        finally:
            self.writer.close()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.writer.close()


Handler = Callable[[ControlConnection], Awaitable[None]]


class ControlServer:
    """The control socket of one broker and its entry in the user's registry."""

    def __init__(self, runtime_dir: str, handler: Handler, *, profile: str, started_by: str) -> None:
        self.path = os.path.join(runtime_dir, SOCKET_NAME)
        self.handler = handler
        self.profile = profile
        self.started_by = started_by
        self.started = time.time()
        self._server: asyncio.AbstractServer | None = None
        self._registry_entry: str | None = None
        self._connections: set[ControlConnection] = set()
        self._tasks: set[asyncio.Task] = set()

    @property
    def connections(self) -> int:
        return len(self._connections)

    async def start(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.bind(self.path)
            # The runtime directory may belong to the renderers' uid (a root
            # broker): the socket itself stays the broker's own, 0600.
            os.chmod(self.path, 0o600)
            sock.listen(64)
        except BaseException:
            sock.close()
            raise
        self._server = await asyncio.start_unix_server(self._accept, sock=sock, limit=MAX_CLIENT_FRAME)
        self._registry_entry = register({
            "pid": os.getpid(), "start_ticks": process_start_ticks(os.getpid()), "profile": self.profile,
            "started": self.started, "started_by": self.started_by, "socket": self.path, "version": VERSION,
        })

    async def close(self, *, farewell: msgspec.Struct | None = None) -> None:
        """Stop listening, leave the registry, tell every client ``farewell`` and close it."""
        if self._registry_entry is not None:
            unregister(self._registry_entry)
            self._registry_entry = None
        if self._server is not None:
            self._server.close()
            self._server = None
        for connection in list(self._connections):
            if farewell is not None:
                connection.send(farewell)
                await asyncio.wait({asyncio.ensure_future(connection.drain())}, timeout=1)
            connection.close()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=5)
        try:
            os.unlink(self.path)
        except OSError:
            pass

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        self._tasks.add(task)
        try:
            await self._serve(reader, writer)
        except asyncio.CancelledError:
            writer.close()  # the broker is closing the socket: nothing waits for this connection
        finally:
            self._tasks.discard(task)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sock = writer.get_extra_info("socket")
        pid, uid, _ = peer_credentials(sock)
        connection = ControlConnection(reader, writer, pid)
        if uid != os.getuid():
            connection.drop(f"refused: this browser belongs to uid {os.getuid()} and you are uid {uid}; "
                            "only its own user may control it")
            return
        if len(self._connections) >= MAX_CONNECTIONS:
            connection.drop(f"refused: {MAX_CONNECTIONS} clients are connected already; try again later")
            return
        self._connections.add(connection)
        try:
            await self.handler(connection)
        except Dropped:
            pass
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - one client's failure must not reach the broker
            log.exception("control client failed")
            connection.drop("the browser could not carry out the request")
        finally:
            self._connections.discard(connection)
            await connection.drain()
            connection.close()


def _first_line(error: Exception) -> str:
    text = str(error).splitlines()[0] if str(error) else type(error).__name__
    return text[:200]
