"""minibrowser's public API: ``Browser`` and ``Tab`` (see ``browser.api``)."""

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

__all__ = [
    "Browser", "BrowserError", "DiscardRefusal", "LifecyclePolicy", "LifecycleRefused", "MemoryInfo",
    "MemoryTotals", "ProcessInfo", "Tab", "TabEvent", "TabState",
]
