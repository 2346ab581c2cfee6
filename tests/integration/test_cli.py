"""The ``minibrowser`` command as a user runs it, and what it leaves behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time

import psutil
import pytest

from tests.support.processes import gone
from tests.support.waiting import wait_for_blocking

CLI = [sys.executable, "-m", "browser.cli"]


@pytest.fixture
def runtime_base():
    """A TMPDIR of our own, so we can see the runtime directory come and go.
    Searchable by others: renderers dropped to ``nobody`` must reach the socket."""
    base = tempfile.mkdtemp(prefix="mb-cli-", dir="/tmp")
    os.chmod(base, 0o711)
    yield base
    os.rmdir(base)


def env_for(runtime_base: str) -> dict[str, str]:
    env = dict(os.environ)
    env["TMPDIR"] = runtime_base
    env.pop("XDG_RUNTIME_DIR", None)
    return env


def run(args, runtime_base, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(CLI + args, capture_output=True, text=True, timeout=120,
                          env=env_for(runtime_base), stdin=subprocess.DEVNULL, **kwargs)


def browser_processes(broker_pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(broker_pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def test_dump_prints_the_page_with_references(http_server, runtime_base):
    result = run(["open", http_server.url("/hello"), "--dump"], runtime_base)
    assert result.returncode == 0, result.stderr
    assert "Hello, world" in result.stdout
    assert "References" in result.stdout
    assert f"   1. {http_server.url('/text')}" in result.stdout
    assert os.listdir(runtime_base) == []  # the runtime directory is gone


def test_no_url_shows_the_welcome_page(runtime_base):
    result = run(["open", "--dump"], runtime_base)
    assert result.returncode == 0, result.stderr
    assert "Welcome to minibrowser" in result.stdout
    assert "about:processes" in result.stdout


def test_json_gives_one_object_per_tab_each_with_its_own_renderer(http_server, runtime_base):
    urls = [http_server.url("/hello"), http_server.url("/text"), "about:blank"]
    result = run(["open", *urls, "--dump", "--json"], runtime_base)
    assert result.returncode == 0, result.stderr
    objects = [json.loads(line) for line in result.stdout.splitlines()]
    assert [o["url"] for o in objects] == urls
    assert len({o["renderer_pid"] for o in objects}) == 3
    hello = objects[0]
    assert hello["title"] == "Hello"
    assert hello["links"][0] == {"number": 1, "url": http_server.url("/text")}
    assert set(hello["timings_ms"]) == {"fetch", "spawn", "first_frame"}
    assert all(value is not None for value in hello["timings_ms"].values())


def hello_dump(http_server) -> str:
    return ("Hello, world\n============\n\nA small page with a text file[1] and a form[2].\n\nReferences\n\n"
            f"   1. {http_server.url('/text')}\n   2. {http_server.url('/form')}\n")


def test_a_failing_page_gives_an_error_page_one_line_and_exit_1(http_server, unreachable_url, runtime_base):
    result = run(["open", http_server.url("/hello"), unreachable_url, "--dump"], runtime_base)
    where = unreachable_url.removeprefix("http://").removesuffix("/")
    assert result.returncode == 1
    assert result.stdout == (
        f"==> {http_server.url('/hello')} <==\n{hello_dump(http_server)}"  # the good tab still rendered
        f"\n==> {unreachable_url} <==\n"
        "This site can't be reached\n==========================\n\n"
        f"Cannot reach {where} (connection refused).\n\nAddress: {unreachable_url}\n\n"
        "What to do: check the address and that the server is running.\n"
    )
    assert result.stderr == (f"minibrowser: {unreachable_url}: cannot reach {where} (connection refused): "
                             "check the address and that the server is running\n")
    assert os.listdir(runtime_base) == []  # nothing left behind on error either


def test_a_bare_url_or_path_is_opened(http_server, runtime_base, tmp_path):
    result = run([http_server.url("/hello"), "--dump"], runtime_base)
    assert (result.returncode, result.stderr, result.stdout) == (0, "", hello_dump(http_server))
    page = tmp_path / "page.html"
    page.write_text("<title>Local</title><p>A local page.")
    result = run([str(page), "--dump"], runtime_base)
    assert (result.returncode, result.stderr, result.stdout) == (0, "", "A local page.\n")


def test_a_word_that_is_neither_a_command_nor_an_address(runtime_base):
    result = run(["frobnicate"], runtime_base)
    assert (result.returncode, result.stdout, result.stderr) == (
        2, "", "minibrowser: 'frobnicate' is neither a command (open, ps, sandbox, attack, tui, simulate) nor an address; "
               "to open a host without a dot in its name, write http://frobnicate/\n")


def test_a_renderer_that_never_draws_the_page_is_a_failure(runtime_base):
    # about:hang makes the renderer stop answering before it draws anything.
    result = run(["open", "about:hang", "--dump"], runtime_base)
    assert (result.returncode, result.stdout, result.stderr) == (
        1, "", "minibrowser: about:hang: tab 1 has nothing to show: its renderer did not answer with the page "
               "(the tab is loading); try again\n")


def test_a_closed_pipe_stops_the_dump_quietly_like_cat(http_server, runtime_base):
    """``minibrowser open URL --dump | head -1``: no traceback, nothing left
    behind, and the status cat has there: killed by SIGPIPE (141 in a shell)."""
    url = http_server.route("/long", b"<pre>" + b"a line of text\n" * 100_000 + b"</pre>")
    process = subprocess.Popen(CLI + ["open", url, "--dump"], env=env_for(runtime_base), stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdout.readline() == b"a line of text\n"
    process.stdout.close()  # as head does once it has its line
    stderr = process.stderr.read()
    assert (process.wait(timeout=60), stderr) == (-signal.SIGPIPE, b"")
    assert os.listdir(runtime_base) == []


@pytest.mark.parametrize("url", ["http://", "ht!tp://x", "http://exa mple.com/"])
def test_malformed_urls(url, runtime_base):
    result = run(["open", url, "--dump"], runtime_base)
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("width", ["zero", "5", "1001"])
def test_a_bad_width_says_what_a_width_may_be(width, runtime_base):
    result = run(["open", "--width", width, "--dump"], runtime_base)
    assert (result.returncode, result.stdout, result.stderr) == (
        2, "", f"minibrowser: --width: must be a whole number from 20 to 1000, not '{width}' "
               "(see 'minibrowser --help')\n")


@pytest.mark.parametrize(("command", "args", "line"), [
    ("open", ["--memory-budget", "lots"], "--memory-budget: must be a size such as 512M or 2G, not 'lots'"),
    ("open", ["--memory-budget", "0"], "--memory-budget: must be more than 0, not '0'"),
    ("tui", ["--memory-budget", "10X"], "--memory-budget: must be a size such as 512M or 2G, not '10X'"),
    ("tui", ["--discard-policy", "opera"],
     "--discard-policy: must be one of minibrowser, chrome-memory-saver, chrome-memory-saver-moderate, "
     "chrome-memory-saver-balanced, chrome-memory-saver-maximum, chrome-urgent, firefox-unloader, "
     "edge-sleeping-tabs, none, not 'opera'"),
])
def test_a_bad_policy_or_budget_is_one_line_and_exit_2(command, args, line, runtime_base):
    result = run([command, *args, "about:blank"], runtime_base)
    assert (result.returncode, result.stdout, result.stderr) == (2, "", f"minibrowser: {line} (see 'minibrowser --help')\n")


def test_the_policy_and_budget_chosen_are_the_ones_about_discards_shows(runtime_base):
    result = run(["open", "about:discards", "--dump", "--discard-policy", "chrome-urgent", "--memory-budget", "100M"],
                 runtime_base)
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == "\n".join([
        "Discards", "========", "", "Policy chrome-urgent; memory budget 100 MB (renderers' USS).", "",
        "Tab: 1", "Title: about:discards", "State: loading", "Visibility: visible", "Discardable: no: loading",
        "Freezable: no: loading", "Auto-discardable: yes", "Discards: 0", "Revisits: 0", "Last active: now",
    ]) + "\n"


def test_without_dump_and_without_a_terminal_it_says_to_use_dump(runtime_base):
    result = run(["open", "about:blank"], runtime_base)
    assert result.returncode == 2
    assert "--dump" in result.stderr


def test_sandbox_command_reports_every_layer(runtime_base):
    result = run(["sandbox", "--json"], runtime_base)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["ok"] is True
    names = [layer["name"] for layer in report["layers"]]
    for name in ("namespaces", "limits", "no_new_privs", "landlock", "seccomp"):
        assert name in names
    assert all(layer["active"] for layer in report["layers"] if layer["required"])
    network = {layer["name"]: (layer["required"], layer["active"]) for layer in report["network_layers"]}
    root = os.geteuid() == 0
    assert network == {"process": (True, True), "limits": (True, True), "privileges": (root, root),
                       "no_new_privs": (True, True), "landlock": (True, True), "seccomp": (True, True)}
    assert report["network_verdict"] == "sandboxed: every required layer is on" + (
        "" if root else " (not applied: privileges)")


def test_no_sandbox_pages_say_so(runtime_base):
    result = run(["open", "about:blank", "--dump", "--no-sandbox"], runtime_base)
    assert result.returncode == 0
    assert "NOT sandboxed" in result.stdout


def test_probe_file(tmp_path, runtime_base):
    probe = tmp_path / "probe.py"
    probe.write_text("open('/etc/passwd').read()\n")
    result = run(["attack", "--probe-file", str(probe), "--json"], runtime_base)
    outcome = json.loads(result.stdout)
    assert outcome["outcome"] == "raised" and outcome["errno"] == 13
    probe.write_text("import os\nos.fork()\n")
    outcome = json.loads(run(["attack", "--probe-file", str(probe), "--json"], runtime_base).stdout)
    assert outcome["outcome"] == "killed" and outcome["signal"] == signal.SIGSYS
    probe.write_text("result = 6 * 7\n")
    outcome = json.loads(run(["attack", "--probe-file", str(probe), "--json"], runtime_base).stdout)
    assert outcome == {"outcome": "completed", "detail": "42", "errno": None, "signal": None}
    probe.write_text("sock.send(b'not msgpack')\nsock.poll(5000)\n")  # IPC abuse from the probe
    outcome = json.loads(run(["attack", "--probe-file", str(probe), "--json"], runtime_base).stdout)
    assert outcome["outcome"] == "killed" and "DECODE_FAILED" in outcome["detail"]


def test_attack_with_unknown_name(runtime_base):
    result = run(["attack", "no-such-attack"], runtime_base)
    assert result.returncode == 2 and "attack list" in result.stderr


# -- nothing left behind --------------------------------------------------------


def start_slow_open(http_server, runtime_base, tabs: int = 2) -> tuple[subprocess.Popen, list[int]]:
    """Start ``minibrowser open`` on pages that take long to load; return it
    once its zygote and every renderer are up."""
    slow = [http_server.url(f"/slow?seconds=30&n={i}") for i in range(tabs)]
    process = subprocess.Popen(CLI + ["open", *slow, "--dump"], env=env_for(runtime_base),
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        children = wait_for_blocking(lambda: len(found := browser_processes(process.pid)) >= 1 + tabs and found,
                                     timeout=30, what="the browser's zygote and renderers")
    except AssertionError:
        process.kill()
        raise
    return process, [child.pid for child in children]


def test_ctrl_c_leaves_nothing_behind(http_server, runtime_base):
    process, pids = start_slow_open(http_server, runtime_base)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 130
    assert "Traceback" not in stderr.decode()
    wait_for_blocking(lambda: all(gone(pid) for pid in pids), what=f"the browser's processes {pids} to end")
    assert os.listdir(runtime_base) == []


def test_broker_sigkill_takes_zygote_and_renderers_down(http_server, runtime_base):
    process, pids = start_slow_open(http_server, runtime_base)
    process.kill()
    process.wait()
    killed_at = time.monotonic()
    wait_for_blocking(lambda: all(gone(pid) for pid in pids), what=f"the browser's processes {pids} to end")
    print(f"zygote and renderers gone {time.monotonic() - killed_at:.3f} s after the broker's SIGKILL")
    # The zygote removes the runtime directory of a broker that was killed.
    wait_for_blocking(lambda: os.listdir(runtime_base) == [], what="the zygote to remove the runtime directory")
