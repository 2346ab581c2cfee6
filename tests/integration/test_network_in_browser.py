"""The network process inside the whole browser: who opens TCP connections,
when the process starts, what a tab shows when it dies, cookies on disk."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import ssl
import threading

import psutil

from browser import Browser
from tests.support.httpserver import HELLO_HTML
from tests.support.waiting import wait_for


def connections_to(pid: int, port: int) -> list:
    """TCP connections of process ``pid`` to ``port`` (a server's), now."""
    return [c for c in psutil.Process(pid).net_connections(kind="tcp") if c.raddr and c.raddr.port == port]


def network_pids(browser: Browser) -> list[int]:
    return [p.pid for p in browser.processes() if p.role == "network"]


async def test_the_broker_never_opens_a_tcp_connection(http_server):
    """The broker is this test's process.  While pages load (two of them slow,
    so that their connections stay open a while), a sampler looks at its
    sockets every few milliseconds.  First it is shown to see a connection
    the broker does hold (the test's own, to the same server)."""
    with socket.create_connection(("127.0.0.1", http_server.port)):
        assert len(connections_to(os.getpid(), http_server.port)) == 1
    seen = []
    done = asyncio.Event()

    async def sample() -> None:
        while not done.is_set():
            seen.extend(connections_to(os.getpid(), http_server.port))
            await asyncio.sleep(0.005)

    async with Browser() as browser:
        sampler = asyncio.ensure_future(sample())
        tab = await browser.open(http_server.url("/slow?seconds=0.3"))
        for _ in range(5):
            await tab.navigate(http_server.url("/hello"))
        await tab.navigate(http_server.url("/slow?seconds=0.3"))
        done.set()
        await sampler
        assert network_pids(browser)
    assert (tab.error, tab.title) == (None, "Slow")
    assert http_server.count() == 7
    assert seen == []


async def test_local_pages_start_no_network_process(tmp_path):
    page = tmp_path / "page.html"
    page.write_bytes(HELLO_HTML)
    async with Browser() as browser:
        tab = await browser.open(page.as_uri())
        await tab.navigate("about:welcome")
        await tab.navigate("data:text/html,<title>data</title>")
        assert tab.error is None and tab.title == "data"
        assert [p.role for p in browser.processes() if p.role not in ("renderer", "spare")] == ["broker", "zygote"]
        children = [" ".join(child.cmdline()) for child in psutil.Process().children(recursive=True)]
        assert not any("network.main" in command for command in children)


async def test_an_http_page_starts_the_network_process_once(http_server):
    async with Browser() as browser:
        first = await browser.open(http_server.url("/hello"))
        second = await browser.open(http_server.url("/text"))
        assert first.error is None and second.error is None
        pids = network_pids(browser)
        assert len(pids) == 1
        row = next(p for p in browser.processes() if p.role == "network")
        assert (row.ppid, row.title, row.state) == (os.getpid(), "network", "running")
    assert not psutil.pid_exists(pids[0]) or psutil.Process(pids[0]).status() == psutil.STATUS_ZOMBIE


async def test_kill_9_of_the_network_process_mid_load_is_one_line_and_the_next_load_works(http_server):
    async with Browser() as browser:
        tab = await browser.open(http_server.url("/hello"))
        (victim,) = network_pids(browser)
        slow_url = http_server.url("/slow?seconds=30")
        load = asyncio.ensure_future(tab.navigate(slow_url))
        await wait_for(lambda: http_server.count("/slow") == 1, what="the slow load to reach the server")
        os.kill(victim, signal.SIGKILL)
        await load
        assert tab.error == (f"the network process ended while loading {slow_url} (killed by SIGKILL): "
                             "try again")
        await tab.navigate(http_server.url("/hello"))
        assert (tab.error, tab.title) == (None, "Hello")
        assert network_pids(browser) not in ([], [victim])


async def test_cookies_persist_across_browsers_with_the_same_profile(http_server, tmp_path):
    http_server.route("/set", b"<title>set</title>",
                      headers={"Set-Cookie": "kept=1; Max-Age=3600; Path=/"})
    http_server.route("/session", b"<title>session</title>", headers={"Set-Cookie": "session=2; Path=/"})
    async with Browser(profile=tmp_path) as browser:
        tab = await browser.open(http_server.url("/set"))
        await tab.navigate(http_server.url("/session"))
        await tab.navigate(http_server.url("/headers"))
        assert http_server.last.headers.get("Cookie") == "kept=1; session=2"
    async with Browser(profile=tmp_path) as browser:
        await browser.open(http_server.url("/headers"))
        assert http_server.last.headers.get("Cookie") == "kept=1"  # the session cookie ended with its session
    async with Browser(profile=tmp_path / "other") as browser:
        await browser.open(http_server.url("/headers"))
        assert "Cookie" not in http_server.last.headers


TLS_DIR = os.path.join(os.path.dirname(os.path.dirname(__file__)), "support", "tls")


async def test_https_to_a_server_whose_certificate_is_not_trusted_is_one_line(http_server):
    """TLS runs in the sandboxed network process: the handshake, and the
    verification against the CA bundle, which a self-signed certificate
    fails.  A plain TLS socket shows the server answers TLS at all."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(os.path.join(TLS_DIR, "localhost.pem"), os.path.join(TLS_DIR, "localhost.key"))
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve() -> None:
        for _ in range(2):
            try:
                connection, _ = listener.accept()
                with context.wrap_socket(connection, server_side=True) as tls:
                    tls.recv(1024)
                    tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
            except (OSError, ssl.SSLError):
                continue

    server = threading.Thread(target=serve, daemon=True)
    server.start()
    trusting = ssl.create_default_context(cafile=os.path.join(TLS_DIR, "localhost.pem"))
    with socket.create_connection(("127.0.0.1", port)) as raw, trusting.wrap_socket(raw, server_hostname="localhost") as tls:
        tls.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        assert tls.recv(1024).startswith(b"HTTP/1.1 200 OK")
    try:
        async with Browser() as browser:
            tab = await browser.open(f"https://localhost:{port}/")
        assert tab.error == (f"secure connection to localhost:{port} failed (certificate verify failed): "
                             "the site's certificate is not trusted; do not enter private data there")
    finally:
        listener.close()
        server.join(timeout=5)
