"""minibrowser's public API: ``Browser`` and ``Tab`` (see ``browser.api``).

The names are loaded on first use, so that ``import browser.cli`` (the
command's start-up) and the broker's own imports of ``browser.loader`` do
not pull in the whole browser.
"""

from __future__ import annotations

__all__ = [
    "POLICY_NAMES", "Browser", "BrowserError", "DiscardRefusal", "DiscardsRow", "LifecyclePolicy", "LifecycleRefused", "MemoryInfo",
    "MemoryTotals", "NoSuchLink", "ProbeOutcome", "ProcessInfo", "ProcessModel", "Tab", "TabClosed", "TabCrashed", "TabEvent",
    "TabState",
]


def __getattr__(name: str):
    if name in __all__:
        from browser import api

        return getattr(api, name)
    raise AttributeError(f"module 'browser' has no attribute {name!r}")
