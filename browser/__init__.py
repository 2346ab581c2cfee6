"""minibrowser's public API: ``Browser`` and ``Tab`` (see ``browser.api``).

The names are loaded on first use, so that ``import browser.cli`` (the
command's start-up) and the broker's own imports of ``browser.loader`` do
not pull in the whole browser.
"""

from __future__ import annotations

__all__ = [
    "Browser", "BrowserError", "DiscardRefusal", "LifecyclePolicy", "LifecycleRefused", "MemoryInfo",
    "MemoryTotals", "NoSuchLink", "ProbeOutcome", "ProcessInfo", "ProcessModel", "Tab", "TabClosed", "TabCrashed", "TabEvent",
    "TabState", "RemoteBrowser", "RemoteTab",
]

#: A running browser driven from another process (``tui --attach``): ``browser.remote``.
_REMOTE = ("RemoteBrowser", "RemoteTab")


def __getattr__(name: str):
    if name in _REMOTE:
        from browser import remote

        return getattr(remote, name)
    if name in __all__:
        from browser import api

        return getattr(api, name)
    raise AttributeError(f"module 'browser' has no attribute {name!r}")
