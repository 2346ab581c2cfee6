"""Author colours made readable (broker/colors.py): contrast, 256 colours, SGR."""

from __future__ import annotations

from broker.colors import DARK_THEME, LIGHT_THEME, contrast, readable, sgr, terminal_theme, to_256
from renderer.protocol import NO_COLOR, Span, Style


def test_contrast_is_wcag_ratio():
    assert round(contrast(0x000000, 0xFFFFFF), 1) == 21.0
    assert contrast(0x777777, 0x777777) == 1.0


def test_unreadable_colours_are_dropped_on_either_theme():
    dark = dict(theme_foreground=DARK_THEME[0], theme_background=DARK_THEME[1])
    light = dict(theme_foreground=LIGHT_THEME[0], theme_background=LIGHT_THEME[1])
    assert readable(0x111111, NO_COLOR, **dark) == (NO_COLOR, NO_COLOR)  # near black on black
    assert readable(0x111111, NO_COLOR, **light) == (0x111111, NO_COLOR)
    assert readable(0xEEEEEE, NO_COLOR, **light) == (NO_COLOR, NO_COLOR)
    # Black on yellow is kept on a dark theme; on a light one the yellow is too close to white.
    assert readable(0x000000, 0xFFFF00, **dark) == (0x000000, 0xFFFF00)
    assert readable(0x000000, 0xFFFF00, **light) == (0x000000, NO_COLOR)
    # A background the theme's own text cannot be read on is dropped.
    assert readable(NO_COLOR, 0xF0F0F0, **dark) == (NO_COLOR, NO_COLOR)


def test_256_colours():
    assert [to_256(c) for c in (0x000000, 0xFF0000, 0x00FF00, 0x0000FF, 0xFFFFFF, 0x808080)] == [16, 196, 46, 21, 231, 244]


def test_sgr_is_made_from_the_style_only():
    span = Span("x\x1b[2J", Style.BOLD | Style.UNDERLINE | Style.STRIKE | Style.EMPHASIS, 0, 0, 0xC00000, NO_COLOR)
    assert sgr(span, theme=DARK_THEME, truecolor=True) == "\x1b[1;3;4;9;38;2;192;0;0m"
    assert sgr(span, theme=DARK_THEME, truecolor=False) == "\x1b[1;3;4;9;38;5;124m"
    assert sgr(Span("plain"), theme=DARK_THEME, truecolor=True) == ""


def test_terminal_theme_from_colorfgbg():
    assert terminal_theme({"COLORFGBG": "0;15"}) == LIGHT_THEME
    assert terminal_theme({"COLORFGBG": "15;0"}) == DARK_THEME
    assert terminal_theme({}) == DARK_THEME
