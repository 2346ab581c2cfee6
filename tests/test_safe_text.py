"""broker/safe_text.py: what each kind of character becomes, and the fast path."""

from __future__ import annotations

from broker.safe_text import safe_frame, safe_line, safe_text, unsafe_characters
from renderer import protocol


def test_every_c0_control_but_newline_and_tab_and_del_become_pictures():
    controls = "".join(chr(code) for code in range(0x20)) + "\x7f"
    assert safe_text(controls) == "␀␁␂␃␄␅␆␇␈\t\n␋␌␍␎␏␐␑␒␓␔␕␖␗␘␙␚␛␜␝␞␟␡"
    assert safe_line(controls) == "␀␁␂␃␄␅␆␇␈␉␊␋␌␍␎␏␐␑␒␓␔␕␖␗␘␙␚␛␜␝␞␟␡"


def test_c1_controls_become_replacement_characters():
    c1 = "".join(chr(code) for code in range(0x80, 0xA0))
    assert safe_text(f"a{c1}b") == "a" + "\ufffd" * 32 + "b"
    assert safe_text("\u00a0\u00ff") == "\u00a0\u00ff"  # the Latin-1 letters right after are text


def test_bidi_embeddings_overrides_and_isolates_are_removed_marks_kept():
    spoof = "invoice\u202e\u2066fdp.exe\u2069\u202c\u202a\u202b\u202d\u2067\u2068"
    assert safe_text(spoof) == "invoicefdp.exe"
    marks = "\u200e\u200f\u061c\u200d\u200c\u00ad"  # LRM, RLM, ALM, ZWJ, ZWNJ, soft hyphen
    assert safe_text(f"שלום{marks}👩\u200d💻") == f"שלום{marks}👩\u200d💻"


def test_deprecated_format_and_annotation_controls_are_removed():
    assert safe_text("a\u206a\u206f\ufff9\ufffa\ufffbb") == "ab"


def test_terminal_escape_sequences_are_shown_not_sent():
    attack = "\x1b]52;c;aGk=\x07\x1b]0;title\x07\x1b[2J\x9b31m\x1bP+q\x1b\\"
    assert safe_line(attack) == "␛]52;c;aGk=␇␛]0;title␇␛[2J\ufffd31m␛P+q␛\\"
    assert unsafe_characters(attack) == ["\x1b", "\x07", "\x1b", "\x07", "\x1b", "\x9b", "\x1b", "\x1b"]


def test_clean_text_is_returned_as_the_same_object():
    text = "An ordinary line, with tabs\tand\nnewlines, é, 日本語 and 😀."
    assert safe_text(text) is text
    line = "one line"
    assert safe_line(line) is line


def frame_with(text: str) -> protocol.Frame:
    return protocol.Frame(
        url=f"http://example.test/{text}",
        title=f"Title {text}",
        width=40,
        lines=[protocol.Line([protocol.Span("plain"), protocol.Span(f"span {text}", protocol.Style.LINK, 1)])],
        links=[protocol.Link(number=1, url=f"http://example.test/{text}", text=f"link {text}", line=0)],
        fields=[protocol.FormField(id=1, kind="textarea", name=f"n{text}", value=f"line one\nline {text}",
                                   options=[f"o{text}"])],
        scroll=3,
        kind="html",
    )


def test_a_clean_frame_is_returned_as_it_is():
    frame = frame_with("fine")
    assert safe_frame(frame) is frame


def test_every_string_field_of_a_frame_is_made_safe():
    hostile = "\x1b[2J\x9b\x7f\u202e\n"
    shown = "␛[2J\ufffd␡␊"
    assert safe_frame(frame_with(hostile)) == protocol.Frame(
        url=f"http://example.test/{shown}",
        title=f"Title {shown}",
        width=40,
        lines=[protocol.Line([protocol.Span("plain"), protocol.Span(f"span {shown}", protocol.Style.LINK, 1)])],
        links=[protocol.Link(number=1, url=f"http://example.test/{shown}", text=f"link {shown}", line=0)],
        # A textarea's value keeps its lines; its name, a single line, shows its newline.
        fields=[protocol.FormField(id=1, kind="textarea", name=f"n{shown}", value="line one\nline ␛[2J\ufffd␡\n",
                                   options=[f"o{shown}"])],
        scroll=3,
        kind="html",
    )


def test_a_multiline_textarea_value_alone_does_not_change_the_frame():
    frame = frame_with("ok")
    assert frame.fields[0].value == "line one\nline ok"
    assert safe_frame(frame) is frame
