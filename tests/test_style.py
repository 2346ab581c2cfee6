"""What author styles put in the spans: colours, backgrounds (inline only), emphasis."""

from __future__ import annotations

from renderer.page import Page
from renderer.protocol import NO_COLOR, Span, Style


def spans(html: bytes) -> list[Span]:
    page = Page(html, url="file:///t.html", content_type="text/html", charset=None, kind="html")
    return [span for line in page.layout(80).lines for span in line.spans]


def test_colours_inherit_and_only_inline_backgrounds_paint():
    got = spans(b"<style>body { background: #fff; color: #222 } .hl { background: #ff0 } .r { color: red }</style>"
                b"<p>text <span class=hl>mark <span class=r>red</span></span></p>")
    assert got == [Span("text ", 0, 0, 0, 0x222222, NO_COLOR), Span("mark ", 0, 0, 0, 0x222222, 0xFFFF00),
                   Span("red", 0, 0, 0, 0xFF0000, 0xFFFF00)]


def test_emphasis_from_css_and_tags_undone():
    got = spans(b"<style>.b { font-weight: 700 } b.n { font-weight: normal } .i { font-style: oblique }"
                b" .u { text-decoration: underline line-through } a { text-decoration: none }</style>"
                b"<p><span class=b>B</span> <b class=n>N</b> <span class=i>I</span> <span class=u>U</span></p>")
    assert got == [Span("B", Style.BOLD), Span(" N "), Span("I", Style.EMPHASIS), Span(" "),
                   Span("U", Style.UNDERLINE | Style.STRIKE)]


def test_no_sheet_no_colour():
    assert spans(b"<p>plain <b>bold</b>") == [Span("plain "), Span("bold", Style.BOLD)]
