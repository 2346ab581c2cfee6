"""A real HTTP server on 127.0.0.1 for integration tests: no mocks.

``LocalHTTPServer`` runs a ``ThreadingHTTPServer`` on a free port in a
background thread, logs every request, serves routes a test registers with
:meth:`LocalHTTPServer.route`, and a set of built-in routes (see
``_Handler``).  ``close()`` (or leaving the ``with`` block) stops it: open
connections are shut down, sleeping handlers wake up, and every thread is
joined, so nothing is left running after a test.
"""

from __future__ import annotations

import html
import socket
import threading
import urllib.parse
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


@dataclass
class _Route:
    body: bytes
    content_type: str | None
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


class LocalHTTPServer:
    """A threaded HTTP/1.1 server on 127.0.0.1 with a request log."""

    def __init__(self) -> None:
        self.requests: list[str] = []  # paths (with query) in arrival order
        self.records: list[RequestRecord] = []
        self._routes: dict[str, _Route] = {}
        self._lock = threading.Lock()
        self.closing = threading.Event()
        self._httpd = _Server(("127.0.0.1", 0), _Handler)
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
        return f"http://127.0.0.1:{self.port}"

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
        self.owner._log(RequestRecord(self.command, self.path, dict(self.headers.items()), body))
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


__all__ = ["HUGE_BYTES", "LocalHTTPServer", "RequestRecord", "closed_port"]
