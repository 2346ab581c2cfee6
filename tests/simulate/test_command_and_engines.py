"""The simulate command's outputs and errors, and the two engines' agreement on a small trace."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import subprocess
import sys

import pytest

from browser.simulate.costs import calibrate
from browser.simulate.model import Design, ProcessModel, run_design
from browser.simulate.real import run_real
from browser.simulate.trace import Event, SizeClass, Trace, UserAction

H = 3600.0


def minibrowser(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "browser.cli", *args], capture_output=True, text=True, timeout=120,
                          cwd=cwd, env={**os.environ, "PYTHONPATH": os.getcwd()})


def test_generate_then_run_gives_table_json_csv_and_a_plot(tmp_path):
    trace = tmp_path / "t.jsonl"
    done = minibrowser("simulate", "generate", "--users", "2", "--days", "1", "--seed", "3", "-o", str(trace))
    assert done.returncode == 0 and done.stdout == ""
    assert done.stderr.startswith("minibrowser: wrote ") and done.stderr.endswith(f"to {trace}\n")
    table = minibrowser("simulate", "run", str(trace), "--policy", "minibrowser,none", "--process-model", "per-tab,single")
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].split("  ")[0] == "design" and len(lines) == 2 + 4
    assert [line.split("  ")[0].strip() for line in lines[2:]] == [
        "minibrowser / per-tab", "minibrowser / single", "none / per-tab", "none / single"]
    as_json = json.loads(minibrowser("simulate", "run", str(trace), "--json").stdout)
    assert [d["design"] for d in as_json["designs"]] == ["minibrowser / per-tab", "none / per-tab"]
    none = as_json["designs"][1]
    assert none["discards"] == none["freezes"] == none["restores"] == 0 and none["restore_rate"] == 0
    rows = list(csv.DictReader(io.StringIO(minibrowser("simulate", "run", str(trace), "--csv").stdout)))
    assert [r["design"] for r in rows] == ["minibrowser / per-tab", "none / per-tab"]
    plotted = minibrowser("simulate", "run", str(trace), "--plot", str(tmp_path / "p"), "--format", "svg")
    assert plotted.returncode == 0
    # The test setup installs the optional plotting extra (matplotlib).
    assert (tmp_path / "p-memory.svg").read_text().startswith("<?xml")
    assert (tmp_path / "p-tradeoff.svg").read_text().startswith("<?xml")


def test_bad_input_is_one_line_and_exit_2(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"format": "minibrowser-trace", "version": 1, "users": 1, "days": 1}\n{"t": 1}\n')
    good = tmp_path / "good.jsonl"
    assert minibrowser("simulate", "generate", "-o", str(good)).returncode == 0
    cases = [
        (("simulate", "run", str(tmp_path / "none.jsonl")), f"minibrowser: {tmp_path / 'none.jsonl'}: no such file\n"),
        (("simulate", "run", str(bad)), f'minibrowser: {bad} line 2: missing "user"\n'),
        (("simulate", "run", str(good), "--policy", "opera"), "minibrowser: unknown policy 'opera'; the policies are: "
         "minibrowser, chrome-memory-saver, chrome-memory-saver-moderate, chrome-memory-saver-balanced, "
         "chrome-memory-saver-maximum, chrome-urgent, firefox-unloader, edge-sleeping-tabs, none\n"),
        (("simulate", "run", str(good), "--budget", "lots"),
         "minibrowser: --budget: must be a size such as 512M or 2G, not 'lots' (see 'minibrowser --help')\n"),
        (("simulate", "run", str(good), "--tui"), "minibrowser: --tui shows the real engine's browser; add --engine real\n"),
        (("simulate", "run", str(good), "--tui", "--engine", "real"), "minibrowser: --tui needs a terminal\n"),
    ]
    for args, line in cases:
        done = minibrowser(*args)
        assert (done.returncode, done.stderr, done.stdout) == (2, line, "")


def small_trace() -> Trace:
    """Four tabs on three sites over three hours, with switches and a navigation."""
    def opened(t, tab, site, size):
        return Event(t, 0, tab, UserAction.OPEN, f"http://{site}/{tab}", size)
    events = [opened(0, 1, "a.test", SizeClass.SMALL), opened(10, 2, "b.test", SizeClass.MEDIUM),
              opened(20, 3, "c.test", SizeClass.LARGE), opened(30, 4, "a.test", SizeClass.SMALL),
              Event(0.5 * H, 0, 2, UserAction.SWITCH), Event(1.0 * H, 0, 4, UserAction.SWITCH),
              Event(2.6 * H, 0, 1, UserAction.SWITCH), Event(2.7 * H, 0, 3, UserAction.SWITCH),
              Event(2.8 * H, 0, 3, UserAction.NAVIGATE, "http://d.test/5", SizeClass.MEDIUM)]
    return Trace(1, 3 * H / 86400, events)


PEAK_MEMORY_TOLERANCE = 0.15  # the model's peak renderer memory within 15% of what the real engine's sampler saw


@pytest.mark.parametrize("process_model", [ProcessModel.PER_TAB, ProcessModel.PROCESS_PER_SITE])
def test_model_and_real_engines_agree_on_a_small_trace(process_model):
    """The same discard decisions (tab and order) and restores; peak renderer memory within
    PEAK_MEMORY_TOLERANCE of the real engine's, with costs calibrated from the real browser just before.
    The gap is printed (``pytest -s``) and named in the failure."""
    costs = asyncio.run(calibrate(samples=2))
    trace = small_trace()
    design = Design("chrome-memory-saver-maximum", process_model, 1024**3)
    model = run_design(trace, design, costs, record_decisions=True)
    real = asyncio.run(run_real(trace, design, speed=1800, record_decisions=True))
    assert [(tab, action) for _, tab, action in model.decisions[0]] == [(1, "discard"), (3, "discard")]
    assert [(tab, action) for _, tab, action in real.decisions[0]] == [(1, "discard"), (3, "discard")]
    assert (real.discards, real.restores) == (model.discards, model.restores) == (2, 2)
    gap = abs(model.peak_memory_bytes - real.peak_memory_bytes) / real.peak_memory_bytes
    figures = (f"peak renderer memory: model {model.peak_memory_bytes / 2**20:.1f} MB, "
               f"real {real.peak_memory_bytes / 2**20:.1f} MB; gap {gap:.1%} (tolerance {PEAK_MEMORY_TOLERANCE:.0%})")
    print(figures)
    assert gap <= PEAK_MEMORY_TOLERANCE, figures


def test_a_reader_that_leaves_stops_the_run_quietly(tmp_path):
    """``minibrowser simulate run ... | head``: no traceback, death by SIGPIPE as ``cat`` would."""
    import signal

    trace = tmp_path / "t.jsonl"
    assert minibrowser("simulate", "generate", "--users", "2", "--seed", "3", "-o", str(trace)).returncode == 0
    for output in ("--json", "--csv", "--chart"):
        reader, writer = os.pipe()
        os.close(reader)  # the reader is gone before the first byte is written
        done = subprocess.run([sys.executable, "-m", "browser.cli", "simulate", "run", str(trace), "--policy", "all",
                               output], stdout=writer, stderr=subprocess.PIPE, text=True, timeout=120,
                              env={**os.environ, "PYTHONPATH": os.getcwd()})
        os.close(writer)
        assert (done.returncode, done.stderr) == (-signal.SIGPIPE, "")
