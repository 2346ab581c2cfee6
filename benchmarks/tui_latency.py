"""Key press to screen update in the terminal UI, with 50 tabs open.

Runs ``minibrowser open`` on a real pseudo-terminal with N tabs (default 50)
of a long local page, the process tree visible and refreshing every second,
then presses keys that scroll the page (End and Home, alternating) and
measures, for each, the time from writing the key to the pty until the
scrolled-to text has been written back to the terminal.  Prints p50, p90, p99 and max, and as a
baseline in the same run the latency with a single tab.

    .venv/bin/python benchmarks/tui_latency.py [--tabs 50] [--presses 300]
"""

from __future__ import annotations

import argparse
import fcntl
import http.server
import os
import pty
import random
import select
import signal
import statistics
import struct
import sys
import termios
import threading
import time

# End shows the last paragraph, Home the heading: the update is complete for
# this key when that text has been written to the terminal.
KEYS = [(b"\x1b[F", b"Paragraph 399"), (b"\x1b[H", b"Long page")]  # End, Home
PAGE = ("<!doctype html><title>Long</title><h1>Long page</h1>"
        + "".join(f"<p>Paragraph {n}: <a href='/p{n}'>link {n}</a> with some text to wrap around.</p>" for n in range(400))
        ).encode()


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(PAGE)))
        self.end_headers()
        self.wfile.write(PAGE)

    def log_message(self, *args):
        pass


def drain(fd: int, quiet: float, limit: float) -> bytes:
    """Read until the screen has been quiet for ``quiet`` seconds."""
    seen, deadline, last = b"", time.monotonic() + limit, time.monotonic()
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.01)
        if ready:
            try:
                chunk = os.read(fd, 1 << 16)
            except OSError:  # the app has exited and the pty is closed
                break
            seen += chunk
            last = time.monotonic()
        elif time.monotonic() - last > quiet:
            break
    return seen


def measure(url: str, tabs: int, presses: int) -> list[float]:
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(sys.executable, [sys.executable, "-m", "browser.cli", "open", *([url] * tabs)])
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 140, 0, 0))
    try:
        drain(fd, quiet=1.5, limit=60)  # every tab open, a few tree refreshes
        latencies = []
        for n in range(presses):
            drain(fd, quiet=0.0, limit=0.0)
            time.sleep(random.uniform(0.03, 0.08))
            drain(fd, quiet=0.0, limit=0.0)
            key, marker = KEYS[n % len(KEYS)]
            started = time.perf_counter()
            os.write(fd, key)
            seen, deadline = b"", started + 5
            while marker not in seen and time.perf_counter() < deadline:
                ready, _, _ = select.select([fd], [], [], 0.5)
                if ready:
                    seen += os.read(fd, 1 << 16)
            if marker in seen:
                latencies.append((time.perf_counter() - started) * 1000)
        return latencies
    finally:
        os.write(fd, b"q")
        drain(fd, quiet=0.5, limit=10)
        os.close(fd)
        try:
            os.kill(pid, signal.SIGHUP)
        except ProcessLookupError:
            pass
        os.waitpid(pid, 0)


def report(name: str, values: list[float]) -> float:
    ordered = sorted(values)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]  # noqa: E731
    p50 = statistics.median(ordered)
    print(f"{name:<24} n={len(ordered):<4} p50={p50:6.1f} ms  p90={pick(0.9):6.1f} ms  "
          f"p99={pick(0.99):6.1f} ms  max={ordered[-1]:6.1f} ms")
    return p50


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tabs", type=int, default=50)
    parser.add_argument("--presses", type=int, default=300)
    args = parser.parse_args()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/long"
    try:
        base = report("1 tab (baseline)", measure(url, 1, args.presses // 2))
        many = report(f"{args.tabs} tabs, tree live", measure(url, args.tabs, args.presses))
        print(f"ratio p50 {args.tabs} tabs / 1 tab: {many / base:.2f}")
    finally:
        server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
