"""Error pages are pages: a failed load shows a rendered page that says what
kind of failure it was, what happened, the address and what to do; and
``open --dump`` prints it, one line on stderr and exit status 1.

Each test compares the whole rendered text and the whole stderr line.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile

import pytest

from browser import Browser, TabState

CLI = [sys.executable, "-m", "browser.cli"]


def open_dump(target: str, *extra: str, prefix: list[str] | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.pop("XDG_RUNTIME_DIR", None)
    return subprocess.run([*(prefix or []), *CLI, "open", target, "--dump", *extra], capture_output=True,
                          text=True, timeout=120, stdin=subprocess.DEVNULL, env=env)


def error_page(heading: str, happened: str, address: str, what_to_do: str | None) -> str:
    """An error page as the user reads it at 80 columns (what to do wraps there)."""
    text = f"{heading}\n{'=' * len(heading)}\n\n{happened}\n\nAddress: {address}\n"
    if what_to_do:
        text += f"\nWhat to do: {what_to_do}\n"
    return text


def assert_error(result: subprocess.CompletedProcess, *, page: str, stderr: str) -> None:
    assert (result.returncode, result.stderr, result.stdout) == (1, stderr + "\n", page)


def test_dns_failure():
    result = open_dump("http://no-such-host.invalid/page")
    assert_error(
        result,
        page=error_page("This site can't be reached", "Cannot find host no-such-host.invalid (DNS lookup failed).",
                        "http://no-such-host.invalid/page", "check the spelling of the address and your connection."),
        stderr="minibrowser: http://no-such-host.invalid/page: cannot find host no-such-host.invalid "
               "(DNS lookup failed): check the spelling of the address and your connection",
    )


def test_dns_failure_as_json_is_the_same_page():
    result = open_dump("http://no-such-host.invalid/", "--json")
    assert result.returncode == 1
    record = json.loads(result.stdout)
    assert (record["title"], record["text"], record["links"], record["error"]) == (
        "This site can't be reached",
        error_page("This site can't be reached", "Cannot find host no-such-host.invalid (DNS lookup failed).",
                   "http://no-such-host.invalid/", "check the spelling of the address and your connection.")
        .removesuffix("\n"),
        [],
        "cannot find host no-such-host.invalid (DNS lookup failed): "
        "check the spelling of the address and your connection",
    )


def test_connection_refused(unreachable_url):
    where = unreachable_url.removeprefix("http://").removesuffix("/")
    assert_error(
        open_dump(unreachable_url),
        page=error_page("This site can't be reached", f"Cannot reach {where} (connection refused).",
                        unreachable_url, "check the address and that the server is running."),
        stderr=f"minibrowser: {unreachable_url}: cannot reach {where} (connection refused): "
               "check the address and that the server is running",
    )


@pytest.fixture
def short_dir():
    """A directory with a short path, so that the page's lines do not wrap at 80 columns."""
    path = tempfile.mkdtemp(prefix="mb-", dir="/tmp")
    os.chmod(path, 0o755)
    yield path
    shutil.rmtree(path)


def test_missing_file(short_dir):
    path = f"{short_dir}/gone.html"
    assert_error(
        open_dump(path),
        page=error_page("This file can't be opened", f"No such file: {path}.", f"file://{path}",
                        "check the path."),
        stderr=f"minibrowser: {path}: no such file: {path}: check the path",
    )


def test_permission_denied(short_dir):
    path = f"{short_dir}/private.html"
    with open(path, "w") as file:
        file.write("<p>private</p>")
    os.chmod(path, 0)
    # Root reads any file: as root, the command runs as uid 1000 in a user namespace (no capabilities).
    prefix = [shutil.which("unshare"), "--user", "--map-user=1000", "--map-group=1000"] if os.geteuid() == 0 else []
    assert_error(
        open_dump(path, prefix=prefix),
        page=error_page("This file can't be opened", f"Permission denied reading {path}.", f"file://{path}",
                        "check the file's permissions."),
        stderr=f"minibrowser: {path}: permission denied reading {path}: check the file's permissions",
    )


def test_bad_url():
    assert_error(
        open_dump("http://exa mple.com/"),
        page=error_page("This address is not valid",
                        "'http://exa mple.com/' is not a valid address (spaces in the host name).",
                        "http://exa mple.com/", "check the spelling."),
        stderr="minibrowser: http://exa mple.com/: 'http://exa mple.com/' is not a valid address "
               "(spaces in the host name): check the spelling",
    )


def test_url_without_a_host():
    assert_error(
        open_dump("http://"),
        page=error_page("This address is not valid", "'http://' has no host name.", "http://",
                        "type an address such as http://example.com/"),
        stderr="minibrowser: http://: 'http://' has no host name: type an address such as http://example.com/",
    )


def test_unsupported_scheme():
    assert_error(
        open_dump("ftp://files.example/x"),
        page=error_page("This kind of address can't be opened",
                        "Cannot open ftp://files.example/x (ftp: URLs are not supported).",
                        "ftp://files.example/x", "open an http, https, file, data or about URL instead."),
        stderr="minibrowser: ftp://files.example/x: cannot open ftp://files.example/x "
               "(ftp: URLs are not supported): open an http, https, file, data or about URL instead",
    )


def test_unknown_about_page():
    assert_error(
        open_dump("about:nope"),
        page=error_page("No such page", "There is no page about:nope in this browser.", "about:nope",
                        "try about:welcome."),
        stderr="minibrowser: about:nope: there is no page about:nope in this browser: try about:welcome",
    )


async def test_timeout(http_server):
    async with Browser(load_timeout=0.5) as browser:
        tab = await browser.open(http_server.url("/slow?seconds=5"))
        where = http_server.base_url.removeprefix("http://")
        assert (tab.state, tab.title, tab.frame.kind, tab.frame.dump()) == (
            TabState.ACTIVE,
            "This site took too long to answer",
            "error",
            error_page("This site took too long to answer", f"Timed out waiting for {where} (no answer within 0.5 s).",
                       http_server.url("/slow?seconds=5"), "try again later or check your connection."),
        )
        assert tab.error == (f"timed out waiting for {where} (no answer within 0.5 s): "
                             "try again later or check your connection")
