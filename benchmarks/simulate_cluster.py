"""The model engine on a Dask cluster against the local process pool.

    python benchmarks/simulate_cluster.py [--users 10000] [--days 1]

Every design (each distinct policy under each process model) on USERS
generated users x DAYS day(s), run twice on this machine:

* the baseline, measured in the same run: the local pool (``run_designs``,
  one worker process per core);
* a local Dask cluster of 2 worker processes, 1 thread each
  (``run_designs_on_cluster`` through a ``distributed.LocalCluster``).

Then the same on a fifth of the users with 1 and with 2 Dask workers, to
show how the cluster scales with workers.  Where the time goes comes from
Dask's task stream (each task's compute, transfer and deserialisation
time), the phases of ``run_designs_on_cluster`` (sending the trace, the
tasks, combining), and the pickled sizes of the trace and of the results.

Targets: the cluster's figures are identical to the local run's (the same
``results_digest``), and 2 Dask workers take at most 1.25 x the local pool's
time on the same 2 cores (the price of the scheduler and serialisation).
"""

from __future__ import annotations

import argparse
import os
import pickle
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from broker.discard_policies import DISTINCT_POLICY_NAMES  # noqa: E402
from browser.simulate.cluster import run_designs_on_cluster  # noqa: E402
from browser.simulate.costs import CostModel  # noqa: E402
from browser.simulate.generate import generate  # noqa: E402
from browser.simulate.model import Design, ProcessModel, run_designs  # noqa: E402
from browser.simulate.results import results_digest  # noqa: E402

GIB = 1024**3
MB = 1024**2
TARGET_RATIO = 1.25


def timed(action):
    started = time.perf_counter()
    value = action()
    return value, time.perf_counter() - started


def on_cluster(trace, designs, costs, workers: int):
    """Run on a fresh local cluster of ``workers`` processes; the results, wall time, phases and task stream."""
    import logging

    from distributed import Client, LocalCluster, get_task_stream

    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                      host="127.0.0.1", silence_logs=logging.CRITICAL) as cluster, Client(cluster) as client:
        timings: dict[str, float] = {}
        with get_task_stream(client=client) as stream:
            results, wall = timed(lambda: run_designs_on_cluster(trace, designs, costs, cluster.scheduler_address,
                                                                  client=client, timings=timings))
        return results, wall, timings, stream.data


def stream_totals(tasks: list[dict]) -> dict[str, float]:
    """Seconds per action (compute, transfer, deserialize...) over every task, and the number computed."""
    totals: dict[str, float] = {"computed": 0.0}
    for task in tasks:
        totals["computed"] += any(part["action"] == "compute" for part in task.get("startstops", ()))
        for part in task.get("startstops", ()):
            totals[part["action"]] = totals.get(part["action"], 0.0) + part["stop"] - part["start"]
    return totals


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=1)
    args = parser.parse_args()
    costs = CostModel(process_limit=6)  # fixed, so that every machine runs the same decisions
    designs = [Design(p, m, GIB) for p in DISTINCT_POLICY_NAMES for m in ProcessModel]
    trace, generate_s = timed(lambda: generate(users=args.users, days=args.days, seed=1))
    print(f"{args.users:,} users x {args.days} day(s): {len(trace.events):,} events, generated in {generate_s:.1f} s; "
          f"{len(designs)} designs; {os.cpu_count()} cores")

    local, local_s = timed(lambda: run_designs(trace, designs, costs))
    print(f"local pool ({os.cpu_count()} processes): {local_s:.1f} s "
          f"({1000 * local_s / (args.users * len(designs)):.2f} ms per user-design)")

    remote, remote_s, phases, tasks = on_cluster(trace, designs, costs, 2)
    totals = stream_totals(tasks)
    same = results_digest(remote) == results_digest(local)
    ratio = remote_s / local_s
    print(f"Dask, 2 workers: {remote_s:.1f} s = {ratio:.2f} x the local pool; {phases['tasks']:.0f} tasks")
    print(f"  digest {results_digest(remote)[:16]}... {'identical to' if same else 'DIFFERENT from'} the local run's")
    print(f"  phases: sending the trace {phases['scatter_s']:.2f} s, tasks {phases['tasks_s']:.1f} s, "
          f"combining {phases['combine_s']:.2f} s")
    compute = totals.get("compute", 0.0)
    print(f"  task stream: compute {compute:.1f} s over 2 workers ({100 * compute / (2 * phases['tasks_s']):.0f}% "
          f"of their time), transfer {totals.get('transfer', 0.0):.2f} s, "
          f"deserialise {totals.get('deserialize', 0.0):.2f} s; "
          f"mean task {compute / max(1.0, totals['computed']):.1f} s")
    (_, pickled_trace_s) = timed(lambda: pickle.dumps(trace.by_user(), protocol=pickle.HIGHEST_PROTOCOL))
    trace_bytes = len(pickle.dumps(trace.by_user(), protocol=pickle.HIGHEST_PROTOCOL))
    result_bytes = len(pickle.dumps(remote, protocol=pickle.HIGHEST_PROTOCOL))
    print(f"  serialised: the trace {trace_bytes / MB:.1f} MB (pickled in {pickled_trace_s:.2f} s), "
          f"the combined results {result_bytes / MB:.1f} MB")
    print(f"  the rest (scheduler, results back, waiting): "
          f"{max(0.0, phases['tasks_s'] - compute / 2):.1f} s of the {phases['tasks_s']:.1f} s of tasks")

    small = generate(users=max(1, args.users // 5), days=args.days, seed=1)
    _, one_s, _, _ = on_cluster(small, designs, costs, 1)
    _, two_s, _, _ = on_cluster(small, designs, costs, 2)
    print(f"scaling, {small.users:,} users: 1 Dask worker {one_s:.1f} s, 2 workers {two_s:.1f} s: "
          f"speed-up {one_s / two_s:.2f} x on {os.cpu_count()} cores")
    print(f"identical figures: {'met' if same else 'NOT met'}; "
          f"2 workers within {TARGET_RATIO} x the local pool: {'met' if ratio <= TARGET_RATIO else 'NOT met'} "
          f"({ratio:.2f} x)")


if __name__ == "__main__":
    main()
