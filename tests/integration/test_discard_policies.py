"""Every named discard policy in the real browser: real tabs, the kernel's own
lifecycle loop, and a clock the test moves (``Browser(clock=...)``), so that
hours pass without waiting for them.  Also the memory budget held before a
new renderer starts, and ``about:discards``."""

from __future__ import annotations

import psutil
import pytest

from browser import Browser, BrowserError, TabState

pytestmark = pytest.mark.timeout(60)

H = 3600.0


class Clock:
    """The seconds the policy sees; moved by the test."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def page(title: str) -> bytes:
    return f"<!doctype html><title>{title}</title><h1>{title}</h1><p>Some text.</p>".encode()


async def three_tabs(browser: Browser, clock: Clock, http_server) -> list:
    """Tab 1 opened at 0 s and hidden at 10 s; tab 2 opened at 10 s and revisited six
    times (hidden last at 140 s); tab 3 active from 140 s on."""
    tabs = []
    for number, t in ((1, 0.0), (2, 10.0), (3, 20.0)):
        clock.now = t
        tabs.append(await browser.open(http_server.route(f"/{number}", page(f"Tab {number}"))))
    for k in range(6):
        clock.now = 30.0 + 20 * k
        await tabs[1].activate()
        clock.now = 40.0 + 20 * k
        await tabs[2].activate()
    return tabs


# policy: (the tabs' states after 8 hours, what the policy did: (tab, action, outcome) in order)
EIGHT_HOURS_LATER = {
    "minibrowser": (("discarded", "discarded", "active"), [(1, "discard", "done"), (2, "discard", "done")]),
    # Tab 2 was revisited 6 times: more than the maximum mode's 5, so no timer runs for it.
    "chrome-memory-saver-maximum": (("discarded", "background", "active"), [(1, "discard", "done")]),
    # One page per critical-pressure signal: the one hidden longest.
    "chrome-urgent": (("discarded", "background", "active"), [(1, "discard", "done")]),
    "firefox-unloader": (("discarded", "background", "active"), [(1, "discard", "done")]),
    "edge-sleeping-tabs": (("frozen", "frozen", "active"), [(1, "freeze", "done"), (2, "freeze", "done")]),
    "none": (("background", "background", "active"), []),
}


@pytest.mark.parametrize("policy", list(EIGHT_HOURS_LATER))
async def test_each_policy_acts_in_the_real_browser_on_the_clock_it_is_given(policy, http_server, tmp_path):
    clock = Clock()
    # The pressure policies get a one-byte budget: under pressure from the first tab on.
    budget = 1 if policy in ("chrome-urgent", "firefox-unloader") else None
    async with Browser(discard_policy=policy, memory_budget=budget, clock=clock, profile=tmp_path, spare=False) as browser:
        assert browser.discard_policy.name == policy
        tabs = await three_tabs(browser, clock, http_server)
        assert [tab.revisits for tab in tabs] == [0, 6, 6]
        # Nothing happened while the clock stood at 140 s: every policy waits for its time
        # (the pressure policies protect tabs hidden for less than 10 minutes).
        assert await browser.run_policy() == []
        assert [tab.state.value for tab in tabs] == ["background", "background", "active"]

        clock.now = 140.0 + 8 * H
        records = await browser.run_policy()
        states, actions = EIGHT_HOURS_LATER[policy]
        assert [(r.tab, r.action, r.outcome) for r in records] == [(tabs[n - 1].id, a, o) for n, a, o in actions]
        assert all(r.at == clock.now for r in records)
        assert tuple(tab.state.value for tab in tabs) == states
        assert [tab.discard_count for tab in tabs] == [states[n] == "discarded" for n in range(3)]
        # What is left for the policy: a discarded tab comes back with its page.
        if tabs[0].state is TabState.DISCARDED:
            frame = await tabs[0].activate()
            assert frame.text.splitlines()[:1] == ["Tab 1"]
            assert tabs[0].revisits == 1


async def test_an_auto_discardable_tab_switched_off_is_spared_by_the_policy_but_not_by_an_urgent_discard(
        http_server, tmp_path):
    clock = Clock()
    async with Browser(discard_policy="chrome-memory-saver-maximum", clock=clock, profile=tmp_path) as browser:
        first = await browser.open(http_server.route("/1", page("Tab 1")))
        clock.now = 10.0
        second = await browser.open(http_server.route("/2", page("Tab 2")))
        first.set_auto_discardable(False)
        clock.now = 3 * H
        assert await browser.run_policy() == []
        assert first.state is TabState.BACKGROUND
        assert first.discard_refusal(urgent=False).describe() == (
            "automatic discarding is off for it; an urgent discard still may")
        await first.discard()  # urgent: the user's own
        assert (first.state, first.discard_count, second.state) == (TabState.DISCARDED, 1, TabState.ACTIVE)


async def test_the_budget_is_held_before_a_new_renderer_starts(http_server, tmp_path):
    """With room for no renderer but the newest, every older tab goes before the next renderer
    starts: the zygote never has two tab renderers, and each discard says why."""
    clock = Clock()
    async with Browser(discard_policy="minibrowser", memory_budget=1, clock=clock, profile=tmp_path,
                       spare=False) as browser:
        zygote = psutil.Process(browser.zygote_pid)
        tabs = []
        for number in range(1, 5):
            clock.now = 10.0 * number
            tabs.append(await browser.open(http_server.route(f"/{number}", page(f"Tab {number}"))))
            assert [child.pid for child in zygote.children()] == [tabs[-1].pid]
            assert [tab.state.value for tab in tabs] == ["discarded"] * (number - 1) + ["active"]
        assert [(r.tab, r.action, r.outcome, r.at) for r in browser.decisions] == [
            (tabs[n].id, "discard", "done", 10.0 * (n + 2)) for n in range(3)]
        assert all(r.reason.startswith("making room for a new renderer under the memory budget (") and r.reason.endswith(
            " MB of 0 MB estimated); minibrowser") for r in browser.decisions)


async def test_about_discards_shows_every_tab_as_chrome_discards_does(http_server, tmp_path):
    clock = Clock()
    async with Browser(discard_policy="chrome-memory-saver", memory_budget=512 * 1024**2, clock=clock,
                       profile=tmp_path, spare=False) as browser:
        first = await browser.open(http_server.route("/1", page("Tab 1")))
        clock.now = 60.0
        second = await browser.open(http_server.route("/2", page("Tab 2")))
        second.pin()
        clock.now = 70.0
        await first.activate()
        clock.now = 100.0
        await second.activate()
        await first.discard(reason="test")
        clock.now = 400.0
        third = await browser.open("about:discards")
        assert third.frame.text == "\n".join([
            "Discards",
            "========",
            "",
            "Policy chrome-memory-saver-balanced; memory budget none.",
            "",
            "Tab: 1",
            "Title: Tab 1",
            "State: discarded",
            "Visibility: hidden",
            "Discardable: no: already discarded",
            "Freezable: no: already discarded",
            "Auto-discardable: yes",
            "Discards: 1",
            "Revisits: 1",
            "Last active: 5 min ago",
            "",
            "Tab: 2",
            "Title: Tab 2",
            "State: background",
            "Visibility: hidden",
            "Discardable: no: pinned",
            "Freezable: yes",
            "Auto-discardable: yes",
            "Discards: 0",
            "Revisits: 1",
            "Last active: now",
            "",
            "Tab: 3",
            "Title: about:discards",
            "State: loading",
            "Visibility: visible",
            "Discardable: no: loading",
            "Freezable: no: loading",
            "Auto-discardable: yes",
            "Discards: 0",
            "Revisits: 0",
            "Last active: now",
        ])


def test_an_unknown_policy_or_a_budget_under_a_byte_is_refused_with_one_line():
    with pytest.raises(BrowserError) as unknown:
        Browser(discard_policy="opera")
    assert str(unknown.value) == ("unknown policy 'opera'; the policies are: minibrowser, chrome-memory-saver, "
                                  "chrome-memory-saver-moderate, chrome-memory-saver-balanced, "
                                  "chrome-memory-saver-maximum, chrome-urgent, firefox-unloader, edge-sleeping-tabs, none")
    with pytest.raises(BrowserError) as empty:
        Browser(memory_budget=0)
    assert str(empty.value) == "the memory budget must be a positive number of bytes, not 0"
    browser = Browser(discard_policy="minibrowser", memory_budget=100 * 1024**2)
    assert (browser.discard_policy.name, browser.memory_budget) == ("minibrowser", 100 * 1024**2)
