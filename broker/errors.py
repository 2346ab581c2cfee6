"""The API's errors.  ``str()`` of each is one line for a person.

    BrowserError
     ├── TabClosed           the tab was closed
     ├── NoSuchLink          there is no link with that number
     ├── TabCrashed          the tab's renderer ended while answering
     └── LifecycleRefused    a freeze or discard that may not happen now (``reason``)
"""

from __future__ import annotations

from broker.lifecycle import DiscardRefusal


class BrowserError(Exception):
    """Base of the API's errors; ``str()`` is one line for a person."""


class TabClosed(BrowserError):
    pass


class NoSuchLink(BrowserError):
    pass


class TabCrashed(BrowserError):
    pass


class LifecycleRefused(BrowserError):
    """A freeze or discard that may not happen now; ``reason`` says why."""

    def __init__(self, tab: int, action: str, reason: DiscardRefusal) -> None:
        super().__init__(f"tab {tab} cannot be {action}: {reason.describe()}")
        self.tab = tab
        self.reason = reason




class SandboxedFrame(BrowserError):
    """A frame with the ``sandbox`` attribute tried to navigate the top page."""
