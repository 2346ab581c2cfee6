"""Author colours made readable, and the escape sequences that show them.

A page's ``color`` and ``background-color`` arrive in each span
(``renderer/protocol.py``: 0xRRGGBB or ``NO_COLOR``).  Whoever shows them
(the terminal UI, ``open --dump --color``) asks :func:`readable` first: a
colour whose contrast with what it would be drawn on is under
:data:`MIN_CONTRAST` (WCAG 2's ratio; 3:1 is its floor for large text) is
dropped, so a page written for black on white stays readable on a dark
terminal, and the other way round.  Backgrounds are kept only where text
stays readable on them.

:func:`sgr_dump` writes a frame as text with SGR sequences that this
module makes from span styles: never a byte from the page.
"""

from __future__ import annotations

import os

from renderer import protocol
from renderer.protocol import NO_COLOR, Style

#: The least contrast ratio (1..21) kept between text and what is behind it.
MIN_CONTRAST = 3.0
#: What ``--dump --color`` assumes of a terminal that does not say (COLORFGBG).
DARK_THEME = (0xD0D0D0, 0x000000)
LIGHT_THEME = (0x000000, 0xFFFFFF)


def _luminance(color: int) -> float:
    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    return (0.2126 * channel((color >> 16) & 0xFF) + 0.7152 * channel((color >> 8) & 0xFF)
            + 0.0722 * channel(color & 0xFF))


def contrast(a: int, b: int) -> float:
    """WCAG 2 contrast ratio of two sRGB colours, 1 (same) to 21 (black on white)."""
    la, lb = _luminance(a), _luminance(b)
    if la < lb:
        la, lb = lb, la
    return (la + 0.05) / (lb + 0.05)


def readable(color: int, background: int, *, theme_foreground: int, theme_background: int) -> tuple[int, int]:
    """The ``(color, background)`` to draw with, each NO_COLOR where the
    page's would be hard to read (then the theme's own shows)."""
    if background != NO_COLOR:
        text = color if color != NO_COLOR else theme_foreground
        if contrast(text, background) < MIN_CONTRAST or contrast(background, theme_background) < 1.1:
            background = NO_COLOR  # unreadable on it, or no different from the theme's: not worth a colour
    if color != NO_COLOR:
        behind = background if background != NO_COLOR else theme_background
        if contrast(color, behind) < MIN_CONTRAST:
            color = NO_COLOR
    return color, background


def terminal_theme(environ: dict[str, str] | None = None) -> tuple[int, int]:
    """``(foreground, background)`` of the terminal, from ``COLORFGBG``
    ("15;0": light text on a dark background) when it is set; dark otherwise."""
    value = (environ if environ is not None else os.environ).get("COLORFGBG", "")
    parts = value.split(";")
    if len(parts) >= 2 and parts[-1].isdigit():
        background = int(parts[-1])
        return LIGHT_THEME if background in (7, 15) else DARK_THEME
    return DARK_THEME


def truecolor_supported(environ: dict[str, str] | None = None) -> bool:
    return (environ if environ is not None else os.environ).get("COLORTERM", "").lower() in ("truecolor", "24bit")


def to_256(color: int) -> int:
    """The nearest colour of xterm's 6x6x6 cube or grey ramp."""
    red, green, blue = (color >> 16) & 0xFF, (color >> 8) & 0xFF, color & 0xFF
    levels = (0, 95, 135, 175, 215, 255)

    def nearest(value: int) -> int:
        return min(range(6), key=lambda i: abs(levels[i] - value))

    r, g, b = nearest(red), nearest(green), nearest(blue)
    cube = 16 + 36 * r + 6 * g + b
    cube_error = (levels[r] - red) ** 2 + (levels[g] - green) ** 2 + (levels[b] - blue) ** 2
    grey_level = max(0, min(23, round(((red + green + blue) / 3 - 8) / 10)))
    grey = 8 + 10 * grey_level
    grey_error = (grey - red) ** 2 + (grey - green) ** 2 + (grey - blue) ** 2
    return 232 + grey_level if grey_error < cube_error else cube


_FLAG_CODES = (
    (Style.BOLD | Style.HEADING | Style.TITLE, "1"),
    (Style.EMPHASIS, "3"),
    (Style.UNDERLINE | Style.LINK, "4"),
    (Style.STRIKE, "9"),
)


def sgr(span: protocol.Span, *, theme: tuple[int, int], truecolor: bool) -> str:
    """The SGR sequence that starts ``span`` (empty when it is plain)."""
    codes = [code for flags, code in _FLAG_CODES if span.style & flags]
    color, background = readable(span.color, span.background, theme_foreground=theme[0], theme_background=theme[1])
    for value, base in ((color, 38), (background, 48)):
        if value == NO_COLOR:
            continue
        if truecolor:
            codes.append(f"{base};2;{(value >> 16) & 0xFF};{(value >> 8) & 0xFF};{value & 0xFF}")
        else:
            codes.append(f"{base};5;{to_256(value)}")
    return f"\x1b[{';'.join(codes)}m" if codes else ""


def sgr_dump(frame: protocol.Frame, *, theme: tuple[int, int] | None = None, truecolor: bool | None = None) -> str:
    """:meth:`Frame.dump` with colours and emphasis as SGR sequences.  The
    frame's text must already be safe (``broker/safe_text.py``)."""
    theme = theme if theme is not None else terminal_theme()
    truecolor = truecolor_supported() if truecolor is None else truecolor
    lines = []
    for line in frame.lines:
        parts = []
        for span in line.spans:
            start = sgr(span, theme=theme, truecolor=truecolor)
            parts.append(f"{start}{span.text}\x1b[0m" if start else span.text)
        lines.append("".join(parts))
    text = "\n".join(lines)
    if frame.links:
        references = "\n".join(f"{link.number:4d}. {link.url}" for link in frame.links)
        text = f"{text}\n\nReferences\n\n{references}"
    return text + "\n"
