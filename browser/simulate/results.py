"""What a simulation reports per design, and how it is shown.

Per design: peak and time-weighted mean renderer memory (per user's
browser), renderer processes over time, freezes, discards, restores and the
restore rate (activations that found the tab discarded), restore and
first-frame latency p50/p99, and budget overshoot (the share of time the
renderers were over the budget, and by how much at most).  A trace of many
users reports the largest per-user peak and the mean of the per-user means;
the series over time are means per user.

Outputs: a table for the terminal (:func:`table`), JSON (:func:`to_json`),
CSV (:func:`to_csv`), plots as PNG or SVG when matplotlib is installed
(:func:`plot_files`), and charts in the terminal (:func:`terminal_charts`,
drawn by plotext).  Both mark the Pareto frontier of mean memory against
restore rate (:func:`pareto_frontier`).  :func:`results_digest` is one hash
of every figure, so that two runs (local, on a cluster) can be compared.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

MB = 1024**2


def percentile(values: Sequence[float], fraction: float) -> float | None:
    """The nearest-rank percentile (None for no values)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(fraction * len(ordered)) - 1))]


@dataclass
class UserResult:
    """One user's browser over the trace: integrals, peaks and counts."""

    budget_bytes: int
    start: float
    end: float
    grid: list[float]
    last_t: float = 0.0
    last_memory: int = 0
    last_processes: int = 0
    memory_seconds: float = 0.0
    process_seconds: float = 0.0
    over_budget_s: float = 0.0
    peak_memory: int = 0
    peak_processes: int = 0
    max_overshoot: int = 0
    freezes: int = 0
    discards: int = 0
    restores: int = 0
    activations: int = 0
    restore_ms: list[float] = field(default_factory=list)
    first_frame_ms: list[float] = field(default_factory=list)
    memory_series: list[int] = field(default_factory=list)
    process_series: list[int] = field(default_factory=list)

    def begin(self, t: float) -> None:
        self.last_t = t

    def advance(self, t: float, memory: int, processes: int) -> None:
        """Time moves to ``t``; ``memory`` and ``processes`` are the values from now on
        (the values before ``t`` were those of the previous call)."""
        span = t - self.last_t
        if span > 0:
            self.memory_seconds += self.last_memory * span
            self.process_seconds += self.last_processes * span
            if self.last_memory > self.budget_bytes:
                self.over_budget_s += span
        grid = self.grid
        while len(self.memory_series) < len(grid) and grid[len(self.memory_series)] < t:
            self.memory_series.append(self.last_memory)
            self.process_series.append(self.last_processes)
        self.last_t = max(self.last_t, t)
        self.last_memory, self.last_processes = memory, processes
        if memory > self.peak_memory:
            self.peak_memory = memory
        if processes > self.peak_processes:
            self.peak_processes = processes
        if memory - self.budget_bytes > self.max_overshoot:
            self.max_overshoot = memory - self.budget_bytes

    def finish_series(self) -> None:
        while len(self.memory_series) < len(self.grid):
            self.memory_series.append(self.last_memory)
            self.process_series.append(self.last_processes)


@dataclass
class DesignResult:
    """One design's figures (see the module docstring)."""

    design: str
    policy: str
    process_model: str
    budget_bytes: int
    users: int
    peak_memory_bytes: int
    mean_memory_bytes: float
    peak_processes: int
    mean_processes: float
    freezes: int
    discards: int
    restores: int
    activations: int
    restore_rate: float
    restore_p50_ms: float | None
    restore_p99_ms: float | None
    first_frame_p50_ms: float | None
    first_frame_p99_ms: float | None
    time_over_budget: float  # share of the time, 0..1
    max_overshoot_bytes: int
    series_t: list[float] = field(default_factory=list)
    series_memory: list[float] = field(default_factory=list)
    series_processes: list[float] = field(default_factory=list)
    decisions: dict | None = None
    engine: str = "model"

    SUMMARY_FIELDS = (
        "design", "policy", "process_model", "engine", "budget_bytes", "users", "peak_memory_bytes",
        "mean_memory_bytes", "peak_processes", "mean_processes", "freezes", "discards", "restores", "activations",
        "restore_rate", "restore_p50_ms", "restore_p99_ms", "first_frame_p50_ms", "first_frame_p99_ms",
        "time_over_budget", "max_overshoot_bytes",
    )

    def summary(self) -> dict:
        return {name: _rounded(getattr(self, name)) for name in self.SUMMARY_FIELDS}


def _rounded(value):
    return round(value, 4) if isinstance(value, float) else value


def combine(label: str, policy: str, process_model: str, budget: int, users: Sequence[UserResult],
            grid: Sequence[float]) -> DesignResult:
    """One design's result from its users' results."""
    for user in users:
        user.finish_series()
    count = max(1, len(users))
    duration = max(1e-9, users[0].end - users[0].start) if users else 1.0
    restore_ms = [v for u in users for v in u.restore_ms]
    first_frame_ms = [v for u in users for v in u.first_frame_ms]
    activations = sum(u.activations for u in users)
    restores = sum(u.restores for u in users)
    return DesignResult(
        design=label, policy=policy, process_model=process_model, budget_bytes=budget, users=len(users),
        peak_memory_bytes=max((u.peak_memory for u in users), default=0),
        mean_memory_bytes=sum(u.memory_seconds for u in users) / duration / count,
        peak_processes=max((u.peak_processes for u in users), default=0),
        mean_processes=sum(u.process_seconds for u in users) / duration / count,
        freezes=sum(u.freezes for u in users), discards=sum(u.discards for u in users),
        restores=restores, activations=activations,
        restore_rate=restores / activations if activations else 0.0,
        restore_p50_ms=percentile(restore_ms, 0.50), restore_p99_ms=percentile(restore_ms, 0.99),
        first_frame_p50_ms=percentile(first_frame_ms, 0.50), first_frame_p99_ms=percentile(first_frame_ms, 0.99),
        time_over_budget=sum(u.over_budget_s for u in users) / duration / count,
        max_overshoot_bytes=max((u.max_overshoot for u in users), default=0),
        series_t=list(grid),
        series_memory=[sum(u.memory_series[i] for u in users) / count for i in range(len(grid))],
        series_processes=[sum(u.process_series[i] for u in users) / count for i in range(len(grid))],
    )


# -- output -------------------------------------------------------------------------------


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def table(results: Sequence[DesignResult]) -> str:
    """A fixed-width table, one design a row."""
    header = ("design", "peak MB", "mean MB", "procs peak/mean", "freezes", "discards", "restores",
              "restore rate", "restore p50/p99 ms", "first frame p50/p99 ms", "over budget")
    rows = [header]
    for r in results:
        rows.append((
            r.design, f"{r.peak_memory_bytes / MB:.0f}", f"{r.mean_memory_bytes / MB:.0f}",
            f"{r.peak_processes}/{r.mean_processes:.1f}", str(r.freezes), str(r.discards), str(r.restores),
            f"{100 * r.restore_rate:.1f}%", f"{_ms(r.restore_p50_ms)}/{_ms(r.restore_p99_ms)}",
            f"{_ms(r.first_frame_p50_ms)}/{_ms(r.first_frame_p99_ms)}",
            f"{100 * r.time_over_budget:.1f}% (max +{r.max_overshoot_bytes / MB:.0f} MB)",
        ))
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = []
    for index, row in enumerate(rows):
        cells = [row[0].ljust(widths[0])] + [cell.rjust(width) for cell, width in zip(row[1:], widths[1:])]
        lines.append("  ".join(cells).rstrip())
        if index == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines) + "\n"


def to_json(results: Sequence[DesignResult], *, trace: str, engine: str, costs: str | None = None) -> str:
    return json.dumps({
        "trace": trace, "engine": engine, "costs": costs, "digest": results_digest(results),
        "designs": [dict(r.summary(), series={"t": r.series_t, "memory_bytes": r.series_memory,
                                              "processes": r.series_processes}) for r in results],
    }, indent=2) + "\n"


def to_csv(results: Sequence[DesignResult]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=DesignResult.SUMMARY_FIELDS, lineterminator="\n")
    writer.writeheader()
    for r in results:
        writer.writerow(r.summary())
    return out.getvalue()


def pareto_frontier(results: Sequence[DesignResult]) -> list[DesignResult]:
    """The designs no other design beats on both mean memory and restore rate
    (lower is better on each), ordered by restore rate."""
    frontier = []
    for r in results:
        beaten = any(
            o.mean_memory_bytes <= r.mean_memory_bytes and o.restore_rate <= r.restore_rate
            and (o.mean_memory_bytes < r.mean_memory_bytes or o.restore_rate < r.restore_rate)
            for o in results)
        if not beaten:
            frontier.append(r)
    return sorted(frontier, key=lambda r: (r.restore_rate, r.mean_memory_bytes))


_KEYS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
_ESCAPES = re.compile(r"\x1b\[[0-9;]*m")


def terminal_charts(results: Sequence[DesignResult], *, width: int = 78, height: int = 18) -> str:
    """Memory over time per design, and mean memory against restore rate with
    the Pareto frontier marked, drawn in the terminal by plotext."""
    import plotext as plt

    charts = []
    plt.clear_figure()
    plt.theme("clear")
    plt.plotsize(width, height)
    for index, r in enumerate(results):
        plt.plot([t / 3600 for t in r.series_t], [m / MB for m in r.series_memory], marker=_KEYS[index % len(_KEYS)])
    plt.title("renderer memory over time (MB, mean per user)")
    plt.xlabel("hours")
    charts.append(_plain(plt.build()))

    frontier = pareto_frontier(results)
    plt.clear_figure()
    plt.theme("clear")
    plt.plotsize(width, height)
    if len(frontier) > 1:
        plt.plot([100 * r.restore_rate for r in frontier], [r.mean_memory_bytes / MB for r in frontier], marker="dot")
    for index, r in enumerate(results):
        plt.scatter([100 * r.restore_rate], [r.mean_memory_bytes / MB], marker=_KEYS[index % len(_KEYS)])
    plt.title("mean memory (MB) against restore rate (%); the line is the Pareto frontier")
    plt.xlabel("restore rate, % of activations")
    charts.append(_plain(plt.build()))

    on_frontier = {id(r) for r in frontier}
    legend = [f"  {_KEYS[i % len(_KEYS)]} = {r.design}{'  (frontier)' if id(r) in on_frontier else ''}"
              for i, r in enumerate(results)]
    return "\n\n".join(charts) + "\n" + "\n".join(legend) + "\n"


def _plain(chart: str) -> str:
    return "\n".join(line.rstrip() for line in _ESCAPES.sub("", chart).splitlines())


def results_digest(results: Sequence[DesignResult]) -> str:
    """A SHA-256 over every design's figures, series and (when recorded)
    decisions: two runs that agree in every number give the same digest."""
    import hashlib

    document = [dict(r.summary(), series=[r.series_t, r.series_memory, r.series_processes],
                     decisions=r.decisions) for r in results]
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def matplotlib_available() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def plot_files(results: Sequence[DesignResult], prefix: str, *, fmt: str = "png") -> list[str]:
    """Two plots, ``PREFIX-memory.FMT`` (memory over time per design) and
    ``PREFIX-tradeoff.FMT`` (mean memory against restore rate).  Needs matplotlib."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    figure, axes = plt.subplots(figsize=(10, 5.5))
    for r in results:
        axes.plot([t / 3600 for t in r.series_t], [m / MB for m in r.series_memory], label=r.design, linewidth=1.2)
    axes.set_xlabel("hours since the start of the trace")
    axes.set_ylabel("renderer memory, MB (mean per user)")
    axes.set_title("Renderer memory over time")
    axes.legend(fontsize=7, loc="upper left", ncol=2)
    figure.tight_layout()
    paths.append(f"{prefix}-memory.{fmt}")
    figure.savefig(paths[-1])
    plt.close(figure)

    figure, axes = plt.subplots(figsize=(8, 6))
    frontier = pareto_frontier(results)
    on_frontier = {id(r) for r in frontier}
    for r in results:
        axes.scatter([100 * r.restore_rate], [r.mean_memory_bytes / MB],
                     color="tab:red" if id(r) in on_frontier else "tab:blue", zorder=3)
        axes.annotate(r.design, (100 * r.restore_rate, r.mean_memory_bytes / MB), fontsize=7)
    axes.step([100 * r.restore_rate for r in frontier], [r.mean_memory_bytes / MB for r in frontier],
              where="post", color="tab:red", linewidth=1, label="Pareto frontier")
    axes.legend(fontsize=8)
    axes.set_xlabel("restore rate, % of activations that found the tab discarded")
    axes.set_ylabel("mean renderer memory, MB")
    axes.set_title("Memory against restores (red: the Pareto frontier)")
    figure.tight_layout()
    paths.append(f"{prefix}-tradeoff.{fmt}")
    figure.savefig(paths[-1])
    plt.close(figure)
    return paths
