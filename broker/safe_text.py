"""Text made safe to show: the broker's last word on every string it prints.

Everything a page or a renderer says is hostile, and text is no exception:
an ``ESC`` in a page title, an alt text or a link target is a terminal escape
sequence once it reaches the user's terminal (OSC 52 writes the clipboard,
OSC 0 sets the window title, CSI 2J clears the screen), and C1 controls and
DEL ride through ``json.dumps(..., ensure_ascii=False)`` untouched.  The
broker therefore passes every string that came from a page or a renderer
through :func:`safe_text` (or :func:`safe_line` for one-line fields) before
it reaches a terminal, a JSON line or the terminal UI.  Frames are made safe
once, by :func:`safe_frame`, when they enter the broker's record of a tab;
strings that never went through a frame (load errors from hostile servers,
URLs the user typed, renderer log lines, probe output, sandbox reports,
process command lines) are made safe where they are printed.

What happens to each kind of character:

* **C0 controls** (U+0000-U+001F) other than newline and tab, and **DEL**
  (U+007F), are *shown*: each becomes its Unicode control picture (``ESC``
  becomes ``␛``, ``BEL`` becomes ``␇``, ``DEL`` becomes ``␡``).  A page that
  tries to write ``ESC [2J`` shows ``␛[2J``: visible, harmless, and one
  cell wide like the character the renderer laid out.  In one-line fields
  (:func:`safe_line`) newline and tab are shown too (``␊``, ``␉``), so that
  no field can forge a line of output.
* **C1 controls** (U+0080-U+009F) have no pictures; each becomes U+FFFD
  (``�``).  ``U+009B`` alone is a CSI on many terminals.
* **Bidirectional embeddings, overrides and isolates** (U+202A-U+202E,
  U+2066-U+2069) are *removed*.  They reorder what a terminal shows (the
  "Trojan Source" trick: a right-to-left override makes ``moc.elpmaxe``
  look like ``example.com`` and a file called ``txt.exe`` look harmless),
  and they are zero-width, so removing them changes no layout.  w3m and lynx
  pass them through.  Text without them still shows right-to-left scripts
  in their natural order; the marks U+200E, U+200F and U+061C, which cannot
  embed or override anything, are kept.
* The deprecated format controls U+206A-U+206F (symmetric swapping, digit
  shapes) and the interlinear annotation controls U+FFF9-U+FFFB, invisible
  and with no place in a web page, are removed as well.

Everything else passes: zero-width joiners (needed by emoji and by Persian
and Indic scripts), soft hyphens and combining marks are ordinary text.

:func:`safe_text` returns the very same object when nothing needs changing,
after one regular-expression scan, so it costs little on the hot path.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported where frames are made safe: the command line's start-up needs only the text rules
    from renderer import protocol

#: Code points that must not reach a terminal as they are.
_UNSAFE_IN_TEXT = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u206f\ufff9-\ufffb]")
#: The same, plus newline and tab, for fields that are one line.
_UNSAFE_IN_LINE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u206f\ufff9-\ufffb]")

_REPLACEMENT = "\ufffd"


def _replacements() -> dict[int, str | None]:
    table: dict[int, str | None] = {code: chr(0x2400 + code) for code in range(0x20)}  # ␀ ... ␟
    table[0x7F] = "\u2421"  # ␡
    table.update({code: _REPLACEMENT for code in range(0x80, 0xA0)})
    removed = [*range(0x202A, 0x202F), *range(0x2066, 0x2070), *range(0xFFF9, 0xFFFC)]
    table.update({code: None for code in removed})
    return table


_LINE_TABLE = _replacements()
_TEXT_TABLE = {code: value for code, value in _LINE_TABLE.items() if code not in (0x0A, 0x09)}


def safe_text(text: str) -> str:
    """``text`` with nothing a terminal would act on; newlines and tabs kept."""
    if _UNSAFE_IN_TEXT.search(text) is None:
        return text
    return text.translate(_TEXT_TABLE)


def safe_line(text: str) -> str:
    """Like :func:`safe_text`, for one-line fields: newline and tab shown too."""
    if _UNSAFE_IN_LINE.search(text) is None:
        return text
    return text.translate(_LINE_TABLE)


def unsafe_characters(text: str) -> list[str]:
    """The code points of ``text`` that :func:`safe_text` would change (for checks and reports)."""
    return _UNSAFE_IN_TEXT.findall(text)


def safe_frame(frame: protocol.Frame) -> protocol.Frame:
    """``frame`` with every string field made safe.

    The common case, a frame with nothing to change, costs one scan over all
    its strings joined, and the frame itself is returned; otherwise a copy is
    made with every string made safe (one-line fields with :func:`safe_line`,
    a form field's value, which may have lines, with :func:`safe_text`).
    """
    values = "".join(field.value for field in frame.fields)
    if _UNSAFE_IN_LINE.search("".join(_one_line_strings(frame))) is None and _UNSAFE_IN_TEXT.search(values) is None:
        return frame
    from renderer import protocol

    return protocol.Frame(
        url=safe_line(frame.url),
        title=safe_line(frame.title),
        width=frame.width,
        lines=[_safe_spans(line) for line in frame.lines],
        links=[
            link if not _UNSAFE_IN_LINE.search(link.url + link.text) else
            protocol.Link(number=link.number, url=safe_line(link.url), text=safe_line(link.text), line=link.line,
                          target=link.target)
            for link in frame.links
        ],
        fields=[
            protocol.FormField(
                id=field.id,
                kind=_safe_word(field.kind),
                name=safe_line(field.name),
                value=safe_text(field.value),
                checked=field.checked,
                options=[safe_line(option) for option in field.options],
                line=field.line,
            )
            for field in frame.fields
        ],
        scroll=frame.scroll,
        kind=_safe_word(frame.kind),
        anchors=frame.anchors,
        slots=[
            protocol.FrameSlot(index=slot.index, src=safe_line(slot.src), line=slot.line, columns=slot.columns,
                               rows=slot.rows, srcdoc=slot.srcdoc, sandboxed=slot.sandboxed,
                               name=safe_line(slot.name))
            for slot in frame.slots
        ],
    )


def _safe_spans(line: protocol.Line) -> protocol.Line:
    """``line`` itself when it is clean (most are, even in a hostile frame), else a safe copy."""
    if _UNSAFE_IN_LINE.search("".join([span.text for span in line.spans])) is None:
        return line
    from renderer import protocol

    return protocol.Line([protocol.Span(safe_line(span.text), span.style, span.link, span.field, span.color, span.background)
                          for span in line.spans])


def _one_line_strings(frame: protocol.Frame) -> list[str]:
    """Every string of ``frame`` but the form fields' values."""
    strings = [frame.url, frame.title]
    strings += [span.text for line in frame.lines for span in line.spans]
    for link in frame.links:
        strings += (link.url, link.text)
    for field in frame.fields:
        strings += (field.name, *field.options)
    for slot in frame.slots:
        strings += (slot.src, slot.name)
    strings += [word for word in (frame.kind, *(field.kind for field in frame.fields)) if isinstance(word, str)]
    return strings


def _safe_word(word):
    """A kind word: a plain string is made safe; an enum member, checked when it was decoded, is kept."""
    return safe_line(word) if isinstance(word, str) else word
