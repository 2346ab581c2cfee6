"""Real HTTP servers on 127.0.0.1 for integration tests: no mocks.

``LocalHTTPServer`` runs a ``ThreadingHTTPServer`` on a free port in a
background thread, logs every request, serves routes a test registers with
:meth:`LocalHTTPServer.route`, and a set of built-in routes (see
``_Handler``).  ``close()`` (or leaving the ``with`` block) stops it: open
connections are shut down, sleeping handlers wake up, and every thread is
joined, so nothing is left running after a test.

``HostileHTTPServer`` speaks HTTP the way an attacker or a broken server
does, byte by byte over raw sockets: one :class:`Hostile` case per path
(decompression bombs, endless and dripping bodies, malformed status lines,
headers and chunks, terminal escapes in headers, lying content types,
resets, redirects to ``about:``, ``data:``, ``javascript:``, ``file:``).
It is bounded in connections, in bytes and seconds per response, and in
lifetime: it stops by itself even if a test forgets to close it.
"""

from __future__ import annotations

import enum
import functools
import html
import socket
import struct
import threading
import time
import urllib.parse
import zlib
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from renderer.protocol import MAX_DOCUMENT_BYTES

#: Bytes /huge sends: a megabyte more than a renderer may be given.
HUGE_BYTES = MAX_DOCUMENT_BYTES + 1024 * 1024

HELLO_HTML = b"""<!DOCTYPE html>
<html><head><title>Hello</title></head>
<body><h1>Hello, world</h1>
<p>A small page with <a href="/text">a text file</a> and <a href="/form">a form</a>.</p>
</body></html>
"""

LATIN1_TEXT = "caf\u00e9 \u2013 \u201cquoted\u201d \u20ac5"
LATIN1_HTML = (
    "<!DOCTYPE html><html><head><title>Latin-1</title></head>"
    f"<body><p>{LATIN1_TEXT}</p></body></html>"
).encode("windows-1252")

SJIS_TEXT = "\u3053\u3093\u306b\u3061\u306f\u4e16\u754c"  # konnichiwa sekai
SJIS_HTML = (
    '<!DOCTYPE html><html><head><meta charset="shift_jis"><title>SJIS</title></head>'
    f"<body><p>{SJIS_TEXT}</p></body></html>"
).encode("shift_jis")

FORM_HTML = b"""<!DOCTYPE html>
<html><head><title>Forms</title></head><body>
<form method="get" action="/form/echo">
  <input type="text" name="q" value="">
  <input type="submit" value="Search">
</form>
<form method="post" action="/form/echo">
  <input type="text" name="name" value="">
  <input type="checkbox" name="agree" value="yes">
  <input type="submit" value="Send">
</form>
</body></html>
"""

NOT_FOUND_HTML = b"""<!DOCTYPE html>
<html><head><title>Not Found</title></head><body><h1>404 Not Found</h1></body></html>
"""

BINARY_BODY = b"\x89BIN\x00\x01\x02\x03\x00\xff" * 64


@dataclass
class RequestRecord:
    """One request as the server saw it."""

    method: str
    path: str  # with the query string
    headers: dict[str, str]
    body: bytes = b""
    client_port: int = 0  # the client's end of the connection: the same port means a reused connection


@dataclass
class _Route:
    body: bytes
    content_type: str | None
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


class LocalHTTPServer:
    """A threaded HTTP/1.1 server on 127.0.0.1 (or another loopback address:
    127.0.0.2, 127.0.0.3 ... are separate sites) with a request log."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.requests: list[str] = []  # paths (with query) in arrival order
        self.records: list[RequestRecord] = []
        self._routes: dict[str, _Route] = {}
        self._lock = threading.Lock()
        self.closing = threading.Event()
        self._httpd = _Server((host, 0), _Handler)
        self._httpd.owner = self
        self.port: int = self._httpd.server_address[1]
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"test-http-server:{self.port}",
            daemon=True,
        )
        self._thread.start()

    # -- public API ----------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def url(self, path: str = "/") -> str:
        return self.base_url + (path if path.startswith("/") else "/" + path)

    def route(
        self,
        path: str,
        body: bytes,
        content_type: str | None = "text/html; charset=utf-8",
        status: int = 200,
        headers: dict[str, str] | None = None,
        delay: float = 0.0,
    ) -> str:
        """Serve ``body`` at ``path`` (any query); ``content_type=None`` sends none.

        Returns the route's URL.
        """
        with self._lock:
            self._routes[path] = _Route(body, content_type, status, dict(headers or {}), delay)
        return self.url(path)

    def count(self, path: str | None = None) -> int:
        """Requests so far, all of them or those for ``path`` (with or without query)."""
        with self._lock:
            if path is None:
                return len(self.requests)
            return sum(1 for p in self.requests if p == path or p.partition("?")[0] == path)

    @property
    def last(self) -> RequestRecord | None:
        with self._lock:
            return self.records[-1] if self.records else None

    def close(self) -> None:
        """Stop serving, wake sleeping handlers, close connections, join every thread."""
        if self.closing.is_set():
            return
        self.closing.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> LocalHTTPServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- used by the handler ---------------------------------------------------

    def _log(self, record: RequestRecord) -> None:
        with self._lock:
            self.requests.append(record.path)
            self.records.append(record)

    def _route_for(self, path: str) -> _Route | None:
        with self._lock:
            return self._routes.get(path)

    def sleep(self, seconds: float) -> bool:
        """Sleep in small steps; False if the server started closing meanwhile."""
        return not self.closing.wait(seconds)


class _Server(ThreadingHTTPServer):
    """Joins its handler threads on close, after shutting their sockets down."""

    daemon_threads = False
    block_on_close = True
    owner: LocalHTTPServer

    def __init__(self, *args, **kwargs) -> None:
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(*args, **kwargs)

    def process_request(self, request, client_address) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def server_close(self) -> None:
        # A handler blocked reading a kept-alive connection would block the join.
        with self._connections_lock:
            for conn in list(self._connections):
                try:
                    conn.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        super().server_close()

    def handle_error(self, request, client_address) -> None:
        pass  # clients hanging up mid-response is what several tests do on purpose


class _Handler(BaseHTTPRequestHandler):
    """Built-in routes:

    ``/hello``              small HTML page with a title and links
    ``/redirect/N``         chain of N redirects ending at /hello
    ``/redirect-loop``      redirects to itself
    ``/redirect-to?url=U``  one redirect to U (any scheme)
    ``/slow?seconds=S``     answers after S seconds (0.5 by default)
    ``/huge``               HUGE_BYTES of HTML, chunked; ``/huge?length=1``: with Content-Length
    ``/404``                an HTML 404 page
    ``/charset/latin1``     windows-1252 bytes, charset in the header
    ``/charset/meta-sjis``  shift_jis bytes, charset only in <meta>
    ``/text``               text/plain
    ``/binary``             application/octet-stream with NUL bytes
    ``/form``               a GET form and a POST form, both to /form/echo
    ``/form/echo``          echoes the submitted fields (query or POST body) as HTML
    ``/headers``            echoes the request headers as text/plain
    """

    server: _Server
    protocol_version = "HTTP/1.1"
    server_version = "minibrowser-test"
    timeout = 10  # a stuck client cannot hold a handler thread forever
    disable_nagle_algorithm = True  # headers and body go in separate writes

    def log_message(self, format: str, *args: object) -> None:
        pass

    @property
    def owner(self) -> LocalHTTPServer:
        return self.server.owner

    def do_GET(self) -> None:
        self._dispatch(b"")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self._dispatch(self.rfile.read(length) if length else b"")

    def _dispatch(self, body: bytes) -> None:
        self.owner._log(RequestRecord(self.command, self.path, dict(self.headers.items()), body,
                                      client_port=self.client_address[1]))
        parts = urllib.parse.urlsplit(self.path)
        path, query = parts.path, urllib.parse.parse_qs(parts.query)

        if (route := self.owner._route_for(path)) is not None:
            if route.delay and not self.owner.sleep(route.delay):
                return
            self._send(route.status, route.body, route.content_type, route.headers)
        elif path == "/hello":
            self._send(200, HELLO_HTML)
        elif path.startswith("/redirect/"):
            remaining = int(path.rpartition("/")[2] or 0)
            if remaining <= 0:
                self._send(200, HELLO_HTML)
            else:
                target = "/hello" if remaining == 1 else f"/redirect/{remaining - 1}"
                self._redirect(target)
        elif path == "/redirect-loop":
            self._redirect("/redirect-loop")
        elif path == "/redirect-to":
            self._redirect(query.get("url", ["/hello"])[0])
        elif path == "/slow":
            if self.owner.sleep(float(query.get("seconds", ["0.5"])[0])):
                self._send(200, b"<!DOCTYPE html><title>Slow</title><p>finally</p>")
        elif path == "/huge":
            self._send_huge(with_length="length" in query)
        elif path == "/404":
            self._send(404, NOT_FOUND_HTML)
        elif path == "/charset/latin1":
            self._send(200, LATIN1_HTML, "text/html; charset=windows-1252")
        elif path == "/charset/meta-sjis":
            self._send(200, SJIS_HTML, "text/html")
        elif path == "/text":
            self._send(200, b"Plain text.\n<b>not bold</b>\n", "text/plain; charset=utf-8")
        elif path == "/binary":
            self._send(200, BINARY_BODY, "application/octet-stream")
        elif path == "/form" and self.command == "GET":
            self._send(200, FORM_HTML)
        elif path in ("/form", "/form/echo"):
            fields = parts.query if self.command == "GET" else body.decode("utf-8", "replace")
            self._send(200, _echo_page(self.command, fields))
        elif path == "/headers":
            text = "".join(f"{k}: {v}\n" for k, v in self.headers.items())
            self._send(200, text.encode("utf-8"), "text/plain; charset=utf-8")
        else:
            self._send(404, b"<!DOCTYPE html><title>Not Found</title><h1>no such route</h1>")

    def _send(
        self,
        status: int,
        body: bytes,
        content_type: str | None = "text/html; charset=utf-8",
        headers: dict[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        if content_type is not None:
            self.send_header("Content-Type", content_type)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _redirect(self, location: str) -> None:
        self._send(302, b"", headers={"Location": location})

    def _send_huge(self, *, with_length: bool) -> None:
        chunk = b"<p>" + b"x" * (64 * 1024 - 8) + b"</p>\n"
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        if with_length:
            self.send_header("Content-Length", str(HUGE_BYTES))
        else:
            self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        sent = 0
        try:
            while sent < HUGE_BYTES and not self.owner.closing.is_set():
                piece = chunk[: HUGE_BYTES - sent]
                if with_length:
                    self.wfile.write(piece)
                else:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                sent += len(piece)
            if not with_length:
                self.wfile.write(b"0\r\n\r\n")
        except OSError:
            self.close_connection = True  # the client hung up: expected


def _echo_page(method: str, fields: str) -> bytes:
    pairs = urllib.parse.parse_qsl(fields, keep_blank_values=True)
    items = "".join(
        f"<li>{html.escape(name)} = {html.escape(value)}</li>" for name, value in pairs
    )
    return (
        f"<!DOCTYPE html><html><head><title>Echo {method}</title></head>"
        f"<body><h1>{method}</h1><ul>{items}</ul></body></html>"
    ).encode("utf-8")


def closed_port() -> int:
    """A 127.0.0.1 port nothing listens on: bound, then closed."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --------------------------------------------------------------------------
# The hostile server
# --------------------------------------------------------------------------

#: How far the decompression bombs inflate: sixteen times the document cap.
BOMB_INFLATED_BYTES = 16 * MAX_DOCUMENT_BYTES
#: Bytes the oversized responses send: a mebibyte more than the cap.
OVERSIZED_BYTES = MAX_DOCUMENT_BYTES + 1024 * 1024
#: Beats of the slow responses: one byte per beat, far slower than any page.
DRIP_SECONDS = 0.1
#: An ordinary body whose headers and status are the hostile part.
BINARY_GARBAGE = bytes(range(256)) * 16  # every byte value, ESC and C1 included


class Hostile(enum.Enum):
    """One way a server can misbehave; the value is its path on the server."""

    PLAIN = "plain"  # a well-formed page: the reference the others are compared to
    # Content codings
    GZIP_PAGE = "gzip-page"
    DEFLATE_PAGE = "deflate-page"  # zlib format, as HTTP means it
    RAW_DEFLATE_PAGE = "raw-deflate-page"  # raw deflate, as some servers send it
    STACKED_PAGE = "stacked-page"  # Content-Encoding: deflate, gzip
    GZIP_BOMB = "gzip-bomb"
    DOUBLE_GZIP_BOMB = "double-gzip-bomb"
    DEFLATE_BOMB = "deflate-bomb"
    BROTLI = "brotli"
    UNKNOWN_ENCODING = "unknown-encoding"
    UNPRINTABLE_ENCODING = "unprintable-encoding"
    TOO_MANY_LAYERS = "too-many-layers"
    CORRUPT_GZIP = "corrupt-gzip"
    TRUNCATED_GZIP = "truncated-gzip"
    # Sizes and timing
    ENDLESS_BODY = "endless-body"
    OVERSIZED_UNTIL_CLOSE = "oversized-until-close"
    OVERSIZED_DECLARED = "oversized-declared"
    SLOW_HEADERS = "slow-headers"
    SLOW_BODY = "slow-body"
    STALL_BEFORE_HEADERS = "stall-before-headers"
    STALL_AFTER_HEADERS = "stall-after-headers"
    SHORT_BODY = "short-body"  # Content-Length larger than the body
    LONG_BODY = "long-body"  # Content-Length smaller than the body, connection kept
    # Framing
    BROKEN_CHUNKED = "broken-chunked"
    GARBAGE_STATUS = "garbage-status"
    BINARY_STATUS = "binary-status"
    NO_STATUS_LINE = "no-status-line"  # an HTTP/0.9-style bare body
    HUGE_HEADERS = "huge-headers"
    MANY_HEADERS = "many-headers"
    EMPTY_REPLY = "empty-reply"
    RESET = "reset"
    # Text in the head
    REASON_NOT_UTF8 = "reason-not-utf8"
    REASON_ESCAPES = "reason-escapes"
    HEADER_NOT_UTF8 = "header-not-utf8"
    HEADER_ESCAPES = "header-escapes"
    COOKIE_GARBAGE = "cookie-garbage"
    CONTENT_TYPE_ESCAPES = "content-type-escapes"
    CONTENT_TYPE_NOT_UTF8 = "content-type-not-utf8"
    CHARSET_GARBAGE = "charset-garbage"
    CHARSET_HUGE = "charset-huge"
    BINARY_AS_HTML = "binary-as-html"
    HTML_AS_PNG = "html-as-png"
    # Redirects
    REDIRECT_ABOUT_CRASH = "redirect-about-crash"
    REDIRECT_ABOUT_WELCOME = "redirect-about-welcome"
    REDIRECT_DATA = "redirect-data"
    REDIRECT_JAVASCRIPT = "redirect-javascript"
    REDIRECT_FILE = "redirect-file"
    REDIRECT_MALFORMED = "redirect-malformed"
    REDIRECT_BAD_PORT = "redirect-bad-port"
    REDIRECT_LOOP = "redirect-loop"
    REDIRECT_ENDLESS = "redirect-endless"
    REDIRECT_SEVERAL = "redirect-several"
    LOCATION_ESCAPES = "location-escapes"
    LOCATION_NOT_UTF8 = "location-not-utf8"

    @property
    def path(self) -> str:
        return "/" + self.value


@functools.lru_cache(maxsize=None)
def compressed_zeros(*, wbits: int = 16 + zlib.MAX_WBITS, size: int = BOMB_INFLATED_BYTES) -> bytes:
    """``size`` zero bytes compressed (gzip by default, zlib with ``wbits=15``),
    a mebibyte at a time; made once per format."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, wbits)
    zeros = bytes(1024 * 1024)
    parts = [compressor.compress(zeros) for _ in range(size // len(zeros))]
    parts.append(compressor.compress(bytes(size % len(zeros))))
    parts.append(compressor.flush())
    return b"".join(parts)


def gzip_bytes(data: bytes) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


def raw_deflate_bytes(data: bytes) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


class _Closing(Exception):
    """The server is closing, the response ran out of budget, or the client left."""


class _Connection:
    """One accepted socket with the limits every hostile response obeys."""

    def __init__(self, sock: socket.socket, server: HostileHTTPServer) -> None:
        self.sock = sock
        self.server = server
        self.deadline = time.monotonic() + server.max_seconds_per_response
        self.budget = server.max_bytes_per_response
        self._buffer = b""

    def read_request(self) -> str | None:
        """The path of the next request, or None if the client is gone."""
        self.sock.settimeout(5.0)
        while b"\r\n\r\n" not in self._buffer:
            if len(self._buffer) > 64 * 1024 or self.server.closing.is_set():
                return None
            try:
                data = self.sock.recv(65536)
            except OSError:
                return None
            if not data:
                return None
            self._buffer += data
        head, _, self._buffer = self._buffer.partition(b"\r\n\r\n")
        parts = head.split(b"\r\n", 1)[0].split(b" ")
        if len(parts) < 2:
            return None
        self.server._log(parts[1].decode("latin-1"))
        self.deadline = time.monotonic() + self.server.max_seconds_per_response
        self.budget = self.server.max_bytes_per_response
        return parts[1].decode("latin-1")

    def send(self, data: bytes) -> None:
        if self.server.closing.is_set() or time.monotonic() > self.deadline:
            raise _Closing
        self.budget -= len(data)
        if self.budget < 0:
            raise _Closing
        try:
            self.sock.sendall(data)
        except OSError:
            raise _Closing from None

    def pause(self, seconds: float) -> None:
        if self.server.closing.wait(seconds) or time.monotonic() > self.deadline:
            raise _Closing

    def drip(self, data: bytes) -> None:
        for index in range(len(data)):
            self.send(data[index : index + 1])
            self.pause(DRIP_SECONDS)

    def stall(self) -> None:
        """Say nothing until the client gives up or the limits run out."""
        while True:
            self.pause(DRIP_SECONDS)
            if _peer_closed(self.sock):
                raise _Closing

    def reset(self) -> None:
        """End the connection with a TCP RST instead of a FIN."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def _peer_closed(sock: socket.socket) -> bool:
    try:
        sock.settimeout(0)
        return sock.recv(1, socket.MSG_PEEK) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True
    finally:
        sock.settimeout(5.0)


def _head(status: bytes, headers: list[tuple[bytes, bytes]]) -> bytes:
    lines = [status] + [name + b": " + value for name, value in headers]
    return b"\r\n".join(lines) + b"\r\n\r\n"


def _whole(
    body: bytes,
    *,
    status: bytes = b"HTTP/1.1 200 OK",
    content_type: bytes | None = b"text/html; charset=utf-8",
    headers: list[tuple[bytes, bytes]] = (),
    length: int | None = None,
) -> bytes:
    """A complete response (``length`` overrides the true Content-Length)."""
    fields = [(b"Content-Type", content_type)] if content_type is not None else []
    fields += list(headers)
    fields.append((b"Content-Length", str(len(body) if length is None else length).encode()))
    return _head(status, fields) + body


def _redirect(location: bytes, *extra: bytes) -> bytes:
    headers = [(b"Location", location)] + [(b"Location", more) for more in extra]
    return _whole(b"", status=b"HTTP/1.1 302 Found", content_type=None, headers=headers)


def _encoded(coding: bytes, body: bytes) -> bytes:
    return _whole(body, headers=[(b"Content-Encoding", coding)])


def _serve(case: Hostile, conn: _Connection, query: str) -> bool:
    """Answer one request; True keeps the connection for another."""
    hello = HELLO_HTML
    match case:
        case Hostile.PLAIN:
            conn.send(_whole(hello))
            return True
        case Hostile.GZIP_PAGE:
            conn.send(_encoded(b"gzip", gzip_bytes(hello)))
        case Hostile.DEFLATE_PAGE:
            conn.send(_encoded(b"deflate", zlib.compress(hello)))
        case Hostile.RAW_DEFLATE_PAGE:
            conn.send(_encoded(b"deflate", raw_deflate_bytes(hello)))
        case Hostile.STACKED_PAGE:
            conn.send(_encoded(b"deflate, gzip", gzip_bytes(zlib.compress(hello))))
        case Hostile.GZIP_BOMB:
            conn.send(_encoded(b"gzip", compressed_zeros()))
        case Hostile.DOUBLE_GZIP_BOMB:
            conn.send(_encoded(b"gzip, gzip", gzip_bytes(compressed_zeros())))
        case Hostile.DEFLATE_BOMB:
            conn.send(_encoded(b"deflate", compressed_zeros(wbits=zlib.MAX_WBITS)))
        case Hostile.BROTLI:
            conn.send(_encoded(b"br", b"\x1b\x03\x00\xf8\xa5\x85\x8c\x01"))
        case Hostile.UNKNOWN_ENCODING:
            conn.send(_encoded(b"x-mystery", hello))
        case Hostile.UNPRINTABLE_ENCODING:
            conn.send(_encoded(b"\xff\xfe\x80zip", hello))
        case Hostile.TOO_MANY_LAYERS:
            body = hello
            for _ in range(5):
                body = gzip_bytes(body)
            conn.send(_encoded(b"gzip, gzip, gzip, gzip, gzip", body))
        case Hostile.CORRUPT_GZIP:
            conn.send(_encoded(b"gzip", hello))
        case Hostile.TRUNCATED_GZIP:
            conn.send(_encoded(b"gzip", gzip_bytes(hello)[: len(gzip_bytes(hello)) // 2]))
        case Hostile.ENDLESS_BODY:
            conn.send(_head(b"HTTP/1.1 200 OK", [(b"Content-Type", b"text/html"), (b"Transfer-Encoding", b"chunked")]))
            piece = b"<p>" + b"endless " * 8000 + b"</p>\n"
            while True:
                conn.send(b"%x\r\n%s\r\n" % (len(piece), piece))
        case Hostile.OVERSIZED_UNTIL_CLOSE:
            conn.send(_head(b"HTTP/1.1 200 OK", [(b"Content-Type", b"text/html"), (b"Connection", b"close")]))
            piece = b"<p>" + b"x" * (64 * 1024 - 8) + b"</p>\n"
            for _ in range(OVERSIZED_BYTES // len(piece) + 1):
                conn.send(piece)
        case Hostile.OVERSIZED_DECLARED:
            conn.send(_head(b"HTTP/1.1 200 OK", [(b"Content-Type", b"text/html"),
                                                (b"Content-Length", str(OVERSIZED_BYTES).encode())]))
            conn.stall()
        case Hostile.SLOW_HEADERS:  # slowloris: longer than any client's whole-load limit
            conn.drip(_whole(hello, headers=[(b"X-Padding", b"p" * 500)]))
        case Hostile.SLOW_BODY:
            conn.send(_head(b"HTTP/1.1 200 OK", [(b"Content-Type", b"text/html"), (b"Content-Length", b"100000")]))
            conn.drip(b"<p>" + b"drip " * 20000)
        case Hostile.STALL_BEFORE_HEADERS:
            conn.stall()
        case Hostile.STALL_AFTER_HEADERS:
            conn.send(_head(b"HTTP/1.1 200 OK", [(b"Content-Type", b"text/html"), (b"Content-Length", b"1000")]))
            conn.stall()
        case Hostile.SHORT_BODY:
            conn.send(_whole(hello, length=len(hello) + 1000))
        case Hostile.LONG_BODY:
            conn.send(_whole(hello + b"<p>SMUGGLED</p>" + _whole(b"<p>SMUGGLED</p>"), length=len(hello)))
            return True
        case Hostile.BROKEN_CHUNKED:
            conn.send(_head(b"HTTP/1.1 200 OK", [(b"Content-Type", b"text/html"), (b"Transfer-Encoding", b"chunked")]))
            conn.send(b"zz\r\n" + hello + b"\r\n0\r\n\r\n")
        case Hostile.GARBAGE_STATUS:
            conn.send(b"SPAM SPAM SPAM\r\nContent-Length: 5\r\n\r\nhello")
        case Hostile.BINARY_STATUS:
            conn.send(bytes(range(1, 256)) + b"\r\n\r\n")
        case Hostile.NO_STATUS_LINE:
            conn.send(hello)
        case Hostile.HUGE_HEADERS:
            conn.send(_whole(hello, headers=[(b"X-Padding", b"a" * (1024 * 1024))]))
        case Hostile.MANY_HEADERS:
            conn.send(_whole(hello, headers=[(b"X-H%d" % n, b"v") for n in range(3000)]))
        case Hostile.EMPTY_REPLY:
            pass
        case Hostile.RESET:
            conn.reset()
        case Hostile.REASON_NOT_UTF8:
            conn.send(_whole(hello, status=b"HTTP/1.1 200 \xff\xfe\x80 \xc3("))
        case Hostile.REASON_ESCAPES:
            conn.send(_whole(hello, status=b"HTTP/1.1 200 \x1b]0;pwned\x07\x1b[2J"))
        case Hostile.HEADER_NOT_UTF8:
            conn.send(_whole(hello, headers=[(b"X-Junk", b"\xff\xfe\x80\xc3(")]))
        case Hostile.HEADER_ESCAPES:
            conn.send(_whole(hello, headers=[(b"X-Junk", b"\x1b]52;c;cHduZWQ=\x07")]))
        case Hostile.COOKIE_GARBAGE:
            cookies = [b"\xff\xfe=\x80; Domain=.127.0.0.1; Expires=yesterday", b"=; Max-Age=-99999999999999",
                       b"a=b; Path=\x1b[2J; Domain=" + b"x" * 4000, b"; ; ;", b"c=" + b"d" * 8000]
            conn.send(_whole(hello, headers=[(b"Set-Cookie", cookie) for cookie in cookies]))
        case Hostile.CONTENT_TYPE_ESCAPES:
            conn.send(_whole(hello, content_type=b"text/html\x1b[2J"))
        case Hostile.CONTENT_TYPE_NOT_UTF8:
            conn.send(_whole(hello, content_type=b"text/h\xfftml; charset=\xff\xfe"))
        case Hostile.CHARSET_GARBAGE:
            conn.send(_whole(hello, content_type=b"text/html; charset=no-such-charset-at-all"))
        case Hostile.CHARSET_HUGE:
            conn.send(_whole(hello, content_type=b"text/html; charset=" + b"x" * 5000))
        case Hostile.BINARY_AS_HTML:
            conn.send(_whole(BINARY_GARBAGE))
        case Hostile.HTML_AS_PNG:
            conn.send(_whole(hello, content_type=b"image/png"))
        case Hostile.REDIRECT_ABOUT_CRASH:
            conn.send(_redirect(b"about:crash"))
        case Hostile.REDIRECT_ABOUT_WELCOME:
            conn.send(_redirect(b"about:welcome"))
        case Hostile.REDIRECT_DATA:
            conn.send(_redirect(b"data:text/html,<h1>not from this server</h1>"))
        case Hostile.REDIRECT_JAVASCRIPT:
            conn.send(_redirect(b"javascript:alert(document.cookie)"))
        case Hostile.REDIRECT_FILE:
            conn.send(_redirect(b"file:///etc/passwd"))
        case Hostile.REDIRECT_MALFORMED:
            conn.send(_redirect(b"http://[::1/"))
        case Hostile.REDIRECT_BAD_PORT:
            conn.send(_redirect(b"http://127.0.0.1:99999/"))
        case Hostile.REDIRECT_LOOP:
            conn.send(_redirect(case.path.encode()))
        case Hostile.REDIRECT_ENDLESS:
            hop = int(query) + 1 if query.isdigit() else 1
            conn.send(_redirect(b"%s?%d" % (case.path.encode(), hop)))
        case Hostile.REDIRECT_SEVERAL:
            conn.send(_redirect(Hostile.PLAIN.path.encode(), Hostile.GZIP_PAGE.path.encode()))
        case Hostile.LOCATION_ESCAPES:
            conn.send(_redirect(Hostile.PLAIN.path.encode() + b"\x1b[2J"))
        case Hostile.LOCATION_NOT_UTF8:
            conn.send(_redirect(Hostile.PLAIN.path.encode() + b"?caf\xe9"))
    return False


class HostileHTTPServer:
    """A misbehaving HTTP server on 127.0.0.1: each path is a :class:`Hostile` case.

    Bounded: at most ``max_connections`` connections in its life, each
    response at most ``max_seconds_per_response`` seconds and
    ``max_bytes_per_response`` bytes; after ``lifetime`` seconds it stops by
    itself.  ``close()`` (or the end of the ``with`` block) stops it at once
    and joins every thread.
    """

    def __init__(
        self,
        *,
        lifetime: float = 300.0,
        max_connections: int = 256,
        max_seconds_per_response: float = 40.0,
        max_bytes_per_response: int = 64 * 1024 * 1024,
    ) -> None:
        self.max_connections = max_connections
        self.max_seconds_per_response = max_seconds_per_response
        self.max_bytes_per_response = max_bytes_per_response
        self.requests: list[str] = []
        self.closing = threading.Event()
        self._lock = threading.Lock()
        self._connections: list[tuple[socket.socket, threading.Thread]] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.05)
        self.port: int = self._listener.getsockname()[1]
        self._stop_at = time.monotonic() + lifetime
        self._acceptor = threading.Thread(target=self._accept_loop, name=f"hostile-http:{self.port}")
        self._acceptor.start()

    def url(self, case: Hostile) -> str:
        return f"http://127.0.0.1:{self.port}{case.path}"

    def count(self, case: Hostile) -> int:
        with self._lock:
            return sum(1 for path in self.requests if path.partition("?")[0] == case.path)

    def close(self) -> None:
        self.closing.set()
        if threading.current_thread() is not self._acceptor:
            self._acceptor.join(timeout=5)
        with self._lock:
            connections = list(self._connections)
        for sock, _ in connections:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for _, thread in connections:
            thread.join(timeout=5)

    def __enter__(self) -> HostileHTTPServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _log(self, path: str) -> None:
        with self._lock:
            self.requests.append(path)

    def _accept_loop(self) -> None:
        accepted = 0
        try:
            while not self.closing.is_set() and time.monotonic() < self._stop_at:
                try:
                    sock, _ = self._listener.accept()
                except TimeoutError:
                    continue
                except OSError:
                    break
                accepted += 1
                if accepted > self.max_connections:
                    sock.close()
                    continue
                thread = threading.Thread(target=self._handle, args=(sock,), daemon=True)
                with self._lock:
                    self._connections.append((sock, thread))
                thread.start()
        finally:
            self._listener.close()
            self.closing.set()

    def _handle(self, sock: socket.socket) -> None:
        conn = _Connection(sock, self)
        try:
            while (target := conn.read_request()) is not None:
                path, _, query = target.partition("?")
                try:
                    case = Hostile(path.lstrip("/"))
                except ValueError:
                    conn.send(_whole(b"no such case", status=b"HTTP/1.1 404 Not Found", content_type=b"text/plain"))
                    break
                if not _serve(case, conn, query):
                    break
        except _Closing:
            pass
        finally:
            sock.close()


__all__ = [
    "HUGE_BYTES",
    "HELLO_HTML",
    "Hostile",
    "HostileHTTPServer",
    "LocalHTTPServer",
    "RequestRecord",
    "closed_port",
]
