"""The IPC inspector: a live, filterable log of broker-renderer messages.

Like Chromium's tracing view of Mojo messages: time, tab, direction, type,
size and, for replies, the round trip.  The app keeps the last messages in a
ring buffer (:class:`IpcLog`); this screen shows the ones that match the
filter and follows new ones as they arrive.
"""

from __future__ import annotations

import itertools
from collections import deque

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Input, Static

from tui.key_bar import KeyBar
from tui.processes import clock

MAX_ROWS = 1000


class IpcLog:
    """The last ``size`` IPC events, each with a sequence number."""

    def __init__(self, size: int = 5000) -> None:
        self.events: deque = deque(maxlen=size)
        self._sequence = itertools.count(1)
        self.total = 0

    def __call__(self, event) -> None:  # a Browser.subscribe_ipc callback
        self.total += 1
        self.events.append((next(self._sequence), event))

    def since(self, sequence: int) -> list:
        return [(n, e) for n, e in self.events if n > sequence]


def matches(event, terms: list[str]) -> bool:
    """Every term must match: ``tab:3``, ``in``/``out``, or a part of the type."""
    for term in terms:
        if term.startswith("tab:"):
            if term[4:] != str(event.tab):
                return False
        elif term in ("in", "out"):
            if (event.direction == "to broker") != (term == "in"):
                return False
        elif term not in event.type.lower() and term not in event.direction:
            return False
    return True


class IpcInspector(Screen):
    BINDINGS = [
        Binding("escape,f4", "close", "Close"),
        Binding("ctrl+f,slash", "focus_filter", "Filter"),
        Binding("p", "pause", "Pause/resume"),
        Binding("c", "clear", "Clear"),
    ]

    def __init__(self, log: IpcLog) -> None:
        super().__init__()
        self.log_buffer = log
        self.last_seen = 0
        self.terms: list[str] = []
        self.paused = False

    def compose(self) -> ComposeResult:
        yield Static("", id="ipc-title")
        yield Input(placeholder="filter: tab:3  in|out  frame|load|ping …", id="ipc-filter")
        yield DataTable(id="ipc-table", cursor_type="row", zebra_stripes=True)
        yield KeyBar(priority=[binding.action for binding in self.BINDINGS], only_these=True)

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("Time", "Tab", "Direction", "Type", "Size", "Round trip")
        self.reload()
        self.set_interval(0.25, self.follow)
        table.focus()

    def reload(self) -> None:
        self.query_one(DataTable).clear()
        self.last_seen = 0
        self.follow()

    def follow(self) -> None:
        if self.paused:
            return
        table = self.query_one(DataTable)
        new = self.log_buffer.since(self.last_seen)
        if new:
            self.last_seen = new[-1][0]
        at_end = table.cursor_row >= table.row_count - 1
        for _, event in new[-MAX_ROWS:]:
            if matches(event, self.terms):
                table.add_row(*cells(event))
        while table.row_count > MAX_ROWS:
            table.remove_row(next(iter(table.rows)))
        if new and at_end and table.row_count:
            table.move_cursor(row=table.row_count - 1, animate=False)
        self.query_one("#ipc-title", Static).update(
            f"IPC inspector — {self.log_buffer.total} messages since start, {table.row_count} shown"
            + ("  [b](paused)[/b]" if self.paused else "")
        )

    def on_input_changed(self, event: Input.Changed) -> None:
        self.terms = event.value.lower().split()
        self.reload()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.query_one(DataTable).focus()

    def action_focus_filter(self) -> None:
        self.query_one(Input).focus()

    def action_pause(self) -> None:
        self.paused = not self.paused
        if not self.paused:
            self.follow()
        else:
            self.query_one("#ipc-title", Static).update("IPC inspector — [b]paused[/b] (p resumes)")

    def action_clear(self) -> None:
        self.query_one(DataTable).clear()

    def action_close(self) -> None:
        self.dismiss()


def cells(event) -> list:
    incoming = event.direction == "to broker"
    rtt = f"{event.round_trip_ms:.2f} ms" if event.round_trip_ms is not None else ""
    return [
        clock(event.time),
        Text(str(event.tab), justify="right"),
        Text("renderer → broker" if incoming else "broker → renderer", style="cyan" if incoming else "magenta"),
        Text(event.type, style="bold"),
        Text(f"{event.size} B", justify="right"),
        Text(rtt, justify="right"),
    ]
