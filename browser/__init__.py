"""minibrowser's public API: ``Browser`` and ``Tab`` (see ``browser.api``).

The names are imported on first use (PEP 562), so that ``browser.cli`` can
start the zygote before the broker's own imports: importing this package
costs nothing.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from broker.lifecycle import DiscardRefusal, LifecyclePolicy
    from broker.memory import MemoryInfo
    from browser.api import (
        Browser,
        BrowserError,
        LifecycleRefused,
        MemoryTotals,
        ProcessInfo,
        Tab,
        TabEvent,
        TabState,
    )

_HOMES = {
    "DiscardRefusal": "broker.lifecycle", "LifecyclePolicy": "broker.lifecycle", "MemoryInfo": "broker.memory",
    **{name: "browser.api" for name in ("Browser", "BrowserError", "LifecycleRefused", "MemoryTotals",
                                        "ProcessInfo", "Tab", "TabEvent", "TabState")},
}

__all__ = sorted(_HOMES)


def __getattr__(name: str) -> object:
    if name not in _HOMES:
        raise AttributeError(f"module 'browser' has no attribute {name!r}")
    value = getattr(importlib.import_module(_HOMES[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_HOMES])
