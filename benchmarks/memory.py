"""Memory (USS) of an idle renderer forked from the zygote, against a cold one.

USS is the memory a process would give back if it ended: pages it shares
copy-on-write with the zygote do not count.  Both renderers hold the same
small page and have been idle for a moment.

    .venv/bin/python benchmarks/memory.py [--tabs N]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics

import psutil

from browser import Browser


async def idle_uss(cold: bool, tabs: int) -> list[int]:
    async with Browser(cold_renderers=cold) as browser:
        opened = [await browser.open("about:welcome") for _ in range(tabs)]
        await asyncio.sleep(1.0)
        return [psutil.Process(tab.pid).memory_full_info().uss for tab in opened]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tabs", type=int, default=5)
    args = parser.parse_args()
    forked = asyncio.run(idle_uss(False, args.tabs))
    cold = asyncio.run(idle_uss(True, args.tabs))
    mib = 1024 * 1024
    print(f"idle renderer USS, {args.tabs} renderers each (MiB)")
    print(f"  zygote fork      median {statistics.median(forked) / mib:7.2f}  "
          f"min {min(forked) / mib:7.2f}  max {max(forked) / mib:7.2f}")
    print(f"  cold interpreter median {statistics.median(cold) / mib:7.2f}  "
          f"min {min(cold) / mib:7.2f}  max {max(cold) / mib:7.2f}")
    ratio = statistics.median(forked) / statistics.median(cold)
    print(f"  ratio forked/cold: {ratio:.3f}  (target <= 0.25: {'met' if ratio <= 0.25 else 'NOT met'})")


if __name__ == "__main__":
    main()
