"""Synthetic browsing traces from published figures.

``generate(users=N, days=D, seed=S)`` gives the same trace, event for
event, for the same arguments (each user draws from a ``random.Random``
seeded with the trace seed and the user's number, and nothing else is
random), so ``minibrowser simulate generate ... -o FILE`` writes the same
bytes every time.

Where each number comes from:

* **Open tabs per user.**  The target number of open tabs is drawn from a
  log-normal distribution fitted to two published points: Firefox Test
  Pilot's median of about 4 open tabs (with a long tail), and Chromium's
  UMA observation that 10 tabs is the 70th percentile of open tabs.  A
  log-normal with median 4 and 70th percentile 10 has ``mu = ln 4`` and
  ``sigma = ln(10/4) / z(0.70) = 1.747``.  Capped at ``MAX_TABS``.
  ``open_tabs=N`` fixes the target instead (a heavy user: ``open_tabs=50``).
* **New tabs per day.**  The Mozilla Test Pilot New Tab study (Mozilla UX
  blog, "Test Pilot New Tab Study Results", August 2011; 256,282
  submissions over 5 days) found that each user opens on average 11 new
  tabs a day: each action is an ``open`` with probability
  ``NEW_TABS_PER_DAY / actions per day``.  The same study found users visit
  about 2 pages in a new tab before they leave or close it.
* **Which tab a user switches to.**  Tab switching follows a power law
  (Huang and White, "Parallel browsing behavior on the web", HT 2010): the
  target is chosen by its rank in recency order (1 = the tab used just
  before the current one) with probability proportional to
  ``rank ** -SWITCH_EXPONENT``.  The exponent (1.6) is our choice; the
  paper reports the shape, not a value for this use.
* **Revisits.**  When a navigation returns to a page seen before, the time
  since the earlier visit follows Obendorf, Weinreich, Herder and Mayer,
  "Web page revisitation revisited", CHI 2007: 72.6% within an hour, 12%
  from an hour to a day, 7.8% from a day to a week, and the remaining 7.6%
  longer (we use up to 30 days).  Within each band the interval is
  log-uniform (10 s to 1 h in the first).  The share of navigations that
  are revisits (``REVISIT_SHARE``, 0.45) is our assumption.

Assumptions of ours (no published figure used): one active period a day,
starting at 09:00 +- 1 h and lasting 8 h +- 1 h, with an action every 150 s
on average (exponential gaps); outside it the browser stays open with no
activity (background tabs stay hidden overnight, as on a real desktop);
actions other than opening and closing are 40% switch, 40% navigate and
20% input; 200 sites with Zipf popularity; page size classes 50% small,
35% medium, 15% large.  On the first day the user's browser restores the
target number of tabs at the start of the active period.
"""

from __future__ import annotations

import bisect
import math
import random
import zlib
from dataclasses import dataclass, field

from browser.simulate.trace import SECONDS_PER_DAY, Event, SizeClass, Trace, UserAction

HOUR = 3600.0

# -- published figures (see the module docstring) -------------------------------------
MEDIAN_OPEN_TABS = 4.0  # Firefox Test Pilot
P70_OPEN_TABS = 10.0  # Chromium UMA
Z_70 = 0.5244005127080407  # the standard normal's 70th percentile
LOGNORMAL_MU = math.log(MEDIAN_OPEN_TABS)
LOGNORMAL_SIGMA = math.log(P70_OPEN_TABS / MEDIAN_OPEN_TABS) / Z_70
NEW_TABS_PER_DAY = 11.0  # Mozilla Test Pilot New Tab study, 2011
REVISIT_BANDS = (  # Obendorf et al., CHI 2007: (share, shortest, longest interval in seconds)
    (0.726, 10.0, HOUR),
    (0.120, HOUR, 24 * HOUR),
    (0.078, 24 * HOUR, 7 * 24 * HOUR),
    (0.076, 7 * 24 * HOUR, 30 * 24 * HOUR),
)
SWITCH_EXPONENT = 1.6  # Huang and White, HT 2010: power law (the exponent is ours)

# -- our assumptions ---------------------------------------------------------------------
MAX_TABS = 300
REVISIT_SHARE = 0.45
MEAN_GAP_S = 150.0
ACTIVE_START_S, ACTIVE_START_JITTER_S = 9 * HOUR, 1 * HOUR
ACTIVE_LENGTH_S, ACTIVE_LENGTH_JITTER_S = 8 * HOUR, 1 * HOUR
SITES = 200
SITE_ZIPF = 1.0
SIZE_SHARES = ((SizeClass.SMALL, 50), (SizeClass.MEDIUM, 85), (SizeClass.LARGE, 100))  # cumulative percent
SWITCH, NAVIGATE = 0.4, 0.8  # cumulative shares of the other actions; the rest is input


def target_open_tabs(rng: random.Random) -> int:
    """A user's usual number of open tabs (log-normal, see the docstring)."""
    return max(1, min(MAX_TABS, round(rng.lognormvariate(LOGNORMAL_MU, LOGNORMAL_SIGMA))))


def revisit_interval(rng: random.Random) -> float:
    """Seconds since the earlier visit, for a revisit (Obendorf et al. 2007)."""
    pick = rng.random()
    for share, shortest, longest in REVISIT_BANDS:
        if pick < share:
            break
        pick -= share
    return math.exp(rng.uniform(math.log(shortest), math.log(longest)))


def size_class(url: str) -> SizeClass:
    """A page's size class: fixed per URL, so that a revisit loads the same page."""
    percent = zlib.crc32(url.encode()) % 100
    return next(size for size, below in SIZE_SHARES if percent < below)


_SITE_WEIGHTS = [k**-SITE_ZIPF for k in range(1, SITES + 1)]
_SITE_CUMULATIVE = [sum(_SITE_WEIGHTS[: k + 1]) for k in range(SITES)]
_SWITCH_CUMULATIVE: list[float] = []


def _switch_cumulative(count: int) -> list[float]:
    while len(_SWITCH_CUMULATIVE) < count:
        rank = len(_SWITCH_CUMULATIVE) + 1
        previous = _SWITCH_CUMULATIVE[-1] if _SWITCH_CUMULATIVE else 0.0
        _SWITCH_CUMULATIVE.append(previous + rank**-SWITCH_EXPONENT)
    return _SWITCH_CUMULATIVE[:count]


@dataclass
class _User:
    """One user's browser as the generator sees it."""

    number: int
    rng: random.Random
    target: int
    events: list[Event] = field(default_factory=list)
    recency: list[int] = field(default_factory=list)  # open tabs, least recently used first
    next_tab: int = 1
    visits: list[tuple[float, str]] = field(default_factory=list)  # every visit, in time order
    visit_times: list[float] = field(default_factory=list)
    last_visit: dict[str, float] = field(default_factory=dict)

    @property
    def active(self) -> int | None:
        return self.recency[-1] if self.recency else None

    def emit(self, t: float, tab: int, action: UserAction, url: str | None = None) -> None:
        t = round(t, 3)
        size = size_class(url) if url is not None else None
        self.events.append(Event(t, self.number, tab, action, url, size))
        if url is not None:
            self.visits.append((t, url))
            self.visit_times.append(t)
            self.last_visit[url] = t
        if action is UserAction.CLOSE:
            self.recency.remove(tab)
        elif action is not UserAction.NAVIGATE or tab == self.active:
            if tab in self.recency:
                self.recency.remove(tab)
            self.recency.append(tab)

    def new_url(self) -> str:
        site = bisect.bisect_left(_SITE_CUMULATIVE, self.rng.random() * _SITE_CUMULATIVE[-1]) + 1
        page = min(10_000, int(self.rng.paretovariate(1.2)))
        return f"http://site{site}.test/p/{page}"

    def pick_url(self, now: float) -> str:
        """A page to load: a revisit (Obendorf et al.) or a new page."""
        if self.visits and self.rng.random() < REVISIT_SHARE:
            wanted = now - revisit_interval(self.rng)
            index = bisect.bisect_right(self.visit_times, wanted) - 1
            while index >= 0:
                t, url = self.visits[index]
                if self.last_visit[url] == t:  # the page's latest visit: the interval is now - t
                    return url
                index -= 1
        return self.new_url()

    def open_tab(self, t: float) -> None:
        tab = self.next_tab
        self.next_tab += 1
        self.emit(t, tab, UserAction.OPEN, self.pick_url(t))

    def switch_target(self) -> int:
        others = self.recency[:-1]  # rank 1 is others[-1]
        cumulative = _switch_cumulative(len(others))
        rank = bisect.bisect_left(cumulative, self.rng.random() * cumulative[-1]) + 1
        return others[-rank]

    def act(self, t: float, per_day: float) -> None:
        rng = self.rng
        count = len(self.recency)
        if count == 0 or rng.random() < NEW_TABS_PER_DAY / per_day:
            self.open_tab(t)
            return
        if count > self.target and rng.random() < 0.5:
            was_active = rng.random() < 0.5 or count == 1
            self.emit(t, self.active if was_active else self.switch_target(), UserAction.CLOSE)
            if was_active and self.recency:
                self.emit(t, self.active, UserAction.SWITCH)  # the browser shows the last used tab
            return
        pick = rng.random()
        if pick < SWITCH and count > 1:
            self.emit(t, self.switch_target(), UserAction.SWITCH)
        elif pick < NAVIGATE:
            self.emit(t, self.active, UserAction.NAVIGATE, self.pick_url(t))
        else:
            self.emit(t, self.active, UserAction.INPUT)


def generate_user(number: int, *, days: float, seed: int, open_tabs: int | None = None) -> list[Event]:
    """One user's events (see the module docstring for the model)."""
    rng = random.Random(f"minibrowser-trace:{seed}:{number}")
    user = _User(number, rng, open_tabs if open_tabs is not None else target_open_tabs(rng))
    end = days * SECONDS_PER_DAY
    for day in range(math.ceil(days)):
        start = day * SECONDS_PER_DAY + ACTIVE_START_S + rng.uniform(-ACTIVE_START_JITTER_S, ACTIVE_START_JITTER_S)
        length = ACTIVE_LENGTH_S + rng.uniform(-ACTIVE_LENGTH_JITTER_S, ACTIVE_LENGTH_JITTER_S)
        stop = min(start + length, end - 1.0)
        t = start
        if day == 0:  # session restore: the usual tabs come back
            for index in range(user.target):
                if t + index * 0.5 < stop:
                    user.open_tab(t + index * 0.5)
            t += user.target * 0.5
        per_day = length / MEAN_GAP_S
        while True:
            t += rng.expovariate(1.0 / MEAN_GAP_S)
            if t >= stop:
                break
            user.act(t, per_day)
    return [e for e in user.events if e.t < end]


def generate(*, users: int, days: float, seed: int, open_tabs: int | None = None) -> Trace:
    """A trace of ``users`` users over ``days`` days (deterministic in ``seed``)."""
    per_user = [generate_user(n, days=days, seed=seed, open_tabs=open_tabs) for n in range(users)]
    events = sorted((e for events in per_user for e in events), key=lambda e: (e.t, e.user))
    extra = {"seed": seed, "generator": "minibrowser simulate generate"}
    if open_tabs is not None:
        extra["open_tabs"] = open_tabs
    return Trace(users, days, events, extra)
