"""A loaded page: decoded and parsed once, laid out at any width.

:class:`Page` is what the renderer's main loop drives: it lays the document
out into protocol :class:`~renderer.protocol.Frame` objects (cached by
width), keeps the user's form input, builds form submissions, resolves link
numbers and finds text.  :func:`preload` imports and warms everything the
engine can ever need, because after the sandbox is up nothing can be
imported.
"""

from __future__ import annotations

import contextlib
import gc
import urllib.parse

from . import encoding, style
from .document import Document, Field, parse, stylesheet_links
from .layout import FOCUS, cells, char_width, layout_document, slot_anchor, slot_size, to_line, wrap_plain
from .protocol import (
    MAX_ANCHOR_NAME_CHARS, MAX_ANCHORS, MAX_SLOT_ROWS, FormField, Frame, FrameSlot, Line, Link, Span, Style,
)

UNSANDBOXED_BANNER = "This renderer is NOT sandboxed (--no-sandbox): page content runs without protection."

MIN_WIDTH = 1
MAX_WIDTH = 1000


@contextlib.contextmanager
def gc_paused():
    """No cyclic garbage collection inside: parsing and layout make hundreds
    of thousands of small objects and no cycles worth chasing, and the
    collector's passes over a large page's live objects took a third of
    layout's time.  Reference counting still frees everything at once."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


class Page:
    """One document in one tab."""

    def __init__(
        self,
        body: bytes,
        *,
        url: str,
        content_type: str,
        charset: str | None,
        kind: str,
        unsandboxed: bool = False,
        width: int = 80,
        sheets: dict[str, bytes] | None = None,
    ):
        """``width``: the first layout width (media queries are evaluated at
        it); ``sheets``: linked style sheets the broker fetched, by URL."""
        self.url = url
        self.content_type = content_type
        # An error page is HTML the broker wrote: laid out like any page, marked as an error.
        self.kind = "html" if kind in ("html", "error") else "text"
        self.frame_kind = "error" if kind == "error" else self.kind
        self.unsandboxed = unsandboxed
        text, self.charset = encoding.decode(body, header_charset=charset, prescan_meta=self.kind == "html")
        self.document: Document | None = None
        self._text = ""
        if self.kind == "html":
            linked = {sheet_url: decode_sheet(data) for sheet_url, data in (sheets or {}).items()}
            with gc_paused():
                self.document = parse(text, url, width=max(MIN_WIDTH, min(MAX_WIDTH, width)), linked_sheets=linked)
            self.title = self.document.title
        else:
            self._text = text
            self.title = ""
        self.scroll = 0
        self._focused = 0
        self._values: dict[int, str] = {}
        self._checked: dict[int, bool] = {}
        self._frames: dict[int, Frame] = {}
        self._width = 80

    # -- form state (read by layout) -----------------------------------------

    @property
    def focused(self) -> int:
        return self._focused

    @property
    def focused_field(self) -> int:
        return self._focused

    @focused_field.setter
    def focused_field(self, field_id: int) -> None:
        if field_id != self._focused:
            self._focused = field_id
            self._frames.clear()

    def value(self, field: Field) -> str:
        return self._values.get(field.id, field.value)

    def checked(self, field: Field) -> bool:
        return self._checked.get(field.id, field.checked)

    def selected(self, field: Field) -> int:
        """Index of the option a select shows."""
        value = self._values.get(field.id)
        if value is not None:
            for index, option in enumerate(field.options):
                if option.value == value:
                    return index
        return field.default_index()

    def _field(self, field_id: int) -> Field | None:
        if self.document is None or not 1 <= field_id <= len(self.document.fields):
            return None
        return self.document.fields[field_id - 1]

    # -- layout -------------------------------------------------------------

    def layout(self, width: int) -> Frame:
        width = max(MIN_WIDTH, min(MAX_WIDTH, width))
        self._width = width
        frame = self._frames.get(width)
        if frame is None:
            with gc_paused():
                frame = self._layout(width)
            self._frames[width] = frame
        frame.scroll = self.scroll
        return frame

    def _layout(self, width: int) -> Frame:
        lines: list[Line] = []
        if self.unsandboxed:
            lines += wrap_plain(UNSANDBOXED_BANNER, width)
            lines = [Line([Span(span.text, Style.ERROR) for span in line.spans]) for line in lines]
            lines.append(Line([]))
        if self.document is None:
            lines += wrap_plain(self._text, width)
            return Frame(url=self.url, title=self.url, width=width, lines=lines, kind="text")
        banner = len(lines)
        document_lines, anchors = layout_document(self.document, width, self)
        lines += document_lines
        while lines and not lines[-1].spans:
            lines.pop()
        first_link: dict[int, int] = {}
        first_field: dict[int, int] = {}
        for number, line in enumerate(lines):
            for span in line.spans:
                if span.link and span.link not in first_link:
                    first_link[span.link] = number
                if span.field and span.field not in first_field:
                    first_field[span.field] = number
        links = [
            Link(number=link.number, url=link.url, text=link.text, line=first_link.get(link.number, 0),
                 target=link.target)
            for link in self.document.links
        ]
        fields = [self._form_field(field, first_field.get(field.id, 0)) for field in self.document.fields]
        slots = []
        for info in self.document.frames:
            line = anchors.ids.pop(slot_anchor(info.index), None)
            if line is None:
                continue  # inside something not shown
            columns, rows = slot_size(info.width, info.height, width, MAX_SLOT_ROWS)
            slots.append(FrameSlot(index=info.index, src=info.src, line=min(line + banner, len(lines) - 1),
                                   columns=columns, rows=rows, srcdoc=info.srcdoc, sandboxed=info.sandboxed,
                                   name=info.name))
        return Frame(
            url=self.url,
            title=self.title or self.url,
            width=width,
            lines=lines,
            links=links,
            fields=fields,
            kind=self.frame_kind,
            anchors={
                name: line
                for name, line in anchors.merged(offset=banner, last_line=max(0, len(lines) - 1), limit=MAX_ANCHORS).items()
                if len(name) <= MAX_ANCHOR_NAME_CHARS
            },
            slots=slots,
        )

    def _form_field(self, field: Field, line: int) -> FormField:
        if field.kind == "select":
            index = self.selected(field)
            value = field.options[index].label if index >= 0 else ""
        elif field.kind in ("submit", "button", "reset"):
            value = field.label or field.value
        else:
            value = self.value(field)
        return FormField(
            id=field.id,
            kind=field.kind,
            name=field.name,
            value=value,
            checked=self.checked(field),
            options=[option.label for option in field.options],
            line=line,
        )

    # -- input --------------------------------------------------------------

    def set_field(self, field_id: int, *, value: str | None = None, checked: bool | None = None) -> None:
        """Record the user's input in a control (a select takes an option's value or label)."""
        field = self._field(field_id)
        if field is None or field.disabled:
            return
        kind = field.kind
        if kind in ("checkbox", "radio"):
            now = (not self.checked(field)) if checked is None else checked
            if kind == "radio" and now:
                for other in self.document.fields:
                    if other.kind == "radio" and other.name == field.name and other.form == field.form and field.name:
                        self._checked[other.id] = False
            self._checked[field.id] = now
        elif kind == "select" and value is not None:
            for option in field.options:
                if option.value == value:
                    self._values[field.id] = option.value
                    break
            else:
                for option in field.options:
                    if option.label == value:
                        self._values[field.id] = option.value
                        break
        elif kind in ("text", "password", "textarea") and value is not None and not field.readonly:
            if kind != "textarea":
                value = value.replace("\r", "").replace("\n", "")
            self._values[field.id] = value
        else:
            return
        self._frames.clear()

    def activate(self, field_id: int) -> tuple[str, str, str] | None:
        """Press a button: a submit control gives ``(method, url, body)`` for its form."""
        field = self._field(field_id)
        if field is None or field.disabled:
            return None
        if field.kind == "reset" and field.form >= 0:
            for other in self.document.fields:
                if other.form == field.form:
                    self._values.pop(other.id, None)
                    self._checked.pop(other.id, None)
            self._frames.clear()
            return None
        if not field.is_submit or field.form < 0:
            return None
        return self._submission(field)

    def _submission(self, submitter: Field) -> tuple[str, str, str]:
        document = self.document
        form = document.forms[submitter.form]
        action = submitter.attrs.get("formaction") or form.action
        url = document.resolve(action) if action.strip() else document.url
        method = form.method
        formmethod = submitter.attrs.get("formmethod")
        if formmethod is not None:
            method = "POST" if formmethod.strip().lower() == "post" else "GET"
        pairs: list[tuple[str, str]] = []
        for field in document.fields:
            if field.form != submitter.form or field.disabled:
                continue
            kind = field.kind
            if kind in ("submit", "button", "reset", "file"):
                if field is submitter:
                    if field.type == "image":
                        prefix = f"{field.name}." if field.name else ""
                        pairs += [(prefix + "x", "0"), (prefix + "y", "0")]
                    elif field.name:
                        pairs.append((field.name, field.value))
                continue
            if not field.name:
                continue
            if kind in ("checkbox", "radio"):
                if self.checked(field):
                    pairs.append((field.name, field.value))
            elif kind == "select":
                index = self.selected(field)
                if index >= 0:
                    pairs.append((field.name, field.options[index].value))
            elif kind == "textarea":
                pairs.append((field.name, self.value(field).replace("\r\n", "\n").replace("\n", "\r\n")))
            else:
                pairs.append((field.name, self.value(field)))
        charset = self.charset if self.charset in encoding.PYTHON_CODECS and not self.charset.startswith("utf-16") else "utf-8"
        query = urllib.parse.urlencode(
            pairs, encoding=encoding.PYTHON_CODECS[charset], errors="xmlcharrefreplace"
        )
        if method == "GET":
            parts = urllib.parse.urlsplit(url)
            url = urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))
            return "GET", url, ""
        return "POST", urllib.parse.urldefrag(url)[0], query

    def link_url(self, number: int) -> str | None:
        if self.document is None or not 1 <= number <= len(self.document.links):
            return None
        return self.document.links[number - 1].url

    # -- find ---------------------------------------------------------------

    def find(self, query: str) -> tuple[list[tuple[int, int, int]], Frame]:
        """Case-insensitive matches as ``(line, column, length)`` in cells, and a frame marking them."""
        frame = self.layout(self._width)
        needle = query.lower()
        if not needle.strip():
            return [], frame
        matches: list[tuple[int, int, int]] = []
        marked_lines: list[Line] = []
        for number, line in enumerate(frame.lines):
            text = line.text
            hay = text.lower()
            if len(hay) != len(text):  # lower() changed lengths: match char by char
                hay = "".join(c.lower()[:1] or c for c in text)
            ranges: list[tuple[int, int]] = []
            start = hay.find(needle)
            while start >= 0 and needle:
                end = start + len(needle)
                ranges.append((start, end))
                matches.append((number, cells(text[:start]), cells(text[start:end])))
                start = hay.find(needle, end)
            marked_lines.append(_mark(line, ranges) if ranges else line)
        marked = Frame(
            url=frame.url,
            title=frame.title,
            width=frame.width,
            lines=marked_lines,
            links=frame.links,
            fields=frame.fields,
            scroll=self.scroll,
            kind=frame.kind,
            anchors=frame.anchors,
            slots=frame.slots,
        )
        return matches, marked

    # -- snapshots ----------------------------------------------------------

    def form_state(self) -> tuple[dict[int, str], dict[int, bool]]:
        return dict(self._values), dict(self._checked)

    def restore_form_state(self, values: dict[int, str], checked: dict[int, bool]) -> None:
        self._values = {}
        self._checked = {}
        for field_id, value in values.items():
            field = self._field(field_id)
            if field is not None and isinstance(value, str):
                self._values[field_id] = value
        for field_id, state in checked.items():
            field = self._field(field_id)
            if field is not None:
                self._checked[field_id] = bool(state)
        self._frames.clear()


def linked_sheets(body: bytes, *, url: str, charset: str | None, kind: str, width: int) -> list[str]:
    """The style sheets a document links (absolute URLs), before it is laid out."""
    if kind not in ("html", "error"):
        return []
    text, _ = encoding.decode(body, header_charset=charset, prescan_meta=True)
    return stylesheet_links(text, url, width=max(MIN_WIDTH, min(MAX_WIDTH, width)))


def decode_sheet(data: bytes) -> str:
    """A linked style sheet's text: a BOM, then ``@charset``, then UTF-8
    (CSS Syntax's order, without the referring document's encoding)."""
    label = None
    if data.startswith(b'@charset "'):
        end = data.find(b'";', 10, 80)
        if end > 0:
            label = data[10:end].decode("ascii", "replace")
    name = encoding.lookup(label)
    if name in (None, "utf-16be", "utf-16le", "replacement"):
        name = "utf-8"
    return encoding.decode(data, header_charset=name, prescan_meta=False)[0]


def _mark(line: Line, ranges: list[tuple[int, int]]) -> Line:
    """Split spans at match boundaries and add Style.MARK inside matches."""
    cuts = sorted({p for r in ranges for p in r})
    spans: list[Span] = []
    position = 0
    for span in line.spans:
        end = position + len(span.text)
        points = [position] + [c for c in cuts if position < c < end] + [end]
        for a, b in zip(points, points[1:]):
            inside = any(s <= a and b <= e for s, e in ranges)
            style = span.style | Style.MARK if inside else span.style
            spans.append(Span(span.text[a - position : b - position], style, span.link, span.field, span.color,
                              span.background))
        position = end
    return Line(spans)


_WARM_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>warm</title>
<style>.n { display: none } p b { color: #a00; background: #ffe } li { list-style-type: lower-roman }
.f { display: flex } .f > * { text-transform: uppercase; white-space: pre } a::after { content: "*" }
.t { display: table } .r { display: table-row } .c { display: table-cell } .h { visibility: hidden }
q { display: list-item; text-decoration: underline line-through; font-style: normal }</style>
<link rel=stylesheet href="warm.css" media="screen">
<base href="https://example.test/dir/"></head><body>
<h1>Heading</h1><p>Text with <b>bold</b>, <i>em</i>, <code>code</code> and a <a href="a?q=1">link</a>.
日本語のテキストとカタカナ、한국어, e\u0301t\u00e9 &amp; emoji \U0001F600.</p>
<ul><li>one<ol start="3" reversed><li>two</ol></ul><dl><dt>t<dd>d</dl>
<pre>\tcode\n  kept</pre><blockquote><p>quote</p></blockquote><hr>
<table border=1><caption>c</caption><tr><th>a<th colspan=2>b<tr><td rowspan=2>1<td>2<td align=right>3</table>
<img alt="alt"><img src=x><div style="display: none">hidden</div><div class=f><span>a</span> b</div>
<div class=t><div class=r><span class=c>1</span><span class=c>2</span></div></div><p class=h>h<q>q</q></p>
<form action="/s" method=post><input name=q value=v><input type=password name=p>
<input type=checkbox name=c checked><input type=radio name=r value=1><input type=radio name=r value=2>
<select name=s><option>x<option value=y selected>Y</select><textarea name=t>a\nb</textarea>
<button>Go</button><input type=image name=i><input type=reset></form>
<form><input name=g><input type=submit></form></body></html>"""


def preload() -> None:
    """Import and warm everything a page can need; the zygote calls this before forking."""
    import ipaddress  # noqa: F401  (urllib.parse imports it lazily for [v6] hosts)
    import unicodedata

    encoding.preload()
    unicodedata.normalize("NFC", "e\u0301")
    unicodedata.east_asian_width("\u3042")
    for char in "a\u00e9\u0301\u3042\u4e00\uac00\uff21\U0001F600\u200b\u00a0\t":
        char_width(char)
    for url in ("https://example.test/a?b=c#d", "http://[::1]:80/x", "http://b\u00fccher.example/", "mailto:x@y"):
        parts = urllib.parse.urlsplit(url)
        urllib.parse.urljoin(url, "../x?y#z")
        urllib.parse.urlunsplit(parts)
        urllib.parse.urldefrag(url)
    urllib.parse.urlencode([("a b", "c&d\u00e9")], encoding="cp1252", errors="xmlcharrefreplace")
    style.preload()
    for charset in ("utf-8", "windows-1252", "shift_jis", None):
        page = Page(_WARM_PAGE.encode("utf-8"), url="https://example.test/dir/warm", content_type="text/html",
                    charset=charset, kind="html", unsandboxed=True,
                    sheets={"https://example.test/dir/warm.css": '@charset "utf-8"; b { font-weight: 400 }'.encode()})
        for width in (80, 30, 5):
            page.layout(width)
        page.find("text")
        for field in page.document.fields:
            page.set_field(field.id, value="x\u00e9", checked=True)
            page.activate(field.id)
        page.restore_form_state(*page.form_state())
        page.link_url(1)
        page.focused_field = 1
        page.layout(80).dump()
        linked_sheets(_WARM_PAGE.encode("utf-8"), url="https://example.test/dir/warm", charset=charset, kind="html",
                      width=80)
    Page(b"plain\ttext\n", url="https://example.test/t", content_type="text/plain", charset=None, kind="text").layout(20)
    to_line([("x ", FOCUS, 0, 0)])
