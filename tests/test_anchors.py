"""Fragment targets: each id (and <a name>) is reported with the line it lands on."""

from __future__ import annotations

import msgspec
import pytest

from renderer import protocol
from renderer.page import Page

URL = "https://example.test/doc.html"

DOCUMENT = """<!doctype html><title>Anchors</title>
<h1>Top</h1>
<p>intro text</p>
<h2 id="second">Second</h2>
<p>para <a name="inline"></a>inline words that wrap onto the next line</p>
<pre id="code">line1
line2</pre>
<table><tr><td>a</td><td><span id="cell">in cell</span></td></tr></table>
<div id="empty"></div>
<p>after the empty div</p>
<p id="caf%C3%A9">literal percent</p>
<p id="café">decoded</p>
<a name="second">a name never beats an id</a>
<p>end <span id="tail"></span></p>
"""


def page(html: str = DOCUMENT, **kwargs) -> Page:
    return Page(html.encode("utf-8"), url=URL, content_type="text/html", charset=None, kind="html", **kwargs)


def test_every_target_lands_on_the_line_that_shows_it():
    frame = page().layout(24)
    assert [line.text for line in frame.lines] == [
        "Top",
        "===",
        "",
        "intro text",
        "",
        "Second",
        "",
        "para inline words that",
        "wrap onto the next line",
        "",
        "line1",
        "line2",
        "",
        "a  in cell",
        "",
        "after the empty div",
        "",
        "literal percent",
        "",
        "decoded",
        "",
        "a name never beats an id",
        "",
        "end",
    ]
    assert frame.anchors == {
        "second": 5,
        "code": 10,
        "cell": 13,
        "empty": 15,  # an empty element: the next thing shown
        "caf%C3%A9": 17,
        "café": 19,
        "tail": 23,  # nothing after it: the last line
        "inline": 7,
    }


def test_an_inline_target_moves_with_the_wrapping():
    html = "<p>" + "word " * 30 + '<span id="here">target</span> after</p>'
    lines_at = {}
    for width in (80, 20):
        frame = page(html).layout(width)
        texts = [line.text for line in frame.lines]
        lines_at[width] = next(number for number, text in enumerate(texts) if "target" in text)
        assert frame.anchors == {"here": lines_at[width]}
    assert 0 < lines_at[80] < lines_at[20]


def test_fragments_resolve_as_html_does():
    frame = page().layout(24)
    assert frame.anchor_line("second") == 5
    assert frame.anchor_line("caf%C3%A9") == 17  # the name as written first
    assert page(DOCUMENT.replace('id="caf%C3%A9"', "")).layout(24).anchor_line("caf%C3%A9") == 19  # then decoded
    assert frame.anchor_line("") == 0
    assert frame.anchor_line("TOP") == 0
    assert frame.anchor_line("missing") is None


def test_the_unsandboxed_banner_moves_every_target_down():
    plain, banner = page().layout(24), page(unsandboxed=True).layout(24)
    shift = len(banner.lines) - len(plain.lines)
    assert shift > 0
    assert banner.anchors == {name: line + shift for name, line in plain.anchors.items()}


def test_find_keeps_the_targets():
    test_page = page()
    _, marked = test_page.find("line")
    assert marked.anchors == test_page.layout(80).anchors


def test_anchor_tables_are_bounded_on_the_wire():
    frame = page().layout(24)
    decoded = msgspec.msgpack.decode(protocol.encode(frame), type=protocol.Frame)
    assert decoded.anchors == frame.anchors
    for anchors in ({"x" * (protocol.MAX_ANCHOR_NAME_CHARS + 1): 0}, {"x": -1}):
        hostile = msgspec.structs.replace(frame, anchors=anchors)
        with pytest.raises(msgspec.ValidationError):
            msgspec.msgpack.decode(protocol.encode(hostile), type=protocol.Frame)


def test_a_page_with_more_targets_than_the_cap_keeps_the_first():
    html = "".join(f'<p id="p{n}">{n}</p>' for n in range(protocol.MAX_ANCHORS + 5))
    anchors = page(html).layout(80).anchors
    assert len(anchors) == protocol.MAX_ANCHORS
    assert anchors["p0"] == 0 and f"p{protocol.MAX_ANCHORS}" not in anchors
    long_name = page(f'<p id="{"n" * (protocol.MAX_ANCHOR_NAME_CHARS + 1)}">x</p><p id="ok">y</p>').layout(80)
    assert long_name.anchors == {"ok": 2}
