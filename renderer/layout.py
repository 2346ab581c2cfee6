"""Block and inline layout of a :class:`~renderer.document.Document` into lines.

A :class:`Flow` fills lines of a fixed width in terminal cells.  Inline
content is gathered into *pieces* (text with a style, link number and field
id) until a block boundary, then broken into words and wrapped greedily.
Blocks set indentation, list markers and the blank lines between them.
Tables lay each cell out in a flow of its own, first at an unbounded width to
measure it, then at the width its column gets.

A line is a list of *segments* ``(text, style, link, field)`` with its width;
:func:`to_line` merges them into protocol ``Span`` objects at the end.

Fragment targets (an element's ``id``, an ``<a name>``) travel with the inline
content as :class:`Anchor` pieces and land on the line that shows the first
text after them, so that ``#section`` scrolls to where the section starts.
"""

from __future__ import annotations

from typing import Callable, Protocol

from wcwidth import wcwidth

from .document import UA_KINDS, Document, Element, Field, collapse, kind, parse_int
from .style import NO_COLOR, Computed
from .protocol import Line, Span, Style

Segment = tuple  # (text, style, link, field)

#: The width used to measure content that is not wrapped.
UNBOUNDED = 1 << 20
#: Tables nested deeper than this are laid out as plain blocks.
MAX_TABLE_DEPTH = 8
#: The Style bit used for the focused form control.
FOCUS = Style.FOCUS

_TEXT, _PRE, _BR, _ANCHOR = 0, 1, 2, 3
_WHITESPACE = str.maketrans({"\t": " ", "\n": " ", "\f": " ", "\r": " "})
_NBSP = "\u00a0"
_ZWSP = "\u200b"
# Wide punctuation that must not start a line (a little kinsoku).
_NO_BREAK_BEFORE = frozenset(".,;:!?)]}'\"%、。，．・：；？！ー）」』】〕〉》〙〗｝］”’ゝゞヽヾぁぃぅぇぉっゃゅょゎァィゥェォッャュョヮヵヶ")

_width_cache: dict[str, int] = {}


def char_width(char: str) -> int:
    width = _width_cache.get(char)
    if width is None:
        width = wcwidth(char)
        if width < 0:
            # A control character: the broker shows it as a one-cell picture
            # (broker/safe_text.py), so it takes one cell.
            width = 1
        _width_cache[char] = width
    return width


def cells(text: str) -> int:
    """Width of ``text`` in terminal cells."""
    if text.isascii():
        return len(text)
    return sum(char_width(c) for c in text)


class Anchor:
    """A fragment target: ``id`` attributes win over ``<a name>`` (HTML's order)."""

    __slots__ = ("name", "by_id")

    def __init__(self, name: str, *, by_id: bool) -> None:
        self.name = name
        self.by_id = by_id


class Anchors:
    """Where each fragment target is: name -> line, ids and names apart."""

    def __init__(self) -> None:
        self.ids: dict[str, int] = {}
        self.names: dict[str, int] = {}

    def add(self, anchor: Anchor, line: int) -> None:
        (self.ids if anchor.by_id else self.names).setdefault(anchor.name, line)

    def merged(self, *, offset: int = 0, last_line: int = 0, limit: int | None = None) -> dict[str, int]:
        """One table, ids first (the first element with an id wins), lines moved
        by ``offset`` and kept within the page; at most ``limit`` entries."""
        table: dict[str, int] = {}
        for source in (self.ids, self.names):
            for name, line in source.items():
                if limit is not None and len(table) >= limit:
                    return table
                table.setdefault(name, max(0, min(last_line, line + offset)))
        return table

    def by_line(self) -> dict[int, list[Anchor]]:
        """The anchors on each line (for moving a table cell's anchors into the table)."""
        lines: dict[int, list[Anchor]] = {}
        for source, by_id in ((self.ids, True), (self.names, False)):
            for name, line in source.items():
                lines.setdefault(line, []).append(Anchor(name, by_id=by_id))
        return lines


class FormState(Protocol):
    """What layout needs to know about the user's form input."""

    focused: int

    def value(self, field: Field) -> str: ...
    def checked(self, field: Field) -> bool: ...
    def selected(self, field: Field) -> int: ...


BLOCKS = frozenset(
    {
        "address", "article", "aside", "body", "center", "details", "dialog",
        "div", "fieldset", "figcaption", "footer", "form", "header", "hgroup",
        "html", "legend", "main", "menu", "nav", "section", "summary", "tr",
        "td", "th", "tbody", "thead", "tfoot", "caption", "frame",
    }
)
# Blocks with a blank line before and after.
SPACED = frozenset({"p", "figure", "dl", "fieldset", "details", "address", "center"})
INLINE_STYLES = {
    "b": Style.BOLD, "strong": Style.BOLD,
    "i": Style.EMPHASIS, "em": Style.EMPHASIS, "cite": Style.EMPHASIS,
    "var": Style.EMPHASIS, "dfn": Style.EMPHASIS,
    "code": Style.CODE, "kbd": Style.CODE, "samp": Style.CODE, "tt": Style.CODE,
}
HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
BULLETS = "*+-"


class Context:
    """What every flow of one layout pass shares."""

    def __init__(self, document: Document, forms: FormState):
        self.document = document
        self.forms = forms
        self.fields = {field.id: field for field in document.fields}
        self.table_depth = 0
        self.measured: dict[tuple[int, int, int], "Flow"] = {}


class Flow:
    def __init__(self, context: Context, width: int, style: int = 0):
        self.context = context
        self.width = max(1, width)
        self.lines: list[tuple[list[Segment], int]] = []
        self.blank = False  # a blank line is wanted before the next content
        self.pieces: list[tuple] = []
        self.indent = 0
        self.marker: tuple[str, int] | None = None  # list marker for the next line
        self.style = style
        self.link = 0
        self.pre = 0
        self.list_depth = 0
        self.min_width = 0  # widest thing that cannot be wrapped, with its indent
        self.max_width = 0  # widest line
        self.anchors = Anchors()
        self.waiting_anchors: list[Anchor] = []  # placed on the next line emitted
        # Whether the lines depend on the width beyond wrapping (a rule, a
        # textarea, an indent cut by a narrow width): then a table cell
        # measured unbounded is laid out again at its column's width.
        self.width_dependent = False

    @property
    def margin(self) -> int:
        """The indent actually used: deep nesting never squeezes text out of the line."""
        return min(self.indent, self.width * 2 // 3)

    # -- output -------------------------------------------------------------

    def emit(self, segments: list[Segment], width: int) -> None:
        """Add a line of content at the current indent."""
        if self.blank:
            if self.lines and self.lines[-1][0]:
                self.lines.append(([], 0))
            self.blank = False
        if self.waiting_anchors:
            self.place_anchors(self.waiting_anchors, len(self.lines))
        indent = self.indent
        if indent * 3 > self.width * 2:
            indent = self.margin
            self.width_dependent = True
        if self.marker is not None:
            text, marker_width = self.marker
            self.marker = None
            pad = max(0, indent - marker_width - 1)
            segments = [(" " * pad + text + " ", 0, 0, 0), *segments]
            width += max(indent, pad + marker_width + 1)
        elif indent and segments:
            segments = [(" " * indent, 0, 0, 0), *segments]
            width += indent
        self.lines.append((segments, width))
        if width > self.max_width:
            self.max_width = width

    def place_anchors(self, anchors: list[Anchor], line: int) -> None:
        for anchor in anchors:
            self.anchors.add(anchor, line)
        anchors.clear()

    def emit_blank(self) -> None:
        """An empty line (from <br><br>), never two in a row."""
        self.blank = False
        if self.lines and self.lines[-1][0]:
            self.lines.append(([], 0))

    def want_blank(self) -> None:
        self.blank = True

    def finish(self) -> list[tuple[list[Segment], int]]:
        self.flush()
        if self.marker is not None:
            self.emit([], 0)
        while self.lines and not self.lines[-1][0]:
            self.lines.pop()
        if self.waiting_anchors:  # targets after the last text: the last line
            self.place_anchors(self.waiting_anchors, max(0, len(self.lines) - 1))
        return self.lines

    # -- inline content -----------------------------------------------------

    def text(self, text: str, style: int | None = None, field: int = 0) -> None:
        kind = _PRE if self.pre else _TEXT
        self.pieces.append((kind, text, self.style if style is None else style, self.link, field))

    def atom(self, text: str, style: int, field: int = 0) -> None:
        """Text that is never broken across lines (a form control)."""
        self.pieces.append((_TEXT, text.replace(" ", _NBSP), style, self.link, field))

    def line_break(self) -> None:
        self.pieces.append((_BR, "", 0, 0, 0))

    def flush(self) -> None:
        if not self.pieces:
            return
        pieces, self.pieces = self.pieces, []
        if any(piece[0] == _PRE for piece in pieces):
            self._fill_pre(pieces)
        else:
            self._fill(pieces)

    def _fill(self, pieces: list[tuple]) -> None:
        """Collapse whitespace and wrap ``pieces`` greedily."""
        avail = max(1, self.width - self.margin)
        words = _words(pieces)
        line: list[Segment] = []
        x = 0
        space = None
        min_width = self.min_width
        indent = self.margin
        waiting: list[Anchor] = []  # anchors before the next word
        on_line: list[Anchor] = []  # anchors on the line being filled
        for word in words:
            if word is None:  # <br>
                if line:
                    self.waiting_anchors += on_line
                    on_line.clear()
                    self.emit(line, x)
                else:
                    self.emit_blank()
                line, x, space = [], 0, None
                continue
            if word.__class__ is Anchor:
                waiting.append(word)
                continue
            segments, width = word
            if segments is None:  # a space
                if x:
                    space = space or width
                continue
            if width + indent > min_width:
                min_width = width + indent
            if x and x + (space is not None) + width > avail:
                self.waiting_anchors += on_line
                on_line.clear()
                self.emit(line, x)
                line, x, space = [], 0, None
            if space is not None and x:
                line.append((" ", space[0], space[1], 0))
                x += 1
            space = None
            if x + width <= avail:
                if waiting:
                    on_line += waiting
                    waiting.clear()
                line.extend(segments)
                x += width
                continue
            for chunk, chunk_width in _split_word(segments, avail - x, avail):
                if x + chunk_width > avail and line:
                    self.waiting_anchors += on_line
                    on_line.clear()
                    self.emit(line, x)
                    line, x = [], 0
                if waiting:
                    on_line += waiting
                    waiting.clear()
                line.extend(chunk)
                x += chunk_width
        if line:
            # Anchors after the last word of a run stay on its line.
            self.waiting_anchors += on_line + waiting
            self.emit(line, x)
        else:
            self.waiting_anchors += waiting
        self.min_width = min_width

    def _fill_pre(self, pieces: list[tuple]) -> None:
        """Keep preformatted text verbatim, wrapping lines wider than the flow."""
        avail = max(1, self.width - self.margin)
        rows: list[tuple[list[Segment], int]] = []
        row_anchors: list[tuple[int, Anchor]] = []  # (row, anchor)
        line: list[Segment] = []
        x = 0
        widest = 0
        for kind, text, style, link, field in pieces:
            if kind == _BR:
                rows.append((line, x))
                line, x = [], 0
                continue
            if kind == _ANCHOR:
                row_anchors.append((len(rows), text))
                continue
            for index, chunk in enumerate(text.replace("\r\n", "\n").replace("\r", "\n").split("\n")):
                if index:
                    rows.append((line, x))
                    line, x = [], 0
                if not chunk:
                    continue
                if "\t" in chunk:
                    chunk = _expand_tabs(chunk, x)
                width = cells(chunk)
                widest = max(widest, x + width)
                if x + width <= avail:
                    line.append((chunk, style, link, field))
                    x += width
                    continue
                for part, part_width in _split_word([(chunk, style, link, field)], avail - x, avail):
                    if x + part_width > avail and line:
                        rows.append((line, x))
                        line, x = [], 0
                    line.extend(part)
                    x += part_width
        if line:
            rows.append((line, x))
        leading = 0
        while leading < len(rows) and not _has_text(rows[leading][0]):
            leading += 1
        rows = rows[leading:]
        while rows and not _has_text(rows[-1][0]):
            rows.pop()
        if not rows:
            self.waiting_anchors += [anchor for _, anchor in row_anchors]
        for index, (segments, width) in enumerate(rows):
            for row, anchor in row_anchors:
                if max(0, min(len(rows) - 1, row - leading)) == index:
                    self.waiting_anchors.append(anchor)
            if _has_text(segments):
                self.emit(segments, width)
            else:
                self.place_anchors(self.waiting_anchors, len(self.lines))
                self.lines.append(([], 0))  # blank lines inside <pre> are kept
        self.min_width = max(self.min_width, min(widest, 40) + self.margin)

    # -- blocks -------------------------------------------------------------

    def children(self, element: Element) -> None:
        for child in element.children:
            if isinstance(child, str):
                kind = _PRE if self.pre else _TEXT
                self.pieces.append((kind, child, self.style, self.link, 0))
            else:
                self.element(child)

    def element(self, element: Element) -> None:
        css = element.css
        if css is not None:
            self.styled(element, css)
            return
        self.by_tag(element)

    def styled(self, element: Element, css: Computed) -> None:
        """An element with an author style: its emphasis, colours and white
        space around what its tag (or its ``display``) does."""
        saved_style, saved_pre = self.style, self.pre
        style = _emphasis(self.style, css)
        own = kind(element)
        # Backgrounds sparingly: an inline element's (a highlight, a badge), not
        # a block's or the page's, which would paint the terminal in patches.
        background = css.background if own == "inline" else NO_COLOR
        if css.color != NO_COLOR or background != NO_COLOR:
            if background == NO_COLOR:
                background = (style >> _BACKGROUND_SHIFT) - 1 if style > Style.ALL else NO_COLOR
            style = (style & ~_COLORS) | pack_colors(css.color, background)
        self.style = style
        white_space = css.white_space
        if white_space is not None:
            self.pre = 1 if white_space in ("pre", "pre-wrap", "break-spaces") else 0
        if own == UA_KINDS.get(element.tag, "inline"):
            self.by_tag(element)
        elif own == "block" or own == "row" or own == "group":
            if element.tag in _INLINE_HANDLERS:  # a link or control made a block (a flex item)
                self.flush()
                self.by_tag(element)
                self.flush()
            else:
                self.block(element)
        elif own == "inline":
            if element.tag in _INLINE_HANDLERS:
                self.by_tag(element)
            else:
                self.children(element)
        elif own == "list-item":
            self.stray_item(element)
        elif own == "table":
            self.table(element)
        elif own == "cell":
            self.children(element)
            self.text(" ")
        self.style, self.pre = saved_style, saved_pre

    def by_tag(self, element: Element) -> None:
        tag = element.tag
        handler = _HANDLERS.get(tag)
        attrs = element.attrs
        if "id" in attrs or (tag == "a" and "name" in attrs):
            if (handler is not None and tag not in _INLINE_HANDLERS) or tag in BLOCKS or tag in SPACED:
                self.flush()  # a block's anchor belongs to its own first line, not the text before
            if attrs.get("id"):
                self.pieces.append((_ANCHOR, Anchor(attrs["id"], by_id=True), 0, 0, 0))
            if tag == "a" and attrs.get("name"):
                self.pieces.append((_ANCHOR, Anchor(attrs["name"], by_id=False), 0, 0, 0))
        if handler is not None:
            handler(self, element)
        elif tag in BLOCKS:
            self.block(element)
        elif tag in SPACED:
            self.block(element, spaced=True)
        else:
            style = INLINE_STYLES.get(tag)
            if style is None:
                self.children(element)
            else:
                saved = self.style
                self.style |= style
                if element.css is not None:  # the author's word on <b>, <em>... wins over the tag's
                    self.style = _emphasis(self.style, element.css)
                self.children(element)
                self.style = saved

    def block(self, element: Element, *, spaced: bool = False, indent: int = 0, style: int = 0) -> None:
        self.flush()
        if spaced:
            self.want_blank()
        saved = self.indent, self.style
        self.indent += indent
        self.style |= style
        self.children(element)
        self.flush()
        self.indent, self.style = saved
        if spaced:
            self.want_blank()

    def heading(self, element: Element) -> None:
        self.flush()
        self.want_blank()
        first = len(self.lines)
        self.block(element, style=Style.HEADING)
        if element.tag == "h1" and len(self.lines) > first:
            width = max(width for _, width in self.lines[first:]) - self.margin
            if width > 0:
                self.emit([("=" * width, Style.HEADING, 0, 0)], width)
        self.want_blank()

    def preformatted(self, element: Element) -> None:
        self.flush()
        self.want_blank()
        saved = self.style, self.pre
        if element.css is None or element.css.white_space is None:
            self.pre += 1
        self.style |= Style.CODE
        self.children(element)
        self.flush()
        self.style, self.pre = saved
        self.want_blank()

    def blockquote(self, element: Element) -> None:
        self.block(element, spaced=True, indent=4, style=Style.QUOTE)

    def rule(self, element: Element) -> None:
        self.width_dependent = True
        self.flush()
        self.want_blank()
        width = max(1, self.width - self.margin)
        self.emit([("-" * width, self.style & Style.QUOTE, 0, 0)], width)
        self.want_blank()

    def br(self, element: Element) -> None:
        self.line_break()

    def list(self, element: Element) -> None:
        self.flush()
        if self.marker is not None:
            self.emit([], 0)
        ordered = element.tag == "ol"
        items = [c for c in element.children if isinstance(c, Element) and c.tag == "li"]
        reversed_ = ordered and "reversed" in element.attrs
        start = parse_int(element.attrs.get("start")) if ordered else None
        if start is None:
            start = len(items) if reversed_ else 1
        step = -1 if reversed_ else 1
        numbers: list[str] = []
        number = start
        for item in items:
            value = parse_int(item.attrs.get("value")) if ordered else None
            if value is not None:
                number = value
            list_style = item.css.list_style if item.css is not None else None
            numbers.append(list_marker(list_style, number, ordered, self.list_depth))
            number += step
        marker_width = max((len(n) for n in numbers), default=1)
        top_level = self.list_depth == 0
        if top_level:
            self.want_blank()
        saved = self.indent
        self.indent += (2 if top_level else 0) + marker_width + 1
        self.list_depth += 1
        markers = iter(numbers)
        for child in element.children:
            if isinstance(child, str):
                self.pieces.append((_TEXT, child, self.style, self.link, 0))
            elif child.tag == "li":
                self.item(child, next(markers))
            else:
                self.element(child)
        self.flush()
        if self.marker is not None:
            self.emit([], 0)
        self.list_depth -= 1
        self.indent = saved
        if top_level:
            self.want_blank()

    def item(self, element: Element, marker: str) -> None:
        self.flush()
        if self.marker is not None:
            self.emit([], 0)
        self.marker = (marker, len(marker))
        self.children(element)
        self.flush()
        if self.marker is not None:
            self.emit([], 0)

    def stray_item(self, element: Element) -> None:
        """An <li> outside any list (or an element with ``display: list-item``)."""
        self.flush()
        saved = self.indent
        self.indent += 2
        list_style = element.css.list_style if element.css is not None else None
        self.item(element, list_marker(list_style, 1, False, self.list_depth))
        self.indent = saved

    def definition_term(self, element: Element) -> None:
        self.block(element, style=Style.BOLD)

    def definition(self, element: Element) -> None:
        self.block(element, indent=4)

    def link(self, element: Element) -> None:
        number = element.link
        if not number:
            self.children(element)
            return
        saved = self.style, self.link
        self.style |= Style.LINK
        self.link = number
        self.children(element)
        self.pieces.append((_PRE if self.pre else _TEXT, f"[{number}]", self.style, number, 0))
        self.style, self.link = saved

    def image(self, element: Element) -> None:
        alt = element.attrs.get("alt")
        if alt is None:
            if not self.link:
                return
            label = "image"
        else:
            label = collapse(alt)
            if not label:
                return
        self.text(f"[{label}]", style=self.style | Style.IMAGE)

    def frame_slot(self, element: Element) -> None:
        """A subframe's placeholder: one line of its own, marked with an
        anchor no page can name (attribute values never hold NUL), which the
        broker replaces with the frame's composed lines."""
        if not element.slot:
            return
        self.flush()
        self.pieces.append((_ANCHOR, Anchor(slot_anchor(element.slot), by_id=True), 0, 0, 0))
        self.text(f"[frame {element.slot}]", style=Style.IMAGE)
        self.flush()

    def quotation(self, element: Element) -> None:
        css = element.css
        if css is None or css.before is None:
            self.text("\u201c")
        self.children(element)
        if css is None or css.after is None:
            self.text("\u201d")

    def control(self, element: Element) -> None:
        field = self.context.fields.get(element.field)
        if field is None or field.kind == "hidden":
            return
        forms = self.context.forms
        style = self.style | Style.FORM
        if forms.focused == field.id:
            style |= FOCUS
        kind = field.kind
        if kind == "textarea":
            self.textarea(field, style)
            return
        if kind in ("text", "password"):
            value = forms.value(field)
            if kind == "password":
                value = "*" * len(value)
            size = field.size
            shown = _clip(collapse(value) if "\n" in value else value, size)
            text = "[" + shown + "_" * max(0, size - cells(shown)) + "]"
        elif kind == "checkbox":
            text = "[x]" if forms.checked(field) else "[ ]"
        elif kind == "radio":
            text = "(*)" if forms.checked(field) else "( )"
        elif kind == "select":
            index = forms.selected(field)
            label = field.options[index].label if 0 <= index < len(field.options) else ""
            text = "[" + label + " v]"
        elif kind == "file":
            text = "[file: none]"
        else:
            text = "[ " + (field.label or field.value or kind.capitalize()) + " ]"
        self.atom(text, style, field.id)

    def textarea(self, field: Field, style: int) -> None:
        self.width_dependent = True
        self.flush()
        avail = max(4, self.width - self.margin)
        inner = max(1, min(field.cols, avail - 2))
        rows: list[str] = []
        for raw in self.context.forms.value(field).split("\n"):
            raw = _expand_tabs(raw, 0)
            while cells(raw) > inner:
                head, raw = _split_cells(raw, inner)
                rows.append(head)
            rows.append(raw)
        if rows and rows[-1] == "" and len(rows) > 1:
            rows.pop()
        rows += [""] * max(0, field.rows - len(rows))
        border = "+" + "-" * inner + "+"
        self.emit([(border, style, 0, field.id)], inner + 2)
        for row in rows:
            pad = " " * (inner - cells(row))
            self.emit([("|" + row + pad + "|", style, 0, field.id)], inner + 2)
        self.emit([(border, style, 0, field.id)], inner + 2)

    # -- tables -------------------------------------------------------------

    def table(self, element: Element) -> None:
        self.flush()
        self.want_blank()
        caption, grid = _table_grid(element)
        if caption is not None:
            saved_style = self.style
            self.style |= Style.EMPHASIS
            self.block(caption)
            self.style = saved_style
        context = self.context
        if context.table_depth >= MAX_TABLE_DEPTH or not grid:
            for row in grid:
                for cell in row:
                    self.block(cell.element)
            self.want_blank()
            return
        context.table_depth += 1
        try:
            self._table(element, grid)
        finally:
            context.table_depth -= 1
        self.want_blank()

    def _table(self, element: Element, grid: list[list["_Cell"]]) -> None:
        columns = max(cell.column + cell.span for row in grid for cell in row)
        data_table = any(cell.element.tag == "th" for row in grid for cell in row) or (
            element.attrs.get("border", "0").strip() not in ("", "0")
        )
        separator = " | " if data_table else "  "
        sep_width = len(separator)
        for row in grid:
            for cell in row:
                cell.measure(self)
        minimum = [0] * columns
        maximum = [0] * columns
        for row in grid:
            for cell in row:
                if cell.span == 1:
                    minimum[cell.column] = max(minimum[cell.column], cell.min_width)
                    maximum[cell.column] = max(maximum[cell.column], cell.max_width)
        for row in grid:
            for cell in row:
                if cell.span > 1:
                    _spread(minimum, cell, cell.min_width, sep_width)
                    _spread(maximum, cell, cell.max_width, sep_width)
        active = [c for c in range(columns) if maximum[c] > 0]
        avail = self.width - self.margin
        gaps = sep_width * (len(active) - 1)
        if len(active) <= 1:
            self._table_as_blocks(grid, labels=None)
            return
        if sum(maximum) + gaps <= avail:
            widths = maximum
        elif sum(minimum) + gaps <= avail:
            widths = list(minimum)
            extra = avail - gaps - sum(minimum)
            slack = [maximum[c] - minimum[c] for c in range(columns)]
            total_slack = sum(slack) or 1
            given = 0
            for c in active:
                share = extra * slack[c] // total_slack
                widths[c] += share
                given += share
            for c in active:  # what integer division left over
                if given >= extra:
                    break
                if widths[c] < maximum[c]:
                    widths[c] += 1
                    given += 1
        else:
            header = grid[0]
            labels = None
            if len(grid) > 1 and all(cell.element.tag == "th" for cell in header):
                labels = {cell.column: cell.element.text() for cell in header}
            self._table_as_blocks(grid, labels=labels)
            return
        self._table_as_grid(grid, widths, active, separator, data_table)

    def _table_as_grid(self, grid, widths, active, separator, data_table) -> None:
        is_active = [w > 0 for w in widths]
        header_rows = 1 if all(cell.element.tag == "th" for cell in grid[0]) and len(grid) > 1 else 0
        rendered = []
        cell_anchors: list[tuple[int, dict[int, list[Anchor]]]] = []  # (row, anchors by line)
        for row in grid:
            cells_out = []
            for cell in row:
                span_columns = [c for c in range(cell.column, cell.column + cell.span) if is_active[c]]
                if not span_columns:
                    continue
                width = sum(widths[c] for c in span_columns) + len(separator) * (len(span_columns) - 1)
                cell_flow = cell.flow(self, width)
                cells_out.append((cell, span_columns, width, cell_flow.lines))
                if cell_flow.anchors.ids or cell_flow.anchors.names:
                    cell_anchors.append((len(rendered), cell_flow.anchors.by_line()))
            rendered.append(cells_out)
        tall = any(len(flow) > 1 for row in rendered for _, _, _, flow in row)
        rule_segments = None
        if data_table:
            rule = "-+-".join("-" * widths[c] for c in active)
            rule_segments = ([(rule, self.style & Style.QUOTE, 0, 0)], len(rule))
        for index, row in enumerate(rendered):
            if index and data_table and (index == header_rows or tall):
                self.emit(*rule_segments)
            height = max((len(flow) for _, _, _, flow in row), default=0)
            if height == 0:
                continue
            by_column = {columns[0]: (cell, columns, width, flow) for cell, columns, width, flow in row}
            row_anchors = [by_line for row_index, by_line in cell_anchors if row_index == index]
            for line_index in range(height):
                for by_line in row_anchors:
                    self.waiting_anchors += by_line.get(line_index, [])
                segments: list[Segment] = []
                x = 0
                column = 0
                first = True
                while column < len(widths):
                    if not is_active[column]:
                        column += 1
                        continue
                    if not first:
                        segments.append((separator, self.style & Style.QUOTE, 0, 0))
                        x += len(separator)
                    first = False
                    entry = by_column.get(column)
                    if entry is None:
                        segments.append((" " * widths[column], 0, 0, 0))
                        x += widths[column]
                        column += 1
                        continue
                    cell, columns, width, flow = entry
                    if line_index < len(flow):
                        line_segments, line_width = flow[line_index]
                        pad = width - line_width
                        if cell.align == "right" and pad > 0:
                            segments.append((" " * pad, 0, 0, 0))
                            segments.extend(line_segments)
                        elif cell.align == "center" and pad > 1:
                            segments.append((" " * (pad // 2), 0, 0, 0))
                            segments.extend(line_segments)
                            segments.append((" " * (pad - pad // 2), 0, 0, 0))
                        else:
                            segments.extend(line_segments)
                            segments.append((" " * pad, 0, 0, 0))
                    else:
                        segments.append((" " * width, 0, 0, 0))
                    x += width
                    column = columns[-1] + 1
                self.emit(segments, x)

    def _table_as_blocks(self, grid, labels: dict[int, str] | None) -> None:
        """One cell after another: for single-column and too-wide tables."""
        for index, row in enumerate(grid):
            if labels is not None and index == 0:
                continue
            self.flush()
            for cell in row:
                self.flush()
                label = labels.get(cell.column) if labels else None
                if label:
                    self.pieces.append((_TEXT, label + ": ", self.style | Style.BOLD, 0, 0))
                saved = self.style
                if cell.element.tag == "th":
                    self.style |= Style.BOLD
                self.children(cell.element)
                self.style = saved
                self.flush()
            if len(row) > 1 or labels is not None:
                self.want_blank()

class _Cell:
    __slots__ = ("element", "column", "span", "align", "min_width", "max_width", "measured")

    def __init__(self, element: Element, column: int, span: int):
        self.element = element
        self.column = column
        self.span = span
        align = element.attrs.get("align", "").strip().lower()
        self.align = align if align in ("right", "center") else ""

    def flow(self, parent: Flow, width: int) -> Flow:
        key = (id(self.element), width, parent.style)
        measured = parent.context.measured
        flow = measured.get(key)
        if flow is None and width != UNBOUNDED:
            # What fits unbounded in this width is laid out the same at it.
            unbounded = measured.get((id(self.element), UNBOUNDED, parent.style))
            if unbounded is not None and unbounded.max_width <= width and not unbounded.width_dependent:
                flow = unbounded
        if flow is None:
            style = parent.style | (Style.BOLD if self.element.tag == "th" else 0)
            flow = Flow(parent.context, width, style)
            flow.link = parent.link
            flow.children(self.element)
            flow.finish()
            measured[key] = flow
        return flow

    def measure(self, parent: Flow) -> None:
        flow = self.flow(parent, UNBOUNDED)
        self.max_width = flow.max_width
        self.min_width = min(flow.min_width, flow.max_width)



def _table_grid(table: Element) -> tuple[Element | None, list[list[_Cell]]]:
    caption = None
    rows: list[Element] = []
    for child in table.children:
        if isinstance(child, str):
            continue
        role = kind(child) if child.css is not None else UA_KINDS.get(child.tag)
        if child.tag == "caption" and caption is None:
            caption = child
        elif role == "group":
            rows.extend(c for c in child.children if isinstance(c, Element) and kind(c) == "row")
        elif role == "row":
            rows.append(child)
    grid: list[list[_Cell]] = []
    occupied: dict[int, set[int]] = {}
    for r, row in enumerate(rows):
        cells_in_row: list[_Cell] = []
        taken = occupied.get(r, set())
        column = 0
        for cell in row.children:
            if isinstance(cell, str) or kind(cell) != "cell":
                continue
            while column in taken:
                column += 1
            span = max(1, min(100, parse_int(cell.attrs.get("colspan")) or 1))
            rowspan = max(1, min(100, parse_int(cell.attrs.get("rowspan")) or 1))
            cells_in_row.append(_Cell(cell, column, span))
            for below in range(r + 1, min(len(rows), r + rowspan)):
                occupied.setdefault(below, set()).update(range(column, column + span))
            column += span
        if cells_in_row:
            grid.append(cells_in_row)
    return caption, grid


def _spread(widths: list[int], cell: _Cell, needed: int, sep_width: int) -> None:
    """Widen the columns a spanning cell covers so that it fits."""
    columns = range(cell.column, cell.column + cell.span)
    have = sum(widths[c] for c in columns) + sep_width * (cell.span - 1)
    if needed <= have:
        return
    extra = needed - have
    total = sum(widths[c] for c in columns)
    given = 0
    for c in columns:  # in proportion to what the columns already hold
        share = extra * widths[c] // total if total else extra // cell.span
        widths[c] += share
        given += share
    for c in columns:
        if given >= extra:
            break
        widths[c] += 1
        given += 1


def _has_text(segments: list[Segment]) -> bool:
    return any(seg[0].strip(" ") for seg in segments)


def _expand_tabs(text: str, column: int) -> str:
    out: list[str] = []
    for char in text:
        if char == "\t":
            spaces = 8 - (column % 8)
            out.append(" " * spaces)
            column += spaces
        else:
            out.append(char)
            column += char_width(char)
    return "".join(out)


def _split_cells(text: str, width: int) -> tuple[str, str]:
    """Split ``text`` after at most ``width`` cells (at least one character)."""
    x = 0
    for index, char in enumerate(text):
        w = char_width(char)
        if x + w > width and index:
            return text[:index], text[index:]
        x += w
    return text, ""


def _clip(text: str, width: int) -> str:
    return _split_cells(text, width)[0] if cells(text) > width else text


def _words(pieces: list[tuple]) -> list:
    """Break pieces into words: ``(segments, width)``, spaces ``(None, (style, link))``, ``None`` for <br>."""
    words: list = []
    word: list[Segment] = []
    word_width = 0
    for kind, text, style, link, field in pieces:
        if kind == _BR:
            if word:
                words.append((word, word_width))
                word, word_width = [], 0
            words.append(None)
            continue
        if kind == _ANCHOR:  # goes before the word it is in (or the next one)
            words.append(text)
            continue
        parts = text.translate(_WHITESPACE).split(" ")
        for index, part in enumerate(parts):
            if index:
                if word:
                    words.append((word, word_width))
                    word, word_width = [], 0
                words.append((None, (style, link)))
            if not part:
                continue
            if part.isascii():
                word.append((part, style, link, field))
                word_width += len(part)
                continue
            # Wide (CJK) characters may be broken between; NBSPs shown as spaces.
            part = part.replace(_NBSP, " ")
            start = 0
            run_width = 0
            break_after = False
            for i, char in enumerate(part):
                w = char_width(char)
                if char == _ZWSP:  # a break opportunity, not shown
                    if i > start:
                        word.append((part[start:i], style, link, field))
                        word_width += run_width
                    if word:
                        words.append((word, word_width))
                    word, word_width = [], 0
                    start, run_width = i + 1, 0
                    continue
                if w == 0:
                    continue
                if (w == 2 or break_after) and char not in _NO_BREAK_BEFORE:
                    if i > start:
                        word.append((part[start:i], style, link, field))
                        word_width += run_width
                    if word:
                        words.append((word, word_width))
                    word, word_width = [], 0
                    start, run_width = i, 0
                break_after = w == 2
                run_width += w
            if start < len(part):
                word.append((part[start:], style, link, field))
                word_width += run_width
    if word:
        words.append((word, word_width))
    return words


def _split_word(segments: list[Segment], first: int, avail: int):
    """Cut a word wider than the line into chunks; never splits a character."""
    chunk: list[Segment] = []
    chunk_width = 0
    limit = max(first, 0) or avail
    for text, style, link, field in segments:
        start = 0
        for i, char in enumerate(text):
            w = char_width(char)
            if chunk_width + w > limit and (chunk or i > start) and w:
                if i > start:
                    chunk.append((text[start:i], style, link, field))
                yield chunk, chunk_width
                chunk, chunk_width = [], 0
                limit = avail
                start = i
            chunk_width += w
        if start < len(text):
            chunk.append((text[start:], style, link, field))
    if chunk:
        yield chunk, chunk_width


def _emphasis(style: int, css: Computed) -> int:
    """``style`` with the author's font weight, font style and text decoration."""
    if css.bold is not None:
        style = style | Style.BOLD if css.bold else style & ~Style.BOLD
    if css.italic is not None:
        style = style | Style.EMPHASIS if css.italic else style & ~Style.EMPHASIS
    if css.underline is not None:
        style = style | Style.UNDERLINE if css.underline else style & ~Style.UNDERLINE
    if css.strike is not None:
        style = style | Style.STRIKE if css.strike else style & ~Style.STRIKE
    return style


_ALPHABET = "abcdefghijklmnopqrstuvwxyz"
_GREEK = "αβγδεζηθικλμνξοπρστυφχψω"
_ROMAN = ((1000, "m"), (900, "cm"), (500, "d"), (400, "cd"), (100, "c"), (90, "xc"), (50, "l"), (40, "xl"),
          (10, "x"), (9, "ix"), (5, "v"), (4, "iv"), (1, "i"))


def list_marker(list_style: str | None, number: int, ordered: bool, depth: int) -> str:
    """The marker of a list item: by ``list-style-type``, or by the list's tag."""
    if list_style is None:
        return f"{number}." if ordered else BULLETS[depth % 3]
    if list_style == "none":
        return ""
    if list_style in ("disc", "circle", "square"):
        return BULLETS["disc circle square".split().index(list_style)]
    if list_style.startswith("string:"):
        return list_style[7:].strip() or "*"
    if list_style == "decimal-leading-zero":
        return f"{number:02d}."
    if number >= 1 and list_style in ("lower-alpha", "lower-latin", "upper-alpha", "upper-latin", "lower-greek"):
        letters = _GREEK if list_style == "lower-greek" else _ALPHABET
        text = ""
        n = number
        while n > 0:
            n, rest = divmod(n - 1, len(letters))
            text = letters[rest] + text
        return (text.upper() if list_style.startswith("upper") else text) + "."
    if 1 <= number < 4000 and list_style in ("lower-roman", "upper-roman"):
        text = ""
        n = number
        for value, letters in _ROMAN:
            while n >= value:
                text += letters
                n -= value
        return (text.upper() if list_style == "upper-roman" else text) + "."
    return f"{number}."


#: Handlers for inline elements: their anchors stay in the running text.
_INLINE_HANDLERS = frozenset({"br", "a", "img", "q", "input", "select", "textarea", "button"})

_HANDLERS: dict[str, Callable[[Flow, Element], None]] = {
    **{h: Flow.heading for h in HEADINGS},
    "pre": Flow.preformatted, "listing": Flow.preformatted, "xmp": Flow.preformatted,
    "plaintext": Flow.preformatted,
    "blockquote": Flow.blockquote,
    "hr": Flow.rule,
    "br": Flow.br,
    "ul": Flow.list, "ol": Flow.list, "menu": Flow.list, "dir": Flow.list,
    "li": Flow.stray_item,
    "dt": Flow.definition_term,
    "dd": Flow.definition,
    "a": Flow.link,
    "img": Flow.image,
    "iframe": Flow.frame_slot,
    "q": Flow.quotation,
    "input": Flow.control, "select": Flow.control, "textarea": Flow.control, "button": Flow.control,
    "table": Flow.table,
    "p": lambda flow, element: flow.block(element, spaced=True),
}


# ---------------------------------------------------------------------------
# Lines.
# ---------------------------------------------------------------------------


# Author colours ride in a segment's style int above the Style bits, so that
# every segment stays (text, style, link, field): colour + 1 from bit 16,
# background + 1 from bit 41 (0 there: no colour).
_COLOR_SHIFT = 16
_BACKGROUND_SHIFT = 41
_COLORS = ~((1 << _COLOR_SHIFT) - 1)


def pack_colors(color: int, background: int) -> int:
    """The style bits that carry an author colour pair (NO_COLOR: none)."""
    return ((color + 1) << _COLOR_SHIFT) | ((background + 1) << _BACKGROUND_SHIFT)


def _span(text: str, style: int, link: int, field: int) -> Span:
    if style <= Style.ALL:
        return Span(text, style, link, field)
    color = ((style >> _COLOR_SHIFT) & ((1 << 25) - 1)) - 1
    background = (style >> _BACKGROUND_SHIFT) - 1
    return Span(text, style & Style.ALL, link, field, color, background)


def to_line(segments: list[Segment]) -> Line:
    """Merge segments with the same attributes; drop trailing spaces."""
    spans: list[Span] = []
    text_parts: list[str] = []
    current = None
    for text, style, link, field in segments:
        if not text:
            continue
        key = (style, link, field)
        if key != current:
            if text_parts:
                spans.append(_span("".join(text_parts), *current))
            text_parts = [text]
            current = key
        else:
            text_parts.append(text)
    if text_parts:
        spans.append(_span("".join(text_parts), *current))
    while spans:
        last = spans[-1]
        stripped = last.text.rstrip(" ")
        if stripped == last.text:
            break
        spans.pop()
        if stripped:
            spans.append(Span(stripped, last.style, last.link, last.field, last.color, last.background))
            break
    return Line(spans)


#: Subframe slots are sized from their ``width``/``height`` in CSS px at this
#: many px a column and a row (a terminal cell is about 8 x 16 px); a slot
#: with neither gets Chromium's default 300 x 150 px: 37 x 9 cells.
PX_PER_COLUMN = 8
PX_PER_ROW = 16
DEFAULT_FRAME_PX = (300, 150)


def slot_anchor(index: int) -> str:
    """The anchor name that marks subframe slot ``index``'s line."""
    return f"\x00slot{index}"


def slot_size(width: str | None, height: str | None, layout_width: int, max_rows: int) -> tuple[int, int]:
    """Columns x rows for a frame of ``width`` x ``height`` (HTML attributes:
    px, or a percentage of the layout width), within the layout."""
    columns = rows = None
    if width is not None and width.strip().endswith("%"):
        percent = parse_int(width)
        if percent is not None:
            columns = layout_width * percent // 100
    elif (px := parse_int(width)) is not None:
        columns = px // PX_PER_COLUMN
    if (px := parse_int(height)) is not None and not (height or "").strip().endswith("%"):
        rows = px // PX_PER_ROW
    if columns is None:
        columns = DEFAULT_FRAME_PX[0] // PX_PER_COLUMN
    if rows is None:
        rows = DEFAULT_FRAME_PX[1] // PX_PER_ROW
    return max(1, min(layout_width, columns)), max(1, min(max_rows, rows))


def layout_document(document: Document, width: int, forms: FormState) -> tuple[list[Line], Anchors]:
    """The document's lines at ``width``, and the line of each fragment target."""
    flow = Flow(Context(document, forms), width)
    flow.children(document.body)
    lines = [to_line(segments) for segments, _ in flow.finish()]
    return lines, flow.anchors


def wrap_plain(text: str, width: int) -> list[Line]:
    """Plain text: lines verbatim, tabs expanded, long lines wrapped."""
    lines: list[Line] = []
    for raw in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        raw = _expand_tabs(raw, 0) if "\t" in raw else raw
        raw = raw.rstrip(" ")
        while cells(raw) > width:
            head, raw = _split_cells(raw, width)
            lines.append(to_line([(head, 0, 0, 0)]))
        lines.append(to_line([(raw, 0, 0, 0)]))
    while lines and not lines[-1].spans:
        lines.pop()
    return lines
