"""The tab strip and the info bar above the page."""

from __future__ import annotations

from textual.markup import escape
from textual.widgets import Static

from browser import safe_line

#: One mark per lifecycle state, as the strip shows it (the legend is in the help).
STATE_MARKS = {
    "loading": ("⟳", "yellow"),
    "active": ("●", "green"),
    "background": ("○", "white"),
    "frozen": ("❄", "#61afef"),
    "discarded": ("◌", "bright_black"),
    "crashed": ("✖", "red"),
    "unresponsive": ("⌛", "#e5c07b"),
    "closed": ("·", "bright_black"),
}

TITLE_CELLS = 18
MIN_TITLE_CELLS = 6
#: What Ctrl+T opens: an empty page, shown as "New tab" with an empty address bar.
NEW_TAB_URL = "about:blank"


def state_mark(state: str) -> str:
    mark, colour = STATE_MARKS.get(state, ("?", "white"))
    return f"[{colour}]{mark}[/]"


class TabStrip(Static):
    """Every tab: its number, a state mark and its title; the current one highlighted."""

    def show(self, tabs: list, current) -> None:
        # Titles shrink as tabs are added; past that, the strip scrolls to keep the current tab in view.
        width = self.size.width or 120
        cells = max(MIN_TITLE_CELLS, min(TITLE_CELLS, width // max(1, len(tabs)) - 5))
        fits = max(1, (width - 4) // (cells + 5))
        index = tabs.index(current) if current in tabs else 0
        first = min(max(0, index - fits // 2), max(0, len(tabs) - fits))
        parts = ["[dim]◀[/]"] if first > 0 else []
        for number, tab in enumerate(tabs[first : first + fits], first + 1):
            title = "New tab" if tab.url == NEW_TAB_URL else safe_line(tab.title or tab.url or "New tab")
            if len(title) > cells:
                title = title[: cells - 1] + "…"
            label = f" {state_mark(tab.state.value)} {escape(title)} "
            style = "reverse bold" if tab is current else "dim" if tab.state.value in ("discarded", "frozen") else ""
            text = f"[@click=app.select_tab({number})]{label}[/]"
            parts.append(f"[{style}]{text}[/]" if style else text)
        if first + fits < len(tabs):
            parts.append(f"[dim]▶ {len(tabs) - first - fits} more[/]")
        parts.append("[@click=app.new_tab] + [/]")
        self.update("│".join(parts))


class InfoBar(Static):
    """A one-line bar over the page for states a person must know about:
    a crashed or unresponsive renderer, a frozen or discarded tab, no sandbox."""

    def show(self, tab, *, sandboxed: bool | None) -> None:
        message, kind = self.message_for(tab, sandboxed=sandboxed)
        self.set_classes(kind)
        self.display = bool(message)
        self.update(message)

    @staticmethod
    def message_for(tab, *, sandboxed: bool | None) -> tuple[str, str]:
        if tab is None:
            return "", ""
        state = tab.state.value
        if state == "crashed":
            cause = escape(safe_line(tab.crash_cause or "it stopped"))
            return f"✖ Aw, snap! This tab's renderer {cause}.  [b]F5[/b] reload", "error"
        if state == "unresponsive":
            return "⌛ This page isn't responding.  [b]w[/b] wait   [b]k[/b] end process", "warning"
        if state == "frozen":
            return "❄ This tab is frozen: its renderer is stopped and uses no CPU.  [b]F5[/b] restore", "info"
        if state == "discarded":
            return "◌ This tab was discarded to save memory.  [b]F5[/b] restore it (form input and scroll kept)", "info"
        if sandboxed is False:
            return (
                "⚠ This page is not sandboxed: its renderer can read your files and reach the network. "
                "Restart without --no-sandbox.",
                "danger",
            )
        if tab.error:
            return f"Can't open this page: {escape(safe_line(tab.error))}", "warning"
        return "", ""
