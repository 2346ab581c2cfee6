"""Hostile pages: terminal escapes in every construct a page controls.

Each page puts the same hostile string (an OSC 52 clipboard write, an OSC 0
window title, a CSI that clears the screen, a C1 CSI, DEL and a right-to-left
override) into one construct.  The pages are served by a real HTTP server on
127.0.0.1 and read from file:, opened with ``open --dump``, ``--dump --json``
and the API, and the whole output is compared with what the user must see:
escapes shown as control pictures (``␛``), C1 as ``�``, the override gone.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from browser import Browser

HOSTILE = "\x1b]52;c;aGk=\x07\x1b]0;T\x07\x1b[2J\x9b1m\x7f\u202eZ"
#: What the user sees of HOSTILE where the broker made it safe.
SHOWN = "␛]52;c;aGk=␇␛]0;T␇␛[2J�1m␡Z"
#: What the user sees of HOSTILE in a text node: the renderer drops controls from laid-out text.
DROPPED = "]52;c;aGk=]0;T[2J1mZ"
#: The same string as a link's target after the renderer resolved it (percent-encoded).
ENCODED = "%1B]52;c;aGk=%07%1B]0;T%07%1B[2J%C2%9B1m%7F%E2%80%AEZ"

#: What may never reach the user: C0 but newline and tab, DEL, C1, bidi embeddings/overrides/isolates.
FORBIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")

HEAD = '<!doctype html><meta charset="utf-8">'

#: name -> (file name, content type, body, expected dump with {root} for the site's root URL)
PAGES: dict[str, tuple[str, str, str, str]] = {
    "title": ("title.html", "text/html", f"{HEAD}<title>T{HOSTILE}</title><p>body", "body\n"),
    "headings": ("headings.html", "text/html", f"{HEAD}<h1>H{HOSTILE}</h1><h2>S{HOSTILE}</h2>",
                 f"H{DROPPED}\n{'=' * 21}\n\nS{DROPPED}\n"),
    "pre": ("pre.html", "text/html", f"{HEAD}<pre>P{HOSTILE}\nsecond</pre>", f"P{DROPPED}\nsecond\n"),
    "textarea": ("textarea.html", "text/html",
                 f'{HEAD}<form><textarea name="t{HOSTILE}">V{HOSTILE}\nsecond</textarea></form>',
                 f"+{'-' * 20}+\n|V]52;c;aGk=]0;T[2J1m|\n|Z{' ' * 19}|\n|second{' ' * 14}|\n+{'-' * 20}+\n"),
    "select": ("select.html", "text/html",
               f'{HEAD}<form><select name="s{HOSTILE}"><option>O{HOSTILE}</option><option>two</option></select>',
               f"[O{DROPPED} v]\n"),
    "table": ("table.html", "text/html", f"{HEAD}<table><tr><td>C{HOSTILE}</td><td>d</td></tr></table>",
              f"C{DROPPED}  d\n"),
    "anchor": ("anchor.html", "text/html", f'{HEAD}<a name="N{HOSTILE}">anchor</a>', "anchor\n"),
    "refresh": ("refresh.html", "text/html",
                f'{HEAD}<meta http-equiv="refresh" content="0; url=/r{HOSTILE}"><p>refresh', "refresh\n"),
    "data-link": ("datalink.html", "text/html", f'{HEAD}<a href="data:text/html,D{HOSTILE}">data</a>',
                  f"data[1]\n\nReferences\n\n   1. data:text/html,D{SHOWN}\n"),
    "link-text": ("linktext.html", "text/html", f'{HEAD}<a href="/l">L{HOSTILE}</a>',
                  f"L{DROPPED}[1]\n\nReferences\n\n   1. {{root}}/l\n"),
    # CSS escapes in generated content: ESC, BEL, C1 CSI, a right-to-left override.
    "css-content": ("csscontent.html", "text/html",
                    f'{HEAD}<style>p::before {{ content: "B\\1b]0;T\\7 \\9b 1m\\202e " }}</style><p>x', "B]0;T1mx\n"),
    "img-alt": ("alt.html", "text/html", f'{HEAD}<img alt="I{HOSTILE}">', f"[I{SHOWN}]\n"),
    "inputs": ("inputs.html", "text/html",
               f'{HEAD}<form><input type=submit value="S{HOSTILE}"><input type=reset value="R{HOSTILE}">'
               f'<input type=image alt="M{HOSTILE}" name="m{HOSTILE}"></form>',
               # The renderer counts a control as one cell, the picture the broker
               # shows for it, so no line is wider than 60.
               f"[ S{SHOWN} ][ R{SHOWN[:-2]}\n{SHOWN[-2:]} ][ M{SHOWN} ]\n"),
    # The frame is loaded and composed in: its own text (the data: URL's) reaches the user safe too.
    "frames": ("frames.html", "text/html",
               f'{HEAD}<frameset><frame name="F{HOSTILE}" src="data:text/html,F{HOSTILE}"></frameset>',
               f"-- frame 1: data: --\nF{SHOWN}\n"),
    "href": ("href.html", "text/html",
             f'{HEAD}<a href="/h{HOSTILE}">raw</a> <a href="/h&#27;[2J&#x9b;&#x7f;&#x202e;">ref</a>',
             f"raw[1] ref[2]\n\nReferences\n\n   1. {{root}}/h{SHOWN}\n   2. {{root}}/h␛[2J›␡\n"),
    "base": ("base.html", "text/html", f'{HEAD}<base href="http://b{HOSTILE}/"><a href="x">rel</a>',
             "rel[1]\n\nReferences\n\n   1. x\n"),
    "text-plain": ("plain.txt", "text/plain", f"plain{HOSTILE}\nsecond\n", f"plain{SHOWN}\nsecond\n"),
    "json": ("body.json", "application/json", f'{{"k": "J{HOSTILE}"}}\n', f'{{"k": "J{SHOWN}"}}\n'),
}

#: Titles as the user sees them (the tab strip, --json); a page without one is titled by its URL.
TITLES = {"title": f"T{DROPPED}"}

#: A data: URL typed on the command line: its text, its title and the ==> URL <== header.
DATA_URL = f"data:text/html,<title>D{HOSTILE}</title><p>D{HOSTILE}"
DATA_URL_SHOWN = f"data:text/html,<title>D{SHOWN}</title><p>D{SHOWN}"

WIDTH = "60"


def expected_dump(root: str, url_of) -> str:
    """The whole stdout of one ``open --dump`` of every page, then the data: URL."""
    sections = [f"==> {url_of(name)} <==\n" + PAGES[name][3].replace("{root}", root) for name in PAGES]
    sections.append(f"==> {DATA_URL_SHOWN} <==\nD{DROPPED}\n")
    return "\n".join(sections)


def expected_title(name: str, url: str) -> str:
    return TITLES.get(name, "{url}").replace("{url}", url)


@pytest.fixture
def served(http_server):
    """Every page on the local HTTP server: (root, url_of)."""
    for name, (_, content_type, body, _) in PAGES.items():
        http_server.route(f"/{name}", body.encode("utf-8"), content_type=f"{content_type}; charset=utf-8")
    return http_server.base_url, lambda name: http_server.url(f"/{name}")


@pytest.fixture
def files(tmp_path):
    """Every page as a local file: (root, url_of)."""
    for file_name, _, body, _ in PAGES.values():
        (tmp_path / file_name).write_text(body, encoding="utf-8")
    return "file://", lambda name: f"file://{tmp_path}/{PAGES[name][0]}"


def run_cli(args: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "browser.cli", *args], capture_output=True, text=True,
                          timeout=120, stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("source", ["served", "files"])
def test_dump_shows_escapes_as_pictures_in_every_construct(source, request):
    root, url_of = request.getfixturevalue(source)
    result = run_cli(["open", *(url_of(name) for name in PAGES), DATA_URL, "--dump", "--width", WIDTH])
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == expected_dump(root, url_of)
    assert FORBIDDEN.findall(result.stdout) == []


@pytest.mark.parametrize("source", ["served", "files"])
def test_json_has_no_control_characters_in_any_field(source, request):
    root, url_of = request.getfixturevalue(source)
    urls = [url_of(name) for name in PAGES]
    result = run_cli(["open", *urls, DATA_URL, "--dump", "--json", "--width", WIDTH])
    assert (result.returncode, result.stderr) == (0, "")
    assert FORBIDDEN.findall(result.stdout) == []  # ensure_ascii=False would let C1 and DEL through
    objects = [json.loads(line) for line in result.stdout.splitlines()]
    frame_lists = [[(f["url"], f["state"]) for f in obj.pop("frames")] for obj in objects]
    assert frame_lists == [[(f"data:text/html,F{SHOWN}", "loaded")] if name == "frames" else [] for name in PAGES] + [[]]
    for obj in objects:  # the only fields that differ from run to run
        assert isinstance(obj.pop("renderer_pid"), int)
        assert set(obj.pop("timings_ms")) == {"fetch", "spawn", "first_frame"}
    expected = []
    for index, (name, url) in enumerate(zip(PAGES, urls)):
        dump = PAGES[name][3].replace("{root}", root)
        text, _, references = dump.partition("\n\nReferences\n\n")
        links = [
            {"number": int(number), "url": target}
            for number, target in re.findall(r"^ +(\d+)\. (.*)$", references, re.MULTILINE)
        ]
        expected.append({
            "url": url, "final_url": url, "title": expected_title(name, url),
            "state": "active" if index == 0 else "background",  # the first tab opened is the active one
            "error": None, "text": text.removesuffix("\n"), "links": links,
            "renderer_site": None,  # per-tab: no renderer is locked to a site
        })
    expected.append({
        "url": DATA_URL.replace(HOSTILE, SHOWN), "final_url": DATA_URL_SHOWN, "title": f"D{DROPPED}",
        "state": "background", "error": None, "text": f"D{DROPPED}", "links": [], "renderer_site": None,
    })
    assert objects == expected


async def test_api_frames_hold_no_control_characters(served):
    root, url_of = served
    async with Browser(width=int(WIDTH)) as browser:
        for name in PAGES:
            url = url_of(name)
            tab = await browser.open(url)
            assert (name, tab.frame.dump()) == (name, PAGES[name][3].replace("{root}", root))
            assert (name, tab.title) == (name, expected_title(name, url))
            assert FORBIDDEN.findall(" ".join(all_strings(tab.frame))) == []
            await tab.close()


def all_strings(frame) -> list[str]:
    """Every string the frame holds, as the UI would read them."""
    strings = [frame.url, frame.title, frame.kind]
    strings += [span.text for line in frame.lines for span in line.spans]
    strings += [text for link in frame.links for text in (link.url, link.text)]
    for field in frame.fields:
        strings += [field.kind, field.name, field.value, *field.options]
    return strings
