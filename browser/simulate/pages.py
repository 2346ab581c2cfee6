"""Local sites for the real engine and calibration: generated pages of each size class.

:class:`PageServer` serves, on several loopback addresses (127.0.0.2,
127.0.0.3, ...; all of 127.0.0.0/8 is loopback on Linux), a page for any
path, whose document is about ``SizeClass.document_bytes`` long for the size
class in its query (``?size=medium``).  Pages are plain HTML: headings,
paragraphs and links, the same text for the same path, so a reload or a
restore shows the same page.  Sites of a trace map onto the addresses in
order of first visit.
"""

from __future__ import annotations

import hashlib
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from browser.simulate.trace import SizeClass

_WORDS = ("browser renderer process sandbox memory discard restore frozen tab site policy budget "
          "zygote broker message frame layout document network profile snapshot").split()


def page_html(path: str, size: SizeClass) -> bytes:
    """A page of about ``size.document_bytes`` bytes, the same for the same path."""
    seed = int.from_bytes(hashlib.sha256(path.encode()).digest()[:8], "big")
    target = size.document_bytes
    parts = [f"<!DOCTYPE html><html><head><title>Page {path}</title></head><body><h1>Page {path}</h1>"]
    length = len(parts[0])
    n = 0
    while length < target:
        n += 1
        words = " ".join(_WORDS[(seed >> (i % 48) ^ n * 7 + i) % len(_WORDS)] for i in range(60))
        chunk = f'<p>{words} <a href="/p/{(seed + n) % 1000}?size={size.value}">link {n}</a></p>\n'
        if n % 12 == 0:
            chunk = f"<h2>Section {n // 12}</h2>\n" + chunk
        parts.append(chunk)
        length += len(chunk)
    parts.append("</body></html>\n")
    return "".join(parts).encode()


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - the http.server name
        parts = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(parts.query)
        try:
            size = SizeClass(query.get("size", ["small"])[0])
        except ValueError:
            size = SizeClass.SMALL
        body = page_html(parts.path, size)
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:  # quiet
        pass


class PageServer:
    """HTTP servers on ``sites`` loopback addresses, each in its own thread."""

    def __init__(self, *, sites: int = 4) -> None:
        if not 1 <= sites <= 250:
            raise ValueError("sites must be from 1 to 250")
        self.servers: list[ThreadingHTTPServer] = []
        self.threads: list[threading.Thread] = []
        for index in range(sites):
            server = ThreadingHTTPServer((f"127.0.0.{index + 2}", 0), _Handler)
            server.daemon_threads = True
            thread = threading.Thread(target=server.serve_forever, name=f"simulate-site-{index}", daemon=True)
            thread.start()
            self.servers.append(server)
            self.threads.append(thread)
        self.site_index: dict[str, int] = {}

    def url(self, site: int, path: str, size: SizeClass) -> str:
        host, port = self.servers[site % len(self.servers)].server_address[:2]
        return f"http://{host}:{port}{path}?size={size.value}"

    def local_url(self, trace_url: str, size: SizeClass) -> str:
        """Where a trace's URL is served: its site maps to one loopback address."""
        parts = urllib.parse.urlsplit(trace_url)
        site = self.site_index.setdefault(parts.hostname or "", len(self.site_index))
        return self.url(site, parts.path or "/", size)

    def close(self) -> None:
        for server in self.servers:
            server.shutdown()
            server.server_close()
        for thread in self.threads:
            thread.join(timeout=5)

    def __enter__(self) -> PageServer:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
