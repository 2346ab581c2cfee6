"""The README's Python example runs as written, against a local HTTP server."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def readme_python_example() -> str:
    """The one ```python block of the README's "The Python API" section."""
    section = README.read_text(encoding="utf-8").split("## The Python API", 1)[1]
    (block,) = re.findall(r"```python\n(.*?)```", section.split("\n## ", 1)[0], re.DOTALL)
    return block


def test_the_readme_python_example_runs_as_written(http_server, tmp_path):
    script = tmp_path / "example.py"
    script.write_text(readme_python_example())
    env = dict(os.environ, XDG_DATA_HOME=str(tmp_path / "data"))  # where the discarded tab's snapshot goes
    env.pop("XDG_RUNTIME_DIR", None)
    result = subprocess.run([sys.executable, str(script), http_server.url("/hello")], capture_output=True,
                            text=True, timeout=120, env=env, stdin=subprocess.DEVNULL, cwd=tmp_path)
    assert (result.returncode, result.stderr) == (0, "")
    # Process ids differ from run to run; everything else is what the user reads.
    shown = re.sub(r"^\d+ \d+ (broker|zygote|network|renderer) ", r"PID PPID \1 ", result.stdout, flags=re.MULTILINE)
    shown = re.sub(r"^(1 Hello TabState.ACTIVE) \d+$", r"\1 PID", shown, flags=re.MULTILINE)
    text, form = http_server.url("/text"), http_server.url("/form")
    assert shown == (
        "1 Hello TabState.ACTIVE PID\n"
        "Hello, world\n============\n\nA small page with a text file[1] and a form[2].\n"
        f"[Link(number=1, url='{text}', text='a text file', line=3, target=<LinkTarget.SELF: 'self'>), "
        f"Link(number=2, url='{form}', text='a form', line=3, target=<LinkTarget.SELF: 'self'>)]\n"
        "PID PPID broker None running\n"
        "PID PPID zygote None running\n"
        "PID PPID network None running\n"
        "PID PPID renderer 1 background\n"
        "PID PPID renderer 2 active\n"
        "TabState.ACTIVE Hello\n"
    )
