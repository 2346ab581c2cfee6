"""Key names and which keys the footer keeps."""

from __future__ import annotations

from tui.app import BrowserApp
from tui.key_bar import fitting, key_name


def test_every_key_of_the_window_is_named_one_way():
    names = [key_name(key) for binding in BrowserApp.BINDINGS for key in binding.key.split(",")]
    assert names == [
        "^T", "^W", "^PgDn", "^Tab", "^PgUp", "^Shift+Tab", "^L", "/", "^F", "Alt+←", "Alt+→", "F5", "^R",
        "n", "N", "w", "k", "F2", "Shift+Esc", "F3", "F4", "q", "^Q",
    ]


def test_the_footer_keeps_the_most_important_keys_and_stops_at_the_first_that_does_not_fit():
    entries = [("^T", "New tab"), ("^L", "Address"), ("F4", "IPC log"), ("q", "Quit")]
    ranks = [1, 0, 3, 2]  # Address, New tab, Quit, IPC log
    assert fitting(entries, 80, ranks, roomy=False) == {0, 1, 2, 3}
    assert fitting(entries, 29, ranks, roomy=False) == {0, 1, 3}  # 11 + 11 + 7 columns
    assert fitting(entries, 28, ranks, roomy=False) == {0, 1}  # Quit does not fit: IPC log does not jump in
    assert fitting(entries, 26, ranks, roomy=True) == {1, 0}
