"""Parse + style + layout of the 500 KB documentation page, against the
renderer before author style sheets (parse + layout only).

The baseline is the renderer of commit ``BASELINE`` (the last before
author styles), taken from git into a temporary directory and timed in the
same run, interleaved with this tree's, each in a fresh interpreter, best
of ``--repeat`` passes each (a shared machine's noise only ever adds).
Target (issue 18): this tree's parse + style + layout at most the
baseline's parse + layout.

    .venv/bin/python benchmarks/page_speed.py [--runs 3] [--repeat 5] [--baseline COMMIT]

Pages: the benchmark page (``documentation_page(500_000)``: its one
``<style>`` rule makes the cascade run), and the same page with a
Sphinx-sized sheet of 300 rules (classes, descendants, a media query).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

BASELINE = "b127b13"
ROOT = Path(__file__).resolve().parent.parent

TIMER = r"""
import gc, json, sys, time
sys.path.insert(0, sys.argv[1])
sys.path.insert(0, sys.argv[2])
from _common import documentation_page
from renderer.page import Page
page = documentation_page(500_000)
sheet = "".join(f".c{n} p, div.x{n} > span, #i{n} a:first-child {{ color: #{n:03x}; display: none }} "
                for n in range(100)) + "@media (max-width: 600px) { nav { display: none } }"
styled = page.replace(b"</head>", f"<style>{sheet}</style></head>".encode(), 1)
out = {}
for name, body in (("benchmark page", page), ("with a 300-rule sheet", styled)):
    best = float("inf")
    for _ in range(int(sys.argv[3])):
        gc.collect()
        started = time.perf_counter()
        Page(body, url="file:///bench/page.html", content_type="text/html", charset=None, kind="html").layout(80)
        best = min(best, time.perf_counter() - started)
    out[name] = best * 1000
print(json.dumps(out))
"""


def timed(tree: str, repeat: int) -> dict[str, float]:
    result = subprocess.run([sys.executable, "-c", TIMER, tree, str(ROOT / "benchmarks"), str(repeat)],
                            capture_output=True, text=True, timeout=600)
    if result.returncode != 0:
        sys.exit(f"page_speed: the run in {tree} failed: {result.stderr.strip()[-500:]}")
    return json.loads(result.stdout)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--baseline", default=BASELINE)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="page-speed-") as scratch:
        archive = os.path.join(scratch, "baseline.tar")
        made = subprocess.run(["git", "-C", str(ROOT), "archive", "-o", archive, args.baseline, "renderer"],
                              capture_output=True, text=True)
        if made.returncode != 0:
            print(f"page_speed: skipped: commit {args.baseline} is not in this repository ({made.stderr.strip()})")
            return 0
        baseline_tree = os.path.join(scratch, "baseline")
        with tarfile.open(archive) as tar:
            tar.extractall(baseline_tree, filter="data")
        best_base: dict[str, float] = {}
        best_now: dict[str, float] = {}
        for _ in range(args.runs):
            for tree, best in ((baseline_tree, best_base), (str(ROOT), best_now)):
                for name, ms in timed(tree, args.repeat).items():
                    best[name] = min(best.get(name, float("inf")), ms)
    print(f"parse + layout at 80 cells, best of {args.runs} x {args.repeat}, interleaved:")
    print(f"{'page':<24} {'before styles (' + args.baseline + ')':>24} {'now, with styles':>18} {'ratio':>7}")
    for name in best_now:
        print(f"{name:<24} {best_base[name]:>21.1f} ms {best_now[name]:>15.1f} ms {best_now[name] / best_base[name]:>7.2f}")
    ratio = best_now["benchmark page"] / best_base["benchmark page"]
    print(f"target: parse + style + layout of the benchmark page <= parse + layout before (ratio <= 1.00): "
          f"{'met' if ratio <= 1.0 else 'NOT met'} ({ratio:.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
