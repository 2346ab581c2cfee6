"""HTTP/1.1 and HTTPS for the network process: h11 for framing, asyncio for I/O.

One :class:`HttpClient` makes every request of a browser.  Connections are
kept per origin and reused; the framing is strict about it:

* A response ends where its framing says (``Content-Length``, chunked, or
  the connection's end).  If bytes arrived past that end, they poison the
  connection they came on: it is closed, never asked again, so what a server
  sent beyond a response can never be read as the answer to the next one.
* An idle connection that has received anything at all (bytes, or its end)
  while nothing was asked is closed too, for the same reason.
* A GET sent on a reused connection that the server had just closed
  (no byte of answer) is sent once more on a new one.

Why h11 and not httpx here: these two checks need the connection's
trailing bytes and idle state, which httpcore's pool keeps to itself (with
keep-alive on, it would hand bytes beyond a response to the next request).
h11 is the parser httpx itself uses, pure and I/O-free, so the framing
rules are the same as before; the connection pool, timeouts and the
mapping of failures to typed reasons are written here.

Redirects are never followed: a 3xx is reported like any response (its
``Location`` among the headers), and the broker asks for the next hop if it
allows it.  Bodies are decoded here (``network/decoding.py``) under one
budget across every content-coding layer, and sent on as
:class:`~network.protocol.Body` chunks.
"""

from __future__ import annotations

import asyncio
import errno
import re
import socket
import ssl
import urllib.parse
from collections.abc import Awaitable, Callable

import h11

from network import protocol
from network.decoding import (
    ContentDecoder,
    CorruptData,
    DecodingError,
    OverBudget,
    TruncatedData,
    UnsupportedEncoding,
    parse_content_encoding,
)

#: Idle connections kept per origin, and in all.
MAX_IDLE_PER_ORIGIN = 6
MAX_IDLE = 64
#: Stop reading from a connection while this much is waiting to be parsed.
READ_BUFFER_BYTES = 256 * 1024
_DEFAULT_PORTS = {"http": 80, "https": 443}

Send = Callable[[protocol.Head | protocol.Body | protocol.Done | protocol.Failed], Awaitable[None]]


class FetchFailed(Exception):
    """A fetch ends with this :class:`~network.protocol.Failed` (request id filled in later)."""

    def __init__(self, kind: protocol.FailureKind, *, problem: protocol.ProtocolProblem | None = None,
                 detail: str = "", size: int | None = None, encoding: str | None = None) -> None:
        super().__init__(kind.value)
        self.kind = kind
        self.problem = problem
        self.detail = detail
        self.size = size
        self.encoding = encoding

    def message(self, request: int) -> protocol.Failed:
        return protocol.Failed(request=request, kind=self.kind, problem=self.problem, detail=self.detail,
                               size=self.size, encoding=self.encoding)


# --------------------------------------------------------------------------
# One connection
# --------------------------------------------------------------------------


class _Wire(asyncio.Protocol):
    """A transport's bytes, kept until the parser wants them."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.ended = False  # the peer closed, or the connection was lost
        self.error: BaseException | None = None
        self._waiter: asyncio.Future | None = None
        self._paused = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if len(self.buffer) > READ_BUFFER_BYTES and not self._paused and self.transport is not None:
            self._paused = True
            self.transport.pause_reading()
        self._wake()

    def eof_received(self) -> bool:
        self.ended = True
        self._wake()
        return False  # close the transport

    def connection_lost(self, exc: BaseException | None) -> None:
        self.ended = True
        self.error = exc
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def receive(self, timeout: float) -> bytes:
        """The bytes waiting (b"" at the end); waits up to ``timeout`` for some."""
        if not self.buffer and not self.ended:
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                async with asyncio.timeout(timeout):
                    await self._waiter
            finally:
                self._waiter = None
        data = bytes(self.buffer)
        self.buffer.clear()
        if self._paused and self.transport is not None and not self.ended:
            self._paused = False
            self.transport.resume_reading()
        if not data and self.error is not None:
            raise self.error
        return data

    @property
    def untouched(self) -> bool:
        """Nothing arrived, and it did not end, since it was last read."""
        return not self.buffer and not self.ended and self.transport is not None and not self.transport.is_closing()


class _Connection:
    def __init__(self, origin: tuple[str, str, int], wire: _Wire) -> None:
        self.origin = origin
        self.wire = wire
        self.parser = h11.Connection(our_role=h11.CLIENT, max_incomplete_event_size=protocol.MAX_HEAD_BYTES)
        self.reused = False  # taken from the pool: the server may have closed it meanwhile

    def close(self) -> None:
        if self.wire.transport is not None:
            self.wire.transport.abort()

    def reusable(self) -> bool:
        """Ready for another request: both sides done, keep-alive, nothing
        beyond the last response (trailing data poisons it), nothing since."""
        parser = self.parser
        if parser.our_state is not h11.DONE or parser.their_state is not h11.DONE:
            return False
        trailing, closed = parser.trailing_data
        return not trailing and not closed and self.wire.untouched


# --------------------------------------------------------------------------
# The client
# --------------------------------------------------------------------------


class HttpClient:
    """Every request of one browser, over a pool of reused connections."""

    def __init__(self, tls: ssl.SSLContext) -> None:
        self.tls = tls
        self._idle: dict[tuple[str, str, int], list[_Connection]] = {}

    def close(self) -> None:
        for connections in self._idle.values():
            for connection in connections:
                connection.close()
        self._idle.clear()

    async def fetch(self, fetch: protocol.Fetch, send: Send) -> None:
        """Make the request and ``send`` its Head, Body chunks and Done; raise
        :class:`FetchFailed` on any failure (the caller sends it on)."""
        scheme, host, port, target, host_header = _split(fetch.url)
        origin = (scheme, host, port)
        # A POST is never sent on an idle connection: if the server had closed
        # it, the request could not safely be sent again.
        connection = await self._connection(origin, fetch.timeout_s, fresh=fetch.method is protocol.Method.POST)
        try:
            try:
                response = await self._request(connection, fetch, target, host_header)
            except _ClosedBeforeAnswer:
                connection.close()  # the server had closed the idle connection: once more, on a new one
                connection = await self._connection(origin, fetch.timeout_s, fresh=True)
                response = await self._request(connection, fetch, target, host_header)
            await self._deliver(connection, fetch, response, send)
        except BaseException:
            connection.close()
            raise
        self._release(connection)

    async def _connection(self, origin: tuple[str, str, int], timeout: float, *,
                          fresh: bool = False) -> _Connection:
        idle = self._idle.get(origin, [])
        while idle and not fresh:
            connection = idle.pop()
            if connection.reusable():
                connection.parser.start_next_cycle()
                connection.reused = True
                return connection
            connection.close()
        scheme, host, port = origin
        loop = asyncio.get_running_loop()
        wire = _Wire()
        try:
            async with asyncio.timeout(timeout):
                await loop.create_connection(
                    lambda: wire, host.strip("[]"), port,
                    ssl=self.tls if scheme == "https" else None,
                    server_hostname=host.strip("[]") if scheme == "https" else None,
                )
        except TimeoutError:
            raise FetchFailed(protocol.FailureKind.CONNECT_TIMEOUT) from None
        except BaseException as error:
            if wire.transport is not None:
                wire.transport.abort()
            if isinstance(error, (OSError, ssl.SSLError, UnicodeError, ValueError)):
                raise connect_failure(error) from None
            raise
        return _Connection(origin, wire)

    def _release(self, connection: _Connection) -> None:
        if not connection.reusable():
            connection.close()
            return
        idle = self._idle.setdefault(connection.origin, [])
        idle.append(connection)
        if len(idle) > MAX_IDLE_PER_ORIGIN:
            idle.pop(0).close()
        if sum(len(v) for v in self._idle.values()) > MAX_IDLE:
            oldest = next(origin for origin, v in self._idle.items() if v)
            self._idle[oldest].pop(0).close()

    async def _request(self, connection: _Connection, fetch: protocol.Fetch, target: str,
                       host_header: str) -> h11.Response:
        headers = [("Host", host_header)] + [(h.name, h.value) for h in fetch.headers]
        if fetch.method is protocol.Method.POST:
            headers.append(("Content-Length", str(len(fetch.body))))
        parser, wire = connection.parser, connection.wire
        try:
            data = parser.send(h11.Request(method=fetch.method.value, target=target, headers=headers))
            if fetch.body:
                data += parser.send(h11.Data(data=fetch.body))
            data += parser.send(h11.EndOfMessage())
        except h11.LocalProtocolError:
            raise FetchFailed(protocol.FailureKind.INVALID_URL) from None
        wire.transport.write(data)
        answered = False
        while True:
            try:
                event = parser.next_event()
                if event is h11.NEED_DATA:
                    try:
                        chunk = await wire.receive(fetch.timeout_s)
                    except TimeoutError:
                        raise FetchFailed(protocol.FailureKind.READ_TIMEOUT) from None
                    except OSError as error:
                        if not answered and connection.reused:
                            raise _ClosedBeforeAnswer() from None
                        raise transfer_failure(error) from None
                    if not chunk and parser.their_state is h11.SEND_RESPONSE:
                        if not answered and connection.reused:
                            raise _ClosedBeforeAnswer()
                        raise FetchFailed(protocol.FailureKind.PROTOCOL, problem=protocol.ProtocolProblem.NO_RESPONSE)
                    answered = answered or bool(chunk)
                    parser.receive_data(chunk)
                    continue
            except h11.RemoteProtocolError as error:
                raise FetchFailed(protocol.FailureKind.PROTOCOL, problem=protocol_problem(error)) from None
            if isinstance(event, h11.InformationalResponse):
                continue
            if isinstance(event, h11.Response):
                return event
            raise FetchFailed(protocol.FailureKind.PROTOCOL, problem=protocol.ProtocolProblem.NO_RESPONSE)

    async def _deliver(self, connection: _Connection, fetch: protocol.Fetch, response: h11.Response,
                       send: Send) -> None:
        request = fetch.request
        headers = [protocol.Header(name=bytes(name).decode("latin-1"), value=bytes(value).decode("latin-1"))
                   for name, value in response.headers]
        declared = [h.value for h in headers if h.name == "content-length"]
        if declared and declared[0].strip().isdigit() and int(declared[0]) > fetch.max_bytes:
            raise FetchFailed(protocol.FailureKind.TOO_LARGE, size=int(declared[0]))
        try:
            codings = [item for h in headers if h.name == "content-encoding" for item in h.value.split(",")]
            decoder = ContentDecoder(parse_content_encoding(codings), budget=fetch.max_bytes)
        except UnsupportedEncoding as error:
            if error.too_many:
                raise FetchFailed(protocol.FailureKind.TOO_MANY_LAYERS) from None
            raise FetchFailed(protocol.FailureKind.UNSUPPORTED_ENCODING, encoding=error.name) from None
        await send(protocol.Head(request=request, status=response.status_code, headers=headers))
        parser, wire = connection.parser, connection.wire
        received = 0
        pending: list[bytes] = []
        pending_bytes = 0
        while True:
            try:
                event = parser.next_event()
                if event is h11.NEED_DATA:
                    try:
                        chunk = await wire.receive(fetch.timeout_s)
                    except TimeoutError:
                        raise FetchFailed(protocol.FailureKind.READ_TIMEOUT) from None
                    except OSError as error:
                        raise transfer_failure(error) from None
                    parser.receive_data(chunk)
                    continue
            except h11.RemoteProtocolError as error:
                raise FetchFailed(protocol.FailureKind.PROTOCOL, problem=protocol_problem(error)) from None
            try:
                if isinstance(event, h11.Data):
                    received += len(event.data)
                    if received > fetch.max_bytes:
                        raise FetchFailed(protocol.FailureKind.TOO_LARGE)
                    for piece in decoder.feed(bytes(event.data)):
                        pending.append(piece)
                        pending_bytes += len(piece)
                        if pending_bytes >= protocol.MAX_CHUNK_BYTES:
                            await _send_body(send, request, pending)
                            pending, pending_bytes = [], 0
                    continue
                if isinstance(event, h11.EndOfMessage):
                    decoder.finish()
                    break
            except OverBudget:
                raise FetchFailed(protocol.FailureKind.TOO_LARGE) from None
            except CorruptData as error:
                kind = (protocol.FailureKind.TRUNCATED_ENCODING if isinstance(error, TruncatedData)
                        else protocol.FailureKind.CORRUPT_ENCODING)
                raise FetchFailed(kind, encoding=error.encoding.value) from None
            except DecodingError:
                raise FetchFailed(protocol.FailureKind.CORRUPT_ENCODING) from None
            if isinstance(event, h11.ConnectionClosed):
                raise FetchFailed(protocol.FailureKind.PROTOCOL, problem=protocol.ProtocolProblem.SHORT_BODY)
        if pending:
            await _send_body(send, request, pending)
        await send(protocol.Done(request=request))


async def _send_body(send: Send, request: int, pieces: list[bytes]) -> None:
    data = b"".join(pieces)
    for start in range(0, len(data), protocol.MAX_CHUNK_BYTES):
        await send(protocol.Body(request=request, data=data[start:start + protocol.MAX_CHUNK_BYTES]))


class _ClosedBeforeAnswer(Exception):
    """A reused connection ended before a single byte of answer: the server
    had closed it while it was idle, so the request is sent again."""


def _split(url: str) -> tuple[str, str, int, str, str]:
    """``(scheme, host, port, request target, Host header)`` of an http(s) URL."""
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError:
        raise FetchFailed(protocol.FailureKind.INVALID_URL) from None
    scheme = parts.scheme.lower()
    host = parts.netloc.rpartition("@")[2]
    hostname = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    if scheme not in _DEFAULT_PORTS or not hostname:
        raise FetchFailed(protocol.FailureKind.INVALID_URL)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query or url.endswith("?") else "")
    return scheme, hostname, port or _DEFAULT_PORTS[scheme], target, host


# --------------------------------------------------------------------------
# Failures, by kind (never the text of an error: it can quote the server)
# --------------------------------------------------------------------------

#: h11 messages (by a fragment, lower case) -> the problem they report.
_PROTOCOL_PROBLEMS = (
    ("without sending complete message body", protocol.ProtocolProblem.SHORT_BODY),
    ("transfer-encoding", protocol.ProtocolProblem.BAD_TRANSFER_ENCODING),  # before "chunk": h11 says "only chunked"
    ("chunk", protocol.ProtocolProblem.BROKEN_CHUNKS),
    ("receive buffer too long", protocol.ProtocolProblem.HEADERS_TOO_LARGE),
    ("content-length", protocol.ProtocolProblem.BAD_CONTENT_LENGTH),
    ("status line", protocol.ProtocolProblem.BAD_STATUS_LINE),
    ("response line", protocol.ProtocolProblem.BAD_STATUS_LINE),
    ("header", protocol.ProtocolProblem.BAD_HEADER),
)


def protocol_problem(error: BaseException) -> protocol.ProtocolProblem:
    message = str(error).lower()
    for fragment, problem in _PROTOCOL_PROBLEMS:
        if fragment in message:
            return problem
    return protocol.ProtocolProblem.OTHER


_NOT_A_WORD = re.compile(r"[^a-z0-9 ,.'()_/-]")


def _words(text: str | None, fallback: str) -> str:
    """An OS or TLS reason as the words Failed.detail accepts."""
    cleaned = _NOT_A_WORD.sub("", (text or "").lower().replace("_", " "))[:80].strip()
    return cleaned or fallback


def connect_failure(error: BaseException) -> FetchFailed:
    """Why a connection could not be made."""
    if isinstance(error, socket.gaierror):
        return FetchFailed(protocol.FailureKind.DNS_FAILED)
    if isinstance(error, ssl.SSLError):
        reason = getattr(error, "reason", None) or error.strerror or "tls error"
        return FetchFailed(protocol.FailureKind.TLS_FAILED, detail=_words(reason, "tls error"))
    if isinstance(error, ConnectionRefusedError):
        return FetchFailed(protocol.FailureKind.REFUSED)
    if isinstance(error, (UnicodeError, ValueError)):
        return FetchFailed(protocol.FailureKind.INVALID_URL)
    if isinstance(error, OSError) and error.errno is not None:
        return FetchFailed(protocol.FailureKind.CONNECT_FAILED,
                           detail=_words(error.strerror or errno.errorcode.get(error.errno), "connect failed"))
    return FetchFailed(protocol.FailureKind.CONNECT_FAILED, detail="connect failed")


def transfer_failure(error: BaseException) -> FetchFailed:
    """Why a connection broke after it was made."""
    if isinstance(error, ConnectionResetError):
        return FetchFailed(protocol.FailureKind.RESET)
    if isinstance(error, ssl.SSLError):
        reason = getattr(error, "reason", None) or error.strerror or "tls error"
        return FetchFailed(protocol.FailureKind.BROKEN, detail=_words(reason, "tls error"))
    strerror = error.strerror if isinstance(error, OSError) else None
    return FetchFailed(protocol.FailureKind.BROKEN, detail=_words(strerror, "the connection broke while reading"))
