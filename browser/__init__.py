"""minibrowser's public API: what a front end (``tui/``) or a script may use.

``Browser`` and ``Tab`` and their companions (see ``browser.api``), the
sandbox verdict, and what a window needs to show a page safely: the frame
types it draws (``Frame``, ``Line``, ``Span``, ``Style``), ``safe_line`` /
``safe_text``, which make any string from a page safe for a terminal, and
``readable``, which drops a page's colours that would be hard to read.

The names are loaded on first use, so that ``import browser.cli`` (the
command's start-up) does not pull in the whole browser, and a window that
only draws frames does not start the broker's imports.
"""

from __future__ import annotations

#: Names that ``browser.api`` defines or re-exports.
_API = (
    "POLICY_NAMES", "Browser", "BrowserError", "BrowserOptions", "DiscardPolicy", "DiscardRefusal", "DiscardsRow",
    "HistoryEntry", "IpcCounters", "IpcEvent",
    "LifecyclePolicy", "LifecycleRecord", "LifecycleRefused", "MemoryInfo", "MemoryTotals", "NoSuchLink",
    "ProbeOutcome", "ProcessInfo", "ProcessModel", "SandboxInfo", "Tab", "TabClosed", "TabCrashed", "TabEvent",
    "TabState", "Timings", "UserAction",
)
#: Whether a renderer is sandboxed enough (``broker/sandbox_verdict.py``).
_SANDBOX = ("SandboxVerdict", "Sandboxing", "judge_sandbox")
#: What a front end raises when its trace window is closed early (``browser/frontends.py``).
_FRONTENDS = ("SimulationStopped",)
#: What a page is drawn as (``renderer/protocol.py``, the messages' own types).
_FRAME = ("FormField", "Frame", "Line", "Link", "SandboxLayer", "Span", "Style")
#: Terminal-safe text (``broker/safe_text.py``).
_SAFE_TEXT = ("safe_line", "safe_text")
#: A page's colours made readable on a theme (``broker/colors.py``).
_COLORS = ("NO_COLOR", "readable")

#: A running browser driven from another process (``tui --attach``): ``browser/remote.py``.
_REMOTE = ("RemoteBrowser", "RemoteTab")

__all__ = [*_API, *_SANDBOX, *_FRONTENDS, *_FRAME, *_SAFE_TEXT, *_COLORS, *_REMOTE]


def __getattr__(name: str):
    if name in _API:
        from browser import api as module
    elif name in _SANDBOX:
        from broker import sandbox_verdict as module
    elif name in _FRONTENDS:
        from browser import frontends as module
    elif name in _FRAME:
        from renderer import protocol as module
    elif name in _SAFE_TEXT:
        from broker import safe_text as module
    elif name in _COLORS:
        from broker import colors as module
    elif name in _REMOTE:
        from browser import remote as module
    else:
        raise AttributeError(f"module 'browser' has no attribute {name!r}")
    return getattr(module, name)
