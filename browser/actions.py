"""What a user does in a browser: one enum, shared by the public API, which
reports each action as it happens (``Browser.subscribe_actions``), and by
browsing traces, which record and replay them (``browser.simulate.trace``).

Not to be confused with the broker's lifecycle actions (freeze, discard:
``broker.lifecycle.Action``), which the browser takes on its own.
"""

from __future__ import annotations

import enum


class UserAction(enum.Enum):
    """What the user did."""

    OPEN = "open"  # a new tab, with its first page
    SWITCH = "switch"  # a tab made the active one
    NAVIGATE = "navigate"  # the address bar, a link, back, forward, reload
    INPUT = "input"  # typing in or pressing a form control, finding, scrolling
    CLOSE = "close"
