"""Named discard and freeze policies: minibrowser's own and those browsers ship.

Each policy is a pure object: it looks at :class:`~broker.lifecycle.TabFacts`
(state, protections, time hidden, revisits, measured memory, the renderer
hosting it) and a virtual or real ``now`` in seconds, and answers two
questions:

* :meth:`DiscardPolicy.decide` — what to freeze or discard now, with reasons;
* :meth:`DiscardPolicy.next_check` — when, if nothing else happens, it wants
  to be asked again (an absolute time; ``now`` only when :meth:`decide`
  would do something now; ``None`` when nothing is pending).

The browser's kernel runs these objects in its lifecycle loop
(``--discard-policy``, ``Browser(discard_policy=...)``), and both simulator
engines (``browser.simulate``) run the same objects: the model engine on a
virtual clock, the real engine through that kernel loop on the trace's
clock, with real memory samples.  A third question, :meth:`DiscardPolicy.make_room`,
is asked before a new renderer starts: which of its own victims the policy
gives up so that the renderers, with the new one at an estimate, fit the
budget (``room_victim`` names the next one).  ``TabFacts.idle_s`` is the time since the tab was
last the active tab (for a background tab: how long it has been hidden).

Memory pressure.  The policies that react to memory pressure (``chrome-urgent``,
``firefox-unloader``) see "critical pressure" whenever the renderers'
memory (the sum of the tabs' ``uss``) is over the budget, and receive one
signal per polling period while it lasts, at multiples of the period (a
simplification of the operating system's pressure notifications).

The policies, each with its source and what we simplified:

``minibrowser``
    Today's policy, ``broker.lifecycle.decide`` unchanged: background tabs
    frozen after 5 min and discarded after 1 h; over the memory budget, the
    least recently used eligible tabs are discarded until under it.
``chrome-memory-saver-moderate`` / ``-balanced`` / ``-maximum`` (``chrome-memory-saver`` = balanced, Chrome's recommended mode)
    Chromium ``chrome/browser/performance_manager/policies/memory_saver_mode_policy.cc``:
    a timer starts when a tab is hidden, unless the tab has been revisited
    more than the mode's limit (``GetMaxNumRevisitsForCurrentMode``: 15, 15,
    5), and the tab is discarded when it has been hidden for 6, 4 or 2 hours
    (``GetTimeBeforeDiscardForCurrentMode``, conservative/medium/aggressive).
    Simplified: the eligibility checks of ``discard_eligibility_policy.cc``
    are reduced to ours (active, pinned, kept, loading, crashed, no
    document); audio, PDFs, notifications and extensions do not exist here;
    suspended-device time is not modelled.
``chrome-urgent``
    Chromium ``urgent_page_discarding_policy.cc`` and
    ``page_discarding_helper.cc``: on each critical memory-pressure signal,
    ``DiscardAPage(URGENT)`` discards one page: the least important
    eligible one, i.e. the one hidden longest; pages hidden for less than
    ``kNonVisiblePagesUrgentProtectionTime`` (10 min, outside ChromeOS) are
    protected, as are the active tab and pinned tabs.  Signal every 5 s
    while over the budget (simplified from the platform pressure monitor).
``firefox-unloader``
    Firefox ``browser/components/tabbrowser/TabUnloader.sys.mjs``: one tab
    unloaded per low-memory notification (``unloadLeastRecentlyUsedTab``);
    tabs accessed within ``browser.tabs.min_inactive_duration_before_unload``
    (600000 ms in ``firefox.js``) are skipped; base weights from
    ``criteriaTypes`` (selected or undiscardable: never; pinned: 2); sorted
    by weight, then least recently accessed first; beyond the
    ``MIN_TABS_COUNT`` (10) most recent, re-weighted by the processes only
    the tab uses and by its share of its processes' memory
    (``adjustForResourceUse``).  Simplified: no media, WebRTC,
    picture-in-picture or private windows; one frame per tab; low memory
    polled every 10 s while over the budget.
``edge-sleeping-tabs``
    Microsoft Edge's sleeping tabs (documented default: put background tabs
    to sleep after 2 hours of inactivity; Edge is closed source, so this
    follows its documentation): a background tab is frozen (not discarded)
    2 h after it was hidden.  Pinned and kept tabs stay awake.
``none``
    Nothing is ever frozen or discarded: the baseline.
"""

from __future__ import annotations

import abc
import math
from collections.abc import Sequence
from dataclasses import dataclass

from broker.lifecycle import (
    BACKGROUND,
    CLOSED,
    CRASHED,
    DISCARDED,
    FROZEN,
    Action,
    Decision,
    LifecyclePolicy,
    TabFacts,
    decide,
    discard_refusal,
    freeze_refusal,
)

HOUR = 3600.0
GIB = 1024**3
DEFAULT_BUDGET_BYTES = GIB


class UnknownPolicy(ValueError):
    """A policy name that is not one of :data:`POLICY_NAMES`."""


def renderer_memory(tabs: Sequence[TabFacts]) -> int:
    """The memory the live tabs' renderers use (what a budget is compared with)."""
    return sum(t.uss or 0 for t in tabs if t.state not in (DISCARDED, CRASHED, CLOSED))


def _megabytes(n: float) -> str:
    return f"{n / 1024**2:.0f} MB"


class DiscardPolicy(abc.ABC):
    """A named lifecycle policy (see the module docstring).

    A policy acts for two kinds of reason, and says which through two hooks
    that :meth:`next_check` is built from:

    * a **timer** per tab (:meth:`timer`): the tab has been hidden long
      enough.  A timed decision depends on that tab alone, so an engine may
      ask :meth:`decide` about only the tabs whose timers are due and get
      the decisions it would get for all of them;
    * **memory pressure** (:meth:`pressure_check`): only while the tabs'
      memory is over :attr:`memory_budget_bytes`; a pressure decision weighs
      every tab against the others.
    """

    name: str = ""
    #: The renderer memory above which the policy acts under pressure; None: it never looks at memory.
    memory_budget_bytes: int | None = None

    @abc.abstractmethod
    def decide(self, tabs: Sequence[TabFacts], now: float) -> list[Decision]:
        """What to freeze or discard at ``now``, each with its reason."""

    def timer(self, tab: TabFacts) -> float | None:
        """How long ``tab`` must have been hidden before :meth:`decide` acts on it (None: no timer runs)."""
        return None

    def pressure_check(self, tabs: Sequence[TabFacts], now: float) -> float | None:
        """When to act on memory pressure; asked only while over :attr:`memory_budget_bytes`."""
        return None

    def over_budget(self, used: int) -> bool:
        """Whether renderers using ``used`` bytes put the policy under memory pressure."""
        return self.memory_budget_bytes is not None and used > self.memory_budget_bytes

    def room_victim(self, tabs: Sequence[TabFacts], now: float) -> TabFacts | None:
        """The tab this policy gives up first when it must make room (None: none may go)."""
        return None

    def make_room(self, tabs: Sequence[TabFacts], now: float, incoming: int) -> list[Decision]:
        """Discards that keep the renderers under the budget once ``incoming``
        more bytes arrive (a renderer about to start, at the engine's estimate
        of one): the policy's own victims, in its own order, until the
        estimate fits or no tab may go.  A policy without a budget makes none."""
        budget = self.memory_budget_bytes
        if budget is None:
            return []
        used = renderer_memory(tabs) + incoming
        remaining = list(tabs)
        decisions = []
        while used > budget and (victim := self.room_victim(remaining, now)) is not None:
            decisions.append(Decision(victim.id, Action.DISCARD,
                                      f"making room for a new renderer under the memory budget "
                                      f"({_megabytes(used)} of {_megabytes(budget)} estimated); {self.name}"))
            used -= victim.uss or 0
            remaining = [tab for tab in remaining if tab.id != victim.id]
        return decisions

    def next_check(self, tabs: Sequence[TabFacts], now: float) -> float | None:
        """When to call :meth:`decide` next if nothing changes (``>= now``), or None."""
        soonest = self.pressure_check(tabs, now) if self.over_budget(renderer_memory(tabs)) else None
        for tab in tabs:
            hidden_for = self.timer(tab)
            if hidden_for is not None:
                due = now + max(0.0, hidden_for - tab.idle_s)
                if soonest is None or due < soonest:
                    soonest = due
        return soonest

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"


class NoPolicy(DiscardPolicy):
    """Never freezes or discards: the baseline every design is compared with."""

    name = "none"

    def decide(self, tabs: Sequence[TabFacts], now: float) -> list[Decision]:
        return []


class MinibrowserPolicy(DiscardPolicy):
    """Today's policy: ``broker.lifecycle.decide`` with a ``LifecyclePolicy``."""

    name = "minibrowser"

    def __init__(self, settings: LifecyclePolicy | None = None) -> None:
        self.settings = settings or LifecyclePolicy()
        self.memory_budget_bytes = self.settings.memory_budget_bytes

    def decide(self, tabs: Sequence[TabFacts], now: float) -> list[Decision]:
        return decide(tabs, self.settings)

    def room_victim(self, tabs: Sequence[TabFacts], now: float) -> TabFacts | None:
        candidates = [t for t in tabs if not t.busy and t.uss and discard_refusal(t) is None]
        return max(candidates, key=lambda t: (t.idle_s, -t.id), default=None)  # least recently used

    def pressure_check(self, tabs: Sequence[TabFacts], now: float) -> float | None:
        if any(not t.busy and t.uss and discard_refusal(t) is None for t in tabs):
            return now
        return None

    def timer(self, tab: TabFacts) -> float | None:
        settings = self.settings
        if tab.busy or tab.state not in (BACKGROUND, FROZEN):
            return None
        hidden_for = None
        if settings.discard_after_s is not None and discard_refusal(tab) is None:
            hidden_for = settings.discard_after_s
        if (settings.freeze_after_s is not None and tab.state == BACKGROUND
                and freeze_refusal(tab, pinned_may_freeze=settings.freeze_pinned) is None):
            hidden_for = settings.freeze_after_s if hidden_for is None else min(hidden_for, settings.freeze_after_s)
        return hidden_for


@dataclass(frozen=True)
class MemorySaverMode:
    """One of Chrome's Memory Saver modes (``memory_saver_mode_policy.cc``)."""

    label: str
    hidden_s: float  # GetTimeBeforeDiscardForCurrentMode
    max_revisits: int  # GetMaxNumRevisitsForCurrentMode


MODERATE = MemorySaverMode("moderate", 6 * HOUR, 15)  # kConservative
BALANCED = MemorySaverMode("balanced", 4 * HOUR, 15)  # kMedium
MAXIMUM = MemorySaverMode("maximum", 2 * HOUR, 5)  # kAggressive


class ChromeMemorySaver(DiscardPolicy):
    """Discard a tab hidden for the mode's time, unless revisited too often."""

    def __init__(self, mode: MemorySaverMode) -> None:
        self.mode = mode
        self.name = f"chrome-memory-saver-{mode.label}"

    def _timed(self, tab: TabFacts) -> bool:
        return (tab.state in (BACKGROUND, FROZEN) and not tab.busy and tab.revisits <= self.mode.max_revisits
                and discard_refusal(tab) is None)

    def decide(self, tabs: Sequence[TabFacts], now: float) -> list[Decision]:
        mode = self.mode
        return [
            Decision(t.id, Action.DISCARD, f"hidden for {mode.hidden_s / HOUR:g} h (Memory Saver, {mode.label})")
            for t in tabs if self._timed(t) and t.idle_s >= mode.hidden_s
        ]

    def timer(self, tab: TabFacts) -> float | None:
        return self.mode.hidden_s if self._timed(tab) else None


class _PressurePolicy(DiscardPolicy):
    """A policy that acts once per memory-pressure signal while over budget."""

    signal_period_s: float = 5.0

    def __init__(self, budget_bytes: int) -> None:
        self.budget_bytes = self.memory_budget_bytes = budget_bytes

    @abc.abstractmethod
    def choose(self, tabs: Sequence[TabFacts]) -> TabFacts | None:
        """The one tab to discard on this signal, or None."""

    def room_victim(self, tabs: Sequence[TabFacts], now: float) -> TabFacts | None:
        return self.choose(tabs)

    def decide(self, tabs: Sequence[TabFacts], now: float) -> list[Decision]:
        used = renderer_memory(tabs)
        if used <= self.budget_bytes or (victim := self.choose(tabs)) is None:
            return []
        return [Decision(victim.id, Action.DISCARD,
                         f"memory pressure ({_megabytes(used)} of {_megabytes(self.budget_bytes)}); {self.name}")]

    def pressure_check(self, tabs: Sequence[TabFacts], now: float) -> float | None:
        period = self.signal_period_s
        return (math.floor(now / period) + 1) * period  # the next signal, strictly after now


class ChromeUrgent(_PressurePolicy):
    """``UrgentPageDiscardingPolicy``: one discard per critical signal."""

    name = "chrome-urgent"
    signal_period_s = 5.0
    protection_s = 10 * 60.0  # kNonVisiblePagesUrgentProtectionTime

    def choose(self, tabs: Sequence[TabFacts]) -> TabFacts | None:
        candidates = [t for t in tabs if not t.busy and discard_refusal(t) is None and t.idle_s >= self.protection_s]
        return max(candidates, key=lambda t: (t.idle_s, -t.id), default=None)  # hidden longest


class FirefoxUnloader(_PressurePolicy):
    """``TabUnloader.unloadLeastRecentlyUsedTab``: one tab per low-memory signal."""

    name = "firefox-unloader"
    signal_period_s = 10.0
    min_inactive_s = 600.0  # browser.tabs.min_inactive_duration_before_unload
    min_tabs_count = 10  # MIN_TABS_COUNT
    never_discard = 100000  # NEVER_DISCARD
    pinned_weight = 2

    def sorted_tabs(self, tabs: Sequence[TabFacts]) -> list[TabFacts]:
        """``getSortedTabs``: the unload order (the first discardable one goes)."""
        weighted = []
        for tab in tabs:
            if tab.idle_s < self.min_inactive_s and not tab.active:
                continue  # "fresh" tabs are skipped
            if tab.state in (DISCARDED, CRASHED, CLOSED) or not tab.has_document:
                continue  # isNonDiscardable: -1, not in the list
            weight = self.never_discard if tab.active or tab.kept else 0
            weight += self.pinned_weight if tab.pinned else 0
            weighted.append((weight, tab))
        weighted.sort(key=lambda pair: (pair[0], -pair[1].idle_s, pair[1].id))
        if not weighted or weighted[0][0] >= self.never_discard:
            return [tab for _, tab in weighted]
        lowest = weighted[0][0]
        higher = next((len(weighted) - i for i, (w, _) in enumerate(weighted) if w != lowest), 0)
        higher = max(higher, self.min_tabs_count)
        if len(weighted) - higher <= 1:
            return [tab for _, tab in weighted]
        head, tail = weighted[: len(weighted) - higher], weighted[len(weighted) - higher:]
        return self._adjust_for_resource_use([tab for _, tab in head], tabs) + [tab for _, tab in tail]

    @staticmethod
    def _adjust_for_resource_use(head: list[TabFacts], every: Sequence[TabFacts]) -> list[TabFacts]:
        hosted: dict[int | None, int] = {}
        for tab in every:
            if tab.state not in (DISCARDED, CRASHED, CLOSED):
                hosted[tab.renderer] = hosted.get(tab.renderer, 0) + 1
        weight = {tab.id: position for position, tab in enumerate(head, start=1)}
        unique = {tab.id: 1 if tab.renderer is None or hosted.get(tab.renderer, 0) <= 1 else 0 for tab in head}
        for position, tab in enumerate(sorted(head, key=lambda t: -unique[t.id]), start=1):
            weight[tab.id] += position  # a single process per tab: "uniqueCount > 1" never applies
        for position, tab in enumerate(sorted(head, key=lambda t: -(t.uss or 0)), start=1):
            weight[tab.id] += position
        return sorted(head, key=lambda t: (weight[t.id], -t.idle_s, t.id))

    def choose(self, tabs: Sequence[TabFacts]) -> TabFacts | None:
        for tab in self.sorted_tabs(tabs):
            if tab.active or tab.kept:
                return None  # sorted: once one may not go, none after it may
            if not tab.busy and discard_refusal(tab) is None:
                return tab
        return None


class EdgeSleepingTabs(DiscardPolicy):
    """Freeze (put to sleep) background tabs 2 h after they were hidden."""

    name = "edge-sleeping-tabs"
    sleep_after_s = 2 * HOUR

    def _may_sleep(self, tab: TabFacts) -> bool:
        return tab.state == BACKGROUND and not tab.busy and freeze_refusal(tab, pinned_may_freeze=False) is None

    def decide(self, tabs: Sequence[TabFacts], now: float) -> list[Decision]:
        return [Decision(t.id, Action.FREEZE, f"inactive for {self.sleep_after_s / HOUR:g} h (sleeping tabs)")
                for t in tabs if self._may_sleep(t) and t.idle_s >= self.sleep_after_s]

    def timer(self, tab: TabFacts) -> float | None:
        return self.sleep_after_s if self._may_sleep(tab) else None


POLICY_NAMES = (
    "minibrowser", "chrome-memory-saver", "chrome-memory-saver-moderate", "chrome-memory-saver-balanced",
    "chrome-memory-saver-maximum", "chrome-urgent", "firefox-unloader", "edge-sleeping-tabs", "none",
)
#: Every distinct policy once (``chrome-memory-saver`` is balanced): what "all designs" means.
DISTINCT_POLICY_NAMES = tuple(name for name in POLICY_NAMES if name != "chrome-memory-saver")


def make_policy(name: str, *, budget_bytes: int | None = DEFAULT_BUDGET_BYTES) -> DiscardPolicy:
    """The policy called ``name``, with the memory budget where it has one."""
    budget = DEFAULT_BUDGET_BYTES if budget_bytes is None else budget_bytes
    match name:
        case "minibrowser":
            return MinibrowserPolicy(LifecyclePolicy(memory_budget_bytes=budget))
        case "chrome-memory-saver" | "chrome-memory-saver-balanced":
            return ChromeMemorySaver(BALANCED)
        case "chrome-memory-saver-moderate":
            return ChromeMemorySaver(MODERATE)
        case "chrome-memory-saver-maximum":
            return ChromeMemorySaver(MAXIMUM)
        case "chrome-urgent":
            return ChromeUrgent(budget)
        case "firefox-unloader":
            return FirefoxUnloader(budget)
        case "edge-sleeping-tabs":
            return EdgeSleepingTabs()
        case "none":
            return NoPolicy()
    raise UnknownPolicy(f"unknown policy {name!r}; the policies are: {', '.join(POLICY_NAMES)}")
