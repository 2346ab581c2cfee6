"""200 tabs against a 100 MB renderer budget.

Opens ``--tabs`` pages one after the other (each becomes the active tab, as
when a user opens links), types into each page's form and scrolls it, while
the policy keeps the renderers' measured USS under ``--budget-mb`` by
discarding the least recently used tabs (before each new renderer starts, at
its estimate; then from measurements).  Reports:

* the peak total USS of all live renderers (the spare included), measured
  independently of the broker every 100 ms by this script, and the broker's
  own view; the overshoot over the budget, against the target of at most 5%
  ("met" or "NOT met");
* how many tabs were discarded;
* that every discarded tab comes back with its state (form input, scroll),
  activating each in turn (which makes the policy discard others);
* the broker's answer time to an API call during the run: ``await
  pinned_tab.find()`` on a tab kept out of the policy's reach, every 20 ms,
  against the same call with the browser idle.

    .venv/bin/python benchmarks/many_tabs.py [--tabs 200] [--budget-mb 100] [--discard-policy minibrowser]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import threading
import time

import psutil

from _common import percentile, serve, summary
from browser import Browser, LifecyclePolicy, TabState

MB = 1024**2
TARGET_OVERSHOOT = 0.05  # the renderers' peak USS at most 5% over the budget


def page(n: int) -> bytes:
    paragraphs = "".join(f"<p>Tab {n}, paragraph {i}: some text to lay out and keep.</p>" for i in range(60))
    return (f"<!doctype html><title>Tab {n}</title><h1>Tab {n}</h1>{paragraphs}"
            f"<form action=/s><input name=q><input type=submit></form>").encode()


class Watcher(threading.Thread):
    """Sums the USS of every renderer (the zygote's children) every 100 ms."""

    def __init__(self, zygote_pid: int) -> None:
        super().__init__(daemon=True)
        self.zygote = psutil.Process(zygote_pid)
        self.peak = 0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.1):
            total = 0
            for child in self.zygote.children():
                try:
                    total += child.memory_full_info().uss
                except psutil.Error:
                    pass
            self.peak = max(self.peak, total)


async def answer_times(tab, stop: asyncio.Event) -> list[float]:
    times = []
    while not stop.is_set():
        started = time.perf_counter()
        await tab.find("text")
        times.append((time.perf_counter() - started) * 1000)
        await asyncio.sleep(0.02)
    return times


async def run(tabs: int, budget_mb: int, discard_policy: str) -> None:
    routes = {f"/tab/{n}": page(n) for n in range(tabs)}
    # No timers: only the budget discards.
    policy = LifecyclePolicy(freeze_after_s=None, discard_after_s=None)
    with serve(routes) as base, tempfile.TemporaryDirectory() as profile:
        async with Browser(policy=policy, profile=profile, discard_policy=discard_policy,
                           memory_budget=budget_mb * MB) as browser:
            probe = await browser.open(base + "/tab/0")
            probe.keep()
            idle_stop = asyncio.Event()
            idle = asyncio.ensure_future(answer_times(probe, idle_stop))
            await asyncio.sleep(2)
            idle_stop.set()
            idle_ms = await idle

            watcher = Watcher(browser.zygote_pid)
            watcher.start()
            stop = asyncio.Event()
            busy = asyncio.ensure_future(answer_times(probe, stop))
            broker_peak = 0
            started = time.perf_counter()
            opened = []
            for n in range(1, tabs):
                tab = await browser.open(base + f"/tab/{n}")
                await tab.set_field(tab.frame.fields[0].id, value=f"typed in tab {n}")
                tab.scroll_to(n % 40)
                opened.append(tab)
                broker_peak = max(broker_peak, browser.memory().renderers.uss)
            open_s = time.perf_counter() - started
            await asyncio.sleep(3)  # let the policy settle
            stop.set()
            busy_ms = await busy
            watcher.stop.set()
            watcher.join()
            discarded = [t for t in opened if t.state is TabState.DISCARDED]
            live_now = browser.memory()

            restored_ok = attempted = 0
            restore_ms = []
            for tab in opened:
                if tab.state is not TabState.DISCARDED:
                    continue
                attempted += 1
                t0 = time.perf_counter()
                frame = await tab.activate()
                restore_ms.append((time.perf_counter() - t0) * 1000)
                n = int(tab.title.split()[-1])
                if frame.fields[0].value == f"typed in tab {n}" and frame.scroll == n % 40:
                    restored_ok += 1

            overshoot = watcher.peak / (budget_mb * MB) - 1
            print(f"tabs opened: {tabs} in {open_s:.1f} s; renderer budget {budget_mb} MB (USS); "
                  f"policy {browser.discard_policy.name}")
            print(f"peak renderers' USS: {watcher.peak / MB:.1f} MB measured by this script, "
                  f"{broker_peak / MB:.1f} MB as the broker saw it")
            print(f"overshoot over the budget: {overshoot:+.1%} (target at most {TARGET_OVERSHOOT:.0%}): "
                  f"{'met' if overshoot <= TARGET_OVERSHOOT else 'NOT met'}")
            print(f"after settling: {live_now.live_renderers} live renderers, "
                  f"{live_now.renderers.uss / MB:.1f} MB USS; {len(discarded)} tabs discarded, "
                  f"{live_now.snapshot_bytes / 1024:.0f} KB of snapshots on disk")
            print(f"restored with form input and scroll intact: {restored_ok} of {attempted}"
                  f"  (restore ms: {summary(restore_ms) if restore_ms else '-'})")
            print(f"broker answer time, find() on a kept tab, idle (ms):        {summary(idle_ms)}")
            print(f"broker answer time, find() on a kept tab, during run (ms):  {summary(busy_ms)}")
            print(f"p99 during / p99 idle = {percentile(busy_ms, 99) / percentile(idle_ms, 99):.1f}")
            print(f"policy decisions: {len(browser.decisions)}; "
                  f"refused or failed: {sum(r.outcome != 'done' for r in browser.decisions)}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tabs", type=int, default=200)
    parser.add_argument("--budget-mb", type=int, default=100)
    parser.add_argument("--discard-policy", default="minibrowser")
    args = parser.parse_args()
    asyncio.run(run(args.tabs, args.budget_mb, args.discard_policy))


if __name__ == "__main__":
    main()
