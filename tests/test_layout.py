"""Layout pinned by data, black-style: tests/cases/NAME.html -> NAME.txt.

Each case is laid out at width 80 (or the width named on its first line as
``<!-- width: 40 -->``) from the URL ``https://example.test/cases/NAME.html``
and dumped with :meth:`renderer.protocol.Frame.dump`.  Run with
``MINIBROWSER_REGEN_CASES=1`` to rewrite the expected files, then read every
diff: the expected output is what a person wants to see, not whatever the
code printed.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from renderer.layout import cells
from renderer.page import Page

CASES = Path(__file__).parent / "cases"
REGENERATE = os.environ.get("MINIBROWSER_REGEN_CASES") == "1"
WIDTH_PREFIX = b"<!-- width:"


def case_width(body: bytes) -> int:
    if body.startswith(WIDTH_PREFIX):
        return int(body[len(WIDTH_PREFIX) : body.index(b"-->")].strip())
    return 80


def render_case(path: Path) -> str:
    body = path.read_bytes()
    page = Page(
        body,
        url=f"https://example.test/cases/{path.name}",
        content_type="text/html",
        charset=None,
        kind="html",
        width=case_width(body),
    )
    return page.layout(case_width(body)).dump()


@pytest.mark.parametrize("name", sorted(p.stem for p in CASES.glob("*.html")))
def test_case(name: str) -> None:
    html = CASES / f"{name}.html"
    expected_path = CASES / f"{name}.txt"
    actual = render_case(html)
    if REGENERATE:
        expected_path.write_bytes(actual.encode("utf-8"))
    assert expected_path.exists(), f"no expected output for {name}: run with MINIBROWSER_REGEN_CASES=1"
    assert actual == expected_path.read_bytes().decode("utf-8")


def test_every_case_has_expected_output() -> None:
    htmls = {p.stem for p in CASES.glob("*.html")}
    txts = {p.stem for p in CASES.glob("*.txt")}
    assert htmls == txts


@pytest.mark.parametrize("name", sorted(p.stem for p in CASES.glob("*.html")))
def test_case_lines_are_clean(name: str) -> None:
    """The line rules hold at every width: fits, no trailing spaces, no double blanks."""
    body = (CASES / f"{name}.html").read_bytes()
    page = Page(body, url=f"https://example.test/cases/{name}.html", content_type="text/html", charset=None, kind="html")
    keeps_blank_lines = b"<pre" in body  # blank lines inside <pre> are kept verbatim
    for width in (12, 33, 80, 120):
        frame = page.layout(width)
        texts = [line.text for line in frame.lines]
        assert texts == [] or (texts[0] and texts[-1]), "leading or trailing blank line"
        for previous, line in zip(texts, texts[1:]):
            assert previous or line or keeps_blank_lines, "two blank lines in a row"
        for line in frame.lines:
            assert line.text == line.text.rstrip(" ")
            assert cells(line.text) <= width
            for a, b in zip(line.spans, line.spans[1:]):
                assert (a.style, a.link, a.field, a.color, a.background) != (
                    b.style, b.link, b.field, b.color, b.background), "unmerged spans"
