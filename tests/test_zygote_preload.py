"""What the zygote does before its first fork: no program is run.

``ctypes.util.find_library`` (which the seccomp bindings call at import)
runs ``ldconfig -p``; the zygote must load its libraries by soname instead.
Checked with an audit hook in a fresh interpreter, which sees every
program start (``subprocess.Popen``, ``os.exec``, ``os.posix_spawn``,
``os.system``)."""

from __future__ import annotations

import ast
import subprocess
import sys

WATCH_PROGRAMS = """
import sys
started = []
def hook(event, args):
    if event in ("subprocess.Popen", "os.exec", "os.posix_spawn", "os.system"):
        started.append(str(args[0]))
sys.addaudithook(hook)
"""


def programs_started_by(code: str) -> list[str]:
    result = subprocess.run([sys.executable, "-c", WATCH_PROGRAMS + code + "\nprint(started)"],
                            capture_output=True, text=True, timeout=60, check=True)
    return ast.literal_eval(result.stdout.strip().splitlines()[-1])


def test_the_audit_hook_sees_find_library_run_ldconfig():
    assert programs_started_by("import ctypes.util\nctypes.util.find_library('seccomp')") == ["/sbin/ldconfig"]


def test_the_zygote_preload_runs_no_program():
    assert programs_started_by("from renderer import main\nmain.preload()") == []
