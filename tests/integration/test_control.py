"""One browser, many terminals: the control socket, ``minibrowser open``
into a running browser, ``minibrowser ps``.

Every browser here is a real process (``tests/support/running_browser.py``,
a script driving the API) with its real zygote and sandboxed renderers; the
commands are the real command line, as a user runs it.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from broker.control_wire import MAX_CLIENT_FRAME, MAX_CONNECTIONS, registry_dir
from tests.support.waiting import wait_for
from tests.support.running_browser import RunningBrowser, registry_entries

CLI = [sys.executable, "-m", "browser.cli"]


@pytest.fixture
def start_browser(tmp_path):
    started = []

    def start(name: str = "profile", urls: tuple[str, ...] = ("about:blank",)) -> RunningBrowser:
        browser = RunningBrowser(tmp_path / name, list(urls))
        started.append(browser)
        return browser

    yield start
    for browser in started:
        browser.stop()
        assert browser.pid not in {entry["pid"] for entry in registry_entries()}  # it left the registry


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(CLI + list(args), capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)


def ps() -> list[dict]:
    result = run("ps", "--json")
    assert (result.returncode, result.stderr) == (0, "")
    return [json.loads(line) for line in result.stdout.splitlines()]


def described(browser: RunningBrowser) -> dict | None:
    return next((row for row in ps() if row["pid"] == browser.pid), None)


async def with_spare(browser: RunningBrowser) -> dict:
    """Its description once its spare renderer is up."""
    await wait_for(lambda: (described(browser) or {}).get("spare") is True, timeout=30)
    return described(browser)


async def test_open_dump_is_rendered_by_the_running_browser_exactly_as_by_its_own(start_browser, http_server):
    browser = start_browser()
    await with_spare(browser)
    before = browser.descendants()  # its zygote, the about:blank tab's renderer and the spare
    url = http_server.url("/hello")
    handed = run("open", "--dump", "--json", "--profile", str(browser.profile), url)
    assert (handed.returncode, handed.stderr) == (0, "")
    record = json.loads(handed.stdout)
    assert record["renderer_pid"] in before  # the running browser's spare took the page
    own = run("open", "--dump", "--json", "--new-instance", "--profile", str(browser.profile), url)
    assert (own.returncode, own.stderr) == (0, "")
    assert json.loads(own.stdout)["renderer_pid"] not in browser.descendants()
    # Whole outputs: the text dump, and the JSON but for the pid and the timings.
    text = run("open", "--dump", "--profile", str(browser.profile), url)
    text_own = run("open", "--dump", "--new-instance", "--profile", str(browser.profile), url)
    assert (text.returncode, text.stderr, text.stdout) == (0, "", text_own.stdout)
    assert text.stdout == ("Hello, world\n============\n\nA small page with a text file[1] and a form[2].\n\n"
                           f"References\n\n   1. {http_server.url('/text')}\n   2. {http_server.url('/form')}\n")
    # The page is the same; its tab stays in the background there (the user's tab keeps the front).
    assert (record["state"], json.loads(own.stdout)["state"]) == ("background", "active")
    strip = lambda r: {k: v for k, v in r.items() if k not in ("renderer_pid", "timings_ms", "state")}  # noqa: E731
    assert strip(record) == strip(json.loads(own.stdout))
    # A dump is a question: the tabs it opened are closed again.
    await wait_for(lambda: described(browser)["tabs"] == 1)


async def test_open_without_dump_returns_at_once_and_the_tab_stays(start_browser, http_server):
    browser = start_browser()
    result = run("open", "--profile", str(browser.profile), http_server.url("/hello"), http_server.url("/text"))
    assert (result.returncode, result.stdout, result.stderr) == (
        0, "", f"minibrowser: opened 2 tabs in the running browser (pid {browser.pid})\n")
    await wait_for(lambda: described(browser)["tabs"] == 3)


async def test_a_relative_path_is_read_from_where_the_command_runs(start_browser, tmp_path):
    browser = start_browser()
    (tmp_path / "here.html").write_text("<title>Here</title><p>from the command's directory")
    result = subprocess.run(CLI + ["open", "--dump", "--json", "--profile", str(browser.profile), "./here.html"],
                            capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL, cwd=tmp_path)
    assert (result.returncode, result.stderr) == (0, "")
    record = json.loads(result.stdout)
    assert (record["final_url"], record["text"]) == (f"file://{tmp_path}/here.html", "from the command's directory")
    assert record["state"] == "background"  # in the running browser, behind its own tab


async def test_a_failing_page_fails_the_command_as_in_a_browser_of_its_own(start_browser, tmp_path):
    browser = start_browser()
    missing = f"file://{tmp_path}/missing.html"
    handed = run("open", "--dump", "--profile", str(browser.profile), missing)
    own = run("open", "--dump", "--new-instance", "--profile", str(browser.profile), missing)
    assert (handed.returncode, handed.stdout, handed.stderr) == (own.returncode, own.stdout, own.stderr)
    assert handed.returncode == 1 and handed.stderr.count("\n") == 1


async def test_another_profile_or_browser_wide_options_start_a_browser_of_their_own(start_browser, tmp_path):
    browser = start_browser()
    for args in (["--profile", str(tmp_path / "other")], ["--profile", str(browser.profile), "--no-spare"]):
        result = run("open", "--dump", "--json", *args, "about:blank")
        assert (result.returncode, result.stderr) == (0, "")
        assert json.loads(result.stdout)["renderer_pid"] not in browser.descendants()


async def test_ps_lists_two_running_browsers(start_browser):
    first = start_browser("one")
    second = start_browser("two", ("about:blank", "about:version"))
    rows = {row["pid"]: row for row in ps()}
    assert set(rows) >= {first.pid, second.pid}
    for browser, tabs in ((first, 1), (second, 2)):
        row = await with_spare(browser)
        assert row["memory_uss"] > 0 and abs(row["started"] - psutil.Process(browser.pid).create_time()) < 5
        assert {k: v for k, v in row.items() if k not in ("memory_uss", "started")} == {
            "pid": browser.pid, "profile": str(browser.profile), "started_by": "script",
            "socket": browser.entry["socket"], "tabs": tabs, "renderers": tabs, "spare": True, "error": None}
    text = run("ps")
    assert text.returncode == 0 and text.stderr == ""
    lines = text.stdout.splitlines()
    assert lines[0] == "    PID  STARTED              BY         TABS  RENDERERS    MEMORY  PROFILE"
    for browser, tabs in ((first, 1), (second, 2)):
        (line,) = [line for line in lines[1:] if line.split()[0] == str(browser.pid)]
        assert re.fullmatch(rf" *{browser.pid}  \d{{4}}-\d\d-\d\d \d\d:\d\d:\d\d  script  +{tabs}  +{tabs} \+spare"
                            rf"  +[\d.]+M  {re.escape(str(browser.profile))}", line), line


async def test_a_browser_that_was_killed_is_not_listed_and_its_entry_goes(start_browser):
    browser = start_browser()
    entry = Path(registry_dir()) / f"{browser.pid}.json"
    assert entry.exists() and described(browser) is not None
    browser.process.kill()
    browser.process.wait(timeout=10)
    assert described(browser) is None
    assert not entry.exists()
    result = run("open", "--dump", "--profile", str(browser.profile), "data:text/html,alone")
    assert (result.returncode, result.stdout, result.stderr) == (0, "alone\n", "")


def _exchange(path: str, payload: bytes) -> bytes:
    """Send ``payload`` and read until the broker closes the connection."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(30)
        sock.connect(path)
        sock.sendall(payload)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def _frame(message: dict | bytes) -> bytes:
    payload = message if isinstance(message, bytes) else json.dumps(message).encode()
    return len(payload).to_bytes(4, "big") + payload


def _line(reason: str) -> bytes:
    return f"minibrowser: control socket: {reason}; the connection is closed\n".encode()


async def test_a_hostile_client_gets_one_line_and_the_browser_carries_on(start_browser):
    browser = start_browser()
    path = browser.entry["socket"]
    assert _exchange(path, b"hello there\n") == _line(
        f"a frame of {int.from_bytes(b'hell', 'big')} bytes is over the limit of {MAX_CLIENT_FRAME}")
    assert _exchange(path, (50 * 1024 * 1024).to_bytes(4, "big") + b"x" * 4096) == _line(
        f"a frame of {50 * 1024 * 1024} bytes is over the limit of {MAX_CLIENT_FRAME}")
    assert _exchange(path, _frame(b"\xff\xfenot json")) == _line("a message is not JSON")
    assert _exchange(path, _frame({"type": "Bogus"})) == _line("a message is not valid: Invalid value 'Bogus' - at `$.type`")
    assert _exchange(path, _frame({"type": "OpenUrls", "urls": ["about:blank"] * 65})) == _line(
        "a message is not valid: Expected `array` of length <= 64 - at `$.urls`")
    assert _exchange(path, _frame({"type": "Call", "id": 1, "action": "close", "tab": 1})) == _line(
        "Call needs an attached client: send Attach first")
    # Too many at once: the one over the limit is refused, the others are served.
    idle = []
    try:
        for _ in range(MAX_CONNECTIONS):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.connect(path)
            idle.append(sock)
        await wait_for(lambda: _exchange(path, b"") == _line(
            f"refused: {MAX_CONNECTIONS} clients are connected already; try again later"))
    finally:
        for sock in idle:
            sock.close()
    # The browser and its tab carry on.
    await wait_for(lambda: (described(browser) or {}).get("tabs") == 1)
    result = run("open", "--dump", "--profile", str(browser.profile), "data:text/html,still here")
    assert (result.returncode, result.stdout, result.stderr) == (0, "still here\n", "")
    assert browser.process.poll() is None


@pytest.mark.needs_root("only root can become another user to try the socket")
async def test_another_user_is_refused_with_one_line(start_browser):
    browser = start_browser()
    path = browser.entry["socket"]
    other = 65534
    # The filesystem keeps the other user out already (the socket is 0600):
    # open that door, to show that the broker's own check refuses on its own.
    assert os.stat(path).st_mode & 0o777 == 0o600
    os.chmod(path, 0o666)
    runtime = os.path.dirname(path)
    if os.stat(runtime).st_uid != other:
        os.chmod(runtime, 0o711)
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child reports through the pipe
        try:
            os.close(read)
            os.setgroups([])
            os.setgid(other)
            os.setuid(other)
            answer = _exchange(path, _frame({"type": "Describe"}))
            os.write(write, b"connected\n" + answer)
        except BaseException as error:  # noqa: BLE001
            os.write(write, f"failed: {error!r}\n".encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        seen = pipe.read()
    os.waitpid(child, 0)
    assert seen == b"connected\n" + _line(
        f"refused: this browser belongs to uid 0 and you are uid {other}; only its own user may control it")
    # Its own user is answered, and the browser is untouched.
    assert described(browser)["tabs"] == 1
