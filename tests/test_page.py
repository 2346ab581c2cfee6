"""Page's API: what the renderer main loop calls."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import urllib.parse
from pathlib import Path

from renderer.page import UNSANDBOXED_BANNER, Page
from renderer.protocol import Style

URL = "https://example.test/dir/page.html"

FORM = """<!doctype html><title>Form</title>
<form action="/search?old=1#frag" method="get">
  <input name="q" value="cats"> <input type="password" name="pw">
  <input type="checkbox" name="safe" checked> <input type="checkbox" name="img" value="yes">
  <input type="radio" name="r" value="a" checked> <input type="radio" name="r" value="b">
  <input type="radio" name="r" value="c">
  <select name="lang"><option value="en">English</option><option value="fr">Français</option></select>
  <textarea name="t">one</textarea>
  <input type="hidden" name="tok" value="x y">
  <input type="text" name="off" value="no" disabled>
  <input type="submit" name="go" value="Search">
  <button type="button">Plain</button>
  <input type="reset">
</form>
<form action="post.cgi" method="POST">
  <input type="radio" name="r" value="other" checked>
  <input name="n" value="é &amp; ü">
  <button name="b" value="1">Send</button>
  <input type="image" name="img" alt="Go">
</form>
<input type="submit" value="Orphan">
"""


def html_page(html: str, **kwargs) -> Page:
    options = dict(url=URL, content_type="text/html", charset=None, kind="html")
    options.update(kwargs)
    return Page(html.encode("utf-8") if isinstance(html, str) else html, **options)


def field_named(page: Page, name: str, value: str | None = None) -> int:
    for field in page.document.fields:
        if field.name == name and (value is None or field.value == value):
            return field.id
    raise KeyError(name)


def query_of(url: str) -> dict[str, list[str]]:
    return urllib.parse.parse_qs(urllib.parse.urlsplit(url).query, keep_blank_values=True)


# -- decoding ------------------------------------------------------------------


def test_header_charset_beats_meta_and_labels_are_whatwg():
    body = '<meta charset="utf-8"><p>caf\u00e9'.encode("cp1252")
    page = html_page(body, charset="ISO-8859-1")
    assert page.charset == "windows-1252"
    assert "café" in page.layout(80).text


def test_bom_beats_header():
    page = html_page(b"\xef\xbb\xbf<p>\xc3\xa9", charset="windows-1251")
    assert page.charset == "utf-8"
    assert page.layout(80).text == "é"


def test_utf16_bom():
    page = html_page("\ufeff<p>hello \u65e5".encode("utf-16-le"))
    assert page.charset == "utf-16le"
    assert page.layout(80).text == "hello 日"


def test_default_is_utf8_with_replacement():
    page = html_page(b"<p>ok \xff bad")
    assert page.charset == "utf-8"
    assert page.layout(80).text == "ok \ufffd bad"


def test_meta_prescan_only_for_html():
    body = '<meta charset="shift_jis">\u65e5'.encode("cp932")
    assert html_page(body).charset == "shift_jis"
    text = Page(body, url=URL, content_type="text/plain", charset=None, kind="text")
    assert text.charset == "utf-8"


# -- layout --------------------------------------------------------------------


def test_title_and_fallback_to_url():
    assert html_page("<title>  A \n title </title><p>x").layout(80).title == "A title"
    assert html_page("<p>x").layout(80).title == URL


def test_styles_on_spans():
    frame = html_page('<h2>Head</h2><p><b>b</b> <i>i</i> <code>c</code> <a href="/x">l</a> <img alt="p">'
                      "</p><pre>pre</pre><blockquote>q</blockquote>").layout(80)
    styles = {span.text: span for line in frame.lines for span in line.spans}
    assert styles["Head"].style == Style.HEADING
    assert styles["b"].style == Style.BOLD
    assert styles["i"].style == Style.EMPHASIS
    assert styles["c"].style == Style.CODE
    assert styles["l[1]"].style == Style.LINK and styles["l[1]"].link == 1
    assert styles["[p]"].style == Style.IMAGE
    assert styles["pre"].style == Style.CODE
    assert styles["q"].style == Style.QUOTE
    assert frame.links[0].url == "https://example.test/x"
    assert frame.links[0].text == "l"
    assert frame.links[0].line == 2


def test_layout_is_cached_by_width_and_reflows():
    page = html_page("<p>" + "word " * 40)
    narrow, wide = page.layout(20), page.layout(100)
    assert page.layout(20) is narrow
    assert len(narrow.lines) > len(wide.lines)
    assert all(len(line.text) <= 20 for line in narrow.lines)
    assert narrow.width == 20


def test_scroll_is_reported_in_frames():
    page = html_page("<p>x")
    page.scroll = 7
    assert page.layout(80).scroll == 7


def test_unsandboxed_banner_on_every_frame():
    page = html_page("<p>hello", unsandboxed=True)
    for width in (80, 30):
        frame = page.layout(width)
        first = frame.lines[0]
        assert "NOT sandboxed" in first.text
        assert all(span.style == Style.ERROR for span in first.spans)
        assert frame.lines[-1].text == "hello"
    text = Page(b"x", url=URL, content_type="text/plain", charset=None, kind="text", unsandboxed=True)
    assert text.layout(200).lines[0].text == UNSANDBOXED_BANNER


def test_text_kind_is_verbatim_with_tabs_expanded_and_wrapped():
    body = b"<b>not html</b>\n\n\ta\tb\n" + b"x" * 25 + b"\n\n"
    page = Page(body, url=URL, content_type="text/plain", charset=None, kind="text")
    frame = page.layout(10)
    assert frame.kind == "text"
    assert frame.title == URL
    assert [line.text for line in frame.lines] == [
        "<b>not htm",
        "l</b>",
        "",
        "        a",
        "      b",
        "xxxxxxxxxx",
        "xxxxxxxxxx",
        "xxxxx",
    ]


def test_text_kind_wraps_by_cells():
    page = Page(("\u65e5" * 7).encode("utf-8"), url=URL, content_type="text/plain", charset=None, kind="text")
    assert [line.text for line in page.layout(5).lines] == ["日日", "日日", "日日", "日"]


def test_dump_text_references():
    frame = html_page('<p><a href="a">A</a> <a href="https://x.example/">B</a>').layout(80)
    assert frame.dump() == (
        "A[1] B[2]\n\nReferences\n\n   1. https://example.test/dir/a\n   2. https://x.example/\n"
    )
    assert html_page("<p>plain").layout(80).dump() == "plain\n"


# -- links ---------------------------------------------------------------------


def test_link_url():
    page = html_page('<base href="https://base.example/b/"><a href="x">x</a><a href="javascript:go()">js</a><a href="y">y</a>')
    assert page.link_url(1) == "https://base.example/b/x"
    assert page.link_url(2) == "https://base.example/b/y"
    assert page.link_url(3) is None
    assert page.link_url(0) is None
    assert "js" in page.layout(80).text and "[3]" not in page.layout(80).text


# -- forms ---------------------------------------------------------------------


def test_fields_are_listed_with_lines_and_spans():
    page = html_page(FORM)
    frame = page.layout(80)
    kinds = [f.kind for f in frame.fields]
    assert kinds[:9] == ["text", "password", "checkbox", "checkbox", "radio", "radio", "radio", "select", "textarea"]
    select = frame.fields[7]
    assert select.options == ["English", "Français"] and select.value == "English"
    for field in frame.fields:
        if field.kind == "hidden":
            continue
        spans = [s for s in frame.lines[field.line].spans if s.field == field.id]
        assert spans and all(s.style & Style.FORM for s in spans)


def test_set_field_text_and_password_masking():
    page = html_page(FORM)
    before = page.layout(80)
    page.set_field(field_named(page, "q"), value="dogs")
    page.set_field(field_named(page, "pw"), value="hunter2")
    after = page.layout(80)
    assert after is not before
    assert "[dogs___" in after.text
    assert "[*******___" in after.text
    assert "hunter2" not in after.text


def test_disabled_fields_do_not_change():
    page = html_page(FORM)
    page.set_field(field_named(page, "off"), value="changed")
    assert page.form_state() == ({}, {})


def test_checkbox_toggle_and_set():
    page = html_page(FORM)
    safe = field_named(page, "safe")
    page.set_field(safe, checked=False)
    assert page.checked(page.document.fields[safe - 1]) is False
    page.set_field(safe)  # no value: toggle
    assert page.checked(page.document.fields[safe - 1]) is True


def test_radio_group_is_per_form_and_name():
    page = html_page(FORM)
    a, b = field_named(page, "r", "a"), field_named(page, "r", "b")
    other = field_named(page, "r", "other")
    page.set_field(b, checked=True)
    frame = page.layout(80)
    checked = {f.id: f.checked for f in frame.fields}
    assert checked[b] and not checked[a]
    assert checked[other], "a radio of the same name in another form is not affected"
    assert "( ) (*) ( )" in frame.text


def test_select_by_value_or_label():
    page = html_page(FORM)
    lang = field_named(page, "lang")
    page.set_field(lang, value="Français")
    assert "[Français v]" in page.layout(80).text
    page.set_field(lang, value="en")
    assert "[English v]" in page.layout(80).text
    page.set_field(lang, value="klingon")
    assert "[English v]" in page.layout(80).text


def test_activate_get_submission():
    page = html_page(FORM)
    page.set_field(field_named(page, "q"), value="big cats & dogs")
    page.set_field(field_named(page, "img"), checked=True)
    page.set_field(field_named(page, "lang"), value="fr")
    page.set_field(field_named(page, "t"), value="line1\nline2")
    method, url, body = page.activate(field_named(page, "go"))
    assert method == "GET" and body == ""
    assert url.startswith("https://example.test/search?")
    assert "#" not in url and "old=1" not in url
    assert query_of(url) == {
        "q": ["big cats & dogs"],
        "pw": [""],
        "safe": ["on"],
        "img": ["yes"],
        "r": ["a"],
        "lang": ["fr"],
        "t": ["line1\r\nline2"],
        "tok": ["x y"],
        "go": ["Search"],
    }


def test_activate_post_submission_with_button_and_image():
    page = html_page(FORM)
    button = next(f.id for f in page.document.fields if f.label == "Send")
    method, url, body = page.activate(button)
    assert (method, url) == ("POST", "https://example.test/dir/post.cgi")
    assert body == "r=other&n=%C3%A9+%26+%C3%BC&b=1"
    image = field_named(page, "img", "")
    assert page.activate(image)[2] == "r=other&n=%C3%A9+%26+%C3%BC&img.x=0&img.y=0"


def test_submission_uses_document_charset():
    page = html_page('<meta charset="windows-1252"><form method=post action=x><input name=n value="\xe9"><input type=submit></form>'.encode("cp1252"))
    assert page.activate(2) == ("POST", "https://example.test/dir/x", "n=%E9")


def test_activate_non_submit_controls():
    page = html_page(FORM)
    assert page.activate(field_named(page, "q")) is None
    assert page.activate(next(f.id for f in page.document.fields if f.label == "Plain")) is None
    orphan = page.document.fields[-1].id
    assert page.activate(orphan) is None
    assert page.activate(999) is None


def test_reset_restores_defaults():
    page = html_page(FORM)
    page.set_field(field_named(page, "q"), value="changed")
    reset = next(f.id for f in page.document.fields if f.kind == "reset")
    assert page.activate(reset) is None
    assert "[cats___" in page.layout(80).text


def test_form_state_round_trip():
    page = html_page(FORM)
    page.set_field(field_named(page, "q"), value="kept")
    page.set_field(field_named(page, "r", "c"), checked=True)
    page.set_field(field_named(page, "lang"), value="fr")
    values, checked = page.form_state()
    restored = html_page(FORM)
    restored.restore_form_state(values, checked)
    assert restored.layout(80).text == page.layout(80).text
    assert restored.activate(field_named(restored, "go")) == page.activate(field_named(page, "go"))
    restored.restore_form_state({999: "x"}, {998: True})  # unknown ids are ignored
    assert restored.form_state() == ({}, {})


def test_focused_field_is_styled():
    page = html_page(FORM)
    q = field_named(page, "q")
    page.focused_field = q
    spans = [s for line in page.layout(80).lines for s in line.spans if s.field == q]
    assert spans and all(s.style & Style.FOCUS for s in spans)
    page.focused_field = 0
    spans = [s for line in page.layout(80).lines for s in line.spans if s.field == q]
    assert not any(s.style & Style.FOCUS for s in spans)


# -- find ----------------------------------------------------------------------


def test_find_case_insensitive_with_cell_columns():
    page = html_page("<p>日本 Cat and cat<p>no match<p>CATALOG")
    page.layout(80)
    matches, frame = page.find("cat")
    assert matches == [(0, 5, 3), (0, 13, 3), (4, 0, 3)]
    marked = [s for line in frame.lines for s in line.spans if s.style & Style.MARK]
    assert [s.text for s in marked] == ["Cat", "cat", "CAT"]
    assert frame.lines[0].text == page.layout(80).lines[0].text
    assert not any(s.style & Style.MARK for line in page.layout(80).lines for s in line.spans)


def test_find_keeps_span_attributes_and_nothing_for_empty_query():
    page = html_page('<p>see <a href="/x">the link</a>')
    matches, frame = page.find("e li")
    assert matches == [(0, 6, 4)]
    spans = frame.lines[0].spans
    assert [s.text for s in spans] == ["see ", "th", "e li", "nk[1]"]
    assert spans[2].link == 1 and spans[2].style == Style.LINK | Style.MARK
    assert page.find("")[0] == []


# -- sandbox readiness -----------------------------------------------------------


def test_nothing_is_imported_or_opened_after_preload():
    """After preload, pages in every charset render with imports and open() forbidden."""
    cases = Path(__file__).parent / "cases"
    script = textwrap.dedent(
        f"""
        import builtins, io, os, sys
        from pathlib import Path
        bodies = [p.read_bytes() for p in sorted(Path({str(cases)!r}).glob("*.html"))]
        from renderer.page import Page, preload
        from renderer.encoding import PYTHON_CODECS, LABELS
        preload()

        class NoImports:
            def find_spec(self, name, path=None, target=None):
                raise ImportError("import after lockdown: " + name)
        sys.meta_path.insert(0, NoImports())
        def no_open(*args, **kwargs):
            raise PermissionError("open after lockdown")
        builtins.open = io.open = os.open = no_open
        for body in bodies:
            page = Page(body, url="https://example.test/x", content_type="text/html", charset=None, kind="html")
            for width in (80, 20):
                page.layout(width).dump()
            page.find("e")
            for field in page.document.fields:
                page.set_field(field.id, value="\\u00e9x", checked=True)
                page.activate(field.id)
        for label in LABELS:
            Page("<p>\\u00e9\\u65e5".encode("utf-8"), url="https://example.test/x", content_type="text/html",
                 charset=label, kind="html").layout(40)
            Page(b"<p>\\x81\\x82\\xa4\\xa2\\xe9", url="https://example.test/x", content_type="text/html",
                 charset=label, kind="html").layout(40)
        print("ok")
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=Path(__file__).parent.parent, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
