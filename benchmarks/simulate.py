"""The model engine's speed: one heavy user for a week, and 1,000 users for a day.

    python benchmarks/simulate.py

Targets (issue 11): 7 days of one heavy user (50 tabs open on average) in at
most 5 s; 1,000 users x 1 day across all designs (every distinct policy
under every process model) in at most 60 s.  The baseline, measured in the
same run, is the time to read the trace back from its file.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from broker.discard_policies import DISTINCT_POLICY_NAMES  # noqa: E402
from browser.simulate.costs import CostModel  # noqa: E402
from browser.simulate.generate import generate  # noqa: E402
from browser.simulate.model import Design, ProcessModel, run_design, run_designs  # noqa: E402
from browser.simulate.trace import read_trace, write_trace  # noqa: E402

GIB = 1024**3


def timed(action):
    started = time.perf_counter()
    value = action()
    return value, time.perf_counter() - started


def verdict(seconds: float, target: float) -> str:
    return "met" if seconds <= target else "NOT met"


def main() -> None:
    costs = CostModel()
    designs = [Design(p, m, GIB) for p in DISTINCT_POLICY_NAMES for m in ProcessModel]
    with tempfile.TemporaryDirectory() as scratch:
        heavy_path = os.path.join(scratch, "heavy.jsonl")
        write_trace(generate(users=1, days=7, seed=1, open_tabs=50), heavy_path)
        heavy, read_s = timed(lambda: read_trace(heavy_path))
        one, one_s = timed(lambda: run_design(heavy, Design("minibrowser", ProcessModel.PER_TAB, GIB), costs))
        _, all_heavy_s = timed(lambda: run_designs(heavy, designs, costs))
        print(f"heavy user, 7 days: {len(heavy.events)} events; reading the trace {read_s:.2f} s")
        print(f"  one design (minibrowser / per-tab): {one_s:.2f} s ({one_s / max(read_s, 1e-9):.1f}x reading); "
              f"target <= 5 s: {verdict(one_s, 5)}")
        print(f"  all {len(designs)} designs: {all_heavy_s:.2f} s; target <= 5 s: {verdict(all_heavy_s, 5)}")

        many_path = os.path.join(scratch, "many.jsonl")
        write_trace(generate(users=1000, days=1, seed=2), many_path)
        many, read_many_s = timed(lambda: read_trace(many_path))
        _, all_many_s = timed(lambda: run_designs(many, designs, costs))
        print(f"1,000 users x 1 day: {len(many.events)} events; reading the trace {read_many_s:.2f} s")
        print(f"  all {len(designs)} designs on {os.cpu_count()} cores: {all_many_s:.1f} s "
              f"({all_many_s / max(read_many_s, 1e-9):.1f}x reading); target <= 60 s: {verdict(all_many_s, 60)}")


if __name__ == "__main__":
    main()
