"""The address bar: type a URL, Enter to go there, Esc to leave it as it was."""

from __future__ import annotations

from textual import on
from textual.binding import Binding
from textual.message import Message
from textual.widgets import Input

from browser import safe_line
from tui.tab_strip import NEW_TAB_URL


class AddressBar(Input):
    """Shows the address of the tab on screen (blank for a new tab) while the
    user is not typing in it; posts :class:`Navigate` on Enter and
    :class:`Done` when Esc puts the address back."""

    BINDINGS = [Binding("escape", "put_back", "Cancel", show=False)]

    class Navigate(Message):
        """The user asked for ``url`` (stripped, never empty)."""

        def __init__(self, url: str) -> None:
            super().__init__()
            self.url = url

    class Done(Message):
        """The user left the address bar without going anywhere."""

    def __init__(self, **kwargs) -> None:
        super().__init__(placeholder="Type a URL and press Enter", **kwargs)
        self._shown = ""

    def show(self, tab) -> None:
        """The address of ``tab`` (None: no tab), unless the user is typing."""
        self._shown = safe_line(tab.url) if tab is not None and tab.url != NEW_TAB_URL else ""
        if not self.has_focus:
            self.value = self._shown

    def start_typing(self, text: str | None = None) -> None:
        """Focus the bar with its text selected (or replaced by ``text``)."""
        self.focus()
        self.select_all()
        if text is not None:
            self.value = text

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        url = event.value.strip()
        if url:
            self.post_message(self.Navigate(url))

    def action_put_back(self) -> None:
        self.value = self._shown
        self.post_message(self.Done())
