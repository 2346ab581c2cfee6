"""Restore of a discarded tab against a full reload of the same page.

The page is a long real documentation page (~500 KB of HTML: Rust's
``std::borrow::Cow``, when the toolchain docs are installed; a generated
page of the same size otherwise).  Measured side by side in one run:

* restore: ``await tab.activate()`` on the discarded tab, to its first frame
  (snapshot read from SQLite, renderer forked from the zygote, frame drawn);
* reload: a new tab for the same URL (renderer forked, page fetched from a
  local HTTP server, parsed and laid out), to its first frame.

Target: restore p50 at most a third of the reload's.

    .venv/bin/python benchmarks/restore.py [--rounds N] [--page FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time

from _common import documentation_page, percentile, serve, summary
from browser import Browser, LifecyclePolicy


async def run(body: bytes, rounds: int) -> None:
    with serve({"/doc": body}) as base, tempfile.TemporaryDirectory() as profile:
        async with Browser(policy=LifecyclePolicy.manual(), profile=profile) as browser:
            url = base + "/doc"
            tab = await browser.open(url)
            tab.scroll_to(200)
            other = await browser.open("about:blank")
            restore_ms, reload_ms = [], []
            for _ in range(rounds):
                await other.activate()
                before = tab.frame
                await tab.discard()
                started = time.perf_counter()
                frame = await tab.activate()
                restore_ms.append((time.perf_counter() - started) * 1000)
                assert frame == before, "the restored frame differs"

                started = time.perf_counter()
                fresh = await browser.open(url)
                reload_ms.append((time.perf_counter() - started) * 1000)
                await fresh.close()
            print(f"page: {len(body) / 1024:.0f} KB of HTML, {len(tab.frame.lines)} lines at width {tab.frame.width}")
            print(f"restore from the profile (ms)  {summary(restore_ms)}")
            print(f"full reload, new renderer (ms) {summary(reload_ms)}")
            ratio = percentile(restore_ms, 50) / percentile(reload_ms, 50)
            print(f"restore p50 / reload p50 = {ratio:.3f}  (target <= 0.333)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--page", help="a large real-world HTML file (default: a generated 500 KB page)")
    args = parser.parse_args()
    if args.page:
        with open(args.page, "rb") as page:
            body = page.read()
    else:
        body = documentation_page(500_000)
    asyncio.run(run(body, args.rounds))


if __name__ == "__main__":
    main()
