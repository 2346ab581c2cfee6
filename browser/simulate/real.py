"""The real engine: a trace played on a real browser, with time compressed.

Each user of the trace is played in turn on a fresh ``Browser`` (real
zygote, sandboxed renderers, the profile in a temporary directory) against
a :class:`~browser.simulate.pages.PageServer` whose sites are loopback
addresses, each trace site on one of them.  Trace time runs ``speed`` times
faster than the wall clock: the event at trace second ``t`` happens at
wall second ``t / speed``, and the policy sees time hidden on the same
virtual clock (a tab hidden at trace second 100 has been hidden
``now - 100`` virtual seconds).

The browser runs the design's policy itself (``Browser(discard_policy=...,
memory_budget=...)``: the kernel's own lifecycle loop, the same policy
objects the model engine asks), on a clock the engine injects
(``Browser(clock=...)``): trace seconds, moved to each event's time and to
each time the policy asked to be asked again (``next_policy_check``), when
the engine calls ``run_policy``.  So the tab facts, the decisions and how
they are carried out are the kernel's; this module only plays the trace.
Memory is sampled from the real processes (USS) after every event and at
least once a second of wall time.  Before a new renderer starts, the kernel
makes room under the budget (``DiscardPolicy.make_room``) with its measured
estimate of a renderer; the model engine does the same with its cost
model's.

Every process model runs on both engines.  :func:`_browser_for` is the one
place where a design reaches the browser: its process model is handed to
``Browser(process_model=...)`` there (with no spare renderer, which the
model engine does not have).

With a ``TraceWindow`` (``browser.frontends``: the terminal UI's) the run is shown in the
ordinary browser window (``simulate run --engine real --tui``).
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import time
from collections.abc import AsyncIterator, Callable

from browser.simulate.model import Design, ProcessModel
from browser.simulate.pages import PageServer
from browser.simulate.results import DesignResult, UserResult, combine
from browser.simulate.trace import UserAction as Do
from browser.simulate.trace import Event, Trace

SAMPLE_EVERY_S = 1.0  # wall seconds between memory samples


@contextlib.asynccontextmanager
async def _browser_for(design: Design, *, sandbox: bool, profile: str, clock: Callable[[], float],
                       window=None) -> AsyncIterator[object]:
    """A started browser for one user under ``design``, whose policy runs on ``clock`` (trace seconds),
    shown in ``window`` when there is one."""
    from browser import Browser

    # No spare renderer: the model engine has none, and each design pays for its own processes.
    browser = Browser(sandbox=sandbox, profile=profile, process_model=design.process_model.value, spare=False,
                      discard_policy=design.policy, memory_budget=design.budget_bytes, clock=clock,
                      started_by="simulator")
    if window is None:
        async with browser:
            yield browser
    else:
        async with window.showing(browser):
            yield browser


class _Player:
    """One user's events on one real browser, and its policy asked on the trace's clock."""

    def __init__(self, server: PageServer, result: UserResult, speed: float, decisions: list | None) -> None:
        self.browser = None  # set by ``run_real`` once the browser, which reads ``clock``, is started
        self.server = server
        self.result = result
        self.speed = speed
        self.decisions = decisions
        self.tabs: dict[int, object] = {}  # trace tab -> Tab
        self.numbers: dict[int, int] = {}  # the browser's tab id -> trace tab
        self.active: int | None = None
        self.t = 0.0  # the trace time the browser and its policy see
        self.wall_start = time.monotonic()
        self.last_sample = -1e9
        self.last_record = None  # the newest of the browser's lifecycle records already counted

    def clock(self) -> float:
        return self.t

    def now(self) -> float:
        return (time.monotonic() - self.wall_start) * self.speed

    async def until(self, t: float) -> None:
        delay = self.wall_start + t / self.speed - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)

    def move_clock(self, t: float) -> None:
        self.t = max(self.t, t)

    async def sample(self, t: float) -> None:
        await self.browser.sample_now()
        self.last_sample = time.monotonic()
        # A renderer that hosts several tabs (the shared process models) counts once.
        renderers = {tab.pid: tab.memory for tab in self.tabs.values() if tab.pid}
        memory = sum(m.uss for m in renderers.values() if m is not None)
        self.result.advance(t, memory, len(renderers))

    def count_decisions(self) -> int:
        """Count what the browser's policy did since the last look (its rounds and the room it made
        before a new renderer); how many were carried out."""
        fresh = []
        for record in reversed(self.browser.decisions):
            if record is self.last_record:
                break
            fresh.append(record)
        if fresh:
            self.last_record = fresh[0]
        done = 0
        for record in reversed(fresh):
            if record.outcome != "done" or record.tab not in self.numbers:
                continue
            done += 1
            if record.action == "discard":
                self.result.discards += 1
            else:
                self.result.freezes += 1
            if self.decisions is not None:
                self.decisions.append((record.at, self.numbers[record.tab], record.action))
        return done

    async def activate(self, number: int) -> None:
        if self.active == number:
            return
        tab = self.tabs[number]
        self.result.activations += 1
        self.active = number
        if tab.state.value == "discarded":
            started = time.perf_counter()
            await tab.activate()
            self.result.restore_ms.append((time.perf_counter() - started) * 1000)
            self.result.restores += 1
        else:
            self.browser.activate(tab)

    async def apply(self, event: Event) -> None:
        self.move_clock(event.t)
        match event.action:
            case Do.OPEN:
                started = time.perf_counter()
                tab = await self.browser.open(self.server.local_url(event.url, event.size), activate=True)
                self.result.first_frame_ms.append((time.perf_counter() - started) * 1000)
                self.tabs[event.tab] = tab
                self.numbers[tab.id] = event.tab
                self.active = event.tab
            case Do.SWITCH | Do.INPUT:
                await self.activate(event.tab)
            case Do.NAVIGATE:
                started = time.perf_counter()
                await self.tabs[event.tab].navigate(self.server.local_url(event.url, event.size))
                self.result.first_frame_ms.append((time.perf_counter() - started) * 1000)
            case Do.CLOSE:
                tab = self.tabs.pop(event.tab)
                await tab.close()
                if self.active == event.tab:
                    self.active = None
        self.count_decisions()

    async def play(self, events: list[Event], end: float) -> None:
        """The events at their trace times and, between them, the browser's policy when it asked to be asked.

        The browser's clock is the trace's: it moves to each event's time and
        to each time the policy asked for, never with the wall clock, so the
        policy sees what it sees on the model engine.  The wall clock only
        paces the run (``speed``); when the browser falls behind the trace,
        the trace waits for it."""
        index = 0
        deadline = self.browser.next_policy_check()
        while True:
            next_event = events[index].t if index < len(events) else end
            next_sample = (self.last_sample + SAMPLE_EVERY_S - self.wall_start) * self.speed
            wake = min(next_event, next_sample, deadline if deadline is not None else end)
            await self.until(wake)
            asked = deadline is not None and wake == deadline and deadline <= next_event and deadline < end
            acted = False
            if asked:
                self.move_clock(deadline)
                await self.browser.run_policy()
                acted = self.count_decisions() > 0
                await self.sample(self.t)
            elif wake == next_sample and wake < next_event:
                self.move_clock(min(max(self.now(), self.t), next_event))
                await self.sample(self.t)
            else:
                if index >= len(events):
                    break
                await self.apply(events[index])
                index += 1
                if index < len(events) and events[index].t == next_event:
                    continue  # several events at one instant: ask the policy once they are all in
                await self.sample(self.t)
            deadline = self.browser.next_policy_check()
            if deadline is not None and (deadline >= end or (asked and not acted and deadline <= self.t)):
                deadline = None  # past the end, or a policy asking again at once having done nothing
        self.result.advance(end, self.result.last_memory, self.result.last_processes)


async def run_real(trace: Trace, design: Design, *, speed: float, sandbox: bool = True,
                   record_decisions: bool = False, progress: Callable[[int, int], None] | None = None,
                   window=None) -> DesignResult:
    """Play every user of ``trace`` on a real browser under ``design`` (shown in ``window``, a ``TraceWindow``)."""
    grid_points = 240
    grid = [trace.duration_s * i / (grid_points - 1) for i in range(grid_points)]
    users, decisions = [], {}
    sites = min(8, max(1, len({e.site for e in trace.events if e.site})))
    with PageServer(sites=sites) as server:
        for number, events in enumerate(trace.by_user()):
            result = UserResult(budget_bytes=design.budget_bytes, start=0.0, end=trace.duration_s, grid=grid)
            log: list | None = [] if record_decisions else None
            with tempfile.TemporaryDirectory(prefix="minibrowser-simulate-") as profile:
                player = _Player(server, result, speed, log)
                async with _browser_for(design, sandbox=sandbox, profile=profile, clock=player.clock,
                                        window=window) as browser:
                    player.browser = browser
                    await player.play(events, trace.duration_s)
            users.append(result)
            decisions[number] = log
            if progress:
                progress(number + 1, trace.users)
    combined = combine(design.label, design.policy, design.process_model.value, design.budget_bytes, users, grid)
    combined.engine = "real"
    combined.decisions = decisions if record_decisions else None
    return combined
