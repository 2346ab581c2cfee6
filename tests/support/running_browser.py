"""A browser driven by a script, for tests of its control socket: it opens
the URLs given, says ``ready PID`` on stdout, and runs until SIGTERM (or until
its stdin closes, so that it never outlives the test that started it).

    python tests/support/running_browser.py PROFILE [URL ...]
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys

from browser import Browser, LifecyclePolicy


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
