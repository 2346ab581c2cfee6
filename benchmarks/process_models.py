"""The same workload under each process model: what isolation costs.

30 tabs over 10 sites (local HTTP servers on 127.0.0.2 ... 127.0.0.11,
loopback addresses that are each their own site), opened one after the
other, then 10 cross-site navigations.  For each model: renderer processes,
their total USS and PSS (psutil, each process once), new tab to first frame
p50/p99, and cross-site navigation p50.  No spare renderer in this run, so
that every model pays for its own processes; the process limit is
Chromium's formula for this machine unless ``--process-limit`` says.

Chromium measured site isolation's memory overhead at 10-13% over the
process-per-site-instance model before it ("Site Isolation: Process
Separation for Web Sites within the Browser", USENIX Security 2019, and the
Chromium blog for Chrome 67).  Process-per-site-instance gives each
browsing instance (here: each tab, as there are no frames) its own process
per site, which is what ``per-tab`` does on this workload; so the pair
printed beside that range is site-per-process against per-tab.  The
overhead Chromium measured comes from cross-site iframes, which pages here
do not have: near zero is the expected answer, and the line after it shows
what sharing one process per site would save instead.

    .venv/bin/python benchmarks/process_models.py [--tabs 30] [--sites 10] [--process-limit N]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import time

import psutil
from _common import page_of_size, percentile, serve

from browser import Browser

MODELS = ("per-tab", "site-per-process", "process-per-site", "single")
CHROMIUM_OVERHEAD = (0.10, 0.13)


async def run_model(model: str, bases: list[str], tabs: int, limit: int | None) -> dict:
    open_ms, navigate_ms = [], []
    async with Browser(process_model=model, process_limit=limit, spare=False) as browser:
        await (await browser.open(bases[0] + "/page0")).close()  # warm the loader, untimed
        opened = []
        for n in range(tabs):
            url = f"{bases[n % len(bases)]}/page{n % 3}"
            started = time.perf_counter()
            tab = await browser.open(url, activate=False)
            open_ms.append((time.perf_counter() - started) * 1000)
            assert tab.frame is not None and tab.error is None, tab.error
            opened.append(tab)
        for n, tab in enumerate(opened[: len(bases)]):
            url = f"{bases[(n + 1) % len(bases)]}/page1"  # another site
            started = time.perf_counter()
            await tab.navigate(url)
            navigate_ms.append((time.perf_counter() - started) * 1000)
            assert tab.error is None, tab.error
        await asyncio.sleep(0.2)  # let renderers that host nothing end
        pids = [p.pid for p in browser.processes() if p.role == "renderer"]
        uss = pss = 0
        for pid in pids:
            info = psutil.Process(pid).memory_full_info()
            uss, pss = uss + info.uss, pss + info.pss
        return {"processes": len(pids), "uss": uss, "pss": pss, "open": open_ms, "navigate": navigate_ms,
                "limit": browser.process_limit}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tabs", type=int, default=30)
    parser.add_argument("--sites", type=int, default=10)
    parser.add_argument("--process-limit", type=int, default=None)
    args = parser.parse_args()
    routes = {f"/page{n}": page_of_size(10 * 1024, title=f"Benchmark page {n}") for n in range(3)}
    with contextlib.ExitStack() as stack:
        bases = [stack.enter_context(serve(routes, host=f"127.0.0.{2 + n}")) for n in range(args.sites)]
        results = {model: asyncio.run(run_model(model, bases, args.tabs, args.process_limit)) for model in MODELS}
    limit = results["per-tab"]["limit"]
    mib = 1024 * 1024
    print(f"{args.tabs} tabs over {args.sites} sites, then {args.sites} cross-site navigations; "
          f"process limit {limit}; no spare")
    print(f"  {'model':<17} {'renderers':>9} {'USS MiB':>8} {'PSS MiB':>8} {'open p50':>9} {'open p99':>9} "
          f"{'cross-site p50':>15}  (ms)")
    for model, r in results.items():
        print(f"  {model:<17} {r['processes']:>9} {r['uss'] / mib:>8.1f} {r['pss'] / mib:>8.1f} "
              f"{percentile(r['open'], 50):>9.2f} {percentile(r['open'], 99):>9.2f} "
              f"{percentile(r['navigate'], 50):>15.2f}")
    low, high = CHROMIUM_OVERHEAD
    for measure in ("pss", "uss"):
        overhead = results["site-per-process"][measure] / results["per-tab"][measure] - 1
        print(f"  site-per-process over per-tab (process-per-site-instance here), {measure.upper()}: "
              f"{overhead:+.1%} (Chromium's published site-isolation overhead: {low:.0%}-{high:.0%}, "
              f"from cross-site iframes, which these pages do not have)")
    sharing = results["site-per-process"]["pss"] / results["process-per-site"]["pss"] - 1
    print(f"  site-per-process over process-per-site, PSS: {sharing:+.1%}: what one process per site would save")
    single = results["single"]["pss"]
    print(f"  per-tab PSS is {results['per-tab']['pss'] / single:.1f}x single's: what one process per tab costs")


if __name__ == "__main__":
    main()
