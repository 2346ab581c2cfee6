"""A kernel without Landlock: pages are refused with one clear line, unless
the user passes --no-sandbox (and then every page says it is unsandboxed).

The missing feature is made real for the browser's whole process tree with
a seccomp filter that answers every Landlock system call with ENOSYS, which
is exactly what a kernel built without Landlock answers.
"""

from __future__ import annotations

import subprocess
import sys

WITHOUT_LANDLOCK = """
import errno, os, sys
import pyseccomp as seccomp
f = seccomp.SyscallFilter(seccomp.ALLOW)
for name in ("landlock_create_ruleset", "landlock_add_rule", "landlock_restrict_self"):
    f.add_rule(seccomp.ERRNO(errno.ENOSYS), name)
f.load()
os.execv(sys.executable, [sys.executable, "-m", "browser.cli", *sys.argv[1:]])
"""


def run_without_landlock(*args: str) -> subprocess.CompletedProcess:
    """``minibrowser ARGS`` under a kernel without Landlock; ``open`` starts a
    browser of its own (``--new-instance``): handed to a browser another test
    left running, the page would be rendered by that browser, with Landlock."""
    if args[0] == "open":
        args = (*args, "--new-instance")
    return subprocess.run([sys.executable, "-c", WITHOUT_LANDLOCK, *args], capture_output=True, text=True,
                          timeout=120, stdin=subprocess.DEVNULL)


def test_the_same_page_renders_when_landlock_is_there():
    result = subprocess.run([sys.executable, "-m", "browser.cli", "open", "about:blank", "--dump"],
                            capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stderr


def test_pages_are_refused_without_landlock():
    result = run_without_landlock("open", "about:blank", "--dump")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Landlock is not available" in lines[0] and "--no-sandbox" in lines[0]
    assert "Traceback" not in result.stderr


def test_sandbox_report_fails_clearly_without_landlock():
    result = run_without_landlock("sandbox")
    assert result.returncode == 1
    assert "Landlock" in result.stderr and "Traceback" not in result.stderr


def test_no_sandbox_renders_and_says_so():
    result = run_without_landlock("open", "about:blank", "--dump", "--no-sandbox")
    assert result.returncode == 0, result.stderr
    assert "NOT sandboxed" in result.stdout


def test_an_http_page_without_landlock_is_one_line_and_loads_with_no_sandbox(http_server):
    """The network process cannot lock itself down either: still one line."""
    result = run_without_landlock("open", http_server.url("/hello"), "--dump")
    assert result.returncode == 1
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"minibrowser: {http_server.url('/hello')}: ") and "--no-sandbox" in line
    assert http_server.count() == 0  # nothing reached the server from an unsandboxed network process
    result = run_without_landlock("open", http_server.url("/hello"), "--dump", "--no-sandbox")
    assert (result.returncode, result.stderr) == (0, "")
    assert "Hello, world" in result.stdout
