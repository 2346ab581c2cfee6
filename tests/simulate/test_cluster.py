"""Designs x users on a real Dask cluster: a ``dask scheduler`` and two ``dask worker``
processes on 127.0.0.1, started here; the results are those of a local run, digest for digest."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

from browser.simulate.cluster import connect, run_designs_on_cluster
from browser.simulate.costs import CostModel
from browser.simulate.generate import generate
from browser.simulate.model import Design, ProcessModel, run_design, run_designs
from browser.simulate.results import results_digest
from tests.support.waiting import wait_for

MIB = 1024**2


async def _wait_or_show_log(condition, what: str, log_path) -> None:
    """Wait up to a minute; if it does not come, fail with the cluster's log."""
    try:
        await wait_for(condition, timeout=60, what=what)
    except AssertionError as late:
        raise AssertionError(f"{late}\n{log_path.read_text(errors='replace')}") from None


COSTS = CostModel(process_limit=6)
DASK = os.path.join(os.path.dirname(sys.executable), "dask")


def _start(args: list[str], log) -> subprocess.Popen:
    return subprocess.Popen([DASK, *args], stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest.fixture
async def cluster(tmp_path):
    """The scheduler's address, with two single-threaded workers connected."""
    scheduler_file = tmp_path / "scheduler.json"
    log = open(tmp_path / "dask.log", "wb")
    processes = [_start(["scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                         "--scheduler-file", str(scheduler_file)], log)]
    try:
        await _wait_or_show_log(lambda: scheduler_file.exists() and scheduler_file.stat().st_size > 0,
                                "the scheduler's file", tmp_path / "dask.log")
        address = json.loads(scheduler_file.read_text())["address"]
        for name in ("w1", "w2"):
            processes.append(_start(["worker", address, "--name", name, "--nthreads", "1", "--no-nanny",
                                     "--no-dashboard", "--host", "127.0.0.1",
                                     "--local-directory", str(tmp_path / name)], log))
        client = connect(address)
        try:
            await _wait_or_show_log(lambda: len(client.scheduler_info()["workers"]) == 2, "two workers",
                                    tmp_path / "dask.log")
            yield address, client
        finally:
            client.close()
    finally:
        for process in reversed(processes):
            _stop(process)
        log.close()


def _designs() -> list[Design]:
    return [Design(policy, model, 256 * MIB)
            for policy in ("minibrowser", "chrome-urgent", "chrome-memory-saver-maximum", "none")
            for model in (ProcessModel.PER_TAB, ProcessModel.SITE_PER_PROCESS)]


async def test_a_cluster_run_gives_the_local_runs_figures_and_decisions(cluster):
    address, client = cluster
    trace = generate(users=6, days=1, seed=11)
    designs = _designs()
    local = run_designs(trace, designs, COSTS, workers=1)
    remote = run_designs_on_cluster(trace, designs, COSTS, address, client=client, batch_users=2)
    assert [r.summary() for r in remote] == [r.summary() for r in local]
    assert results_digest(remote) == results_digest(local)
    assert sum(r.discards for r in local) > 0  # the policies acted: the comparison means something
    # Every decision (user, time, tab, action) too, against the one-process engine.
    decided = run_designs_on_cluster(trace, designs[:2], COSTS, address, client=client, batch_users=4,
                                     record_decisions=True)
    alone = [run_design(trace, design, COSTS, record_decisions=True) for design in designs[:2]]
    assert [r.decisions for r in decided] == [r.decisions for r in alone]
    assert results_digest(decided) == results_digest(alone)
    # Both workers ran tasks.
    assert {w["name"] for w in client.scheduler_info()["workers"].values()} == {"w1", "w2"}


async def test_the_command_on_a_cluster_prints_the_local_digest(cluster, tmp_path):
    address, _ = cluster
    trace = tmp_path / "t.jsonl"
    command = [sys.executable, "-m", "browser.cli", "simulate"]
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    assert subprocess.run([*command, "generate", "--users", "4", "--seed", "5", "-o", str(trace)], env=env,
                          capture_output=True, timeout=60).returncode == 0
    run = [*command, "run", str(trace), "--policy", "minibrowser,none", "--budget", "256M,1G", "--json"]
    local = subprocess.run(run, env=env, capture_output=True, text=True, timeout=120)
    remote = subprocess.run([*run, "--cluster", address], env=env, capture_output=True, text=True, timeout=120)
    assert (local.returncode, local.stderr) == (0, "")
    assert (remote.returncode, remote.stderr) == (0, "")
    assert json.loads(remote.stdout) == json.loads(local.stdout)
    assert len(json.loads(local.stdout)["digest"]) == 64


def test_a_bad_or_silent_cluster_address_is_one_line(tmp_path):
    trace = tmp_path / "t.jsonl"
    command = [sys.executable, "-m", "browser.cli", "simulate"]
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    assert subprocess.run([*command, "generate", "-o", str(trace)], env=env, capture_output=True).returncode == 0
    bad = subprocess.run([*command, "run", str(trace), "--cluster", "127.0.0.1"], env=env, capture_output=True,
                         text=True, timeout=60)
    assert (bad.returncode, bad.stdout, bad.stderr) == (
        2, "", "minibrowser: --cluster needs a scheduler address such as tcp://127.0.0.1:8786, not '127.0.0.1'\n")
    # A port where nothing listens (one the test held and let go).
    import socket

    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        port = held.getsockname()[1]
    silent = subprocess.run([*command, "run", str(trace), "--cluster", f"tcp://127.0.0.1:{port}"], env=env,
                            capture_output=True, text=True, timeout=60)
    assert (silent.returncode, silent.stdout, silent.stderr) == (
        1, "", f"minibrowser: no Dask scheduler answers at tcp://127.0.0.1:{port} (OSError); start one with "
               f"'dask scheduler' and its workers with 'dask worker tcp://127.0.0.1:{port}'\n")
