"""The model engine: the named policies on a virtual clock with a cost model.

Each user of a trace is one browser.  The engine replays the user's events
in order and, between them, wakes the policy exactly when it asked to be
asked again (``DiscardPolicy.next_check``), so a policy that discards a tab
6 hours after it was hidden does so at that instant.  The policy objects
are those of ``broker.discard_policies``; the tabs they see are the same
``TabFacts`` the real browser builds, with memory from the cost model.

Process models (``ProcessModel``) decide which renderer hosts a document,
through the broker's own placement (``broker.process_model.place``, which
the kernel runs too; ``UserBrowser.place``):

* ``per-tab``: a renderer per tab for its life, whatever sites it visits;
* ``site-per-process``: a renderer per tab and site (a cross-site
  navigation moves the tab to a new renderer); over the process limit, a
  new document joins a renderer of its site if there is one;
* ``process-per-site``: one renderer per site, shared by all its tabs;
* ``single``: one renderer for every tab.

A renderer's memory is ``renderer_base_bytes`` plus ``page_bytes`` of each
document it holds; a tab is charged its page plus an equal share of its
renderer's base (as Firefox's ``TabUnloader`` and Chromium's
``GetPageNodeFootprintEstimateKb`` split a process between its pages).
A discarded tab's document leaves its renderer, which ends when it holds
nothing.  Freezing stops a renderer but frees no memory.

The engine is incremental: an event touches only the tabs it names.  Each
tab's policy timer (``DiscardPolicy.timer``: how long it must be hidden
before the policy acts on it) becomes an absolute deadline in a heap, so
the clock moves from event to deadline to event, and at a deadline the
policy is asked about the due tabs alone (a timed decision depends on the
tab alone).  Only while the tabs' memory is over the policy's budget does
the policy see every tab, as memory pressure weighs them against each
other.  The decisions are those of asking about every tab at every step.

Designs run in parallel, one worker process per core (``run_designs``);
when there are fewer designs than cores, a design's users are split
between the workers.
"""

from __future__ import annotations


import heapq
import math
import multiprocessing
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from broker.discard_policies import DiscardPolicy
from broker import process_model
from broker.process_model import Placement, ProcessModel, RendererFacts
from broker.lifecycle import ACTIVE, BACKGROUND, DISCARDED, FROZEN, Action, TabFacts
from browser.simulate.costs import CostModel
from browser.simulate.params import Setting, build_policy, describe
from browser.simulate.results import DesignResult, UserResult, combine
from browser.simulate.trace import UserAction as Do
from browser.simulate.trace import Event, SizeClass, Trace


@dataclass(frozen=True)
class Design:
    """What is compared: a discard policy (with any swept parameters) under a
    process model, with a memory budget."""

    policy: str
    process_model: ProcessModel
    budget_bytes: int
    settings: tuple[Setting, ...] = ()  # swept policy parameters (``browser.simulate.params``)
    budget_in_label: bool = False  # budgets are swept: the label names the budget

    @property
    def label(self) -> str:
        policy = f"{self.policy} {describe(self.settings)}" if self.settings else self.policy
        budget = f" @ {_size(self.budget_bytes)}" if self.budget_in_label else ""
        return f"{policy} / {self.process_model.value}{budget}"

    def make_policy(self) -> DiscardPolicy:
        """A fresh policy object of the broker for this design."""
        return build_policy(self.policy, self.budget_bytes, self.settings)


def _size(n: int) -> str:
    for unit, size in (("G", 1024**3), ("M", 1024**2), ("K", 1024)):
        if n >= size and n % size == 0:
            return f"{n // size}{unit}"
    return f"{n}B"


@dataclass(slots=True)
class _Tab:
    id: int
    url: str
    site: str
    size: SizeClass
    opened: int  # the order of opening: the order in which the policy sees tabs
    state: str = ACTIVE
    last_active: float = 0.0
    revisits: int = 0
    renderer: int | None = None  # the number of the renderer holding its document
    timer_at: float | None = None  # the policy's deadline for this tab; heap entries with another are stale


@dataclass(slots=True)
class _Renderer:
    number: int
    site: str | None  # the site it is locked to (``RendererFacts.lock``)
    documents: dict[int, SizeClass] = field(default_factory=dict)  # tab -> size class of its document
    memory: int = 0
    policy_memory: int = 0  # the sum of its tabs' memory as the policy sees it (``TabFacts.uss``)
    facts: RendererFacts | None = None  # what placement sees of it; rebuilt when its documents change


class _LiveRenderers(Sequence):
    """The live renderers as :func:`broker.process_model.place` sees them, built only if it looks."""

    __slots__ = ("_renderers",)

    def __init__(self, renderers: dict[int, _Renderer]) -> None:
        self._renderers = renderers

    def __len__(self) -> int:
        return len(self._renderers)

    def __getitem__(self, index):
        return [_renderer_facts(r) for r in self._renderers.values()][index]

    def __iter__(self):
        return (_renderer_facts(r) for r in self._renderers.values())


def _renderer_facts(renderer: _Renderer) -> RendererFacts:
    if renderer.facts is None:
        renderer.facts = RendererFacts(id=renderer.number, lock=renderer.site, tabs=frozenset(renderer.documents))
    return renderer.facts


# A tab due this close after a deadline is asked about with it (the policy itself decides whether it is due).
_DUE_SLACK_S = 1e-6


class UserBrowser:
    """One user's browser on the virtual clock, and what it cost."""

    #: Where a document goes: the broker's own placement, which the kernel runs too.
    place = staticmethod(process_model.place)

    def __init__(self, design: Design, costs: CostModel, *, start: float, end: float, grid: Sequence[float],
                 record_decisions: bool = False) -> None:
        self.design = design
        self.costs = costs
        self.policy: DiscardPolicy = design.make_policy()
        self.policy_has_timers = type(self.policy).timer is not DiscardPolicy.timer
        self.page_bytes = {size: costs.page_bytes[size.value] for size in SizeClass}  # by class, not its name
        self.tabs: dict[int, _Tab] = {}
        self.active: _Tab | None = None
        self.renderers: dict[int, _Renderer] = {}  # by number
        self.renderer_numbers = 0
        self.memory = 0
        self.policy_memory = 0  # renderer_memory() of the tabs' facts, kept up to date
        self.opened = 0
        self.timers: list[tuple[float, int, _Tab]] = []  # (deadline, sequence, tab): a heap
        self.timer_sequence = 0
        self.result = UserResult(budget_bytes=design.budget_bytes, start=start, end=end, grid=list(grid))
        self.result.begin(start)
        self.decisions: list[tuple[float, int, str]] | None = [] if record_decisions else None

    # -- documents and renderers ----------------------------------------------------------

    def _attach(self, tab: _Tab, now: float) -> bool:
        """Put the tab's document in a renderer, where the process model places it
        (a tab's document always leaves its renderer first, so it has none now);
        True when one had to be spawned.  Before a renderer is spawned, the
        policy makes room for it under its budget, as the kernel does."""
        decision = self.place(self.design.process_model, tab=tab.id, site=tab.site, current=None,
                              live=_LiveRenderers(self.renderers), limit=self.costs.process_limit)
        spawned = decision.placement is Placement.NEW
        if spawned:
            self._make_room(tab, now)
            self.renderer_numbers += 1
            lock = decision.lock if self.design.process_model.locks_sites else None
            renderer = self.renderers[self.renderer_numbers] = _Renderer(self.renderer_numbers, lock)
            renderer.memory = self.costs.renderer_base_bytes
            self.memory += renderer.memory
        else:
            renderer = self.renderers[decision.renderer]
        page = self.costs.page(tab.size)
        renderer.documents[tab.id] = tab.size
        renderer.facts = None
        renderer.memory += page
        self.memory += page
        tab.renderer = renderer.number
        self._shares_changed(renderer)
        return spawned

    def _make_room(self, tab: _Tab, now: float) -> None:
        """``DiscardPolicy.make_room`` with the cost model's estimate of the new renderer:
        its base and the page's size class."""
        budget = self.policy.memory_budget_bytes
        estimate = self.costs.renderer_base_bytes + self.page_bytes[tab.size]
        if budget is None or self.policy_memory + estimate <= budget:
            return
        facts = [self.fact(other, now) for other in self.tabs.values() if other is not tab]  # it is loading
        for decision in self.policy.make_room(facts, now, estimate):
            self._carry_out(decision, now)

    def _detach(self, tab: _Tab) -> None:
        key, tab.renderer = tab.renderer, None
        if key is None:
            return
        renderer = self.renderers[key]
        del renderer.documents[tab.id]
        renderer.facts = None
        page = self.costs.page(tab.size)
        renderer.memory -= page
        self.memory -= page
        self._shares_changed(renderer)
        if not renderer.documents:
            self.memory -= renderer.memory
            del self.renderers[key]

    def _shares_changed(self, renderer: _Renderer) -> None:
        """The renderer's documents changed: so did every one of its tabs' share of its base."""
        page_bytes = self.page_bytes
        share = self.costs.renderer_base_bytes / len(renderer.documents) if renderer.documents else 0.0
        total = sum(int(page_bytes[size] + share) for size in renderer.documents.values())
        self.policy_memory += total - renderer.policy_memory
        renderer.policy_memory = total

    # -- the user's actions ----------------------------------------------------------------

    def _show(self, tab: _Tab, now: float) -> None:
        """Make ``tab`` the active tab; the one before it is hidden from ``now``."""
        previous = self.active
        self.active = tab
        tab.last_active = now
        if previous is not None and previous is not tab:
            previous.last_active = now
            if previous.state == ACTIVE:
                previous.state = BACKGROUND
            self._set_timer(previous)
        self._set_timer(tab)

    def _activate(self, tab: _Tab, now: float) -> None:
        """The user switches to ``tab``: a revisit; a discarded tab is restored."""
        if self.active is tab:
            return
        result = self.result
        result.activations += 1
        tab.revisits += 1
        if tab.state == DISCARDED:
            spawned = self._attach(tab, now)
            result.restores += 1
            result.restore_ms.append(self.costs.restore(tab.size) + (self.costs.spawn_ms if spawned else 0.0))
        tab.state = ACTIVE
        self._show(tab, now)

    def apply_event(self, event: Event) -> None:
        now = event.t
        self.result.advance(now, self.memory, len(self.renderers))
        match event.action:
            case Do.OPEN:
                self.opened += 1
                tab = self.tabs[event.tab] = _Tab(event.tab, event.url, event.site, event.size, self.opened)
                spawned = self._attach(tab, now)
                self._show(tab, now)
                self.result.first_frame_ms.append(self.costs.first_frame(tab.size) + (self.costs.spawn_ms if spawned else 0.0))
            case Do.SWITCH | Do.INPUT:
                self._activate(self.tabs[event.tab], now)
            case Do.NAVIGATE:
                tab = self.tabs[event.tab]
                if tab.renderer is not None:
                    self._detach(tab)
                tab.url, tab.site, tab.size = event.url, event.site, event.size
                if tab.state in (DISCARDED, FROZEN):
                    tab.state = ACTIVE if tab is self.active else BACKGROUND
                spawned = self._attach(tab, now)
                self._set_timer(tab)
                self.result.first_frame_ms.append(self.costs.first_frame(tab.size) + (self.costs.spawn_ms if spawned else 0.0))
            case Do.CLOSE:
                tab = self.tabs.pop(event.tab)
                self._detach(tab)
                tab.timer_at = None
                if self.active is tab:
                    self.active = None

    # -- the policy -----------------------------------------------------------------------------

    def fact(self, tab: _Tab, now: float) -> TabFacts:
        """What the policy knows about ``tab`` at ``now``."""
        key = tab.renderer
        if key is None:
            uss, number = None, None
        else:
            renderer = self.renderers[key]
            uss = int(self.page_bytes[tab.size] + self.costs.renderer_base_bytes / len(renderer.documents))
            number = key
        is_active = tab is self.active
        return TabFacts(id=tab.id, state=tab.state, active=is_active, idle_s=0.0 if is_active else now - tab.last_active,
                        uss=uss, revisits=tab.revisits, renderer=number)

    def facts(self, now: float) -> list[TabFacts]:
        """Every open tab, in the order they were opened."""
        return [self.fact(tab, now) for tab in self.tabs.values()]

    def _set_timer(self, tab: _Tab) -> None:
        """Put the policy's deadline for ``tab`` (after a change to it) in the heap."""
        if not self.policy_has_timers:
            return
        hidden_for = self.policy.timer(self.fact(tab, tab.last_active))
        if hidden_for is None:
            tab.timer_at = None
            return
        hidden_since = tab.last_active
        deadline = hidden_since + hidden_for
        while deadline - hidden_since < hidden_for:  # rounding: at the deadline the policy must see the time passed
            deadline = math.nextafter(deadline, math.inf)
        tab.timer_at = deadline
        self.timer_sequence += 1
        heapq.heappush(self.timers, (deadline, self.timer_sequence, tab))

    def _earliest_timer(self) -> float | None:
        timers = self.timers
        while timers and timers[0][2].timer_at != timers[0][0]:
            heapq.heappop(timers)  # stale: the tab changed or closed since
        return timers[0][0] if timers else None

    def _due_tabs(self, now: float) -> list[_Tab]:
        """The tabs whose timers are due at ``now``, taken off the heap, in opening order."""
        due = []
        timers = self.timers
        while timers and timers[0][0] <= now + _DUE_SLACK_S:
            deadline, _, tab = heapq.heappop(timers)
            if tab.timer_at == deadline:
                tab.timer_at = None
                due.append(tab)
        due.sort(key=lambda tab: tab.opened)
        return due

    def run_policy(self, now: float) -> None:
        self.result.advance(now, self.memory, len(self.renderers))
        if self.policy.over_budget(self.policy_memory):
            asked = None  # memory pressure: every tab is weighed against the others
            facts = self.facts(now)
        else:
            asked = self._due_tabs(now)
            facts = [self.fact(tab, now) for tab in asked]
        for decision in self.policy.decide(facts, now):
            self._carry_out(decision, now)
        for tab in asked or ():
            if tab.timer_at is None:
                self._set_timer(tab)  # asked but not acted on (or acted on: a frozen tab's discard timer)

    def _carry_out(self, decision, now: float) -> None:
        tab = self.tabs[decision.tab]
        if decision.action is Action.DISCARD:
            self._detach(tab)
            tab.state = DISCARDED
            self.result.discards += 1
        else:
            tab.state = FROZEN
            self.result.freezes += 1
        self._set_timer(tab)
        if self.decisions is not None:
            self.decisions.append((now, tab.id, decision.action.value))

    def next_check(self, now: float) -> float | None:
        if self.policy.over_budget(self.policy_memory):
            return self.policy.next_check(self.facts(now), now)
        earliest = self._earliest_timer()
        # A timer already past (a tab navigated long after it was hidden) is due now, not in the past.
        return None if earliest is None else max(earliest, now)


_ROUNDING_STEPS = 16


def simulate_user(events: Sequence[Event], design: Design, costs: CostModel, *, end: float,
                  grid: Sequence[float], record_decisions: bool = False) -> UserBrowser:
    """Replay one user's events under ``design`` on the virtual clock."""
    browser = UserBrowser(design, costs, start=0.0, end=end, grid=grid, record_decisions=record_decisions)
    deadline: float | None = None
    rounding_steps = 0
    index, count = 0, len(events)
    while True:
        next_event = events[index].t if index < count else end
        if deadline is not None and deadline <= next_event and deadline < end:
            now = deadline
            before = (browser.result.discards, browser.result.freezes)
            browser.run_policy(now)
            deadline = browser.next_check(now)
            if deadline is not None and deadline <= now and before == (browser.result.discards, browser.result.freezes):
                # A deadline computed as now + (threshold - idle) can fall a rounding error short of the threshold
                # (at it, now - hidden_since is still below): step past it, a few times at most, then wait for an event.
                rounding_steps += 1
                deadline = math.nextafter(now, math.inf) if rounding_steps <= _ROUNDING_STEPS else None
            else:
                rounding_steps = 0
            continue
        if index >= count:
            break
        browser.apply_event(events[index])
        index += 1
        if index < count and events[index].t == next_event:
            continue  # several events at one instant: ask the policy once they are all in
        deadline = browser.next_check(next_event)
    browser.result.advance(end, browser.memory, len(browser.renderers))
    return browser


GRID_POINTS = 240


def time_grid(duration_s: float, points: int = GRID_POINTS) -> list[float]:
    return [duration_s * i / (points - 1) for i in range(points)]


def simulate_users(per_user: Sequence[tuple[int, Sequence[Event]]], design: Design, costs: CostModel, *, duration: float,
                    grid: Sequence[float], record_decisions: bool = False) -> tuple[list[UserResult], dict]:
    """Some users ((user number, events) pairs) under one design: their results, in that order,
    and their decisions by user number (when recorded).  A local worker and a cluster's task
    both run this."""
    users, decisions = [], {}
    for number, events in per_user:
        browser = simulate_user(events, design, costs, end=duration, grid=grid, record_decisions=record_decisions)
        users.append(browser.result)
        if record_decisions:
            decisions[number] = browser.decisions
    return users, decisions


def combine_design(design: Design, users: list[UserResult], grid: Sequence[float]) -> DesignResult:
    """One design's result from all its users' results, in user order (the order fixes every float sum)."""
    return combine(design.label, design.policy, design.process_model.value, design.budget_bytes, users, grid)


def run_design(trace: Trace, design: Design, costs: CostModel, *, record_decisions: bool = False) -> DesignResult:
    """Every user of ``trace`` under one design."""
    grid = time_grid(trace.duration_s)
    users, decisions = simulate_users(list(enumerate(trace.by_user())), design, costs, duration=trace.duration_s,
                                       grid=grid, record_decisions=record_decisions)
    result = combine_design(design, users, grid)
    result.decisions = decisions if record_decisions else None
    return result


# What forked workers inherit: the trace's events by user, its length, the time grid and the costs.
_SHARED: tuple | None = None


def _run_shared(task: tuple[Design, int, int]) -> DesignResult | list[UserResult]:
    """A worker's task: a whole design (its result), or users ``first`` to ``stop`` of one (their results)."""
    design, first, stop = task
    per_user, duration, grid, costs = _SHARED
    users, _ = simulate_users(list(enumerate(per_user))[first:stop], design, costs, duration=duration, grid=grid)
    return combine_design(design, users, grid) if (first, stop) == (0, len(per_user)) else users


def run_designs(trace: Trace, designs: Sequence[Design], costs: CostModel, *, workers: int | None = None,
                progress: Callable[[int, int], None] | None = None) -> list[DesignResult]:
    """Every design on the trace, in parallel on all cores; results in the designs' order.

    A worker runs whole designs (and sends back only their results); with
    fewer designs than workers, each design's users are split into batches,
    one per worker, and their results combined here."""
    global _SHARED
    workers = max(1, workers or os.cpu_count() or 1)
    per_user = trace.by_user()
    batches = 1 if len(designs) >= workers else min(trace.users, -(-workers // len(designs)))
    if min(workers, len(designs) * batches) == 1:
        results = []
        for done, design in enumerate(designs, start=1):
            results.append(run_design(trace, design, costs))
            if progress:
                progress(done, len(designs))
        return results
    size = -(-trace.users // batches)
    tasks = [(design, first, min(first + size, trace.users)) for design in designs for first in range(0, trace.users, size)]
    grid = time_grid(trace.duration_s)
    _SHARED = (per_user, trace.duration_s, grid, costs)
    try:
        context = multiprocessing.get_context("fork")
        with context.Pool(min(workers, len(tasks))) as pool:
            finished: dict[Design, list[UserResult]] = {}
            results = []
            for done, answer in enumerate(pool.imap(_run_shared, tasks), start=1):
                design = tasks[done - 1][0]
                if isinstance(answer, DesignResult):
                    results.append(answer)
                else:
                    finished.setdefault(design, []).extend(answer)
                    if len(finished[design]) == trace.users:
                        results.append(combine_design(design, finished.pop(design), grid))
                if progress:
                    progress(done, len(tasks))
            return results
    finally:
        _SHARED = None
