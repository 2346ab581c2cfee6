"""A browser driven by a script, for tests of its control socket: it opens
the URLs given, says ``ready PID`` on stdout, and runs until SIGTERM (or until
its stdin closes, so that it never outlives the test that started it).

    python tests/support/running_browser.py PROFILE [URL ...]

:class:`RunningBrowser` starts one from a test.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import psutil

from broker.control_wire import registry_dir
from browser import Browser, LifecyclePolicy


class RunningBrowser:
    """This script as a process of its own, started and ready."""

    def __init__(self, profile: Path, urls: list[str]) -> None:
        self.profile = profile
        self.process = subprocess.Popen([sys.executable, __file__, str(profile), *urls],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        line = self.process.stdout.readline()
        assert line == f"ready {self.process.pid}\n", line
        self.pid = self.process.pid
        self.entry = next(e for e in registry_entries() if e["pid"] == self.pid)

    def descendants(self) -> set[int]:
        return {p.pid for p in psutil.Process(self.pid).children(recursive=True)}

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
        self.process.wait(timeout=30)


def registry_entries() -> list[dict]:
    """The running browsers' entries, as they are on disk (none cleaned)."""
    directory = registry_dir()
    return [json.loads((Path(directory) / name).read_text()) for name in os.listdir(directory) if name.endswith(".json")]


async def main(profile: str, urls: list[str]) -> None:
    async with Browser(profile=profile, policy=LifecyclePolicy.manual()) as browser:
        for url in urls:
            await browser.open(url)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        loop.add_reader(sys.stdin.fileno(), lambda: os.read(sys.stdin.fileno(), 1) or stop.set())
        print("ready", os.getpid(), flush=True)
        await stop.wait()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2:]))
