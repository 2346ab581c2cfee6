"""Find in page: the bar under the page, and the matches it found."""

from __future__ import annotations

from textual import on
from textual.binding import Binding
from textual.message import Message
from textual.widgets import Input


class FindBar(Input):
    """Type what to find: Enter posts :class:`Search`, Esc hides the bar and
    posts :class:`Closed`.  It keeps the matches of the last search
    (``(line, column, length)`` each) and which one is shown."""

    BINDINGS = [Binding("escape", "close", "Close", show=False)]

    class Search(Message):
        def __init__(self, query: str) -> None:
            super().__init__()
            self.query = query

    class Closed(Message):
        """The bar was closed; the page takes the focus back."""

    def __init__(self, **kwargs) -> None:
        super().__init__(placeholder="Find in page (Enter: search, n/N: next/previous, Esc: close)", **kwargs)
        self.matches: list[tuple[int, int, int]] = []
        self.index = 0

    def open(self) -> None:
        self.display = True
        self.focus()
        self.select_all()

    def found(self, matches) -> None:
        self.matches, self.index = list(matches), 0

    def forget(self) -> None:
        self.matches, self.index = [], 0

    def step(self, by: int) -> tuple[int, int, int] | None:
        """Move to the next (``by`` 1) or previous (-1) match; the match now shown, if any."""
        if not self.matches:
            return None
        self.index = (self.index + by) % len(self.matches)
        return self.matches[self.index]

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.post_message(self.Search(event.value))

    def action_close(self) -> None:
        self.display = False
        self.post_message(self.Closed())
