"""Author colours and emphasis in the browser window, read with the Pilot
over real broker and renderer processes: a page's ``color``,
``background-color``, ``font-weight``, ``font-style`` and
``text-decoration`` reach the screen, and a colour too close to the
theme's background (unreadable on it) is dropped (``broker/colors.py``)."""

from __future__ import annotations

from broker.colors import MIN_CONTRAST, contrast

from tuihelpers import SIZE, make_app, started

PAGE = (b"<!doctype html><title>Colours</title><style>"
        b".red { color: #e06060 } .bold { font-weight: bold } .it { font-style: italic }"
        b" .u { text-decoration: underline } .s { text-decoration: line-through }"
        b" .hl { background-color: #ffff00; color: #000000 } .dim { color: #0a0a0a }</style>"
        b"<p><span class=red>red</span> <span class=bold>bold</span> <span class=it>italic</span>"
        b" <span class=u>under</span> <span class=s>struck</span> <span class=hl>marked</span>"
        b" <span class=dim>dim</span></p>")


def style_of(line, text: str):
    for segment in line:
        if segment.text == text:
            return segment.style
    raise AssertionError(f"{text!r} not on the line: {[s.text for s in line]}")


async def test_page_colours_and_emphasis_on_screen(http_server):
    url = http_server.route("/colours.html", PAGE)
    app = make_app([url])
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        line = list(app.page.render_line(0))
        assert "".join(segment.text for segment in line).rstrip() == "red bold italic under struck marked dim"
        theme_background = app.page.rich_style.bgcolor.get_truecolor()
        red = style_of(line, "red")
        assert red.color.get_truecolor() == (0xE0, 0x60, 0x60)
        assert style_of(line, "bold").bold
        assert style_of(line, "italic").italic
        assert style_of(line, "under").underline
        assert style_of(line, "struck").strike
        marked = style_of(line, "marked")
        assert (marked.color.get_truecolor(), marked.bgcolor.get_truecolor()) == ((0, 0, 0), (0xFF, 0xFF, 0))
        # Near-black text on the theme's dark background is unreadable: the theme's own colour shows.
        theme = (theme_background.red << 16) | (theme_background.green << 8) | theme_background.blue
        assert contrast(0x0A0A0A, theme) < MIN_CONTRAST
        dim = style_of(line, "dim")
        assert dim.color == app.page.rich_style.color
