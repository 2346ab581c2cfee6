"""Which style sheets a page may have the broker fetch (broker/subresources.py),
judged from the page the broker committed."""

from __future__ import annotations

import pytest

from broker.subresources import sheet_refusal

PAGE = "file:///usr/share/doc/python3/html/library/os.html"


@pytest.mark.parametrize("sheet, refusal", [
    ("file:///usr/share/doc/python3/html/library/local.css", None),
    ("file:///usr/share/doc/python3/html/library/sub/dir/deep.css", None),
    ("file:///usr/share/doc/python3/html/_static/pydoctheme.css", None),  # ../_static, as Sphinx links it
    ("file:///usr/share/doc/python3/html/../../../../etc/x.css", "a local style sheet must be in the page's own directory tree"),
    ("file:///usr/share/doc/python3/other.css", "a local style sheet must be in the page's own directory tree"),
    ("file:///etc/passwd", "a local style sheet's name must end in .css"),
    ("file:///usr/share/doc/python3/html/library/notes.txt", "a local style sheet's name must end in .css"),
    ("file://otherhost/usr/share/doc/python3/html/library/a.css", "not a local file URL"),
    ("https://cdn.example/theme.css", None),
    ("data:text/css,p{color:red}", None),
    ("about:blank", "about: style sheets are not loaded"),
    ("javascript:alert(1)", "javascript: style sheets are not loaded"),
])
def test_a_file_page(sheet, refusal):
    assert sheet_refusal(PAGE, sheet) == refusal


@pytest.mark.parametrize("page", ["https://example.test/a/page.html", "http://127.0.0.1:8000/", "data:text/html,x"])
def test_only_a_file_page_gets_file_sheets(page):
    assert sheet_refusal(page, "file:///usr/share/doc/python3/html/_static/x.css") == \
        "only a file: page may load a file: style sheet"
    assert sheet_refusal(page, "https://example.test/site.css") is None
