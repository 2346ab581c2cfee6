"""What the process tree and the task manager show, gathered off the UI thread.

A refresh has two halves.  :meth:`ProcessSource.targets` runs on the UI
thread (where the broker lives) and only copies what the API already knows:
which processes exist, which tab each one serves, its IPC counters.
:meth:`ProcessSource.measure` runs in a thread worker and asks the kernel,
through psutil, for memory, CPU and identity: those calls read /proc and
can block, so they never run on the UI thread.

Nothing here decides anything: it reports.
"""

from __future__ import annotations

import dataclasses
import time
from collections import deque
from dataclasses import dataclass, field

import psutil

from browser import safe_line

HISTORY_POINTS = 60  # one a second: the sparkline shows the last minute


@dataclass(frozen=True)
class Target:
    """One process to measure, or one tab without a process (discarded)."""

    key: str  # "broker", "network", "zygote", "spare-PID" or "tab-N": stable across refreshes
    pid: int | None
    role: str  # broker, network, zygote, renderer, spare (a renderer started ahead of need, with no tab yet)
    tab: int | None = None
    title: str = ""
    state: str = ""
    messages_out: int = 0
    bytes_out: int = 0
    messages_in: int = 0
    bytes_in: int = 0
    last_round_trip_ms: float | None = None
    discardable: str = ""  # "yes", or why not (as the policy would discard it: about:discards' column)
    # The rest of what about:discards shows of a tab (``Browser.discards()``).
    visibility: str = ""  # visible, hidden
    freezable: str = ""  # "yes", or why not
    auto_discardable: bool = True
    discard_count: int = 0
    revisits: int = 0
    last_active_s: float | None = None  # seconds since it was last the active tab (for sorting)
    last_active: str = ""  # the same for people ("3 min ago")
    pinned: bool = False
    kept: bool = False
    # A renderer's memory and CPU as the broker last sampled them (the API's
    # own sampler, at most once a second): not measured a second time here.
    memory: object | None = None  # MemoryInfo(uss, pss, rss)
    cpu_percent: float | None = None
    cpu_time: float | None = None
    # Under the shared process models: the site its renderer is locked to,
    # and the other tabs in the same renderer.
    site: str | None = None
    shares_with: tuple[int, ...] = ()
    over_limit: bool = False  # its renderer exists over the process limit (site isolation never shares)


@dataclass(frozen=True)
class Measurement:
    """What the kernel says about one process."""

    uss: int | None = None
    pss: int | None = None
    rss: int | None = None
    cpu_percent: float | None = None
    cpu_time: float | None = None
    cmdline: str = ""
    uids: str = ""
    gids: str = ""
    threads: int | None = None
    status: str = ""


@dataclass(frozen=True)
class ProcessRow:
    """A target with its measurement: one node of the tree, one row of the table."""

    target: Target
    measurement: Measurement = field(default_factory=Measurement)

    @property
    def key(self) -> str:
        return self.target.key

    @property
    def pid(self) -> int | None:
        return self.target.pid

    @property
    def task(self) -> str:
        t = self.target
        if t.role == "renderer" and t.tab is None:  # a renderer of subframes only ("Subframe: https://...")
            return safe_line(t.title) + (f" [{safe_line(t.site)}]" if t.site else "")
        if t.role == "renderer":
            task = f"Tab {t.tab}: {t.title or 'untitled'}"
            if t.site:
                task += f" [{safe_line(t.site)}]"
            if t.shares_with:
                task += f" (renderer shared with tab {', '.join(map(str, t.shares_with))})"
            if t.over_limit:
                task += " (over the process limit: a cross-site page never shares)"
            return task
        return {"broker": "Browser (broker)", "zygote": "Zygote", "network": "Network process",
                "spare": "Spare renderer"}.get(t.role, t.role)


class ProcessSource:
    """Live process data: the API on the UI thread, psutil in a worker thread."""

    def __init__(self) -> None:
        self._processes: dict[int, psutil.Process] = {}

    def targets(self, browser) -> list[Target]:
        """Broker, network process, zygote, the spare renderer and one target per tab.  UI thread; no system calls."""
        result: list[Target] = []
        pids_by_tab: dict[int, int] = {}
        renderer_of_tab = {}
        for info in browser.processes():
            if info.role == "renderer" and info.state == "subframes":
                # Out-of-process frames: a row of their own, as Chromium's task manager shows "Subframe: https://...".
                result.append(Target(f"subframes-{info.pid}", info.pid, "renderer", title=", ".join(
                    dict.fromkeys(info.frames)), state=info.state, site=info.site))
            elif info.role == "renderer" and info.tab is not None:
                for tab_id in info.tabs or (info.tab,):  # a shared renderer serves several tabs
                    pids_by_tab[tab_id] = info.pid
                    renderer_of_tab[tab_id] = info
            elif info.role in ("broker", "network", "zygote"):
                result.append(Target(info.role, info.pid, info.role, title=info.title, state=info.state))
            elif info.role == "spare":  # Chromium's task manager shows it too ("Spare Renderer")
                result.append(Target(f"spare-{info.pid}", info.pid, "spare", title="spare renderer", state=info.state,
                                     memory=info.memory))
        lifecycle = {row.tab: row for row in browser.discards()}
        for tab in browser.tabs:
            target = tab_target(tab, pids_by_tab.get(tab.id), lifecycle.get(tab.id))
            info = renderer_of_tab.get(tab.id)
            if info is not None and (info.site or len(info.tabs) > 1 or info.over_limit):
                target = dataclasses.replace(target, site=info.site, over_limit=info.over_limit,
                                             shares_with=tuple(t for t in info.tabs if t != tab.id))
            result.append(target)
        return result

    def measure(self, targets: list[Target]) -> dict[int, Measurement]:
        """Ask the kernel about every target's process.  Worker thread only."""
        wanted = {t.pid: t for t in targets if t.pid}
        for pid in list(self._processes):
            if pid not in wanted:
                del self._processes[pid]
        result: dict[int, Measurement] = {}
        for pid, target in wanted.items():
            process = self._processes.get(pid)
            if process is None:
                try:
                    process = psutil.Process(pid)
                    process.cpu_percent()  # the first call only starts the clock
                except psutil.Error:
                    continue
                self._processes[pid] = process
            try:
                result[pid] = _measure(process, sampled=target if target.memory is not None else None)
            except psutil.Error:
                self._processes.pop(pid, None)
        return result


def yes_or_why(refusal) -> str:
    return "yes" if refusal is None else "no: " + refusal.describe()


def tab_target(tab, pid: int | None, lifecycle=None) -> Target:
    """``lifecycle``: the tab's row of ``Browser.discards()`` (None: asked of the tab alone)."""
    counters = tab.ipc
    if lifecycle is None:
        lifecycle_fields = dict(discardable=yes_or_why(tab.discard_refusal(urgent=False)),
                                freezable=yes_or_why(tab.freeze_refusal()))
    else:
        lifecycle_fields = dict(
            discardable=yes_or_why(lifecycle.discard_refusal), freezable=yes_or_why(lifecycle.freeze_refusal),
            visibility=lifecycle.visibility, auto_discardable=lifecycle.auto_discardable,
            discard_count=lifecycle.discard_count, revisits=lifecycle.revisits, last_active_s=lifecycle.last_active_s,
            last_active=lifecycle.last_active)
    return Target(
        key=f"tab-{tab.id}",
        pid=pid,
        role="renderer",
        tab=tab.id,
        title=safe_line(tab.title or tab.url),
        state=tab.state.value,
        messages_out=counters.messages_out if counters else 0,
        bytes_out=counters.bytes_out if counters else 0,
        messages_in=counters.messages_in if counters else 0,
        bytes_in=counters.bytes_in if counters else 0,
        last_round_trip_ms=counters.last_round_trip_ms if counters else None,
        pinned=tab.pinned,
        kept=tab.kept,
        memory=tab.memory,
        cpu_percent=tab.cpu_percent,
        cpu_time=tab.cpu_time,
        **lifecycle_fields,
    )


def _measure(process: psutil.Process, *, sampled: Target | None = None) -> Measurement:
    """Identity always; memory and CPU only when the broker has not sampled them
    (reading smaps for USS/PSS is the expensive part)."""
    with process.oneshot():
        if sampled is not None:
            uss, pss, rss = sampled.memory.uss, sampled.memory.pss, sampled.memory.rss
            cpu_percent, cpu_time = sampled.cpu_percent, sampled.cpu_time
        else:
            try:
                full = process.memory_full_info()
                uss, pss, rss = full.uss, getattr(full, "pss", None), full.rss
            except psutil.AccessDenied:
                uss = pss = None
                rss = process.memory_info().rss
            times = process.cpu_times()
            cpu_percent, cpu_time = process.cpu_percent(), times.user + times.system
        uids, gids = process.uids(), process.gids()
        return Measurement(
            uss=uss,
            pss=pss,
            rss=rss,
            cpu_percent=cpu_percent,
            cpu_time=cpu_time,
            cmdline=safe_line(" ".join(process.cmdline())),  # a renderer can rewrite its own
            uids=f"{uids.real}/{uids.effective}/{uids.saved}",
            gids=f"{gids.real}/{gids.effective}/{gids.saved}",
            threads=process.num_threads(),
            status=process.status(),
        )


class MemoryHistory:
    """The last minute of USS per process, for the sparkline."""

    def __init__(self) -> None:
        self._points: dict[str, deque[float]] = {}

    def record(self, rows: list[ProcessRow]) -> None:
        seen = set()
        for row in rows:
            seen.add(row.key)
            if row.measurement.uss is not None:
                self._points.setdefault(row.key, deque(maxlen=HISTORY_POINTS)).append(row.measurement.uss)
        for key in list(self._points):
            if key not in seen:
                del self._points[key]

    def of(self, key: str) -> list[float]:
        return list(self._points.get(key, ()))


def merge(targets: list[Target], measurements: dict[int, Measurement]) -> list[ProcessRow]:
    return [ProcessRow(t, measurements.get(t.pid, Measurement()) if t.pid else Measurement()) for t in targets]


def format_bytes(value: int | None) -> str:
    if value is None:
        return "–"
    for unit, size in (("G", 1024**3), ("M", 1024**2), ("K", 1024)):
        if value >= size:
            return f"{value / size:.1f}{unit}"
    return f"{value}B"


def format_seconds(value: float | None) -> str:
    if value is None:
        return "–"
    minutes, seconds = divmod(value, 60)
    return f"{int(minutes)}:{seconds:05.2f}"


def format_percent(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}%"


def clock(timestamp: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(timestamp)) + f".{int(timestamp * 1000) % 1000:03d}"
