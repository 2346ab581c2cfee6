"""What ``minibrowser open --dump`` of a local file does before its page
appears: it starts the zygote before the broker's own imports (so the
zygote's preload overlaps them), starts no network process, and imports
neither HTTP code nor the terminal UI (Textual), which a ``file:`` dump never
uses.  An http dump starts the network process, and the broker still imports
no HTTP code: the network process speaks HTTP, not the broker.

Watched with an audit hook in the real command's process: the ``import``
event names every module as it is imported, ``subprocess.Popen`` every
program started."""

from __future__ import annotations

import json
import os
import subprocess
import sys

WATCHED_CLI = """
import atexit, json, os, sys
seen = []
def hook(event, args):
    if event == "import":
        seen.append(["import", args[0]])
    elif event == "subprocess.Popen":
        seen.append(["program", " ".join(map(str, args[1]))])
sys.addaudithook(hook)
atexit.register(lambda: os.write(int(os.environ["WATCH_FD"]), json.dumps(seen).encode()))
from browser.cli import main
sys.exit(main(sys.argv[1:]))
"""


def run_watched(args: list[str]) -> tuple[subprocess.CompletedProcess, list[list[str]]]:
    read_end, write_end = os.pipe()
    env = dict(os.environ, WATCH_FD=str(write_end))
    env.pop("XDG_RUNTIME_DIR", None)
    with os.fdopen(read_end, "rb") as events:
        result = subprocess.run([sys.executable, "-c", WATCHED_CLI, *args], capture_output=True, text=True,
                                timeout=120, env=env, stdin=subprocess.DEVNULL, pass_fds=(write_end,))
        os.close(write_end)
        return result, json.loads(events.read())


def test_a_file_dump_starts_the_zygote_first_and_imports_no_network_or_ui(tmp_path):
    page = tmp_path / "page.html"
    page.write_text("<!doctype html><title>Local</title><h1>Local page</h1><p>Read from disk.</p>")
    result, seen = run_watched(["open", "--dump", page.as_uri()])
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == "Local page\n==========\n\nRead from disk.\n"
    modules = [name for kind, name in seen if kind == "import"]
    programs = [command for kind, command in seen if kind == "program"]
    assert len(programs) == 1 and "-m renderer.zygote" in programs[0], programs
    zygote_started = seen.index(["program", programs[0]])
    assert seen.index(["import", "browser.api"]) > zygote_started
    assert seen.index(["import", "asyncio"]) > zygote_started
    network_or_ui = sorted({name for name in modules if name.split(".")[0] in HTTP_OR_UI})
    assert network_or_ui == []


HTTP_OR_UI = ("httpx", "httpcore", "h11", "textual")


def test_an_http_dump_starts_the_network_process_and_parses_no_http_itself(http_server):
    result, seen = run_watched(["open", "--dump", http_server.url("/hello")])
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.startswith("Hello, world\n")
    programs = [command.partition(" -m ")[2].split()[0] for kind, command in seen if kind == "program"]
    assert programs == ["renderer.zygote", "network.main"]
    modules = [name for kind, name in seen if kind == "import"]
    assert sorted({name for name in modules if name.split(".")[0] in HTTP_OR_UI}) == []
