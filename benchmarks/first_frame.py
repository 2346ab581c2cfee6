"""New tab to first frame, through the zygote against a cold interpreter.

For a 10 KB page served from 127.0.0.1: the time from asking for a new tab
to having its first frame (spawn + sandbox + handshake + fetch + parse +
layout), with renderers forked from the zygote, and with the same renderer
started as a fresh interpreter (``python -m renderer.cold``).  Both run in
this process, interleaved, so machine noise hits both alike.

    .venv/bin/python benchmarks/first_frame.py [--rounds N]
"""

from __future__ import annotations

import argparse
import asyncio
import time

from _common import page_of_size, serve, summary, percentile

from browser import Browser


async def measure(url: str, rounds: int) -> tuple[list[float], list[float], list[float], list[float]]:
    zygote_ms, cold_ms, zygote_spawn, cold_spawn = [], [], [], []
    async with Browser() as warm, Browser(cold_renderers=True) as cold:
        for browser in (warm, cold):  # one untimed tab each: warm the loader and caches
            await (await browser.open(url)).close()
        for _ in range(rounds):
            for browser, totals, spawns in ((warm, zygote_ms, zygote_spawn), (cold, cold_ms, cold_spawn)):
                started = time.perf_counter()
                tab = await browser.open(url)
                totals.append((time.perf_counter() - started) * 1000)
                spawns.append(tab.timings.spawn_ms)
                assert tab.frame is not None and "Benchmark page" in tab.title, tab.error
                await tab.close()
    return zygote_ms, cold_ms, zygote_spawn, cold_spawn


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    page = page_of_size(10 * 1024)
    with serve({"/page": page}) as base:
        zygote_ms, cold_ms, zygote_spawn, cold_spawn = asyncio.run(measure(base + "/page", args.rounds))
    print(f"new tab to first frame, {len(page)} byte page, {args.rounds} rounds (ms)")
    print(f"  zygote fork      {summary(zygote_ms)}")
    print(f"  cold interpreter {summary(cold_ms)}")
    print(f"  spawn+handshake only: zygote p50 {percentile(zygote_spawn, 50):.2f}, cold p50 {percentile(cold_spawn, 50):.2f}")
    ratio = percentile(zygote_ms, 50) / percentile(cold_ms, 50)
    print(f"  ratio zygote/cold (p50): {ratio:.3f}  (target <= 0.125: {'met' if ratio <= 0.125 else 'NOT met'})")


if __name__ == "__main__":
    main()
