"""Designs x users on a Dask distributed cluster (``simulate run ... --cluster tcp://HOST:PORT``).

The optional extra ``minibrowser[cluster]`` installs Dask.  The trace's
users are cut into batches that are sent to the workers once
(``Client.scatter``); each task runs one design on one batch with the same
function as a local run (``model.simulate_user``), and the results come
back here, where they are combined in the users' order exactly as a local
run combines them: the figures, and so ``results.results_digest``, are the
same as ``run_designs``'.  Every worker must have minibrowser installed (the
same version), as every worker imports ``browser.simulate`` to run a task.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from browser.simulate.costs import CostModel
from browser.simulate.model import Design, combine_design, simulate_users, time_grid
from browser.simulate.results import DesignResult, UserResult
from browser.simulate.trace import Event, Trace

TASKS_PER_THREAD = 4  # enough tasks to keep every worker thread busy to the end, few enough to keep overhead low
CONNECT_TIMEOUT_S = 5


class ClusterError(RuntimeError):
    """The cluster cannot be used; ``str()`` is one line for a person."""


def _batch_task(batch: list[tuple[int, list[Event]]], design: Design, costs: CostModel, duration: float,
                grid: list[float], record_decisions: bool) -> tuple[list[UserResult], dict]:
    """One task on a worker: one design on one batch of users."""
    return simulate_users(batch, design, costs, duration=duration, grid=grid, record_decisions=record_decisions)


def check_address(address: str) -> None:
    """``tcp://HOST:PORT`` or :class:`ClusterError` (before any connection is tried)."""
    host, colon, port = address.removeprefix("tcp://").rpartition(":")
    if not address.startswith("tcp://") or not colon or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ClusterError(f"--cluster needs a scheduler address such as tcp://127.0.0.1:8786, not {address!r}")


def connect(address: str):
    """A Dask client for the scheduler at ``address`` (``tcp://HOST:PORT``)."""
    check_address(address)
    try:
        from distributed import Client
    except ImportError:
        raise ClusterError("--cluster needs Dask: pip install 'minibrowser[cluster]'") from None
    try:
        return Client(address, timeout=CONNECT_TIMEOUT_S, set_as_default=False)
    except (OSError, TimeoutError) as error:
        raise ClusterError(f"no Dask scheduler answers at {address} ({error.__class__.__name__}); "
                           f"start one with 'dask scheduler' and its workers with 'dask worker {address}'") from None


def run_designs_on_cluster(trace: Trace, designs: Sequence[Design], costs: CostModel, address: str, *,
                           progress: Callable[[int, int], None] | None = None, record_decisions: bool = False,
                           batch_users: int | None = None, client=None,
                           timings: dict[str, float] | None = None) -> list[DesignResult]:
    """Every design on ``trace`` on the cluster at ``address``; results in the designs' order,
    equal to ``run_designs``' (and, with ``record_decisions``, to ``run_design``'s decisions).

    ``client``: an open client to use instead of connecting; ``timings``: filled with the seconds
    spent sending the trace (``scatter_s``), running the tasks (``tasks_s``) and combining here
    (``combine_s``), and the number of tasks (``tasks``)."""
    own = client is None
    client = client or connect(address)
    try:
        return _run(client, trace, designs, costs, progress, record_decisions, batch_users,
                    {} if timings is None else timings)
    finally:
        if own:
            client.close()


def _run(client, trace, designs, costs, progress, record_decisions, batch_users, timings) -> list[DesignResult]:
    import time

    from distributed import as_completed

    threads = sum(client.nthreads().values())
    if threads == 0:
        raise ClusterError("the Dask scheduler has no workers; start some with 'dask worker ADDRESS'")
    if batch_users is None:
        batches_per_design = max(1, math.ceil(TASKS_PER_THREAD * threads / max(1, len(designs))))
        batch_users = max(1, math.ceil(trace.users / batches_per_design))
    per_user = list(enumerate(trace.by_user()))
    batches = [per_user[first:first + batch_users] for first in range(0, trace.users, batch_users)]
    grid = time_grid(trace.duration_s)
    started = time.perf_counter()
    shared = client.scatter(batches, hash=False)  # unique keys: a key released by an earlier run cannot be lost to this one
    costs_shared = client.scatter(costs, broadcast=True, hash=False)
    timings["scatter_s"] = time.perf_counter() - started
    started = time.perf_counter()
    futures = {}
    for d_index, design in enumerate(designs):
        for b_index, batch in enumerate(shared):
            future = client.submit(_batch_task, batch, design, costs_shared, trace.duration_s, grid, record_decisions,
                                   pure=False)
            futures[future] = (d_index, b_index)
    answers: dict[tuple[int, int], tuple[list[UserResult], dict]] = {}
    try:
        for done, future in enumerate(as_completed(list(futures), loop=client.loop), start=1):
            answers[futures[future]] = future.result()
            if progress:
                progress(done, len(futures))
    except (OSError, TimeoutError) as error:
        raise ClusterError(f"the Dask cluster failed during the run ({error.__class__.__name__}: {error})") from None
    timings["tasks_s"] = time.perf_counter() - started
    timings["tasks"] = len(futures)
    started = time.perf_counter()
    results = []
    for d_index, design in enumerate(designs):
        users, decisions = [], {}
        for b_index in range(len(batches)):
            batch_users_results, batch_decisions = answers[(d_index, b_index)]
            users.extend(batch_users_results)
            decisions.update(batch_decisions)
        result = combine_design(design, users, grid)
        result.decisions = decisions if record_decisions else None
        results.append(result)
    timings["combine_s"] = time.perf_counter() - started
    return results
