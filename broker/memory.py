"""Measuring processes with psutil, off the event loop.

Reading ``/proc/PID/smaps_rollup`` for USS and PSS costs about a
millisecond per process, so a sweep over many renderers runs in a worker
thread (``asyncio.to_thread``) and never blocks the broker's IPC or the UI.
A process is sampled at most once per ``min_interval_s`` (one second by
default), however often it is asked for.

A broker that is not root may not read a renderer's smaps: renderers are
not dumpable, and the kernel then asks for ptrace rights.  For those the
sampler asks the renderer itself (``MeasureMemory``, answered by a
``MemoryReport`` read from a descriptor it opened before lockdown) and
treats the answer as a claim: :func:`check_memory_report` holds it against
what the broker can read itself, and a renderer whose claim is impossible
is ended as a bad message.  CPU time comes from ``/proc/PID/stat``, which
anyone may read.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import psutil

from broker.bad_message import BadMessage
from renderer import protocol

if TYPE_CHECKING:
    from broker.host import RendererHost

#: How long a sweep waits for renderers to report.  One that is busy (a long
#: layout) or stopped keeps its last figures; its answer, when it comes, is
#: not an error, and a later sweep asks again.
REPORT_WAIT_S = 0.5
#: Room for rounding when a reported resident size is held against the
#: kernel's peak: smaps_rollup and the mm counters count the same pages in
#: two ways, in kB.
RESIDENT_SLACK_BYTES = 256 * 1024


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
    memory: MemoryInfo | None  # None: neither the kernel nor the renderer told us yet
    cpu_time: float  # user + system seconds since the process started
    cpu_percent: float | None  # since the previous sample; None on the first


def check_memory_report(report: object, *, renderer: int, peak_resident: int | None) -> MemoryInfo | BadMessage | None:
    """A renderer's answer to ``MeasureMemory``, held against what the broker
    reads itself: the process's peak resident size (``VmHWM`` in
    ``/proc/PID/status``, readable without ptrace rights), read after the
    answer came.  Returns the figures, None when the renderer says it cannot
    measure itself, or the bad-message reason to end it for.

    The peak, not the current size (``statm``): memory that was resident
    when the renderer measured may be freed before the broker looks, but
    the peak never goes down.  Checked: a MemoryReport for this renderer, all
    three figures or none, USS <= PSS <= RSS <= peak; msgspec has already
    bounded each to 0..MAX_MEMORY_BYTES.  A renderer can still understate
    its memory (nothing the broker reads bounds USS from below); it cannot
    exceed its resource limits either way.
    """
    if not isinstance(report, protocol.MemoryReport) or report.renderer != renderer:
        return BadMessage.UNEXPECTED_REPLY
    figures = (report.uss, report.pss, report.rss)
    if figures == (None, None, None):
        return None
    if None in figures:
        return BadMessage.MEMORY_REPORT_OUT_OF_BOUNDS
    if peak_resident is None:
        return None  # the process is gone: nothing to hold the claim against
    uss, pss, rss = figures
    if not uss <= pss <= rss <= peak_resident + RESIDENT_SLACK_BYTES:
        return BadMessage.MEMORY_REPORT_OUT_OF_BOUNDS
    return MemoryInfo(uss=uss, pss=pss, rss=rss)


def peak_resident(pid: int) -> int | None:
    """The process's peak resident size in bytes (VmHWM), or None if it is gone."""
    try:
        with open(f"/proc/{pid}/status", "rb") as status:
            for line in status:
                if line.startswith(b"VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


class MemorySampler:
    """Samples processes' memory and CPU; keeps the last sample per pid."""

    def __init__(self, *, min_interval_s: float = 1.0) -> None:
        self.min_interval_s = max(1.0, min_interval_s)
        self.samples: dict[int, Sample] = {}
        self._processes: dict[int, psutil.Process] = {}
        self._sweeping = asyncio.Lock()

    def last(self, pid: int | None) -> Sample | None:
        return self.samples.get(pid) if pid else None

    async def sample(self, pids: list[int], *, renderers: Mapping[int, RendererHost] | None = None
                     ) -> dict[int, Sample]:
        """Sample those of ``pids`` whose last sample is older than the
        minimum interval, in a worker thread.  One sweep at a time: a call
        while a sweep runs waits for it, then samples what is still due.

        ``renderers`` maps the pids of running renderers to their hosts:
        those whose memory the kernel will not show this broker are asked
        for a report (see :meth:`ask_renderers`)."""
        async with self._sweeping:
            now = time.monotonic()
            due = [pid for pid in pids
                   if pid and now - getattr(self.samples.get(pid), "time", -1e9) >= self.min_interval_s]
            if due:
                fresh = await asyncio.to_thread(self._sweep, due)
                unmeasured = {pid: host for pid, host in (renderers or {}).items()
                              if pid in fresh and fresh[pid].memory is None}
                reported = await self.ask_renderers(unmeasured) if unmeasured else {}
                for pid, sample in fresh.items():
                    memory = reported.get(pid) or sample.memory or getattr(self.samples.get(pid), "memory", None)
                    self.samples[pid] = Sample(pid, sample.time, memory, sample.cpu_time, sample.cpu_percent)
        return self.samples

    async def ask_renderers(self, hosts: Mapping[int, RendererHost]) -> dict[int, MemoryInfo]:
        """Ask each renderer for its own memory figures and check each claim
        (:func:`check_memory_report`).  A renderer whose claim is impossible
        is ended by name; one that does not answer within ``REPORT_WAIT_S``
        is left out, and answers later without harm."""
        questions = {pid: host.measure_memory() for pid, host in hosts.items()}
        await asyncio.wait(questions.values(), timeout=REPORT_WAIT_S)
        answers = {pid: question.result() for pid, question in questions.items()
                   if question.done() and not question.cancelled() and question.exception() is None}
        if not answers:
            return {}
        peaks = await asyncio.to_thread(lambda: {pid: peak_resident(pid) for pid in answers})
        reported: dict[int, MemoryInfo] = {}
        for pid, answer in answers.items():
            host = hosts[pid]
            verdict = check_memory_report(answer, renderer=host.id, peak_resident=peaks[pid])
            if isinstance(verdict, BadMessage):
                host.received_bad_message(verdict)  # logged; the hub reads nothing more from it
            elif verdict is not None:
                reported[pid] = verdict
        return reported

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
        """CPU time always; memory when the kernel lets this broker read it
        (root, or a process that is dumpable), else None."""
        try:
            process = self._processes.get(pid)
            if process is None:
                process = self._processes[pid] = psutil.Process(pid)
            with process.oneshot():
                times = process.cpu_times()
                try:
                    full = process.memory_full_info()
                    memory = MemoryInfo(full.uss, full.pss, full.rss)
                except psutil.AccessDenied:
                    memory = None
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            self._processes.pop(pid, None)
            return None
        now = time.monotonic()
        cpu_time = times.user + times.system
        previous = self.samples.get(pid)
        percent = None
        if previous is not None and now > previous.time:
            percent = max(0.0, (cpu_time - previous.cpu_time) / (now - previous.time) * 100)
        return Sample(pid, now, memory, cpu_time, percent)


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
