"""Each named policy's decisions on hand-made traces, on the model engine's virtual clock."""

from __future__ import annotations

import pytest

from broker.discard_policies import UnknownPolicy, make_policy
from broker.lifecycle import TabFacts
from browser.simulate.costs import CostModel
from browser.simulate.model import Design, ProcessModel, simulate_user, time_grid
from browser.simulate.trace import Event, SizeClass, UserAction

H = 3600.0
MB = 1024**2
COSTS = CostModel(renderer_base_bytes=10 * MB, page_bytes={"small": 10 * MB, "medium": 30 * MB, "large": 90 * MB},
                  process_limit=50)


def opened(t, tab, site="a.test", size=SizeClass.SMALL):
    return Event(t, 0, tab, UserAction.OPEN, f"http://{site}/{tab}", size)


def switch(t, tab):
    return Event(t, 0, tab, UserAction.SWITCH)


def decisions(events, policy, *, end=24 * H, budget=1024 * MB, model=ProcessModel.PER_TAB):
    browser = simulate_user(events, Design(policy, model, budget), COSTS, end=end, grid=time_grid(end, 10),
                            record_decisions=True)
    return browser.decisions, browser


def test_moderate_memory_saver_discards_at_exactly_six_hours_hidden():
    events = [opened(0, 1), opened(10, 2), switch(100, 1)]  # tab 2 hidden from 100 s
    log, _ = decisions(events, "chrome-memory-saver-moderate")
    assert log == [(100 + 6 * H, 2, "discard")]
    log, _ = decisions(events, "chrome-memory-saver-balanced")
    assert log == [(100 + 4 * H, 2, "discard")]
    log, _ = decisions(events, "chrome-memory-saver-maximum")
    assert log == [(100 + 2 * H, 2, "discard")]


def test_memory_saver_never_discards_a_tab_revisited_more_than_its_limit():
    """Maximum mode allows 5 revisits: tab 2, revisited 6 times, is never discarded; tab 3 (5) is."""
    events = [opened(0, 1), opened(1, 2), opened(2, 3)]
    t = 10.0
    for _ in range(6):
        events += [switch(t, 2), switch(t + 1, 1)]
        t += 10
    for _ in range(5):
        events += [switch(t, 3), switch(t + 1, 1)]
        t += 10
    log, _ = decisions(events, "chrome-memory-saver-maximum")
    assert log == [(t - 10 + 1 + 2 * H, 3, "discard")]
    log, _ = decisions(events, "chrome-memory-saver-moderate")  # limit 15: both go
    assert sorted(tab for _, tab, _ in log) == [2, 3]


def test_minibrowser_freezes_after_five_minutes_and_discards_after_an_hour():
    log, _ = decisions([opened(0, 1), opened(10, 2)], "minibrowser")
    assert log == [(10 + 300, 1, "freeze"), (10 + 3600, 1, "discard")]


def test_edge_sleeping_tabs_freezes_after_two_hours_and_never_discards():
    log, _ = decisions([opened(0, 1), opened(10, 2), opened(20, 3)], "edge-sleeping-tabs")
    assert log == [(10 + 2 * H, 1, "freeze"), (20 + 2 * H, 2, "freeze")]  # hidden at 10 and 20 s


def test_none_does_nothing():
    log, browser = decisions([opened(0, n) for n in range(1, 30)], "none", budget=100 * MB)
    assert log == [] and browser.memory == 29 * 20 * MB


def test_chrome_urgent_discards_one_tab_per_signal_and_protects_recently_hidden_tabs():
    """Budget 100 MB; four tabs of 20 MB each (80), then a large tab (100): 180 MB.
    Signals every 5 s; tabs hidden less than 10 min are protected."""
    events = [opened(0, 1), opened(1, 2), opened(2, 3), opened(3, 4), opened(700, 5, size=SizeClass.LARGE)]
    log, browser = decisions(events, "chrome-urgent", budget=100 * MB, end=2 * H)
    # Tabs 1-3 were hidden at 1, 2 and 3 s, tab 4 at 700 s.  Before the large tab's renderer starts, the
    # policy makes room for it (80 MB + its 100 MB estimate): the tabs hidden over 10 minutes go, oldest
    # first, at 700 s; tab 4 is protected until it has been hidden 10 minutes (1300 s, a signal time), and
    # then goes on that memory-pressure signal.
    assert log == [(700.0, 1, "discard"), (700.0, 2, "discard"), (700.0, 3, "discard"), (1300.0, 4, "discard")]
    assert browser.memory == 100 * MB  # the large active tab alone: at the budget, not over it


def test_firefox_unloader_skips_fresh_tabs_and_unloads_least_recently_used_first():
    """Budget 50 MB, signals every 10 s, tabs accessed in the last 10 minutes skipped: over budget from
    2 s (60 MB), tab 1 (hidden at 1 s) goes at 610 s (40 MB left).  Before the large tab 4's renderer
    starts at 900 s, the policy makes room for it: tab 2 goes then (tab 3, hidden at 900 s, is fresh);
    tabs 3 and 4, hidden at 900 and 901 s, go on the signals at 1500 and 1510 s."""
    events = [opened(0, 1), opened(1, 2), opened(2, 3), opened(900, 4, size=SizeClass.LARGE), opened(901, 5)]
    log, _ = decisions(events, "firefox-unloader", budget=50 * MB, end=H)
    assert log == [(610.0, 1, "discard"), (900.0, 2, "discard"), (1500.0, 3, "discard"), (1510.0, 4, "discard")]


def test_firefox_reweights_by_processes_and_memory_beyond_the_ten_most_recent():
    """With more than ten candidates, the older ones are re-weighted (adjustForResourceUse): tab 3, with a
    process of its own and the most memory, goes before tabs 1 and 2, older but sharing one process."""
    policy = make_policy("firefox-unloader", budget_bytes=1)
    tabs = [TabFacts(id=n, state="background", idle_s=10_000 - n, uss=(100 if n == 3 else 1) * MB,
                     renderer=99 if n in (1, 2) else n) for n in range(1, 16)]
    assert policy.choose(tabs).id == 3
    assert policy.choose(tabs[:10]).id == 1  # ten or fewer: least recently used first


def test_shared_renderers_under_other_process_models():
    events = [opened(0, 1, "a.test"), opened(1, 2, "a.test"), opened(2, 3, "b.test")]
    for model, processes in ((ProcessModel.PER_TAB, 3), (ProcessModel.SITE_PER_PROCESS, 3),
                             (ProcessModel.PROCESS_PER_SITE, 2), (ProcessModel.SINGLE, 1)):
        _, browser = decisions(events, "none", model=model, end=10)
        assert len(browser.renderers) == processes
        assert browser.memory == processes * 10 * MB + 3 * 10 * MB


def test_unknown_policy_is_named():
    with pytest.raises(UnknownPolicy) as caught:
        make_policy("opera")
    assert str(caught.value).startswith("unknown policy 'opera'; the policies are: minibrowser, chrome-memory-saver,")


def test_a_deadline_a_rounding_error_short_still_discards_on_time():
    """Tab 1 is hidden at 56745.892 s; asked at 73918.222 s, the policy's deadline (now + 6 h - idle) comes out
    a rounding error before 6 h of hidden time, so at it the tab is not yet due: it must still go then, not
    at the next event, 12 hours later."""
    events = [opened(0, 1), opened(56745.892, 2), Event(73918.222, 0, 2, UserAction.INPUT), switch(120000.0, 1)]
    log, _ = decisions(events, "chrome-memory-saver-moderate", end=36 * H)
    assert [(f"{t:.3f}", tab, action) for t, tab, action in log] == [("78345.892", 1, "discard")]
