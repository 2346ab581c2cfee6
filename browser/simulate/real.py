"""The real engine: a trace played on a real browser, with time compressed.

Each user of the trace is played in turn on a fresh ``Browser`` (real
zygote, sandboxed renderers, the profile in a temporary directory) against
a :class:`~browser.simulate.pages.PageServer` whose sites are loopback
addresses, each trace site on one of them.  Trace time runs ``speed`` times
faster than the wall clock: the event at trace second ``t`` happens at
wall second ``t / speed``, and the policy sees time hidden on the same
virtual clock (a tab hidden at trace second 100 has been hidden
``now - 100`` virtual seconds).

The browser's own lifecycle policy is off (``LifecyclePolicy.manual()``);
the engine asks the design's policy object (the same one the model engine
asks) what to do, with the real renderers' measured memory, and carries
its decisions out through the public API.  Memory is sampled from the real
processes (USS) after every event and at least once a second of wall time.

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

from broker.discard_policies import make_policy
from broker.lifecycle import Action, TabFacts
from browser.simulate.model import Design, ProcessModel
from browser.simulate.pages import PageServer
from browser.simulate.results import DesignResult, UserResult, combine
from browser.simulate.trace import UserAction as Do
from browser.simulate.trace import Event, Trace

SAMPLE_EVERY_S = 1.0  # wall seconds between memory samples


@contextlib.asynccontextmanager
async def _browser_for(design: Design, *, sandbox: bool, profile: str, window=None) -> AsyncIterator[object]:
    """A started browser for one user under ``design`` (the browser's own policy off: the design's decides),
    shown in ``window`` when there is one."""
    from browser import Browser, LifecyclePolicy

    # No spare renderer: the model engine has none, and each design pays for its own processes.
    browser = Browser(sandbox=sandbox, policy=LifecyclePolicy.manual(), profile=profile,
                      process_model=design.process_model.value, spare=False, started_by="simulator")
    if window is None:
        async with browser:
            yield browser
    else:
        async with window.showing(browser):
            yield browser


class _Player:
    """One user's events on one real browser."""

    def __init__(self, browser, server: PageServer, design: Design, result: UserResult, speed: float,
                 decisions: list | None) -> None:
        self.browser = browser
        self.server = server
        self.policy = make_policy(design.policy, budget_bytes=design.budget_bytes)
        self.result = result
        self.speed = speed
        self.decisions = decisions
        self.tabs: dict[int, object] = {}  # trace tab -> Tab
        self.last_active: dict[int, float] = {}
        self.revisits: dict[int, int] = {}
        self.active: int | None = None
        self.wall_start = time.monotonic()
        self.last_sample = -1e9

    def now(self) -> float:
        return (time.monotonic() - self.wall_start) * self.speed

    async def until(self, t: float) -> None:
        delay = self.wall_start + t / self.speed - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)

    async def sample(self, t: float) -> None:
        await self.browser.sample_now()
        self.last_sample = time.monotonic()
        # A renderer that hosts several tabs (the shared process models) counts once.
        renderers = {tab.pid: tab.memory for tab in self.tabs.values() if tab.pid}
        memory = sum(m.uss for m in renderers.values() if m is not None)
        self.result.advance(t, memory, len(renderers))

    def facts(self, now: float) -> list[TabFacts]:
        facts = []
        for number, tab in self.tabs.items():
            active = number == self.active
            facts.append(TabFacts(
                id=number, state=tab.state.value, active=active, pinned=tab.pinned, kept=tab.kept,
                has_document=tab.frame is not None and tab.pid is not None,
                idle_s=0.0 if active else max(0.0, now - self.last_active[number]),
                uss=tab.memory.uss if tab.memory is not None and tab.pid else None,
                revisits=self.revisits[number], renderer=tab.pid,
            ))
        return facts

    async def run_policy(self, now: float) -> None:
        for decision in self.policy.decide(self.facts(now), now):
            tab = self.tabs[decision.tab]
            try:
                if decision.action is Action.DISCARD:
                    await tab.discard(reason=decision.reason)
                    self.result.discards += 1
                else:
                    await tab.freeze(reason=decision.reason)
                    self.result.freezes += 1
            except Exception:  # noqa: BLE001 - a refusal or a crash: the tab stays as it is
                continue
            if self.decisions is not None:
                self.decisions.append((now, decision.tab, decision.action.value))

    def show(self, number: int, t: float) -> None:
        if self.active is not None and self.active != number and self.active in self.tabs:
            self.last_active[self.active] = t
        self.active = number
        self.last_active[number] = t

    async def activate(self, number: int, t: float) -> None:
        if self.active == number:
            return
        tab = self.tabs[number]
        self.result.activations += 1
        self.revisits[number] += 1
        self.show(number, t)
        if tab.state.value == "discarded":
            started = time.perf_counter()
            await tab.activate()
            self.result.restore_ms.append((time.perf_counter() - started) * 1000)
            self.result.restores += 1
        else:
            self.browser.activate(tab)

    async def apply(self, event: Event) -> None:
        t = event.t
        match event.action:
            case Do.OPEN:
                started = time.perf_counter()
                tab = await self.browser.open(self.server.local_url(event.url, event.size), activate=True)
                self.result.first_frame_ms.append((time.perf_counter() - started) * 1000)
                self.tabs[event.tab] = tab
                self.revisits[event.tab] = 0
                self.show(event.tab, t)
            case Do.SWITCH | Do.INPUT:
                await self.activate(event.tab, t)
            case Do.NAVIGATE:
                tab = self.tabs[event.tab]
                if tab.state.value == "discarded":
                    await tab.activate()
                    if self.active is not None and self.active != event.tab:
                        self.browser.activate(self.tabs[self.active])
                started = time.perf_counter()
                await tab.navigate(self.server.local_url(event.url, event.size))
                self.result.first_frame_ms.append((time.perf_counter() - started) * 1000)
            case Do.CLOSE:
                tab = self.tabs.pop(event.tab)
                await tab.close()
                if self.active == event.tab:
                    self.active = None

    async def play(self, events: list[Event], end: float) -> None:
        """The events at their trace times and, between them, the policy when it asked to be asked.

        When the browser falls behind the trace (a trace that opens 200 tabs
        in two trace minutes does so in a fifth of a wall second at
        ``--speed 600``), the clock the policy sees waits for it: it never
        runs past the next event not yet played, so a policy that wants to
        act now does so before that event, as on the model engine's clock."""
        index = 0
        deadline = self.policy.next_check(self.facts(0.0), 0.0)
        while True:
            next_event = events[index].t if index < len(events) else end
            next_sample = (self.last_sample + SAMPLE_EVERY_S - self.wall_start) * self.speed
            wake = min(next_event, next_sample, deadline if deadline is not None else end)
            await self.until(wake)
            asked = deadline is not None and wake == deadline and deadline <= next_event and deadline < end
            if asked:
                before = (self.result.discards, self.result.freezes)
                await self.sample(deadline)
                await self.run_policy(deadline)
                await self.sample(deadline)
                acted = before != (self.result.discards, self.result.freezes)
            elif wake == next_sample and wake < next_event:
                await self.sample(min(self.now(), next_event))
            else:
                if index >= len(events):
                    break
                await self.apply(events[index])
                index += 1
                await self.sample(min(self.now(), events[index].t if index < len(events) else end))
            current = min(self.now(), events[index].t if index < len(events) else end)
            deadline = self.policy.next_check(self.facts(current), current)
            if deadline is not None and (deadline >= end or (asked and not acted and deadline <= current)):
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
                async with _browser_for(design, sandbox=sandbox, profile=profile, window=window) as browser:
                    player = _Player(browser, server, design, result, speed, log)
                    await player.play(events, trace.duration_s)
            users.append(result)
            decisions[number] = log
            if progress:
                progress(number + 1, trace.users)
    combined = combine(design.label, design.policy, design.process_model.value, design.budget_bytes, users, grid)
    combined.engine = "real"
    combined.decisions = decisions if record_decisions else None
    return combined
