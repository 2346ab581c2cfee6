"""What the window shows of the browser's processes: sampled every second,
and each renderer's sandbox, asked once.

The app owns one :class:`ProcessSampler` and calls :meth:`ProcessSampler.sample`
on a timer.  Measuring (psutil) runs in a thread; when a sample is in, or a
renderer has reported its sandbox, the sampler posts a message to the app
(:class:`ProcessSampler.Sampled`, :class:`ProcessSampler.SandboxReported`),
which redraws what shows it.  A sample becomes the one shown
(:meth:`ProcessSampler.apply`) when the app takes it, so that what the
sampler holds and what the window draws never disagree.
"""

from __future__ import annotations

import asyncio
import functools

from textual.app import App
from textual.message import Message

from browser import Sandboxing, judge_sandbox
from tui.process_tree import SandboxStatus
from tui.processes import MemoryHistory, ProcessRow, ProcessSource, merge


class ProcessSampler:
    """The process rows, their memory history and sandbox marks, kept fresh."""

    class Sampled(Message):
        """A new sample is in: the app hands it to :meth:`ProcessSampler.apply`
        and redraws what shows it, in one step."""

        def __init__(self, rows: list[ProcessRow], statuses: dict[str, SandboxStatus]) -> None:
            super().__init__()
            self.rows = rows
            self.statuses = statuses

    class SandboxReported(Message):
        """A renderer said which sandbox layers it runs under."""

    def __init__(self, app: App, source: ProcessSource) -> None:
        self.app = app
        self.source = source
        self.browser = None  # set once the app's browser is up
        self.rows: list[ProcessRow] = []
        self.statuses: dict[str, SandboxStatus] = {}
        self.history = MemoryHistory()
        self.samples_taken = 0
        self._reports: dict[int, SandboxStatus] = {}  # renderer pid -> its sandbox
        self._sampling = False

    def sample(self) -> None:
        """What the API knows now, measured by psutil in a thread."""
        if self.browser is None or self._sampling or not self.browser.started:
            return
        self._sampling = True
        targets = self.source.targets(self.browser)
        self._check_sandboxes()
        # A callable, not a coroutine: a worker cancelled before it starts (the
        # app quitting) then leaves no never-awaited coroutine behind.
        self.app.run_worker(functools.partial(self._measure, targets), group="sampler", exit_on_error=False)

    async def _measure(self, targets) -> None:
        try:
            measurements = await asyncio.to_thread(self.source.measure, targets)
        finally:
            self._sampling = False
        if not self.app.has_window:
            return
        rows = merge(targets, measurements)
        self.app.post_message(self.Sampled(rows, {row.key: self._sandbox_of(row) for row in rows}))

    def apply(self, sample: Sampled) -> None:
        """Make ``sample`` the one shown."""
        self.rows = sample.rows
        self.history.record(sample.rows)
        self.samples_taken += 1
        self.statuses = sample.statuses

    def _sandbox_of(self, row: ProcessRow) -> SandboxStatus:
        if row.target.role == "broker":
            return SandboxStatus("privileged")
        if row.target.role == "network":  # its layers came with its handshake
            layers = self.browser.network_sandbox_layers
            if not layers and self.browser.sandbox.enabled:
                return SandboxStatus("checking")
            return SandboxStatus(judge_sandbox(layers, enabled=self.browser.sandbox.enabled).sandboxing.value, layers)
        if row.target.role != "renderer":
            return SandboxStatus("n/a")  # the zygote and the spare run no page: the zygote only forks renderers
        if not row.pid:
            return SandboxStatus("checking" if row.target.state == "loading" else "no process")
        tab = next((t for t in self.browser.tabs if t.id == row.target.tab), None)
        report = self._reports.get(tab.pid if tab is not None and tab.pid else -1)
        if not self.browser.sandbox.enabled:
            return SandboxStatus(Sandboxing.OFF.value, report.layers if report else [])
        return report or SandboxStatus("checking")

    def _check_sandboxes(self) -> None:
        """Ask each new renderer once which sandbox layers it runs under."""
        for tab in self.browser.tabs:
            pid = tab.pid
            if pid and pid not in self._reports and tab.state.value in ("active", "background"):
                self._reports[pid] = SandboxStatus("checking")
                self.app.run_worker(self._sandbox_report(tab, pid), group="sandbox", exit_on_error=False)

    async def _sandbox_report(self, tab, pid: int) -> None:
        try:
            layers = list(await tab.sandbox_report())
        except Exception:  # noqa: BLE001 - the renderer went away; ask the next one
            self._reports.pop(pid, None)
            return
        mark = judge_sandbox(layers, enabled=self.browser.sandbox.enabled).sandboxing.value
        self._reports[pid] = SandboxStatus(mark, layers)
        self.app.post_message(self.SandboxReported())

    def tab_sandboxed(self, tab) -> bool | None:
        """Whether ``tab``'s renderer is sandboxed; None while that is not known yet."""
        if tab is None or self.browser is None:
            return None
        if not self.browser.sandbox.enabled:
            return False
        status = self._reports.get(tab.pid or -1)
        return None if status is None or status.mark == "checking" else status.mark == Sandboxing.SANDBOXED.value
