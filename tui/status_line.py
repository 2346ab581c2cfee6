"""The status line under the page: what the browser is doing, or what went wrong."""

from __future__ import annotations

from textual.widgets import Static

from browser import safe_line


class StatusLine(Static):
    """One line: busy text (a load, a restore) in one colour, an error in another."""

    def __init__(self, text: str = "", **kwargs) -> None:
        super().__init__(text, **kwargs)
        self.text = text

    def show(self, text: str, *, error: bool = False) -> None:
        self.set_class(error, "error")
        self.set_class(bool(text) and not error, "busy")
        self.update(safe_line(text))
        self.text = text
