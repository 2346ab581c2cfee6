"""The model engine's decisions, pinned: every design on seeded traces gives the same decisions.

The digest covers, for every distinct policy under every process model, each
decision (user, trace time to the millisecond, tab, freeze or discard) and
the counts that follow from them (discards, freezes, restores,
activations, peak renderer memory and processes).  It was taken before the
engine was made incremental; a change to the engine that changes any
decision changes the digest.  A deliberate change to a policy updates the
digest in the same commit, with the reason.

Changed once: a timer deadline that fell a rounding error short of its
threshold used to be dropped until the next event (104 decision lines came
hours late); see ``test_a_deadline_a_rounding_error_short_still_discards_on_time``.

Changed twice: the model engine places documents with the broker's own
``broker.process_model.place`` instead of a copy of it.  The copy, over the
process limit under site-per-process, put a document in the first renderer
of its site it found; the broker's placement picks the one with the fewest
tabs.  Only the heavy user's ``minibrowser / site-per-process`` decisions
moved (88 freezes became 86; discards 80 either way).

Changed a third time: before a renderer is spawned, the policy makes room
for it under its budget (``DiscardPolicy.make_room``, at the cost model's
estimate of the renderer), as the kernel does.  Only the heavy user over
its 256 MB budget moved: ``minibrowser`` discards before it spawns instead
of after (its peak, per-tab, went from 297.7 MB to 268.1 MB, under the
budget), and ``firefox-unloader`` under the site models discards one or two
tabs more.
"""

from __future__ import annotations

import hashlib

from broker.discard_policies import DISTINCT_POLICY_NAMES
from browser.simulate.costs import CostModel
from browser.simulate.generate import generate
from browser.simulate.model import Design, ProcessModel, run_design

MIB = 1024**2
COSTS = CostModel(process_limit=6)  # a fixed limit: the machine's own would make the digest depend on its memory

# Several users with the generator's own tab counts, and one heavy user over a small budget (pressure policies act).
CASES = (
    (dict(users=3, days=2, seed=2024), 512 * MIB),
    (dict(users=1, days=1, seed=7, open_tabs=60), 256 * MIB),
)
PINNED_DIGEST = "2175384e243be96a90081f003604c232e647df0d49f163d2ccc13179986f72ab"


def decision_lines() -> list[str]:
    lines = []
    for generated, budget in CASES:
        trace = generate(**generated)
        for policy in DISTINCT_POLICY_NAMES:
            for model in ProcessModel:
                result = run_design(trace, Design(policy, model, budget), COSTS, record_decisions=True)
                lines.append(f"{result.design} budget={budget} discards={result.discards} freezes={result.freezes} "
                             f"restores={result.restores} activations={result.activations} "
                             f"peak={result.peak_memory_bytes} processes={result.peak_processes}")
                for user, decisions in sorted(result.decisions.items()):
                    lines.extend(f"  user {user} t={t:.3f} tab {tab} {action}" for t, tab, action in decisions)
    return lines


def test_every_design_decides_as_pinned_on_seeded_traces():
    lines = decision_lines()
    assert sum(line.startswith("  ") for line in lines) > 1000  # the traces make every kind of policy act
    digest = hashlib.sha256("\n".join(lines).encode()).hexdigest()
    assert digest == PINNED_DIGEST, "the model engine's decisions changed:\n" + "\n".join(lines[:40])


def test_users_split_between_workers_give_the_results_of_one_process():
    """With fewer designs than workers, a design's users are run in batches on several workers."""
    from browser.simulate.model import run_designs

    trace = generate(users=5, days=1, seed=3)
    designs = [Design("minibrowser", ProcessModel.PER_TAB, 256 * MIB)]
    alone = [run_design(trace, design, COSTS).summary() for design in designs]
    assert [result.summary() for result in run_designs(trace, designs, COSTS, workers=2)] == alone
    assert alone[0]["discards"] > 0
