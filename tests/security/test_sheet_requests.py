"""A compromised renderer asks the broker for style sheets: the broker judges
each by the page it committed, never by the renderer's word, and bounds the
rounds.  The renderer is real (forked by the zygote, fully sandboxed), its
message loop replaced by the attacker's code, over real ZeroMQ; the page
and the sheets come from a local HTTP server."""

from __future__ import annotations

from browser import Browser
from renderer import protocol

LOOP = """
import os
SECRET_URL = {secret!r}
SITE_CSS = {site!r}
url = None
def reply(message):
    sock.send(protocol.encode(message))
def frame(text):
    return protocol.Frame(url=url, title='', width=80, lines=[protocol.Line([protocol.Span(text)])])
rounds = 0
while True:
    message = protocol.to_renderer_decoder.decode(sock.recv())
    if isinstance(message, protocol.Shutdown):
        os._exit(0)
    if isinstance(message, protocol.Ping):
        reply(protocol.Pong(renderer=renderer, seq=message.seq))
    elif isinstance(message, protocol.LoadDocument):
        url = message.url
        reply(protocol.SheetsWanted(document=message.document, request=message.request, urls=[SECRET_URL, SITE_CSS]))
    elif isinstance(message, protocol.LoadSheets):
        rounds += 1
        got = ' '.join(sorted(s.url + '=' + s.body.decode() for s in message.sheets)) or 'none'
        if {endless}:
            reply(protocol.SheetsWanted(document=message.document, request=message.request,
                                        urls=[SITE_CSS + '?round=' + str(rounds)]))
        else:
            reply(protocol.FrameReady(document=message.document, request=message.request, frame=frame(got)))
    elif getattr(message, 'request', None) is not None:
        reply(protocol.FrameReady(document=message.document, request=message.request, frame=frame('other')))
"""


async def test_an_http_page_never_gets_a_local_file_whatever_its_renderer_asks(http_server, tmp_path):
    secret = tmp_path / "secret.css"
    secret.write_text("p { content: 'SECRET' }")
    page = http_server.route("/page.html", b"<p>page")
    site_css = http_server.route("/site.css", b"p {}", content_type="text/css")
    async with Browser() as browser:
        # Outside the page's rules the file is there to be read: the user may open it.
        typed = await browser.open(secret.as_uri())
        assert "SECRET" in typed.frame.text
        tab = await browser.open_compromised(page, LOOP.format(secret=secret.as_uri(), site=site_css, endless=False))
        assert tab.frame.text == f"{site_css}=p {{}}"
        assert http_server.count("/site.css") == 1


async def test_a_renderer_asking_for_sheets_without_end_is_ended(http_server):
    page = http_server.route("/page.html", b"<p>page")
    site_css = http_server.route("/site.css", b"p {}", content_type="text/css")
    async with Browser() as browser:
        tab = await browser.open_compromised(page, LOOP.format(secret=site_css, site=site_css, endless=True))
        assert tab.crash_cause == "its renderer asked for style sheets past the protocol's limit"
        # Two sheets in the first round, then one a round up to the limit; the
        # next ask ends the renderer, and nothing more is fetched.
        assert http_server.count("/site.css") == 2 + (protocol.MAX_SHEET_ROUNDS - 1)
