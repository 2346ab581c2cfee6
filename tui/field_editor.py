"""Typing into a form control of the page: a small modal screen."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label


class FieldEditor(ModalScreen[str | None]):
    """Type into a form control: Enter keeps the text, Esc leaves it as it was."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, field) -> None:
        super().__init__()
        self.field = field

    def compose(self) -> ComposeResult:
        with Vertical(id="field-box"):
            name = self.field.name or self.field.kind
            hint = f" (one of: {', '.join(self.field.options)})" if self.field.options else ""
            yield Label(f"{self.field.kind} field “{name}”{hint}")
            yield Input(
                value=self.field.value,
                password=self.field.kind == "password",
                id="field-input",
            )

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)
