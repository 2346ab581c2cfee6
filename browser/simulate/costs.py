"""The cost model: what a renderer, a page, a spawn, a restore and a first frame cost.

The model engine charges these on its virtual clock.  The defaults are
round figures of the order this machine shows; ``minibrowser simulate
calibrate`` measures them from the real browser (a real zygote and
sandboxed renderers, pages of each size class from a local HTTP server) and
saves them as JSON, by default in the profile directory
(``$XDG_DATA_HOME/minibrowser/simulate-costs.json``), where ``simulate
run`` finds them.

Memory is unique memory (USS), what ending a renderer gives back:
``renderer_base_bytes`` for a renderer with an empty document, plus
``page_bytes[size]`` for each document it holds.
"""

from __future__ import annotations

import json
import os
import statistics
import time
from dataclasses import asdict, dataclass, field

from browser.simulate.trace import SizeClass

MB = 1024**2
COSTS_FILE_NAME = "simulate-costs.json"
CHROMIUM_MB_PER_PROCESS = 85  # GetMaxRendererProcessCount: physical memory / 2 / 85 MB


class CostsError(ValueError):
    """A cost file that cannot be used; ``str()`` is one line."""


def chromium_process_limit() -> int:
    """Chromium's renderer process limit for this machine (``GetMaxRendererProcessCount``):
    physical memory / 2 / 85 MB, at least 3, at most half of ``RLIMIT_NPROC``."""
    import resource

    physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    limit = max(3, physical // 2 // (CHROMIUM_MB_PER_PROCESS * MB))
    soft, _ = resource.getrlimit(resource.RLIMIT_NPROC)
    if soft not in (resource.RLIM_INFINITY, -1) and soft > 0:
        limit = min(limit, max(3, soft // 2))
    return int(limit)


def _per_size(small: float, medium: float, large: float) -> dict[str, float]:
    return {SizeClass.SMALL.value: small, SizeClass.MEDIUM.value: medium, SizeClass.LARGE.value: large}


@dataclass
class CostModel:
    """Costs the model engine charges (see the module docstring)."""

    renderer_base_bytes: int = 4 * MB
    page_bytes: dict[str, float] = field(default_factory=lambda: _per_size(0.7 * MB, 3.5 * MB, 25 * MB))
    spawn_ms: float = 20.0  # a renderer forked from the zygote, sandboxed and connected
    first_frame_ms: dict[str, float] = field(default_factory=lambda: _per_size(30.0, 85.0, 470.0))
    restore_ms: dict[str, float] = field(default_factory=lambda: _per_size(40.0, 55.0, 190.0))
    process_limit: int = field(default_factory=chromium_process_limit)
    source: str = "defaults"

    def page(self, size: SizeClass) -> int:
        return int(self.page_bytes[size.value])

    def first_frame(self, size: SizeClass) -> float:
        return self.first_frame_ms[size.value]

    def restore(self, size: SizeClass) -> float:
        return self.restore_ms[size.value]

    def save(self, path: str | os.PathLike) -> None:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        with open(path, "w", encoding="utf-8") as out:
            json.dump(asdict(self), out, indent=2, sort_keys=True)
            out.write("\n")

    @classmethod
    def load(cls, path: str | os.PathLike) -> CostModel:
        name = os.fspath(path)
        try:
            with open(path, encoding="utf-8") as source:
                data = json.load(source)
        except FileNotFoundError:
            raise CostsError(f"{name}: no such file; run 'minibrowser simulate calibrate' to make it") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise CostsError(f"{name}: not a cost file ({error.__class__.__name__})") from None
        try:
            model = cls(**data)
            sizes = {s.value for s in SizeClass}
            for table in (model.page_bytes, model.first_frame_ms, model.restore_ms):
                if set(table) != sizes or not all(isinstance(v, (int, float)) and v >= 0 for v in table.values()):
                    raise TypeError
            if not (isinstance(model.renderer_base_bytes, int) and model.renderer_base_bytes >= 0
                    and isinstance(model.process_limit, int) and model.process_limit >= 1):
                raise TypeError
        except TypeError:
            raise CostsError(f"{name}: not a cost file of this minibrowser; run 'minibrowser simulate calibrate' again") from None
        return model


def default_costs_path() -> str:
    from broker.profile import default_profile_dir

    return os.path.join(default_profile_dir(), COSTS_FILE_NAME)


async def calibrate(*, samples: int = 3, sandbox: bool = True) -> CostModel:
    """Measure the cost model from the real browser (a few seconds)."""
    from browser import Browser, LifecyclePolicy
    from browser.simulate.pages import PageServer

    with PageServer(sites=1) as server:
        # No spare renderer: as in the real engine, each tab pays for its own process.
        async with Browser(sandbox=sandbox, policy=LifecyclePolicy.manual(), spare=False,
                           started_by="simulator") as browser:
            await browser.open("data:text/html,<p>", activate=True)  # stays active: the others may be discarded
            base = await _measure_uss(browser, ["data:text/html,<p>" for _ in range(samples)])
            page_bytes, first_frame, restore, spawn = {}, {}, {}, []
            for size in SizeClass:
                urls = [server.url(0, f"/calibrate/{size.value}/{n}", size) for n in range(samples)]
                tabs = [await browser.open(url, activate=False) for url in urls]
                for tab in tabs:
                    if tab.error:
                        raise CostsError(f"calibration page did not load: {tab.error}")
                uss = await _sampled_uss(browser, tabs)
                page_bytes[size.value] = max(0.0, statistics.median(uss) - base)
                first_frame[size.value] = statistics.median(t.timings.first_frame_ms or 0.0 for t in tabs)
                spawn.extend(t.timings.spawn_ms or 0.0 for t in tabs)
                restores = []
                for tab in tabs:
                    await tab.discard()
                    started = time.perf_counter()
                    await tab.activate()
                    restores.append((time.perf_counter() - started) * 1000)
                restore[size.value] = statistics.median(restores)
                for tab in tabs:
                    await tab.close()
    return CostModel(
        renderer_base_bytes=int(base), page_bytes=page_bytes, spawn_ms=statistics.median(spawn),
        first_frame_ms=first_frame, restore_ms=restore,
        source=f"calibrated {time.strftime('%Y-%m-%d %H:%M')} ({'sandboxed' if sandbox else 'no sandbox'})",
    )


async def _measure_uss(browser, urls: list[str]) -> float:
    tabs = [await browser.open(url, activate=False) for url in urls]
    uss = await _sampled_uss(browser, tabs)
    for tab in tabs:
        await tab.close()
    return statistics.median(uss)


async def _sampled_uss(browser, tabs) -> list[int]:
    """Each tab's renderer USS, from a fresh sample."""
    import asyncio

    for _ in range(50):
        await browser.sample_now()
        if all(t.memory is not None for t in tabs):
            return [t.memory.uss for t in tabs]
        await asyncio.sleep(0.1)
    raise CostsError("the renderers' memory could not be measured (is /proc readable?)")
