"""New tab to first frame: with a spare renderer, through the zygote, and
from a cold interpreter.

For a 10 KB page served from 127.0.0.1: the time from asking for a new tab
to having its first frame (spawn + sandbox + handshake + fetch + parse +
layout), three ways, in this process and interleaved so that machine noise
hits all alike:

* spare: the renderer was forked, sandboxed and connected ahead of need
  (Chromium's spare ``RenderProcessHost``); the tab takes it, and the next
  spare is started in the background (each round waits until it is ready,
  as the time between a user's new tabs allows);
* zygote: forked from the zygote on demand (``spare=False``);
* cold: a fresh interpreter (``python -m renderer.cold``).

Targets: zygote at most 1/8 of cold; spare at most 1/20 of cold (p50).

    .venv/bin/python benchmarks/first_frame.py [--rounds N]
"""

from __future__ import annotations

import argparse
import asyncio
import time

from _common import page_of_size, serve, summary, percentile

from browser import Browser


async def _spare_ready(browser: Browser) -> None:
    while not any(p.role == "spare" for p in browser.processes()):
        await asyncio.sleep(0.002)


async def measure(url: str, rounds: int) -> dict[str, tuple[list[float], list[float], list[float]]]:
    results: dict[str, tuple[list[float], list[float], list[float]]] = {
        name: ([], [], []) for name in ("spare", "zygote", "cold")}
    async with Browser() as spare, Browser(spare=False) as zygote, Browser(cold_renderers=True) as cold:
        browsers = {"spare": spare, "zygote": zygote, "cold": cold}
        for browser in browsers.values():  # one untimed tab each: warm the loader and caches
            await (await browser.open(url)).close()
        for _ in range(rounds):
            for name, browser in browsers.items():
                if name == "spare":
                    await _spare_ready(browser)
                totals, spawns, fetches = results[name]
                started = time.perf_counter()
                tab = await browser.open(url)
                totals.append((time.perf_counter() - started) * 1000)
                spawns.append(tab.timings.spawn_ms)
                fetches.append(tab.timings.fetch_ms)
                assert tab.frame is not None and "Benchmark page" in tab.title, tab.error
                await tab.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    page = page_of_size(10 * 1024)
    with serve({"/page": page}) as base:
        results = asyncio.run(measure(base + "/page", args.rounds))
    print(f"new tab to first frame, {len(page)} byte page, {args.rounds} rounds (ms)")
    labels = {"spare": "spare renderer  ", "zygote": "zygote fork     ", "cold": "cold interpreter"}
    for name, (totals, _, _) in results.items():
        print(f"  {labels[name]} {summary(totals)}")
    print("  spawn+handshake only, p50: "
          + ", ".join(f"{name} {percentile(spawns, 50):.2f}" for name, (_, spawns, _) in results.items()))
    print("  fetch only (the network half, the same for all), p50: "
          + ", ".join(f"{name} {percentile(fetches, 50):.2f}" for name, (_, _, fetches) in results.items()))
    cold = percentile(results["cold"][0], 50)
    for name, target, fraction in (("zygote", 0.125, "1/8"), ("spare", 0.05, "1/20")):
        ratio = percentile(results[name][0], 50) / cold
        print(f"  ratio {name}/cold (p50): {ratio:.3f}  (target <= {target} ({fraction}): "
              f"{'met' if ratio <= target else 'NOT met'})")


if __name__ == "__main__":
    main()
