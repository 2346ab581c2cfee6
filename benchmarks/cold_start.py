"""Cold start: the whole ``minibrowser open --dump`` process against lynx.

Dumps a local 100 KB documentation page (a ``file:`` URL: no network) as a
user would, one new process per run: interpreter start, imports, zygote,
one sandboxed renderer, layout, output, teardown.  ``lynx -dump`` (or
``w3m -dump`` when lynx is missing) of the same page is the baseline,
measured in the same run, interleaved, so machine noise hits both alike.
Target: minibrowser's median at most 8x the baseline's.

    .venv/bin/python benchmarks/cold_start.py [--runs N] [--timeline]

``--timeline`` also runs minibrowser once under strace and prints when each
phase ended (strace slows every process down, so read it as proportions).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from _common import documentation_page

TARGET_RATIO = 8.0  # issue 18


def minibrowser_command() -> list[str]:
    """The console script installed beside this interpreter, as a user runs it."""
    script = os.path.join(os.path.dirname(sys.executable), "minibrowser")
    return [script] if os.access(script, os.X_OK) else [sys.executable, "-m", "browser.cli"]


def baseline_command() -> tuple[str, list[str]] | None:
    for name in ("lynx", "w3m"):
        if (path := shutil.which(name)) is not None:
            return name, [path, "-dump"]
    return None


def timed_run(command: list[str]) -> tuple[float, subprocess.CompletedProcess]:
    started = time.perf_counter()
    result = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, timeout=120)
    return (time.perf_counter() - started) * 1000, result


def check(name: str, result: subprocess.CompletedProcess) -> None:
    if result.returncode != 0 or len(result.stdout) < 1000:
        sys.exit(f"cold_start: {name} failed (exit {result.returncode}): "
                 f"{result.stderr.decode(errors='replace').strip()[:300]}")


def timeline(command: list[str]) -> None:
    """One run under strace: the end of each phase, in ms from the start."""
    strace = shutil.which("strace")
    if strace is None:
        print("timeline: strace is not installed (apt-get install strace)")
        return
    with tempfile.TemporaryDirectory() as scratch:
        trace = os.path.join(scratch, "trace")
        subprocess.run([strace, "-f", "-ttt", "-qq", "-o", trace, "-e", "signal=none",
                        "-e", "trace=execve,clone,clone3,sendto,write,exit_group", *command],
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120)
        with open(trace) as f:
            events = [line.split(None, 2) for line in f if line.count(" ") >= 2]
    start, broker = float(events[0][1]), events[0][0]
    zygote = renderer = None
    marks: dict[str, float] = {}
    for pid, stamp, call in events:
        at = (float(stamp) - start) * 1000
        if call.startswith("execve(") and "renderer.zygote" in call:
            zygote = pid
            marks.setdefault("zygote process started", at)
        elif pid == broker and call.startswith("clone3(") and "CLONE_THREAD" in call:
            marks.setdefault("broker imported, ZeroMQ hub up", at)
        elif pid == zygote and call.startswith("sendto(") and "zygote ready (preloaded)" not in marks:
            marks["zygote ready (preloaded)"] = at
        elif pid == zygote and call.startswith("clone(") and "CLONE_THREAD" not in call and renderer is None:
            renderer = call.rsplit("=", 1)[-1].strip()
            marks["renderer forked"] = at
        elif pid == broker and call.startswith("write(1,"):
            marks.setdefault("page written to stdout", at)
        elif pid == broker and call.startswith("exit_group("):
            marks["broker exited"] = at
    print("timeline of one run under strace (ms from the start):")
    for name, at in sorted(marks.items(), key=lambda item: item[1]):
        print(f"  {at:8.1f}  {name}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--timeline", action="store_true", help="also show one run's phases (needs strace)")
    args = parser.parse_args()
    baseline = baseline_command()
    if baseline is None:
        print("cold_start: neither lynx nor w3m is installed, so there is no baseline to measure against: "
              "install one (apt-get install lynx) and run again")
        sys.exit(1)
    baseline_name, baseline_cmd = baseline
    with tempfile.TemporaryDirectory(prefix="cold-start-") as scratch:
        page_path = os.path.join(scratch, "reference.html")
        page = documentation_page(100 * 1024)
        with open(page_path, "wb") as f:
            f.write(page)
        url = "file://" + page_path
        ours = minibrowser_command() + ["open", "--dump", url]
        theirs = baseline_cmd + [url]
        for name, command in (("minibrowser", ours), (baseline_name, theirs)):  # untimed: warm the caches
            check(name, timed_run(command)[1])
        ours_ms, theirs_ms = [], []
        for _ in range(args.runs):
            for name, command, times in (("minibrowser", ours, ours_ms), (baseline_name, theirs, theirs_ms)):
                elapsed, result = timed_run(command)
                check(name, result)
                times.append(elapsed)
        print(f"cold start: whole-process dump of a local {len(page) // 1024} KB page, {args.runs} runs each (ms)")
        for name, times in (("minibrowser open --dump", ours_ms), (f"{baseline_name} -dump", theirs_ms)):
            print(f"  {name:24} median {statistics.median(times):7.1f}  min {min(times):7.1f}  "
                  f"max {max(times):7.1f}")
        ratio = statistics.median(ours_ms) / statistics.median(theirs_ms)
        verdict = "met" if ratio <= TARGET_RATIO else "NOT met"
        print(f"  ratio minibrowser/{baseline_name} (medians): {ratio:.1f}x  "
              f"(target <= {TARGET_RATIO:g}x: {verdict})")
        if args.timeline:
            timeline(ours)


if __name__ == "__main__":
    main()
