"""Hostile HTTP servers, through the whole browser: what the user sees.

Every :class:`Hostile` case is loaded twice, through the public ``Browser``
API and through ``minibrowser open URL --dump`` as a user runs it.  A refused
load must give exactly one line on stderr (the tab's error), exit 1 and no
traceback; a load that works must show what the well-formed page shows.
Nothing a server sends may put a terminal control character on stdout.
"""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass

import pytest

from browser import Browser
from tests.support.httpserver import Hostile, HostileHTTPServer, compressed_zeros

CLI = [sys.executable, "-m", "browser.cli"]
#: The Browser API tests use a short load timeout, so the slow cases end quickly.
API_TIMEOUT = 2.0
#: What the command line uses (the Browser default): each step, and the whole load.
CLI_TIMEOUT, CLI_DEADLINE = 15, 30

#: C0 controls but newline, DEL, and C1 controls (as UTF-8): none may reach a terminal.
TERMINAL_CONTROLS = re.compile(rb"[\x00-\x09\x0b-\x1f\x7f]|\xc2[\x80-\x9f]")

REDIRECT_REFUSED = (
    "the server at {url} redirected to {scheme} address, which a web page may not open: "
    "the redirect was refused"
)
BROKEN = "the server at {host} sent {what}: the site is broken; try again later"
TOO_LARGE = "{url} is too large to show (more than the 8 MiB limit): download it with another tool"
CANNOT_DECODE = "the server at {host} sent the page {what}: open it with another tool"
STEP_TIMEOUT = (
    "timed out waiting for {host} (no answer within {timeout} s): "
    "try again later or check your connection"
)
DEADLINE = "loading {url} took longer than {deadline} s: try again later or check your connection"


@dataclass(frozen=True)
class Refused:
    """The load fails with this message (a template: url, host, timeout, deadline)."""

    message: str


@dataclass(frozen=True)
class LikePlain:
    """The load works and shows exactly what the well-formed page shows."""


@dataclass(frozen=True)
class Shown:
    """The load works; the page shows whatever the server sent, made safe."""


EXPECTED: dict[Hostile, Refused | LikePlain | Shown] = {
    Hostile.PLAIN: LikePlain(),
    # Content codings
    Hostile.GZIP_PAGE: LikePlain(),
    Hostile.DEFLATE_PAGE: LikePlain(),
    Hostile.RAW_DEFLATE_PAGE: LikePlain(),
    Hostile.STACKED_PAGE: LikePlain(),
    Hostile.GZIP_BOMB: Refused(TOO_LARGE),
    Hostile.DOUBLE_GZIP_BOMB: Refused(TOO_LARGE),
    Hostile.DEFLATE_BOMB: Refused(TOO_LARGE),
    Hostile.BROTLI: Refused(CANNOT_DECODE.replace(
        "{what}", "in the 'br' content encoding, which this browser cannot decode")),
    Hostile.UNKNOWN_ENCODING: Refused(CANNOT_DECODE.replace(
        "{what}", "in the 'x-mystery' content encoding, which this browser cannot decode")),
    Hostile.UNPRINTABLE_ENCODING: Refused(CANNOT_DECODE.replace(
        "{what}", "in a content encoding this browser cannot recognise")),
    Hostile.TOO_MANY_LAYERS: Refused(CANNOT_DECODE.replace(
        "{what}", "compressed in more layers than this browser decodes")),
    Hostile.CORRUPT_GZIP: Refused(BROKEN.replace("{what}", "a gzip-compressed page that is corrupt")),
    Hostile.TRUNCATED_GZIP: Refused(BROKEN.replace(
        "{what}", "a gzip-compressed page that ends before its compressed data does")),
    # Sizes and timing
    Hostile.ENDLESS_BODY: Refused(TOO_LARGE),
    Hostile.OVERSIZED_UNTIL_CLOSE: Refused(TOO_LARGE),
    Hostile.OVERSIZED_DECLARED: Refused(
        "{url} is too large to show (9.0 MiB; the limit is 8 MiB): download it with another tool"),
    Hostile.SLOW_HEADERS: Refused(DEADLINE),
    Hostile.SLOW_BODY: Refused(DEADLINE),
    Hostile.STALL_BEFORE_HEADERS: Refused(STEP_TIMEOUT),
    Hostile.STALL_AFTER_HEADERS: Refused(STEP_TIMEOUT),
    Hostile.SHORT_BODY: Refused(BROKEN.replace("{what}", "less of the page than it announced")),
    Hostile.LONG_BODY: LikePlain(),
    # Framing
    Hostile.BROKEN_CHUNKED: Refused(BROKEN.replace("{what}", "a broken chunked body")),
    Hostile.GARBAGE_STATUS: Refused(BROKEN.replace("{what}", "a malformed status line")),
    Hostile.BINARY_STATUS: Refused(BROKEN.replace("{what}", "a malformed status line")),
    Hostile.NO_STATUS_LINE: Refused(BROKEN.replace("{what}", "no HTTP response")),
    Hostile.HUGE_HEADERS: Refused(BROKEN.replace("{what}", "headers that are far too large")),
    Hostile.MANY_HEADERS: LikePlain(),
    Hostile.EMPTY_REPLY: Refused(BROKEN.replace("{what}", "no HTTP response")),
    Hostile.RESET: Refused(
        "the server at {host} reset the connection: try again; if it keeps failing the site may be down"),
    # Text in the head: never shown, never trusted
    Hostile.REASON_NOT_UTF8: LikePlain(),
    Hostile.REASON_ESCAPES: LikePlain(),
    Hostile.HEADER_NOT_UTF8: LikePlain(),
    Hostile.HEADER_ESCAPES: LikePlain(),
    Hostile.COOKIE_GARBAGE: LikePlain(),
    Hostile.CONTENT_TYPE_ESCAPES: LikePlain(),  # not a MIME type: the body is sniffed
    Hostile.CONTENT_TYPE_NOT_UTF8: LikePlain(),
    Hostile.CHARSET_GARBAGE: LikePlain(),
    Hostile.CHARSET_HUGE: LikePlain(),
    Hostile.BINARY_AS_HTML: Shown(),
    Hostile.HTML_AS_PNG: Shown(),
    # Redirects
    Hostile.REDIRECT_ABOUT_CRASH: Refused(REDIRECT_REFUSED.replace("{scheme}", "an about:")),
    Hostile.REDIRECT_ABOUT_WELCOME: Refused(REDIRECT_REFUSED.replace("{scheme}", "an about:")),
    Hostile.REDIRECT_DATA: Refused(REDIRECT_REFUSED.replace("{scheme}", "a data:")),
    Hostile.REDIRECT_JAVASCRIPT: Refused(REDIRECT_REFUSED.replace("{scheme}", "a javascript:")),
    Hostile.REDIRECT_FILE: Refused(REDIRECT_REFUSED.replace("{scheme}", "a file:")),
    Hostile.REDIRECT_MALFORMED: Refused(
        "the server at {url} redirected to a malformed address: the site is broken; try again later"),
    Hostile.REDIRECT_BAD_PORT: Refused(
        "the server at {url} redirected to a malformed address: the site is broken; try again later"),
    Hostile.REDIRECT_LOOP: Refused("{url} redirects in a loop: the site is misconfigured; try again later"),
    Hostile.REDIRECT_ENDLESS: Refused(
        "{url} redirected more than 10 times: the site is misconfigured; try again later"),
    Hostile.REDIRECT_SEVERAL: Refused(
        "the server at {url} sent a redirect with several different addresses: "
        "the site is broken; try again later"),
    Hostile.LOCATION_ESCAPES: Shown(),  # followed, percent-encoded, to the server's 404 page
    Hostile.LOCATION_NOT_UTF8: LikePlain(),
}

#: Cases that only end by a timeout: through the CLI they take 15 or 30 s each.
SLOW = (Hostile.SLOW_HEADERS, Hostile.SLOW_BODY, Hostile.STALL_BEFORE_HEADERS, Hostile.STALL_AFTER_HEADERS)


def test_every_case_has_an_expectation():
    assert set(EXPECTED) == set(Hostile)


@pytest.fixture(scope="module")
def hostile_server():
    compressed_zeros()  # made once up front, so no case waits for it
    compressed_zeros(wbits=15)
    with HostileHTTPServer() as server:
        yield server


def expected_message(case: Hostile, server: HostileHTTPServer, *, timeout: float, deadline: float) -> str:
    return EXPECTED[case].message.format(
        url=server.url(case), host=f"127.0.0.1:{server.port}", timeout=f"{timeout:g}", deadline=f"{deadline:g}"
    )


def run_cli(url: str) -> subprocess.CompletedProcess:
    return subprocess.run(CLI + ["open", url, "--dump"], capture_output=True, timeout=100, stdin=subprocess.DEVNULL)


def assert_no_terminal_controls(data: bytes) -> None:
    assert TERMINAL_CONTROLS.findall(data) == []


# --------------------------------------------------------------------------
# Through the Browser API
# --------------------------------------------------------------------------


@pytest.fixture
async def short_timeout_browser():
    async with Browser(load_timeout=API_TIMEOUT) as browser:
        yield browser


@pytest.mark.parametrize("case", list(Hostile), ids=lambda case: case.value)
async def test_browser_api(case, hostile_server, short_timeout_browser):
    expected = EXPECTED[case]
    tab = await short_timeout_browser.open(hostile_server.url(case))
    if isinstance(expected, Refused):
        assert tab.error == expected_message(case, hostile_server, timeout=API_TIMEOUT, deadline=2 * API_TIMEOUT)
        assert tab.crash_cause is None
        return
    assert tab.error is None and tab.crash_cause is None
    assert_no_terminal_controls(tab.frame.text.encode("utf-8"))
    if isinstance(expected, LikePlain):
        plain = await short_timeout_browser.open(hostile_server.url(Hostile.PLAIN))
        assert tab.frame.text == plain.frame.text
        assert tab.title == plain.title == "Hello"


async def test_redirect_target_with_escapes_is_followed_percent_encoded(hostile_server, short_timeout_browser):
    tab = await short_timeout_browser.open(hostile_server.url(Hostile.LOCATION_ESCAPES))
    assert tab.final_url == hostile_server.url(Hostile.PLAIN) + "%1B[2J"
    assert tab.frame.text.strip() == "no such case"  # the server's own 404 page


async def test_a_body_longer_than_declared_does_not_leak_into_the_next_load(hostile_server, short_timeout_browser):
    """The extra bytes are a whole second response: on a reused connection they
    would be taken as the answer to the next request."""
    tab = await short_timeout_browser.open(hostile_server.url(Hostile.LONG_BODY))
    first = tab.frame.text
    await tab.navigate(hostile_server.url(Hostile.PLAIN))
    assert tab.error is None
    assert tab.frame.text == first
    assert "SMUGGLED" not in tab.frame.text


async def test_a_refused_redirect_does_not_load_its_target(hostile_server, short_timeout_browser):
    tab = await short_timeout_browser.open(hostile_server.url(Hostile.REDIRECT_ABOUT_CRASH))
    assert tab.error is not None
    assert tab.crash_cause is None  # about:crash was not opened
    assert hostile_server.count(Hostile.REDIRECT_ABOUT_CRASH) >= 1
    await tab.navigate(hostile_server.url(Hostile.PLAIN))
    assert tab.error is None and tab.title == "Hello"


# --------------------------------------------------------------------------
# Through the command line
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def plain_dump(hostile_server) -> bytes:
    result = run_cli(hostile_server.url(Hostile.PLAIN))
    assert (result.returncode, result.stderr) == (0, b"")
    assert b"Hello, world" in result.stdout
    return result.stdout


def assert_cli_result(case: Hostile, server: HostileHTTPServer, result: subprocess.CompletedProcess,
                      plain_dump: bytes) -> None:
    expected = EXPECTED[case]
    assert_no_terminal_controls(result.stdout)
    if isinstance(expected, Refused):
        message = expected_message(case, server, timeout=CLI_TIMEOUT, deadline=CLI_DEADLINE)
        assert result.stderr.decode("utf-8") == f"minibrowser: {server.url(case)}: {message}\n"
        assert result.returncode == 1
        return
    assert result.stderr == b""
    assert result.returncode == 0
    if isinstance(expected, LikePlain):
        assert result.stdout == plain_dump


@pytest.mark.parametrize("case", [case for case in Hostile if case not in SLOW], ids=lambda case: case.value)
def test_command_line(case, hostile_server, plain_dump):
    assert_cli_result(case, hostile_server, run_cli(hostile_server.url(case)), plain_dump)


def test_command_line_slow_servers_time_out(hostile_server, plain_dump):
    """The slow cases run side by side: each waits out the real 15 s / 30 s limits."""
    runs = {
        case: subprocess.Popen(CLI + ["open", hostile_server.url(case), "--dump"], stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for case in SLOW
    }
    results = {}
    for case, process in runs.items():
        stdout, stderr = process.communicate(timeout=100)
        results[case] = subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
    for case, result in results.items():
        assert_cli_result(case, hostile_server, result, plain_dump)
