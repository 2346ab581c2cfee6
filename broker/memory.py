"""Measuring processes with psutil, off the event loop.

Reading ``/proc/PID/smaps_rollup`` for USS and PSS costs about a
millisecond per process, so a sweep over many renderers runs in a worker
thread (``asyncio.to_thread``) and never blocks the broker's IPC or the UI.
A process is sampled at most once per ``min_interval_s`` (one second by
default), however often it is asked for.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import psutil


@dataclass(frozen=True)
class MemoryInfo:
    """A process's memory in bytes: unique (what ending it gives back),
    proportional (its fair share of pages it shares) and resident."""

    uss: int
    pss: int
    rss: int

    def __add__(self, other: MemoryInfo) -> MemoryInfo:
        return MemoryInfo(self.uss + other.uss, self.pss + other.pss, self.rss + other.rss)


ZERO = MemoryInfo(0, 0, 0)


@dataclass(frozen=True)
class Sample:
    pid: int
    time: float  # time.monotonic() when taken
    memory: MemoryInfo
    cpu_time: float  # user + system seconds since the process started
    cpu_percent: float | None  # since the previous sample; None on the first


class MemorySampler:
    """Samples processes' memory and CPU; keeps the last sample per pid."""

    def __init__(self, *, min_interval_s: float = 1.0) -> None:
        self.min_interval_s = max(1.0, min_interval_s)
        self.samples: dict[int, Sample] = {}
        self._processes: dict[int, psutil.Process] = {}
        self._sweeping = asyncio.Lock()

    def last(self, pid: int | None) -> Sample | None:
        return self.samples.get(pid) if pid else None

    async def sample(self, pids: list[int]) -> dict[int, Sample]:
        """Sample those of ``pids`` whose last sample is older than the
        minimum interval, in a worker thread.  One sweep at a time: a call
        while a sweep runs waits for it, then samples what is still due."""
        async with self._sweeping:
            now = time.monotonic()
            due = [pid for pid in pids
                   if pid and now - getattr(self.samples.get(pid), "time", -1e9) >= self.min_interval_s]
            if due:
                self.samples.update(await asyncio.to_thread(self._sweep, due))
        return self.samples

    def forget(self, pid: int) -> None:
        self.samples.pop(pid, None)
        self._processes.pop(pid, None)

    def _sweep(self, pids: list[int]) -> dict[int, Sample]:
        fresh: dict[int, Sample] = {}
        for pid in pids:
            sample = self._sample_one(pid)
            if sample is not None:
                fresh[pid] = sample
        return fresh

    def _sample_one(self, pid: int) -> Sample | None:
        try:
            process = self._processes.get(pid)
            if process is None:
                process = self._processes[pid] = psutil.Process(pid)
            with process.oneshot():
                full = process.memory_full_info()
                times = process.cpu_times()
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            self._processes.pop(pid, None)
            return None
        now = time.monotonic()
        cpu_time = times.user + times.system
        previous = self.samples.get(pid)
        percent = None
        if previous is not None and now > previous.time:
            percent = max(0.0, (cpu_time - previous.cpu_time) / (now - previous.time) * 100)
        return Sample(pid, now, MemoryInfo(full.uss, full.pss, full.rss), cpu_time, percent)


def measure_now(pid: int) -> MemoryInfo | None:
    """One synchronous measurement (benchmarks and tests; not for the event loop)."""
    try:
        full = psutil.Process(pid).memory_full_info()
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return None
    return MemoryInfo(full.uss, full.pss, full.rss)


def cpu_time_now(pid: int) -> float | None:
    try:
        times = psutil.Process(pid).cpu_times()
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return None
    return times.user + times.system
