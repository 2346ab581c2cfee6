"""Tab lifecycle policy: who may be frozen or discarded, who goes next, and why.

Everything here is pure: it looks at :class:`TabFacts` (a tab's state,
protections, idle time and last measured memory) and returns decisions with
reasons, so that it can be tested without processes and so that the UI can
show *why* a tab was, or was not, discarded (Chromium's ``chrome://discards``
does the same with ``kActiveTab``, ``kPinnedTab``...).  The named policies
of ``broker/discard_policies.py`` decide with these; the kernel
(``broker/kernel.py``) carries the decisions out.

States (the names match ``browser.api.TabState``)::

    LOADING -> ACTIVE <-> BACKGROUND -> FROZEN -> DISCARDED
                   \\            \\__________\\_______> CRASHED / UNRESPONSIVE
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

# State names as plain strings: the broker module must not import the API.
LOADING, ACTIVE, BACKGROUND, FROZEN = "loading", "active", "background", "frozen"
DISCARDED, CRASHED, UNRESPONSIVE, CLOSED = "discarded", "crashed", "unresponsive", "closed"


class DiscardRefusal(enum.Enum):
    """Why a tab may not be discarded (or frozen) now.  ``describe()`` is for people."""

    ACTIVE_TAB = "active tab"
    PINNED = "pinned"
    KEPT = "kept by the user"
    LOADING = "loading"
    ALREADY_DISCARDED = "already discarded"
    ALREADY_FROZEN = "already frozen"
    NOT_FROZEN = "not frozen"
    CRASHED = "crashed"
    UNRESPONSIVE = "not responding"
    NO_DOCUMENT = "nothing loaded yet"
    CLOSED = "closed"
    NOT_AUTO_DISCARDABLE = "not auto-discardable"

    def describe(self) -> str:
        return _DESCRIPTIONS[self]


_DESCRIPTIONS = {
    DiscardRefusal.ACTIVE_TAB: "it is the tab you are looking at",
    DiscardRefusal.PINNED: "it is pinned",
    DiscardRefusal.KEPT: "you asked to keep it",
    DiscardRefusal.LOADING: "it is still loading",
    DiscardRefusal.ALREADY_DISCARDED: "it is already discarded",
    DiscardRefusal.ALREADY_FROZEN: "it is already frozen",
    DiscardRefusal.NOT_FROZEN: "it is not frozen",
    DiscardRefusal.CRASHED: "its renderer has crashed; reload it instead",
    DiscardRefusal.UNRESPONSIVE: "its renderer is not responding, so it cannot save its state",
    DiscardRefusal.NO_DOCUMENT: "it has no page to save yet",
    DiscardRefusal.CLOSED: "it is closed",
    DiscardRefusal.NOT_AUTO_DISCARDABLE: "automatic discarding is off for it; an urgent discard still may",
}


@dataclass
class LifecyclePolicy:
    """When background tabs give their memory back, and how hangs are found.

    The defaults are what a user would pick on a desktop: background tabs are
    frozen after five minutes and discarded after an hour, and the renderers
    together may use 1 GiB (USS) before the least recently used are discarded.
    ``None`` turns a rule off.
    """

    freeze_after_s: float | None = 300.0
    discard_after_s: float | None = 3600.0
    memory_budget_bytes: int | None = 1024**3
    heartbeat_interval_s: float = 2.0
    heartbeat_timeout_s: float = 5.0
    sample_interval_s: float = 1.0  # memory/CPU sampling; never more often than once a second
    tick_interval_s: float = 1.0  # how often the policy looks at the tabs
    crash_limit: int = 3  # this many crashes ...
    crash_window_s: float = 10.0  # ... within this window: no automatic restart
    freeze_pinned: bool = False  # pinned tabs keep running in the background (music, chat)

    def __post_init__(self) -> None:
        self.sample_interval_s = max(1.0, self.sample_interval_s)
        if self.heartbeat_timeout_s <= 0 or self.heartbeat_interval_s <= 0:
            raise ValueError("heartbeat interval and timeout must be positive")

    @classmethod
    def manual(cls) -> LifecyclePolicy:
        """No automatic freezing or discarding (tests, benchmarks of one action)."""
        return cls(freeze_after_s=None, discard_after_s=None, memory_budget_bytes=None)


@dataclass(frozen=True)
class TabFacts:
    """What the policy knows about one tab."""

    id: int
    state: str
    active: bool = False
    pinned: bool = False
    kept: bool = False
    has_document: bool = True
    busy: bool = False  # a request or a lifecycle change is in flight
    idle_s: float = 0.0  # seconds since it was last the active tab
    uss: int | None = None  # last sampled unique memory of its renderer
    revisits: int = 0  # times the user came back to it after it was hidden (Chrome's TabRevisitTracker)
    renderer: int | None = None  # the process hosting it (tabs may share one under some process models)
    auto_discardable: bool = True  # False: the user turned automatic discarding off for it (chrome://discards' toggle)


def discard_refusal(tab: TabFacts, *, urgent: bool = False) -> DiscardRefusal | None:
    """Why ``tab`` may not be discarded, or None.  Frozen tabs may be (as in Chrome).

    Every automatic discard is a proactive one and respects the tab's
    auto-discardable switch; an ``urgent`` discard (one the user asks for now)
    does not."""
    match tab.state:
        case "closed":
            return DiscardRefusal.CLOSED
        case "discarded":
            return DiscardRefusal.ALREADY_DISCARDED
        case "crashed":
            return DiscardRefusal.CRASHED
        case "unresponsive":
            return DiscardRefusal.UNRESPONSIVE
        case "loading":
            return DiscardRefusal.LOADING
    if tab.active:
        return DiscardRefusal.ACTIVE_TAB
    if tab.pinned:
        return DiscardRefusal.PINNED
    if tab.kept:
        return DiscardRefusal.KEPT
    if not tab.has_document:
        return DiscardRefusal.NO_DOCUMENT
    if not urgent and not tab.auto_discardable:
        return DiscardRefusal.NOT_AUTO_DISCARDABLE
    return None


def freeze_refusal(tab: TabFacts, *, pinned_may_freeze: bool = True) -> DiscardRefusal | None:
    """Why ``tab`` may not be frozen, or None.  A hung renderer may be frozen:
    it is a way to stop it burning CPU without losing the page."""
    match tab.state:
        case "closed":
            return DiscardRefusal.CLOSED
        case "discarded":
            return DiscardRefusal.ALREADY_DISCARDED
        case "frozen":
            return DiscardRefusal.ALREADY_FROZEN
        case "crashed":
            return DiscardRefusal.CRASHED
        case "loading":
            return DiscardRefusal.LOADING
    if tab.active:
        return DiscardRefusal.ACTIVE_TAB
    if tab.pinned and not pinned_may_freeze:
        return DiscardRefusal.PINNED
    if tab.kept:
        return DiscardRefusal.KEPT
    return None


class Action(enum.Enum):
    FREEZE = "freeze"
    DISCARD = "discard"


@dataclass(frozen=True)
class Decision:
    tab: int
    action: Action
    reason: str


def _megabytes(n: int) -> str:
    return f"{n / 1024**2:.0f} MB"


def decide(tabs: Sequence[TabFacts], policy: LifecyclePolicy) -> list[Decision]:
    """What the policy wants done now, each with its reason.

    1. Over the memory budget: discard eligible tabs, least recently used
       first, until the renderers' measured USS would be under the budget.
    2. Background tabs idle for ``discard_after_s``: discard.
    3. Background tabs idle for ``freeze_after_s``: freeze.

    Busy tabs are skipped this round (not refused: they will be looked at
    again on the next tick).
    """
    decisions: list[Decision] = []
    chosen: set[int] = set()
    budget = policy.memory_budget_bytes
    if budget is not None:
        total = sum(t.uss or 0 for t in tabs if t.state not in (DISCARDED, CRASHED, CLOSED))
        if total > budget:
            candidates = sorted(
                (t for t in tabs if not t.busy and discard_refusal(t) is None and t.uss),
                key=lambda t: -t.idle_s,  # least recently used first
            )
            for tab in candidates:
                if total <= budget:
                    break
                decisions.append(Decision(
                    tab.id, Action.DISCARD,
                    f"over the memory budget ({_megabytes(total)} of {_megabytes(budget)}); least recently used",
                ))
                chosen.add(tab.id)
                total -= tab.uss
    for tab in tabs:
        if tab.id in chosen or tab.busy or tab.state not in (BACKGROUND, FROZEN):
            continue
        if (policy.discard_after_s is not None and tab.idle_s >= policy.discard_after_s
                and discard_refusal(tab) is None):
            decisions.append(Decision(tab.id, Action.DISCARD, f"in the background for {tab.idle_s:.0f} s"))
        elif (policy.freeze_after_s is not None and tab.idle_s >= policy.freeze_after_s
                and freeze_refusal(tab, pinned_may_freeze=policy.freeze_pinned) is None):
            decisions.append(Decision(tab.id, Action.FREEZE, f"in the background for {tab.idle_s:.0f} s"))
    return decisions


@dataclass
class CrashHistory:
    """Crash times of one tab: a tab that crashes ``limit`` times within
    ``window_s`` seconds is not restarted automatically."""

    limit: int = 3
    window_s: float = 10.0
    times: deque[float] = field(default_factory=deque)

    def record(self, now: float) -> None:
        self.times.append(now)
        while len(self.times) > self.limit:
            self.times.popleft()

    def looping(self, now: float) -> bool:
        recent = [t for t in self.times if now - t <= self.window_s]
        return len(recent) >= self.limit

    def describe(self) -> str:
        return (f"it crashed {self.limit} times within {self.window_s:g} s, so it is not restarted "
                "automatically; reload it to try again")


def least_recently_used(tabs: Iterable[TabFacts]) -> list[int]:
    """Tab ids, least recently used first."""
    return [t.id for t in sorted(tabs, key=lambda t: -t.idle_s)]
