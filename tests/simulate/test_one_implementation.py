"""Both engines run the broker's own code: the kernel's lifecycle loop and placement.

The model engine asks the policy objects of ``broker.discard_policies`` on a
virtual clock; the real engine plays the trace on a real browser whose
kernel runs the same policy on the trace's clock (``Browser(clock=...)``)
and carries its decisions out itself.  On a small trace where timers
decide, the two give the same decisions at the same trace times, so the
same digest, which is pinned here.
"""

from __future__ import annotations

import asyncio
import hashlib

from broker import process_model
from broker.kernel import BrowserImpl
from browser.simulate.costs import CostModel
from browser.simulate.model import Design, ProcessModel, UserBrowser, run_design
from browser.simulate.real import run_real
from browser.simulate.trace import Event, SizeClass, Trace, UserAction

H = 3600.0
GIB = 1024**3
POLICIES = ("minibrowser", "chrome-memory-saver-maximum", "edge-sleeping-tabs")
#: The decisions of POLICIES on ``revisited_trace()``, per-tab, as both engines make them.
PINNED_DIGEST = "119f49f926e10142991d88c8dd6c3b87760abcae333cc87d51b673f2047e3dfd"


def revisited_trace() -> Trace:
    """Four tabs; tabs 2 and 4 revisited six times each (more than Memory Saver's maximum mode allows),
    tabs 1 and 3 hidden for hours; then tab 1 comes back and tab 3 navigates.  Whole seconds, so that
    no deadline is a rounding error away from its threshold."""
    def opened(t, tab, site, size):
        return Event(t, 0, tab, UserAction.OPEN, f"http://{site}/{tab}", size)
    events = [opened(0, 1, "a.test", SizeClass.SMALL), opened(10, 2, "b.test", SizeClass.MEDIUM),
              opened(20, 3, "c.test", SizeClass.SMALL), opened(30, 4, "a.test", SizeClass.SMALL)]
    for k in range(6):
        events += [Event(60 + 20 * k, 0, 2, UserAction.SWITCH), Event(70 + 20 * k, 0, 4, UserAction.SWITCH)]
    events += [Event(2.5 * H, 0, 1, UserAction.SWITCH), Event(2.6 * H, 0, 3, UserAction.NAVIGATE, "http://d.test/5", SizeClass.SMALL)]
    return Trace(1, 3 * H / 86400, events)


def decision_lines(run) -> list[str]:
    lines = []
    for policy in POLICIES:
        result = run(Design(policy, ProcessModel.PER_TAB, GIB))
        lines.append(f"{result.design} discards={result.discards} freezes={result.freezes} restores={result.restores}")
        for user, decisions in sorted(result.decisions.items()):
            lines.extend(f"  user {user} t={t:.3f} tab {tab} {action}" for t, tab, action in decisions)
    return lines


def digest(lines: list[str]) -> str:
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def test_both_engines_make_the_same_decisions_at_the_same_times():
    trace = revisited_trace()
    model = decision_lines(lambda design: run_design(trace, design, CostModel(), record_decisions=True))
    real = decision_lines(lambda design: asyncio.run(run_real(trace, design, speed=50_000, record_decisions=True)))
    print("\n".join(model))
    assert real == model
    assert digest(model) == PINNED_DIGEST
    # Memory Saver's revisit rule spared the revisited tabs 2 and 4; tab 3, navigated while
    # discarded, was hidden long enough to go again at once.
    saver = model.index("chrome-memory-saver-maximum / per-tab discards=3 freezes=0 restores=1")
    assert model[saver + 1:saver + 4] == ["  user 0 t=7210.000 tab 1 discard", "  user 0 t=7230.000 tab 3 discard",
                                          "  user 0 t=9360.000 tab 3 discard"]


def test_each_engine_places_documents_with_the_brokers_function():
    assert UserBrowser.place is process_model.place
    assert BrowserImpl.place is process_model.place
    # Behaviour: two tabs of one site over a process limit of one share a renderer under site-per-process
    # (and not under per-tab), as the broker's placement says.
    events = [Event(0, 0, 1, UserAction.OPEN, "http://a.test/1", SizeClass.SMALL),
              Event(10, 0, 2, UserAction.OPEN, "http://a.test/2", SizeClass.SMALL)]
    trace = Trace(1, 60 / 86400, events)
    shared = run_design(trace, Design("none", ProcessModel.SITE_PER_PROCESS, GIB), CostModel(process_limit=1))
    apart = run_design(trace, Design("none", ProcessModel.PER_TAB, GIB), CostModel(process_limit=1))
    assert (shared.peak_processes, apart.peak_processes) == (1, 2)
