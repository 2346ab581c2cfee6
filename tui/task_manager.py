"""The task manager (Shift+Esc, as in Chrome): every process in one sortable table.

Each tab's row also shows what chrome://discards (here ``about:discards``)
shows: lifecycle state and visibility, whether it may be discarded (as the
policy would) and frozen, with the reason when not, whether the policy may
discard it by itself, how often it was discarded and revisited, and when it
was last active.

Actions on the selected row go to the tab through the API (freeze, urgent
discard, proactive discard, restore, toggle auto-discardable, end process,
pin, keep); the API decides whether they are allowed and says why not.
Ending a process asks for confirmation first.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, DataTable, Label, Static

from tui.key_bar import KeyBar
from tui.process_tree import UNKNOWN, SandboxStatus
from tui.processes import ProcessRow, format_bytes, format_percent, format_seconds
from tui.tab_strip import STATE_MARKS

# (column key, heading, sort key)
COLUMNS = [
    ("task", "Task", lambda r: r.task.lower()),
    ("pid", "PID", lambda r: r.pid or 0),
    ("state", "State", lambda r: r.target.state),
    ("uss", "USS", lambda r: r.measurement.uss or 0),
    ("pss", "PSS", lambda r: r.measurement.pss or 0),
    ("cpu", "CPU %", lambda r: r.measurement.cpu_percent or 0.0),
    ("cpu_time", "CPU time", lambda r: r.measurement.cpu_time or 0.0),
    ("ipc", "IPC msgs", lambda r: r.target.messages_in + r.target.messages_out),
    ("sandbox", "Sandbox", lambda r: r.key),
    ("visibility", "Visibility", lambda r: r.target.visibility),
    ("freeze", "Freezable", lambda r: r.target.freezable),
    ("auto", "Auto-discard", lambda r: r.target.auto_discardable),
    ("discards", "Discards", lambda r: r.target.discard_count),
    ("revisits", "Revisits", lambda r: r.target.revisits),
    ("last_active", "Last active", lambda r: -1.0 if r.target.last_active_s is None else r.target.last_active_s),
    ("discard", "Discardable", lambda r: r.target.discardable),
]
SORT_KEYS = {key: sort for key, _, sort in COLUMNS}


def row_cells(row: ProcessRow, sandbox: SandboxStatus) -> list:
    t, m = row.target, row.measurement
    mark, colour = STATE_MARKS.get(t.state, ("", ""))
    state = Text(f"{mark} {t.state}".strip(), style=colour) if t.state else Text("")
    tab = t.role == "renderer"
    discard = t.discardable if tab else ""
    freeze = t.freezable if tab else ""
    return [
        Text(row.task[:30]),
        Text(str(t.pid) if t.pid else "–", justify="right"),
        state,
        Text(format_bytes(m.uss), justify="right"),
        Text(format_bytes(m.pss), justify="right"),
        Text(format_percent(m.cpu_percent), justify="right"),
        Text(format_seconds(m.cpu_time), justify="right"),
        Text(str(t.messages_in + t.messages_out) if t.role == "renderer" else "", justify="right"),
        Text(sandbox.mark, style=sandbox.style),
        Text(t.visibility),
        Text(freeze, style="green" if freeze == "yes" else "yellow"),
        Text(("on" if t.auto_discardable else "off") if tab else ""),
        Text(str(t.discard_count) if tab else "", justify="right"),
        Text(str(t.revisits) if tab else "", justify="right"),
        Text(t.last_active, justify="right"),
        Text(discard, style="green" if discard == "yes" else "yellow"),
    ]


class TaskManager(Screen):
    """A table of every process; refreshed from the app's latest sample."""

    BINDINGS = [
        Binding("escape,shift+escape,f2", "close", "Close"),
        Binding("s", "sort_next", "Sort"),
        Binding("S", "sort_reverse", "Reverse"),
        Binding("f", "lifecycle('freeze')", "Freeze"),
        Binding("d", "lifecycle('discard')", "Urgent discard"),
        Binding("D", "lifecycle('proactive-discard')", "Proactive discard"),
        Binding("r", "lifecycle('restore')", "Restore"),
        Binding("a", "lifecycle('auto-discardable')", "Auto-discard on/off"),
        Binding("e,delete", "end_process", "End process"),
        Binding("p", "lifecycle('pin')", "Pin"),
        Binding("k", "lifecycle('keep')", "Keep"),
    ]

    class LifecycleRequested(Message):
        """The user asked for ``action`` (freeze, discard, restore, end, pin,
        keep) on tab ``tab``; the app asks the API, which may refuse."""

        def __init__(self, action: str, tab: int) -> None:
            super().__init__()
            self.action = action
            self.tab = tab

    def __init__(self) -> None:
        super().__init__()
        self.sort_column = "uss"
        self.sort_reverse = True

    def compose(self) -> ComposeResult:
        yield Static("Task manager", id="task-manager-title")
        yield DataTable(id="task-table", cursor_type="row", zebra_stripes=True)
        yield Static("", id="task-status")
        yield KeyBar(priority=[binding.action for binding in self.BINDINGS], only_these=True)

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for key, heading, _ in COLUMNS:
            table.add_column(heading, key=key)
        self.refresh_rows()
        self.set_interval(1.0, self.refresh_rows)
        table.focus()

    def refresh_rows(self) -> None:
        rows: list[ProcessRow] = list(self.app.process_rows)
        sandbox: dict[str, SandboxStatus] = self.app.sandbox_status
        rows.sort(key=SORT_KEYS[self.sort_column], reverse=self.sort_reverse)
        table = self.query_one(DataTable)
        selected = self.selected_key()
        table.clear()
        for row in rows:
            table.add_row(*row_cells(row, sandbox.get(row.key, UNKNOWN)), key=row.key)
        if selected is not None:
            keys = [row.key for row in rows]
            if selected in keys:
                table.move_cursor(row=keys.index(selected), animate=False)
        heading = dict((k, h) for k, h, _ in COLUMNS)[self.sort_column]
        self.query_one("#task-manager-title", Static).update(
            f"Task manager — {len(rows)} processes and tabs, sorted by {heading} {'↓' if self.sort_reverse else '↑'}"
        )

    def selected_key(self) -> str | None:
        table = self.query_one(DataTable)
        if table.row_count == 0:
            return None
        try:
            return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        except Exception:  # noqa: BLE001 - an empty or shrinking table
            return None

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        key = event.column_key.value
        if key == self.sort_column:
            self.sort_reverse = not self.sort_reverse
        else:
            self.sort_column, self.sort_reverse = key, key not in ("task", "pid", "state")
        self.refresh_rows()

    def action_sort_next(self) -> None:
        keys = [k for k, _, _ in COLUMNS]
        self.sort_column = keys[(keys.index(self.sort_column) + 1) % len(keys)]
        self.sort_reverse = self.sort_column not in ("task", "pid", "state")
        self.refresh_rows()

    def action_sort_reverse(self) -> None:
        self.sort_reverse = not self.sort_reverse
        self.refresh_rows()

    def action_close(self) -> None:
        self.dismiss()

    def _selected_tab(self) -> int | None:
        key = self.selected_key()
        if key is None or not key.startswith("tab-"):
            self.notify("Pick a tab's row: the broker, the network process and the zygote are not tabs.", severity="warning")
            return None
        return int(key.removeprefix("tab-"))

    def action_lifecycle(self, action: str) -> None:
        tab = self._selected_tab()
        if tab is not None:
            self.post_message(self.LifecycleRequested(action, tab))

    def action_end_process(self) -> None:
        tab = self._selected_tab()
        if tab is None:
            return
        row = next((r for r in self.app.process_rows if r.key == f"tab-{tab}"), None)
        name = row.task if row else f"tab {tab}"

        def confirmed(yes: bool | None) -> None:
            if yes:
                self.post_message(self.LifecycleRequested("end", tab))

        self.app.push_screen(Confirm(f"End the process of “{name}”?", "The page will show a sad tab; you can reload it."), confirmed)


class Confirm(ModalScreen[bool]):
    """Yes or no, defaulting to no."""

    BINDINGS = [Binding("y", "answer(True)", "Yes"), Binding("n,escape", "answer(False)", "No")]

    def __init__(self, question: str, detail: str = "") -> None:
        super().__init__()
        self.question, self.detail = question, detail

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-box"):
            yield Label(self.question, id="confirm-question")
            yield Label(self.detail, id="confirm-detail")
            with Horizontal(id="confirm-buttons"):
                yield Button("End process (y)", variant="error", id="yes")
                yield Button("Cancel (n)", id="no")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)
