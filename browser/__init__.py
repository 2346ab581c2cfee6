"""minibrowser's public API: ``Browser`` and ``Tab`` (see ``browser.api``)."""

from browser.api import Browser, BrowserError, ProcessInfo, Tab, TabEvent, TabState

__all__ = ["Browser", "BrowserError", "ProcessInfo", "Tab", "TabEvent", "TabState"]
