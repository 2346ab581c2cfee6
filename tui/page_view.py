"""The page: a renderer's frame drawn line by line, with scrolling and link focus.

The frame arrives laid out; this widget only maps each span's style flags to
colours, marks the focused link or form control, and scrolls.  It never looks
at page content beyond the spans it is given.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style as RichStyle
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from browser import NO_COLOR, Frame, Span, Style, readable

# How each style flag looks; later flags in this list win on conflicts.
_FLAG_STYLES: list[tuple[int, RichStyle]] = [
    (Style.QUOTE, RichStyle(color="green", italic=True)),
    (Style.IMAGE, RichStyle(color="magenta", italic=True)),
    (Style.EMPHASIS, RichStyle(italic=True)),
    (Style.BOLD, RichStyle(bold=True)),
    (Style.UNDERLINE, RichStyle(underline=True)),
    (Style.STRIKE, RichStyle(strike=True)),
    (Style.CODE, RichStyle(color="#e5c07b", bgcolor="#2c2c2c")),
    (Style.HEADING, RichStyle(color="#61afef", bold=True)),
    (Style.TITLE, RichStyle(color="#61afef", bold=True, underline=True)),
    (Style.FORM, RichStyle(color="white", bgcolor="#3a3a5a")),
    (Style.LINK, RichStyle(color="#56b6c2", underline=True)),
    (Style.ERROR, RichStyle(color="#e06c75", bold=True)),
    (Style.MARK, RichStyle(color="black", bgcolor="yellow")),
    (Style.FOCUS, RichStyle(reverse=True)),
]
_LINK_NUMBER = RichStyle(color="#c678dd", bold=True)
_FOCUSED = RichStyle(reverse=True, bold=True)


def span_style(flags: int) -> RichStyle:
    style = RichStyle()
    for flag, look in _FLAG_STYLES:
        if flags & flag:
            style += look
    return style


#: Spans whose look the browser decides (links, forms, find matches, errors): author colours stay off them.
_OWN_COLORS = Style.LINK | Style.FORM | Style.MARK | Style.ERROR | Style.FOCUS


def author_style(span: Span, theme: tuple[int, int]) -> RichStyle:
    """The page's colours for ``span``, those readable on the theme only (``broker/colors.py``)."""
    color, background = readable(span.color, span.background, theme_foreground=theme[0], theme_background=theme[1])
    return RichStyle(
        color=None if color == NO_COLOR else f"#{color:06x}",
        bgcolor=None if background == NO_COLOR else f"#{background:06x}",
    )


@dataclass(frozen=True)
class Target:
    """Something Tab can focus: a link or a form control."""

    kind: str  # "link" or "field"
    number: int  # link number or field id
    line: int


class PageView(ScrollView, can_focus=True):
    """Shows one tab's frame."""

    BINDINGS = [
        Binding("up", "scroll_up", "Up", show=False),
        Binding("down", "scroll_down", "Down", show=False),
        Binding("left", "scroll_left", "Left", show=False),
        Binding("right", "scroll_right", "Right", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown,space", "page_down", "Page down", show=False),
        Binding("home", "scroll_home", "Top", show=False),
        Binding("end", "scroll_end", "Bottom", show=False),
        Binding("tab", "focus_next_target", "Next link", show=False),
        Binding("shift+tab", "focus_previous_target", "Previous link", show=False),
        Binding("enter", "activate", "Follow", show=False),
    ]

    class Activated(Message):
        """The user followed a link or picked a form control."""

        def __init__(self, target: Target) -> None:
            super().__init__()
            self.target = target

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.frame: Frame | None = None
        self.focused: Target | None = None
        self.typed_number = ""  # digits typed to follow a link by number
        self._strips: dict[int, Strip] = {}

    # -- content --------------------------------------------------------------

    def show(self, frame: Frame | None, *, scroll: int | None = None) -> None:
        """Draw ``frame``; ``scroll`` puts that line at the top."""
        if frame is not self.frame:
            self.frame = frame
            self._strips.clear()
            if self.focused is not None and not any(t == self.focused for t in self.targets()):
                self.focused = None
            width = max((sum(cell_len(s.text) for s in line.spans) for line in frame.lines), default=0) if frame else 0
            self.virtual_size = Size(width, len(frame.lines) if frame else 0)
        if scroll is not None:
            self._scroll_when_laid_out(scroll, tries=20)
        self.refresh()

    def _scroll_when_laid_out(self, line: int, *, tries: int) -> None:
        """Put ``line`` at the top.  For the first long page the scrollbar
        (and with it scrolling) only exists once the new size is laid out,
        which may take a few refreshes on a busy machine: try again after
        each until the view is there (or the page changed meanwhile)."""
        self.scroll_to(y=line, animate=False, immediate=True)
        settled = self.allow_vertical_scroll and int(self.scroll_y) == min(line, int(self.max_scroll_y))
        if not settled and tries > 0:
            frame = self.frame
            self.call_after_refresh(
                lambda: self.frame is frame and self._scroll_when_laid_out(line, tries=tries - 1))

    def targets(self) -> list[Target]:
        if self.frame is None:
            return []
        found = [Target("link", link.number, link.line) for link in self.frame.links]
        found += [Target("field", f.id, f.line) for f in self.frame.fields if f.kind != "hidden"]
        return sorted(found, key=lambda t: (t.line, t.kind != "link", t.number))

    def focus_target(self, target: Target | None) -> None:
        self.focused = target
        self._strips.clear()
        if target is not None:
            top, height = int(self.scroll_y), self.scrollable_content_region.height
            if not top <= target.line < top + height:
                self.scroll_to(y=max(0, target.line - height // 3), animate=False, immediate=True)
        self.refresh()

    # -- drawing --------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        index = y + scroll_y
        width = self.scrollable_content_region.width
        if self.frame is None or index >= len(self.frame.lines):
            return Strip.blank(width, self.rich_style)
        strip = self._strips.get(index)
        if strip is None:
            strip = self._strips[index] = Strip(self._segments(self.frame.lines[index].spans))
        return strip.crop_extend(scroll_x, scroll_x + width, self.rich_style)

    def _theme(self) -> tuple[int, int]:
        """The theme's text and background colours, as 0xRRGGBB."""
        base = self.rich_style

        def packed(color, default: int) -> int:
            if color is None:
                return default
            triplet = color.get_truecolor()
            return (triplet.red << 16) | (triplet.green << 8) | triplet.blue

        return packed(base.color, 0xE0E0E0), packed(base.bgcolor, 0x000000)

    def _segments(self, spans: list[Span]) -> list[Segment]:
        base = self.rich_style
        focused = self.focused
        segments = []
        theme = None
        for span in spans:
            style = base + span_style(span.style)
            if (span.color != NO_COLOR or span.background != NO_COLOR) and not span.style & _OWN_COLORS:
                theme = theme or self._theme()
                style += author_style(span, theme)
            if focused is not None and (
                (focused.kind == "link" and span.link == focused.number)
                or (focused.kind == "field" and span.field == focused.number)
            ):
                style += _FOCUSED
            suffix = f"[{span.link}]"
            if span.link and span.text.endswith(suffix):
                segments.append(Segment(span.text[: -len(suffix)], style))
                segments.append(Segment(suffix, style + _LINK_NUMBER))
            else:
                segments.append(Segment(span.text, style))
        return segments

    class Resized(Message):
        """The page view changed size: the app asks the renderer to reflow."""

    def on_resize(self) -> None:
        self.post_message(self.Resized())

    # -- keys -----------------------------------------------------------------

    def on_key(self, event) -> None:
        if event.character and event.character.isdigit():
            self.typed_number = (self.typed_number + event.character)[-4:]
            self.post_message(self.NumberTyped(self.typed_number))
            event.stop()
        elif event.key == "escape" and self.typed_number:
            self.typed_number = ""
            self.post_message(self.NumberTyped(""))
            event.stop()
        elif event.key == "backspace" and self.typed_number:
            self.typed_number = self.typed_number[:-1]
            self.post_message(self.NumberTyped(self.typed_number))
            event.stop()

    class NumberTyped(Message):
        def __init__(self, digits: str) -> None:
            super().__init__()
            self.digits = digits

    def action_page_down(self) -> None:
        self.scroll_page_down(animate=False)

    def action_page_up(self) -> None:
        self.scroll_page_up(animate=False)

    def action_scroll_up(self) -> None:
        self.scroll_up(animate=False)

    def action_scroll_down(self) -> None:
        self.scroll_down(animate=False)

    def action_scroll_home(self) -> None:
        self.scroll_home(animate=False)

    def action_scroll_end(self) -> None:
        self.scroll_end(animate=False)

    def action_focus_next_target(self) -> None:
        self._step_target(+1)

    def action_focus_previous_target(self) -> None:
        self._step_target(-1)

    def _step_target(self, step: int) -> None:
        targets = self.targets()
        if not targets:
            return
        if self.focused in targets:
            index = (targets.index(self.focused) + step) % len(targets)
        else:
            top = int(self.scroll_y)
            visible = [i for i, t in enumerate(targets) if t.line >= top]
            index = (visible[0] if visible else 0) if step > 0 else ((visible[0] - 1) if visible else -1)
        self.focus_target(targets[index])

    def action_activate(self) -> None:
        if self.typed_number:
            number, self.typed_number = int(self.typed_number), ""
            self.post_message(self.NumberTyped(""))
            self.post_message(self.Activated(Target("link", number, 0)))
        elif self.focused is not None:
            self.post_message(self.Activated(self.focused))

