"""broker/loader against a real HTTP server (through a real network process) and real files: no mocks."""

from __future__ import annotations

import asyncio
import os
import threading
import time

import httpx
import pytest

from broker.loader import (
    BadDataURL,
    FileNotReadable,
    HostUnreachable,
    InvalidResponse,
    InvalidURL,
    LoadError,
    Loader,
    LoadTimeout,
    NavigationRefused,
    TooLarge,
    TooManyRedirects,
    UnsupportedScheme,
    classify,
    normalize_url,
)
from renderer.protocol import MAX_DOCUMENT_BYTES
from tests.support.httpserver import LATIN1_HTML, SJIS_HTML, LocalHTTPServer
from tests.support.waiting import wait_for_blocking

ABOUT_PAGES = {
    "about:welcome": "<!DOCTYPE html><title>Welcome</title><a href='about:version'>version</a>",
    "about:version": "<!DOCTYPE html><title>Version</title>minibrowser 0.1",
}


@pytest.fixture
async def loader():
    loader = Loader(timeout=5.0, about_pages=ABOUT_PAGES.get)
    yield loader
    await loader.aclose()


def assert_one_line(err: LoadError) -> None:
    message = str(err)
    assert message and "\n" not in message and "\x1b" not in message
    assert err.short and err.short != "load-error"


# --------------------------------------------------------------------------
# http: redirects
# --------------------------------------------------------------------------


async def test_redirect_chain_is_followed(loader, http_server):
    response = await loader.load(http_server.url("/redirect/3"))
    assert response.url == http_server.url("/redirect/3")
    assert response.final_url == http_server.url("/hello")
    assert response.status == 200
    assert response.kind == "html"
    assert b"<title>Hello</title>" in response.body
    assert http_server.requests == ["/redirect/3", "/redirect/2", "/redirect/1", "/hello"]


async def test_redirect_loop_stops_at_the_limit(http_server):
    async with Loader(max_redirects=4) as loader:
        with pytest.raises(TooManyRedirects) as caught:
            await loader.load(http_server.url("/redirect-loop"))
    assert "loop" in str(caught.value)
    assert http_server.url("/redirect-loop") in str(caught.value)
    assert http_server.count("/redirect-loop") == 5  # the first request and 4 redirects
    assert_one_line(caught.value)


async def test_redirects_over_the_limit_fail_at_the_limit_pass(http_server):
    async with Loader(max_redirects=2) as loader:
        ok = await loader.load(http_server.url("/redirect/2"))
        assert ok.final_url == http_server.url("/hello")
        with pytest.raises(TooManyRedirects) as caught:
            await loader.load(http_server.url("/redirect/3"))
    assert "more than 2 times" in str(caught.value)
    assert http_server.count("/hello") == 1  # the failing chain never reached it


async def test_redirect_to_a_local_file_is_refused(loader, http_server):
    url = http_server.url("/redirect-to?url=file:///etc/passwd")
    with pytest.raises(NavigationRefused) as caught:
        await loader.load(url)
    assert str(caught.value) == (
        f"the server at {url} redirected to a file: address, which a web page may not open: "
        "the redirect was refused"
    )
    assert http_server.requests == ["/redirect-to?url=file:///etc/passwd"]


@pytest.mark.parametrize(
    "target, scheme",
    [("about:crash", "an about:"), ("about:welcome", "an about:"), ("data:text/html,hi", "a data:"),
     ("javascript:alert(1)", "a javascript:"), ("view-source:http://x/", "a view-source:"),
     ("mailto:someone@example.com", "a mailto:")],
)
async def test_redirects_to_anything_but_http_are_refused_by_scheme(loader, http_server, target, scheme):
    http_server.route("/away", b"", status=302, headers={"Location": target})
    with pytest.raises(NavigationRefused) as caught:
        await loader.load(http_server.url("/away"))
    assert str(caught.value) == (
        f"the server at {http_server.url('/away')} redirected to {scheme} address, "
        "which a web page may not open: the redirect was refused"
    )


@pytest.mark.parametrize("location", ["http://[::1", "http://127.0.0.1:0/", "http://exa mple.com/", "https://a:b:c/"])
async def test_malformed_redirect_is_an_invalid_response(loader, http_server, location):
    http_server.route("/away", b"", status=301, headers={"Location": location})
    with pytest.raises(InvalidResponse) as caught:
        await loader.load(http_server.url("/away"))
    assert str(caught.value) == (
        f"the server at {http_server.url('/away')} redirected to a malformed address: "
        "the site is broken; try again later"
    )


async def test_redirect_without_location_is_an_ordinary_page(loader, http_server):
    http_server.route("/moved", b"<p>moved, no forwarding address</p>", status=302)
    response = await loader.load(http_server.url("/moved"))
    assert (response.status, response.body) == (302, b"<p>moved, no forwarding address</p>")


async def test_post_redirected_with_303_becomes_get(loader, http_server):
    http_server.route("/submit", b"", status=303, headers={"Location": "/form/echo?done=1"})
    response = await loader.load(
        http_server.url("/submit"), method="POST", form_body="a=1", initiator=http_server.url("/form")
    )
    assert response.final_url == http_server.url("/form/echo?done=1")
    assert [(r.method, r.path) for r in http_server.records] == [
        ("POST", "/submit"),
        ("GET", "/form/echo?done=1"),
    ]
    assert b"done = 1" in response.body


# --------------------------------------------------------------------------
# http: content, charsets, statuses
# --------------------------------------------------------------------------


async def test_header_charset_is_reported(loader, http_server):
    response = await loader.load(http_server.url("/charset/latin1"))
    assert response.charset == "windows-1252"
    assert response.content_type == "text/html"
    assert response.body == LATIN1_HTML  # bytes untouched: the renderer decodes


async def test_meta_only_charset_is_left_to_the_renderer(loader, http_server):
    response = await loader.load(http_server.url("/charset/meta-sjis"))
    assert response.charset is None
    assert response.kind == "html"
    assert response.body == SJIS_HTML


async def test_404_page_is_returned_with_its_status(loader, http_server):
    response = await loader.load(http_server.url("/404"))
    assert response.status == 404
    assert response.kind == "html"
    assert b"404 Not Found" in response.body


async def test_text_and_binary_kinds(loader, http_server):
    text = await loader.load(http_server.url("/text"))
    assert (text.kind, text.content_type, text.charset) == ("text", "text/plain", "utf-8")
    binary = await loader.load(http_server.url("/binary"))
    assert (binary.kind, binary.content_type) == ("binary", "application/octet-stream")
    assert b"\x00" in binary.body


@pytest.mark.parametrize(
    ("body", "content_type", "kind"),
    [
        (b"  \n<!DOCTYPE html><title>x</title>", "text/html", "html"),
        (b"<HTML><body>x", "text/html", "html"),
        (b"just some words", "text/plain", "text"),
        (b"<p>no doctype, so text</p>", "text/plain", "text"),
        (b"PK\x03\x04\x00\x00zip", "application/octet-stream", "binary"),
    ],
)
async def test_body_without_content_type_is_sniffed(loader, http_server, body, content_type, kind):
    url = http_server.route("/untyped", body, content_type=None)
    response = await loader.load(url)
    assert (response.content_type, response.kind) == (content_type, kind)


@pytest.mark.parametrize(
    ("content_type", "kind"),
    [
        ("application/xhtml+xml", "html"),
        ("application/json", "text"),
        ("image/svg+xml", "text"),
        ("application/ld+json", "text"),
        ("text/css", "text"),
        ("image/png", "binary"),
        ("application/pdf", "binary"),
    ],
)
def test_classify_by_content_type(content_type, kind):
    assert classify(content_type, b"<html>") == (content_type, kind)


async def test_user_agent_and_referer_are_sent(loader, http_server):
    page = http_server.url("/form")
    await loader.load(http_server.url("/headers"), initiator=page)
    headers = http_server.last.headers
    assert headers["User-Agent"] == "minibrowser/0.1"
    assert headers["Referer"] == page
    await loader.load(http_server.url("/redirect/1"), initiator=page)
    assert http_server.last.path == "/hello"
    assert http_server.last.headers["Referer"] == page  # not the redirecting URL


async def test_post_form_body_reaches_the_server(loader, http_server):
    response = await loader.load(
        http_server.url("/form/echo"),
        method="POST",
        form_body="name=Ada+Lovelace&agree=yes",
        initiator=http_server.url("/form"),
    )
    record = http_server.last
    assert record.method == "POST"
    assert record.body == b"name=Ada+Lovelace&agree=yes"
    assert record.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert b"name = Ada Lovelace" in response.body and b"agree = yes" in response.body


# --------------------------------------------------------------------------
# http: failures
# --------------------------------------------------------------------------


async def test_slow_server_times_out_quickly(http_server):
    async with Loader(timeout=0.3) as loader:
        started = time.monotonic()
        with pytest.raises(LoadTimeout) as caught:
            await loader.load(http_server.url("/slow?seconds=10"))
    assert time.monotonic() - started < 3
    assert "127.0.0.1" in str(caught.value)
    assert_one_line(caught.value)


async def test_total_deadline_covers_the_whole_load(http_server):
    async with Loader(timeout=10.0, deadline=0.3) as loader:
        started = time.monotonic()
        with pytest.raises(LoadTimeout):
            await loader.load(http_server.url("/slow?seconds=10"))
    assert time.monotonic() - started < 3


async def test_unreachable_host(loader, unreachable_url):
    with pytest.raises(HostUnreachable) as caught:
        await loader.load(unreachable_url)
    message = str(caught.value)
    assert unreachable_url.removeprefix("http://").rstrip("/") in message
    assert "connection refused" in message
    assert caught.value.short == "host-unreachable"
    assert_one_line(caught.value)


@pytest.mark.parametrize("path", ["/huge", "/huge?length=1"], ids=["chunked", "content-length"])
async def test_huge_body_is_refused_without_reading_it_all(loader, http_server, path):
    started = time.monotonic()
    with pytest.raises(TooLarge) as caught:
        await loader.load(http_server.url(path))
    assert time.monotonic() - started < 5
    assert "8 MiB" in str(caught.value)
    assert_one_line(caught.value)


async def test_body_cap_is_configurable(http_server):
    url = http_server.route("/eleven", b"x" * 11, content_type="text/plain")
    async with Loader(max_bytes=10) as loader:
        with pytest.raises(TooLarge):
            await loader.load(url)
    async with Loader(max_bytes=11) as loader:
        assert (await loader.load(url)).body == b"x" * 11


# --------------------------------------------------------------------------
# file:
# --------------------------------------------------------------------------


async def test_file_url_is_read(loader, tmp_path):
    page = tmp_path / "page one.html"
    page.write_bytes(b"<!DOCTYPE html><title>Local</title>")
    response = await loader.load(str(page))
    assert response.url == page.as_uri()
    assert (response.status, response.content_type, response.kind) == (200, "text/html", "html")
    assert response.body == b"<!DOCTYPE html><title>Local</title>"


async def test_file_without_extension_is_sniffed(loader, tmp_path):
    (tmp_path / "README").write_bytes(b"hello\n")
    (tmp_path / "blob").write_bytes(b"\x00\x01\x02")
    assert (await loader.load(str(tmp_path / "README"))).kind == "text"
    assert (await loader.load(str(tmp_path / "blob"))).kind == "binary"


async def test_missing_file_names_the_path(loader, tmp_path):
    missing = tmp_path / "nope.html"
    with pytest.raises(FileNotReadable) as caught:
        await loader.load(missing.as_uri())
    assert str(missing) in str(caught.value)
    assert_one_line(caught.value)


def test_unreadable_file(tmp_path):
    """Permission denied, seen by an unprivileged user (root reads anything,
    so as root the load runs in a child that drops to nobody first)."""
    secret = tmp_path / "secret.txt"
    secret.write_text("x")
    secret.chmod(0)
    os.chmod(tmp_path, 0o755)
    readable = tmp_path / "readable.html"
    readable.write_text("<p>x")

    async def warm_up():  # every lazy import happens here, before the drop
        async with Loader() as loader:
            await loader.load(readable.as_uri())

    asyncio.run(warm_up())
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            if os.geteuid() == 0:
                os.setgroups([])
                os.setresgid(65534, 65534, 65534)
                os.setresuid(65534, 65534, 65534)

            async def attempt():
                async with Loader() as loader:
                    await loader.load(secret.as_uri())

            try:
                asyncio.run(attempt())
                message = "loaded"
            except FileNotReadable as error:
                message = str(error)
            except BaseException as error:  # noqa: BLE001 - report it to the parent
                message = f"unexpected {type(error).__name__}: {error}"
            os.write(write_end, message.encode())
        finally:
            os._exit(0)
    os.close(write_end)
    message = os.read(read_end, 4096).decode()
    os.close(read_end)
    os.waitpid(pid, 0)
    assert "permission denied" in message
    assert "\n" not in message


async def test_directory_gets_a_listing(loader, tmp_path):
    (tmp_path / "sub dir").mkdir()
    (tmp_path / "a&b.txt").write_text("x")
    response = await loader.load(tmp_path.as_uri())
    assert response.final_url == tmp_path.as_uri() + "/"
    assert response.kind == "html"
    assert b'<a href="sub%20dir/">sub dir/</a>' in response.body
    assert b'<a href="a%26b.txt">a&amp;b.txt</a>' in response.body


async def test_fifo_is_not_read(loader, tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(FileNotReadable):
        await asyncio.wait_for(loader.load(fifo.as_uri()), timeout=5)


async def test_large_file_is_refused(tmp_path):
    big = tmp_path / "big.txt"
    big.write_bytes(b"x" * 100)
    async with Loader(max_bytes=99) as loader:
        with pytest.raises(TooLarge):
            await loader.load(big.as_uri())


# --------------------------------------------------------------------------
# data: and about:
# --------------------------------------------------------------------------


async def test_data_url_base64(loader):
    response = await loader.load("data:text/html;charset=utf-8;base64,PGgxPmhpPC9oMT4")
    assert (response.content_type, response.charset, response.kind) == ("text/html", "utf-8", "html")
    assert response.body == b"<h1>hi</h1>"


async def test_data_url_percent_encoded_with_default_type(loader):
    response = await loader.load("data:,Hello%2C%20World%21")
    assert response.body == b"Hello, World!"
    assert (response.content_type, response.charset, response.kind) == ("text/plain", "us-ascii", "text")


@pytest.mark.parametrize(
    "url", ["data:text/html;base64", "data:;base64,!!!!", "data:text/plain;base64,A", "data:not a type,x"]
)
async def test_malformed_data_url(loader, url):
    with pytest.raises(BadDataURL) as caught:
        await loader.load(url)
    assert_one_line(caught.value)


async def test_about_pages(loader):
    welcome = await loader.load("about:welcome")
    assert welcome.body == ABOUT_PAGES["about:welcome"].encode()
    assert (welcome.kind, welcome.content_type, welcome.status) == ("html", "text/html", 200)
    assert (await loader.load("about:blank")).body == b""
    with pytest.raises(InvalidURL, match="there is no page about:nope in this browser: try about:welcome"):
        await loader.load("about:nope")


async def test_only_decodable_codings_are_offered(loader, http_server):
    response = await loader.load(http_server.url("/headers"))
    assert "Accept-Encoding: gzip, deflate\n" in response.body.decode()


async def test_cookies_a_request_could_not_carry_are_refused(loader, http_server):
    """A cookie with bytes outside ASCII would make every later request fail."""
    http_server.route("/set", b"<p>set</p>", headers={"Set-Cookie": "good=1"})
    http_server.route("/bad", b"<p>bad</p>", headers={"Set-Cookie": "bad=caf\u00e9"})
    await loader.load(http_server.url("/set"))
    await loader.load(http_server.url("/bad"))
    await loader.load(http_server.url("/headers"))
    assert http_server.last.headers.get("Cookie") == "good=1"


@pytest.mark.parametrize(
    "header, content_type, charset",
    [
        ("text/html; charset=UTF-8", "text/html", "utf-8"),
        ("TEXT/Plain; Charset=\"latin1\"", "text/plain", "latin1"),
        ("text/h\u00fftml; charset=\u00ff\u00fe", "text/html", None),  # not a type: sniffed
        ("text/html; charset=" + "x" * 100, "text/html", None),
        ("text/html; charset=<script>", "text/html", None),
        ("\u00ff/\u00fe", "text/html", None),
    ],
)
async def test_content_type_from_a_server_is_never_trusted_blindly(loader, http_server, header, content_type, charset):
    http_server.route("/typed", b"<!DOCTYPE html><p>hi", content_type=header)
    response = await loader.load(http_server.url("/typed"))
    assert (response.content_type, response.charset) == (content_type, charset)


async def test_unprintable_characters_never_reach_the_message(loader):
    with pytest.raises(InvalidURL) as caught:
        await loader.load("about:\x1b[31mred")
    assert_one_line(caught.value)


@pytest.mark.parametrize("url", ["ftp://example.com/file", "mailto:someone@example.com", "javascript:alert(1)"])
async def test_unsupported_schemes(loader, url):
    with pytest.raises(UnsupportedScheme) as caught:
        await loader.load(url)
    assert url.partition(":")[0] + ":" in str(caught.value)


# --------------------------------------------------------------------------
# Navigation policy
# --------------------------------------------------------------------------


async def test_page_may_not_open_a_local_file(loader, http_server, tmp_path):
    page = tmp_path / "a.html"
    page.write_text("<p>hi")
    with pytest.raises(NavigationRefused) as caught:
        await loader.load(page.as_uri(), initiator=http_server.url("/hello"))
    message = str(caught.value)
    assert http_server.url("/hello") in message and page.as_uri() in message
    assert "only a URL you type can open local files" in message


async def test_local_page_may_open_a_local_file(loader, tmp_path):
    (tmp_path / "a.html").write_text("<a href=b.html>b</a>")
    (tmp_path / "b.html").write_text("<p>b")
    response = await loader.load((tmp_path / "b.html").as_uri(), initiator=(tmp_path / "a.html").as_uri())
    assert response.body == b"<p>b"


async def test_local_page_may_open_the_web(loader, http_server, tmp_path):
    response = await loader.load(http_server.url("/hello"), initiator=(tmp_path / "a.html").as_uri())
    assert response.status == 200


async def test_pages_may_not_open_about_pages(loader, http_server):
    with pytest.raises(NavigationRefused):
        await loader.load("about:welcome", initiator=http_server.url("/hello"))
    with pytest.raises(NavigationRefused) as caught:
        await loader.load("about:crash", initiator=http_server.url("/hello"))
    assert "about:crash" in str(caught.value)
    with pytest.raises(NavigationRefused):
        await loader.load("about:crash", initiator="about:welcome")
    assert (await loader.load("about:blank", initiator=http_server.url("/hello"))).body == b""


async def test_about_welcome_may_link_to_other_about_pages(loader):
    response = await loader.load("about:version", initiator="about:welcome")
    assert b"minibrowser 0.1" in response.body


# --------------------------------------------------------------------------
# normalize_url
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "url"),
    [
        ("example.com/x", "http://example.com/x"),
        ("localhost:8000", "http://localhost:8000/"),
        ("127.0.0.1:8000/a?b=c", "http://127.0.0.1:8000/a?b=c"),
        ("  HTTP://Example.COM:80/a b?q=1 2#top ", "http://example.com/a%20b?q=1%202#top"),
        ("https://example.com:443", "https://example.com/"),
        ("https://example.com:8443/", "https://example.com:8443/"),
        ("http:example.com", "http://example.com/"),
        ("http://[::1]:8000/x", "http://[::1]:8000/x"),
        ("http://bücher.de/", "http://xn--bcher-kva.de/"),
        ("/tmp/a.html", "file:///tmp/a.html"),
        ("file:/tmp/x", "file:///tmp/x"),
        ("file://localhost/tmp/a%20b", "file:///tmp/a%20b"),
        ("about:welcome", "about:welcome"),
        ("About:Welcome", "about:welcome"),
        ("data:text/html,<b>x</b> y", "data:text/html,<b>x</b> y"),
        ("mailto:a@example.com", "mailto:a@example.com"),
    ],
)
def test_normalize_url(typed, url):
    assert normalize_url(typed) == url


def test_normalize_relative_path(tmp_path, monkeypatch):
    (tmp_path / "a.html").write_text("x")
    monkeypatch.chdir(tmp_path)
    assert normalize_url("./a.html") == (tmp_path / "a.html").as_uri()


@pytest.mark.parametrize(
    ("typed", "says"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("http://", "no host"),
        ("ht!tp://x", "not a URL scheme"),
        ("http://exa mple.com/", "spaces in the host name"),
        ("localhost:99999", "port"),
        ("http://example.com:0/", "port"),
        ("http://a..b/", "not a valid host name"),
        ("http://[zz]/", "IPv6"),
        ("file://server/share/x", "another computer"),
    ],
)
def test_normalize_url_rejects_garbage(typed, says):
    with pytest.raises(InvalidURL) as caught:
        normalize_url(typed)
    assert says in str(caught.value)
    assert_one_line(caught.value)


# --------------------------------------------------------------------------
# The test server itself
# --------------------------------------------------------------------------


def test_server_closes_promptly_with_requests_in_flight():
    before = set(threading.enumerate())
    server = LocalHTTPServer()
    kept_alive = httpx.Client(trust_env=False)
    kept_alive.get(server.url("/hello"))  # leaves an idle keep-alive connection open
    slow = threading.Thread(target=_get_ignoring_errors, args=(server.url("/slow?seconds=30"),))
    slow.start()
    wait_for_blocking(lambda: server.count("/slow"), what="the slow request to reach the server")
    started = time.monotonic()
    server.close()
    assert time.monotonic() - started < 2
    slow.join(timeout=5)
    kept_alive.close()
    assert not slow.is_alive()
    assert [t.name for t in set(threading.enumerate()) - before] == []
    assert server.count() == 2 and server.count("/slow") == 1


def _get_ignoring_errors(url: str) -> None:
    try:
        httpx.get(url, timeout=10, trust_env=False)
    except httpx.HTTPError:
        pass


def test_max_document_bytes_is_the_default_cap():
    assert Loader().max_bytes == MAX_DOCUMENT_BYTES
