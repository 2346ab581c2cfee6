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
(:func:`plot_files`), and charts drawn with characters otherwise
(:func:`terminal_charts`).
"""

from __future__ import annotations

import csv
import io
import json
import math
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


def to_json(results: Sequence[DesignResult], *, trace: str, engine: str) -> str:
    return json.dumps({
        "trace": trace, "engine": engine,
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


_BLOCKS = " ▁▂▃▄▅▆▇█"


def terminal_charts(results: Sequence[DesignResult], *, width: int = 60) -> str:
    """Memory over time per design (one sparkline each, on one scale), and
    mean memory against restore rate, drawn with characters."""
    top = max((max(r.series_memory, default=0) for r in results), default=0) or 1
    label_width = max((len(r.design) for r in results), default=0)
    lines = [f"renderer memory over time (mean per user; full block = {top / MB:.0f} MB)"]
    for r in results:
        values = _resample(r.series_memory, width)
        spark = "".join(_BLOCKS[min(8, round(8 * v / top))] for v in values)
        lines.append(f"{r.design.ljust(label_width)} |{spark}|")
    lines.append("")
    lines.append("mean memory (MB) against restore rate")
    height = 10
    max_memory = max((r.mean_memory_bytes for r in results), default=0) or 1
    max_rate = max((r.restore_rate for r in results), default=0) or 1
    grid = [[" "] * width for _ in range(height)]
    keys = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    for index, r in enumerate(results):
        x = min(width - 1, round((width - 1) * r.restore_rate / max_rate))
        y = min(height - 1, round((height - 1) * r.mean_memory_bytes / max_memory))
        grid[height - 1 - y][x] = keys[index % len(keys)]
    for row_index, row in enumerate(grid):
        value = max_memory * (height - 1 - row_index) / (height - 1) / MB
        lines.append(f"{value:8.0f} |{''.join(row)}")
    lines.append(" " * 9 + "+" + "-" * width)
    lines.append(" " * 10 + f"restore rate 0 .. {100 * max_rate:.1f}%")
    for index, r in enumerate(results):
        lines.append(f"  {keys[index % len(keys)]} = {r.design}")
    return "\n".join(lines) + "\n"


def _resample(values: Sequence[float], width: int) -> list[float]:
    if not values:
        return [0.0] * width
    return [max(values[int(i * len(values) / width): max(int(i * len(values) / width) + 1, int((i + 1) * len(values) / width))])
            for i in range(width)]


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
    for r in results:
        axes.scatter([100 * r.restore_rate], [r.mean_memory_bytes / MB])
        axes.annotate(r.design, (100 * r.restore_rate, r.mean_memory_bytes / MB), fontsize=7)
    axes.set_xlabel("restore rate, % of activations that found the tab discarded")
    axes.set_ylabel("mean renderer memory, MB")
    axes.set_title("Memory against restores")
    figure.tight_layout()
    paths.append(f"{prefix}-tradeoff.{fmt}")
    figure.savefig(paths[-1])
    plt.close(figure)
    return paths
