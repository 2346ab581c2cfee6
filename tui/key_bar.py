"""The footer: the keys that matter, as many as the terminal's width holds.

Textual's own footer shows every binding and cuts off the ones that do not
fit, whichever they are; this one drops the least important first, in the
order the window gives, and names keys one way everywhere ("^T", "F3",
"Esc", "/").
"""

from __future__ import annotations

import re

from rich.cells import cell_len
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

#: Keys with a name people know from other programs.
KEY_NAMES = {
    "escape": "Esc",
    "delete": "Del",
    "enter": "Enter",
    "tab": "Tab",
    "space": "Space",
    "backspace": "Bksp",
    "pageup": "PgUp",
    "pagedown": "PgDn",
    "home": "Home",
    "end": "End",
    "left": "←",
    "right": "→",
    "up": "↑",
    "down": "↓",
    "slash": "/",
    "question_mark": "?",
}
MODIFIER_NAMES = {"shift": "Shift+", "alt": "Alt+", "meta": "Meta+", "super": "Super+"}
#: At this width and above, keys get the roomier look.
ROOMY_COLUMNS = 120


def key_name(key: str) -> str:
    """How a key is written in the footer: ``ctrl+t`` is ``^T``, ``f3`` is ``F3``,
    ``escape`` is ``Esc``, a character is itself."""
    *modifiers, base = key.split("+") if key != "+" else ["+"]
    if base in KEY_NAMES:
        name = KEY_NAMES[base]
    elif re.fullmatch(r"f\d{1,2}", base):
        name = base.upper()
    elif len(base) == 1:
        name = base
    else:
        name = base.replace("_", " ").capitalize()
    for modifier in reversed(modifiers):
        if modifier == "ctrl":
            name = "^" + (name.upper() if len(name) == 1 else name)
        else:
            name = MODIFIER_NAMES.get(modifier, modifier.capitalize() + "+") + name
    return name


def key_cells(key: str, description: str, *, roomy: bool) -> int:
    """Columns one key takes in the footer (its padding and margin included)."""
    return cell_len(key) + cell_len(description) + (3 if roomy else 2)


def fitting(entries: list[tuple[str, str]], width: int, ranks: list[int], *, roomy: bool) -> set[int]:
    """Which of ``entries`` (key shown, description) fit in ``width`` columns,
    taken in the order of ``ranks`` (lower first; ties in their own order)
    until one does not fit: a less important key never takes the place of
    a more important one."""
    kept: set[int] = set()
    used = 0
    for index in sorted(range(len(entries)), key=ranks.__getitem__):
        used += key_cells(*entries[index], roomy=roomy)
        if used > width:
            break
        kept.add(index)
    return kept


class KeyBar(Footer):
    """The window's footer: its keys in their own order, the most important
    ones kept when the terminal is narrow."""

    def __init__(self, *, priority: list[str], only_these: bool = False, **kwargs) -> None:
        super().__init__(**kwargs)
        self.priority = priority  # actions, the most important first
        self.only_these = only_these  # a screen of its own: the window's keys behind it are not shown
        self._shown_width = 0

    def compose(self) -> ComposeResult:
        if not self._bindings_ready:
            return
        width = self.size.width or self.app.size.width
        self._shown_width = width
        roomy = width >= ROOMY_COLUMNS
        self.set_reactive(Footer.compact, not roomy)
        self.set_class(not roomy, "-compact")
        bindings: dict[str, tuple[Binding, bool, str]] = {}
        for _, binding, enabled, tooltip in self.screen.active_bindings.values():
            if binding.show and (binding.action in self.priority or not self.only_these):
                bindings.setdefault(binding.action, (binding, enabled, tooltip))
        entries = [(self.app.get_key_display(binding), binding.description) for binding, _, _ in bindings.values()]
        ranks = [self.priority.index(action) if action in self.priority else len(self.priority) for action in bindings]
        kept = fitting(entries, width, ranks, roomy=roomy)
        for index, (binding, enabled, tooltip) in enumerate(bindings.values()):
            if index in kept:
                key, description = entries[index]
                yield FooterKey(
                    binding.key, key, description, binding.action, disabled=not enabled, tooltip=tooltip
                ).data_bind(compact=Footer.compact)

    def on_resize(self) -> None:
        if self.size.width != self._shown_width:
            self.call_after_refresh(self.recompose)
