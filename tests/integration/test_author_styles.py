"""Author style sheets through the whole browser: a real broker, zygote and
sandboxed renderer over ZeroMQ, pages from a local HTTP server.

* A hostile sheet (2 MB: 22,000 rules, 15-combinator descendant chains that
  backtrack exponentially in a naive matcher, nesting past every cap, over
  3,000 nested elements) is answered and the page drawn within the browser's
  ordinary request timeout (30 s; about 2 s here), with the sheet's bounds
  applied (``renderer/style.py``): the rules that fit are honoured, the rest
  ignored, nothing hangs.
* ``open --dump`` prints no colour; ``--dump --color`` prints the page's
  colours and emphasis as SGR sequences the browser made, and a page's own
  escape bytes never pass.
"""

from __future__ import annotations

import subprocess
import sys

from browser import Browser

CLI = [sys.executable, "-m", "browser.cli"]


def hostile_page() -> bytes:
    chain = " ".join(["div"] * 15) + " span"
    universal = " ".join(["*"] * 15)
    rules = [f".c{n} {chain} {{ color: red }}" for n in range(20_000)]
    rules += [f"x {chain}, {universal} {{ font-weight: bold }}" for _ in range(2000)]
    rules.append(":not(:not(:not(:not(:not(p))))) { display: none }")  # nested past the cap: ignored
    rules.append("@media screen { " * 50 + "p { display: none }" + " }" * 50)  # too deep: ignored
    sheet = "\n".join(rules)
    # The rule that matters comes first, so it is within the size cap.
    sheet = ".gone { display: none } .loud { text-transform: uppercase }\n" + sheet
    body = "<div>" * 3000 + "<span>deep</span>" + "</div>" * 3000
    return (f"<!doctype html><title>hostile</title><style>{sheet}</style><p>first</p><p class=gone>hidden</p>"
            f"{body}<p class=loud>after the storm</p>").encode()


async def test_a_hostile_sheet_is_bounded_and_the_page_renders(http_server):
    page = hostile_page()
    assert len(page) > 2_000_000
    url = http_server.route("/hostile.html", page)
    async with Browser(request_timeout=30.0) as browser:  # the default, stated
        tab = await browser.open(url)
        assert tab.error is None and tab.crash_cause is None
        assert tab.frame.text == "first\n\ndeep\n\nAFTER THE STORM"


COLORED = (b'<!doctype html><style>.r { color: #c00000 } .b { font-weight: bold; text-decoration: underline }'
           b' .y { background-color: #ffff00; color: black }</style>'
           b'<p class=r>red <span class=b>bold</span></p><p><span class=y>\x1b[31mon yellow</span></p>')


def test_dump_has_no_colour_unless_asked(http_server):
    url = http_server.route("/colored.html", COLORED)
    plain = subprocess.run([*CLI, "open", url, "--dump"], capture_output=True, text=True, timeout=120,
                           stdin=subprocess.DEVNULL)
    assert (plain.returncode, plain.stderr) == (0, "")
    assert plain.stdout == "red bold\n\n[31mon yellow\n"
    colored = subprocess.run([*CLI, "open", url, "--dump", "--color"], capture_output=True, text=True,
                             timeout=120, stdin=subprocess.DEVNULL,
                             env={"PATH": "/usr/bin:/bin", "COLORTERM": "truecolor", "COLORFGBG": "15;0"})
    assert (colored.returncode, colored.stderr) == (0, "")
    # On a dark terminal: red kept, bold and underlined; black on yellow kept
    # (readable on its own background); the page's ESC byte was dropped by the renderer.
    assert colored.stdout == (
        "\x1b[38;2;192;0;0mred \x1b[0m\x1b[1;4;38;2;192;0;0mbold\x1b[0m\n"
        "\n"
        "\x1b[38;2;0;0;0;48;2;255;255;0m[31mon yellow\x1b[0m\n"
    )


def test_color_without_dump_is_a_usage_error():
    result = subprocess.run([*CLI, "open", "about:blank", "--color"], capture_output=True, text=True, timeout=60,
                            stdin=subprocess.DEVNULL)
    assert (result.returncode, result.stdout, result.stderr) == (2, "", "minibrowser: --color goes with --dump\n")


LINKED = (b'<!doctype html><title>linked</title><link rel="stylesheet" href="/style/site.css">'
          b'<link rel="stylesheet" href="/style/print.css" media="print"><link rel="stylesheet" href="/missing.css">'
          b'<nav class="menu">Menu to hide</nav><p class="shout">shown loud</p><p class="printonly">on screen</p>')
SITE_CSS = b".menu { display: none } .shout { text-transform: uppercase }"
PRINT_CSS = b".printonly { display: none }"


async def test_a_linked_sheet_is_fetched_by_the_broker_and_applied(http_server):
    url = http_server.route("/linked.html", LINKED)
    http_server.route("/style/site.css", SITE_CSS, content_type="text/css")
    http_server.route("/style/print.css", PRINT_CSS, content_type="text/css")
    async with Browser() as browser:
        tab = await browser.open(url)
        assert tab.frame.text == "SHOWN LOUD\n\non screen"
        # The screen sheet was fetched once, the print sheet never (its media
        # does not match), the missing one was asked for and left out.
        assert (http_server.count("/style/site.css"), http_server.count("/style/print.css"),
                http_server.count("/missing.css")) == (1, 0, 1)
        # A discarded tab comes back styled without the network.
        await browser.open("about:blank")  # the tab in view is never discarded
        await tab.discard()
        await tab.activate()
        assert tab.frame.text == "SHOWN LOUD\n\non screen"
        assert http_server.count("/style/site.css") == 1


async def test_a_sheet_served_as_another_type_is_not_used(http_server):
    url = http_server.route("/typed.html", b'<link rel=stylesheet href="/s.txt"><p class=menu>kept</p>')
    http_server.route("/s.txt", b".menu { display: none }", content_type="text/plain")
    async with Browser() as browser:
        tab = await browser.open(url)
        assert tab.frame.text == "kept"
        assert http_server.count("/s.txt") == 1


async def test_file_sheets_beside_a_file_page_only(tmp_path, http_server):
    site = tmp_path / "site"
    (site / "_static").mkdir(parents=True)
    (site / "library").mkdir()
    (site / "_static" / "theme.css").write_text(".nav { display: none }")
    (tmp_path / "outside.css").write_text(".far { display: none }")
    (site / "library" / "secret.txt").write_text(".txt { display: none }")
    page = site / "library" / "page.html"
    page.write_text('<link rel=stylesheet href="../_static/theme.css"><link rel=stylesheet href="../../outside.css">'
                    '<link rel=stylesheet href="secret.txt">'
                    '<p class=nav>navigation</p><p class=far>far sheet ignored</p><p class=txt>not a .css</p>')
    remote = http_server.route("/remote.html", f'<link rel=stylesheet href="{(site / "_static" / "theme.css").as_uri()}">'
                               '<p class=nav>an http page cannot read local sheets</p>'.encode())
    async with Browser() as browser:
        tab = await browser.open(page.as_uri())
        assert tab.frame.text == "far sheet ignored\n\nnot a .css"
        other = await browser.open(remote)
        assert other.frame.text == "an http page cannot read local sheets"


async def test_imported_sheets_are_fetched_in_rounds(http_server):
    url = http_server.route("/imports.html", b'<link rel=stylesheet href="/css/top.css">'
                            b'<p class=a>a</p><p class=b>b</p><p class=c>c</p><p class=d>d kept</p><p class=p>print</p>')
    http_server.route("/css/top.css", b'@import url("one.css"); @import "print.css" print; .a { display: none }',
                      content_type="text/css")
    http_server.route("/css/one.css", b'@import "/css/two.css"; .b { display: none }', content_type="text/css")
    http_server.route("/css/two.css", b'@import "three.css"; .c { display: none }', content_type="text/css")
    http_server.route("/css/three.css", b'@import "four.css"; .d { color: red }', content_type="text/css")
    http_server.route("/css/four.css", b'.d { display: none }', content_type="text/css")
    http_server.route("/css/print.css", b'.p { display: none }', content_type="text/css")
    async with Browser() as browser:
        tab = await browser.open(url)
        # Links, then three levels of @import: four.css (a fourth level) is never asked for.
        assert tab.frame.text == "d kept\n\nprint"
        assert [http_server.count(f"/css/{name}.css") for name in ("top", "one", "two", "three", "four", "print")] \
            == [1, 1, 1, 1, 0, 0]
