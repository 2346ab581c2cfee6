"""The lifecycle policy as pure decisions: who may go, who goes first, and why."""

from __future__ import annotations

import pytest

from broker.lifecycle import (
    Action,
    CrashHistory,
    DiscardRefusal,
    LifecyclePolicy,
    TabFacts,
    decide,
    discard_refusal,
    freeze_refusal,
    least_recently_used,
)

MB = 1024**2


def tab(id, state="background", **facts) -> TabFacts:
    return TabFacts(id=id, state=state, **facts)


@pytest.mark.parametrize(
    ("facts", "reason"),
    [
        (tab(1, "active", active=True), DiscardRefusal.ACTIVE_TAB),
        (tab(1, pinned=True), DiscardRefusal.PINNED),
        (tab(1, kept=True), DiscardRefusal.KEPT),
        (tab(1, "loading"), DiscardRefusal.LOADING),
        (tab(1, "discarded"), DiscardRefusal.ALREADY_DISCARDED),
        (tab(1, "crashed"), DiscardRefusal.CRASHED),
        (tab(1, "unresponsive"), DiscardRefusal.UNRESPONSIVE),
        (tab(1, has_document=False), DiscardRefusal.NO_DOCUMENT),
        (tab(1), None),
        (tab(1, "frozen"), None),  # as in Chrome, a frozen tab may be discarded
    ],
)
def test_discard_refusals_are_named(facts, reason):
    assert discard_refusal(facts) is reason
    if reason is not None:
        assert reason.describe()  # a sentence for the UI, never a bare no


def test_freeze_refusals():
    assert freeze_refusal(tab(1, "frozen")) is DiscardRefusal.ALREADY_FROZEN
    assert freeze_refusal(tab(1, "active", active=True)) is DiscardRefusal.ACTIVE_TAB
    assert freeze_refusal(tab(1, kept=True)) is DiscardRefusal.KEPT
    assert freeze_refusal(tab(1, "loading")) is DiscardRefusal.LOADING
    assert freeze_refusal(tab(1, "unresponsive")) is None  # stop a hung tab burning CPU
    assert freeze_refusal(tab(1, pinned=True)) is None
    assert freeze_refusal(tab(1, pinned=True), pinned_may_freeze=False) is DiscardRefusal.PINNED


def test_idle_background_tabs_are_frozen_then_discarded():
    policy = LifecyclePolicy(freeze_after_s=10, discard_after_s=100, memory_budget_bytes=None)
    decisions = decide(
        [
            tab(1, idle_s=5),
            tab(2, idle_s=20),
            tab(3, "frozen", idle_s=150),
            tab(4, "active", active=True),
            tab(5, idle_s=500, pinned=True),
            tab(6, idle_s=500, kept=True),
            tab(7, "loading", idle_s=500),
            tab(8, idle_s=500, busy=True),
        ],
        policy,
    )
    assert [(d.tab, d.action) for d in decisions] == [(2, Action.FREEZE), (3, Action.DISCARD)]
    assert all("background for" in d.reason for d in decisions)


def test_memory_budget_discards_least_recently_used_until_under():
    policy = LifecyclePolicy(freeze_after_s=None, discard_after_s=None, memory_budget_bytes=100 * MB)
    tabs = [
        tab(1, "active", active=True, uss=50 * MB),
        tab(2, idle_s=30, uss=30 * MB),
        tab(3, idle_s=300, uss=20 * MB),  # least recently used
        tab(4, idle_s=200, uss=20 * MB, pinned=True),  # protected
        tab(5, idle_s=100, uss=10 * MB),
    ]
    decisions = decide(tabs, policy)
    # 130 MB: tab 3 (-20) -> 110, tab 5 (-10) -> 100, which is under.
    assert [d.tab for d in decisions] == [3, 5]
    assert all(d.action is Action.DISCARD and "memory budget" in d.reason for d in decisions)


def test_under_the_budget_nothing_happens():
    policy = LifecyclePolicy(freeze_after_s=None, discard_after_s=None, memory_budget_bytes=100 * MB)
    assert decide([tab(1, uss=60 * MB), tab(2, idle_s=99, uss=30 * MB)], policy) == []


def test_tabs_being_discarded_do_not_count_twice():
    policy = LifecyclePolicy(freeze_after_s=None, discard_after_s=None, memory_budget_bytes=100 * MB)
    # Tab 2 is on its way out (uss None): 90 MB left, no further discard.
    assert decide([tab(1, "active", active=True, uss=90 * MB), tab(2, busy=True), tab(3, idle_s=5, uss=0)], policy) == []


def test_least_recently_used_order():
    assert least_recently_used([tab(1, idle_s=1), tab(2, idle_s=9), tab(3, idle_s=5)]) == [2, 3, 1]


def test_three_crashes_within_ten_seconds_stop_automatic_restarts():
    history = CrashHistory(limit=3, window_s=10)
    history.record(0)
    history.record(4)
    assert not history.looping(4)
    history.record(9)
    assert history.looping(9)
    assert not history.looping(30)  # long after, a crash is a crash again
    spread = CrashHistory(limit=3, window_s=10)
    for t in (0, 6, 12):
        spread.record(t)
    assert not spread.looping(12)
    assert "3 times within 10 s" in history.describe()


def test_policy_defaults_and_limits():
    policy = LifecyclePolicy()
    assert policy.freeze_after_s < policy.discard_after_s
    assert policy.heartbeat_timeout_s == 5.0
    assert LifecyclePolicy(sample_interval_s=0.1).sample_interval_s == 1.0  # never more than once a second
    manual = LifecyclePolicy.manual()
    assert decide([tab(1, idle_s=1e9, uss=10**12)], manual) == []
