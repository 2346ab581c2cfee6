"""Helpers for the TUI tests: the real app over a real broker, zygote and renderers."""

from __future__ import annotations

import os
from dataclasses import replace

import psutil

from browser.api import Browser
from broker.lifecycle import LifecyclePolicy
from tui.app import BrowserApp
from tui.processes import Measurement, ProcessSource

from tests.support.waiting import wait_for

SIZE = (120, 40)


def descendants() -> list[psutil.Process]:
    return [
        p for p in psutil.Process(os.getpid()).children(recursive=True)
        if p.is_running() and p.status() != psutil.STATUS_ZOMBIE
    ]


#: The runtime directory of every browser a test started; none may outlive its test.
RUNTIME_DIRS: list[str] = []


def make_app(urls: list[str], *, sandbox: bool = True, policy: LifecyclePolicy | None = None, **kwargs) -> BrowserApp:
    """The app with a real Browser; no automatic freezing or discarding
    unless a test asks, so that what the test sees is what it did."""
    policy = policy or LifecyclePolicy.manual()
    return BrowserApp(urls, browser_factory=lambda: Browser(sandbox=sandbox, policy=policy), **kwargs)


async def started(pilot) -> BrowserApp:
    app = pilot.app
    await wait_for(app.ready.is_set, what="the browser to start", pause=pilot.pause)
    RUNTIME_DIRS.append(app.browser.runtime_dir)
    await wait_for(lambda: app.samples_taken > 0, what="a process sample", pause=pilot.pause)
    return app


class FixedProcessSource(ProcessSource):
    """Fixed pids and figures, for snapshots only: live pids, memory and
    heartbeat counts would change the picture on every run.  Which
    processes exist, their tabs, titles and states are still real."""

    def targets(self, browser):
        fixed = []
        for target in super().targets(browser):
            pid = {"broker": 4100, "zygote": 4101, "spare": 4300}.get(target.role) or (
                4200 + target.tab if target.pid else None)
            fixed.append(replace(target, pid=pid, key=f"spare-{pid}" if target.role == "spare" else target.key, messages_out=7, bytes_out=2048, messages_in=6,
                                 bytes_in=9216, last_round_trip_ms=0.42))
        return fixed

    def measure(self, targets):
        return {
            t.pid: Measurement(
                uss=(30 if t.role == "broker" else 5 if t.role == "zygote" else 4) * 1024**2,
                pss=(34 if t.role == "broker" else 12 if t.role == "zygote" else 9) * 1024**2,
                rss=(50 if t.role == "broker" else 20 if t.role == "zygote" else 15) * 1024**2,
                cpu_percent=1.0 if t.role == "broker" else 0.0,
                cpu_time=2.5 if t.role == "broker" else 0.1,
                cmdline=f"python -m {'browser.cli' if t.role == 'broker' else 'renderer.zygote'}",
                uids="1000/1000/1000",
                gids="1000/1000/1000",
                threads=1,
                status="sleeping",
            )
            for t in targets if t.pid
        }


def screen_text(app) -> list[str]:
    """The terminal's lines as the user sees them now (the window and anything on top)."""
    return [strip.text for strip in app.screen._compositor.render_strips()]
