"""What ./run costs on top of .venv/bin/minibrowser once set up.

Runs ``./run --help`` and ``.venv/bin/minibrowser --help`` alternately (the
same work; only the wrapper differs) and prints the medians and their
difference.  Target: the wrapper adds at most 5 ms (bash starting and two
file tests: no process but minibrowser).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUNS = 30
TARGET_MS = 5.0


def once(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return (time.perf_counter() - started) * 1000


def main() -> int:
    wrapper, direct = ["./run", "--help"], [os.path.join(ROOT, ".venv", "bin", "minibrowser"), "--help"]
    once(wrapper)  # sets up on the first run ever; warms the page cache
    once(direct)
    times: dict[str, list[float]] = {"./run": [], ".venv/bin/minibrowser": []}
    for _ in range(RUNS):
        times["./run"].append(once(wrapper))
        times[".venv/bin/minibrowser"].append(once(direct))
    medians = {name: statistics.median(values) for name, values in times.items()}
    for name, values in times.items():
        print(f"{name:24s} median {medians[name]:7.1f} ms  (min {min(values):.1f}, max {max(values):.1f}, {RUNS} runs)")
    overhead = medians["./run"] - medians[".venv/bin/minibrowser"]
    ratio = medians["./run"] / medians[".venv/bin/minibrowser"]
    verdict = "met" if overhead <= TARGET_MS else "NOT met"
    print(f"./run adds {overhead:+.1f} ms ({ratio:.3f}x): target at most {TARGET_MS:g} ms: {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
