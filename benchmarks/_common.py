"""Shared bits of the benchmark scripts: a local server, pages, statistics."""

from __future__ import annotations

import contextlib
import statistics
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def page_of_size(size: int, title: str = "Benchmark page") -> bytes:
    """A plain, realistic HTML page of about ``size`` bytes."""
    head = f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title></head><body><h1>{title}</h1>"
    parts = [head]
    n = 0
    while sum(map(len, parts)) < size - 200:
        n += 1
        parts.append(
            f"<h2>Section {n}</h2><p>Paragraph {n} of the benchmark with <a href='/link/{n}'>a link</a>, "
            f"<em>emphasis</em> and <code>code()</code>. Lorem ipsum dolor sit amet, consectetur adipiscing "
            f"elit, sed do eiusmod tempor incididunt ut labore et dolore magna aliqua.</p>"
            f"<ul><li>one</li><li>two</li></ul>"
        )
    parts.append("</body></html>")
    return "".join(parts).encode()


def documentation_page(size: int) -> bytes:
    """A long API-reference page of about ``size`` bytes, shaped like real
    documentation: a navigation sidebar, sections with signatures, prose,
    code samples, parameter tables, nested lists and many cross-links."""
    nav = "".join(f"<li><a href='#item{n}'>item_{n}</a></li>" for n in range(200))
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>module reference</title>"
        "<style>nav{float:left}</style><script>var search = [];</script></head><body>"
        f"<nav><h2>Contents</h2><ul>{nav}</ul></nav><main><h1>Module <code>reference</code></h1>"
    ]
    n = 0
    while sum(map(len, parts)) < size - 300:
        n += 1
        parts.append(
            f"<section id='item{n}'><h2>fn <a href='#item{n}'>item_{n}</a></h2>"
            f"<pre><code>pub fn item_{n}&lt;T: Clone&gt;(value: &amp;T, count: usize) -&gt; Vec&lt;T&gt;</code></pre>"
            f"<p>Returns a vector holding <code>count</code> clones of <em>value</em>. See also "
            f"<a href='#item{n + 1}'>item_{n + 1}</a> and <a href='../other/index.html#x{n}'>other::x{n}</a>. "
            "Panics if the allocation fails; the capacity is reserved up front, so the clones are written "
            "without further reallocation.</p>"
            "<table><tr><th>Parameter</th><th>Type</th><th>Meaning</th></tr>"
            "<tr><td>value</td><td><code>&amp;T</code></td><td>what is cloned</td></tr>"
            "<tr><td>count</td><td><code>usize</code></td><td>how many clones</td></tr></table>"
            "<h3>Examples</h3><pre><code>let v = item(&amp;'a', 3);\nassert_eq!(v, ['a', 'a', 'a']);</code></pre>"
            "<ul><li>Complexity: O(count)<ul><li>one allocation</li></ul></li><li>Since: 1.0</li></ul>"
            "</section>"
        )
    parts.append("</main></body></html>")
    return "".join(parts).encode()


@contextlib.contextmanager
def serve(routes: dict[str, bytes | tuple[bytes, dict[str, str]]], host: str = "127.0.0.1"):
    """Serve ``routes`` (path -> HTML, or (HTML, extra headers)) on ``host``
    (127.0.0.1, or another loopback address: each is its own site); yields
    the base URL."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):  # noqa: N802
            route = routes.get(self.path)
            body, headers = route if isinstance(route, tuple) else (route, {})
            self.send_response(200 if body is not None else 404)
            body = body if body is not None else b"not found"
            self.send_header("Content-Type", "text/html; charset=utf-8")
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer((host, 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[index]


def summary(values: list[float]) -> str:
    return (f"p50 {percentile(values, 50):8.2f}  p99 {percentile(values, 99):8.2f}  "
            f"mean {statistics.fmean(values):8.2f}  n={len(values)}")
