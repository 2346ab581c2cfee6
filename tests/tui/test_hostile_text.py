"""A hostile page in the browser window: the screen draws no control
character anywhere (tab strip, address bar, page), and what is left of the
escapes is shown as text or control pictures.

Real broker, zygote and renderer; the page from the local HTTP server.
"""

from __future__ import annotations

import re

from tuihelpers import make_app, screen_text, started
from tests.support.waiting import wait_for

#: OSC 52 (clipboard write), OSC 0 (window title), CSI 2J (clear), C1 CSI, DEL
#: and a right-to-left override, as a page may carry them.
ESCAPES = "\x1b]52;c;aGk=\x07\x1b]0;pwned\x07\x1b[2J\x9b31m\x7f\u202e"
#: Where the broker made it safe (attribute text such as alt): control pictures.
SHOWN = "␛]52;c;aGk=␇␛]0;pwned␇␛[2J\ufffd31m␡"
#: In a text node: the renderer drops control characters from laid-out text.
DROPPED = "]52;c;aGk=]0;pwned[2J31m"
FORBIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
PAGE = (
    f"<!doctype html><title>title{ESCAPES}</title><h1>heading{ESCAPES}</h1>"
    f"<p>text{ESCAPES}</p><p><img alt='alt{ESCAPES}'></p>"
).encode("utf-8")


def test_the_page_carries_real_control_characters():
    assert len(FORBIDDEN.findall(PAGE.decode("utf-8"))) == 4 * 8


async def test_the_window_draws_the_escapes_as_pictures(http_server):
    url = http_server.route("/hostile", PAGE)
    app = make_app([url])
    async with app.run_test(size=(100, 30)) as pilot:
        await started(pilot)
        await wait_for(lambda: app.current is not None and app.current.title.startswith("title"),
                       what="the hostile page", pause=pilot.pause)
        await wait_for(lambda: screen_text(app)[7].startswith("[alt"), what="the page drawn", pause=pilot.pause)
        screen = screen_text(app)
        assert [line for line in screen if FORBIDDEN.search(line)] == []
        assert [line.rstrip() for line in screen[:8]] == [
            f" ● title{DROPPED[:12]}… │ +",
            f" {url}",
            f"heading{DROPPED}",
            "=" * len(f"heading{DROPPED}"),
            "",
            f"text{DROPPED}",
            "",
            f"[alt{SHOWN}]",
        ]
        assert app.current.title == f"title{DROPPED}"
