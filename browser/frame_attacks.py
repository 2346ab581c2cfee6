"""A compromised page against its cross-site frames, under each process model.

The attacker's renderer hosts a page of site A (127.0.0.2, served here on
loopback) that embeds a page of site B (127.0.0.3) holding a secret.  Each
attack of ``browser.attacks.FRAME_ATTACKS`` runs as that renderer's message
loop, after full lockdown, in a browser of the model under test.  Under
``site-per-process`` the child lives in a renderer locked to B and the
parent never receives its bytes; under ``per-tab``, ``process-per-site``
and ``single`` the child is committed in the parent's renderer, so a
compromised parent reads it: that difference is what site isolation buys,
and ``minibrowser attack frames`` prints it.
"""

from __future__ import annotations

import http.server
import json
import logging
import threading
from dataclasses import asdict, dataclass

from broker.process_model import ProcessModel
from browser import attacks
from browser.api import Browser, BrowserError

#: The text only the child page holds.
SECRET = "the child's secret: 4111 1111 1111 1111"


@dataclass(frozen=True)
class FrameAttackResult:
    model: str
    attack: str
    outcome: str  # "succeeded", "blocked", "killed", "failed"
    detail: str


class _Site:
    """One loopback site serving fixed pages (the attack range: no network)."""

    def __init__(self, host: str, pages: dict[str, bytes]) -> None:
        handler = type("Handler", (_Handler,), {"pages": pages})
        self.server = http.server.ThreadingHTTPServer((host, 0), handler)
        self.url = f"http://{host}:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


class _Handler(http.server.BaseHTTPRequestHandler):
    pages: dict[str, bytes] = {}

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        body = self.pages.get(self.path.partition("?")[0])
        self.send_response(200 if body is not None else 404)
        body = body if body is not None else b"<p>no such page</p>"
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args) -> None:  # noqa: A002
        pass


async def run_frame_attack(model: ProcessModel, attack: attacks.FrameAttack) -> FrameAttackResult:
    """Run ``attack`` from a compromised page's renderer in a browser of ``model``."""
    child_site = _Site("127.0.0.3", {"/child.html": f"<title>Child</title><p>{SECRET}</p>".encode()})
    parent_site = _Site("127.0.0.2", {"/page.html": b"<title>Page</title><p>A page with a frame.</p>"})
    child_url = child_site.url + "/child.html"
    code = attacks.FRAME_HELPERS + f"CHILD_URL = {child_url!r}\n" + attack.code
    try:
        async with Browser(process_model=model.value, spare=False) as browser:
            tab = await browser.open_compromised(parent_site.url + "/page.html", code)
            reported, bad_message = await browser.compromised_outcome(tab)
            frames = tab.frames
    except BrowserError as error:
        return FrameAttackResult(model.value, attack.name, "failed", str(error))
    finally:
        child_site.close()
        parent_site.close()
    return _judge(model, attack, reported, bad_message, frames)


def _judge(model, attack, reported, bad_message, frames) -> FrameAttackResult:
    row = lambda outcome, detail: FrameAttackResult(model.value, attack.name, outcome, detail)  # noqa: E731
    if bad_message is not None:
        return row("killed", f"the broker ended the parent's renderer: bad message {bad_message}")
    if reported is None:
        return row("failed", "the attack reported nothing and was not ended")
    if reported.startswith("READ: "):
        secret = SECRET in reported
        return row("succeeded", "the parent's renderer received the child's page"
                   + (" and read its secret" if secret else f": {reported[6:60]!r}"))
    if reported == "FORGED":
        return row("succeeded", "the parent's renderer hosts the child and drew it as it liked")
    if attack.name == "frame-child-to-file" and frames and frames[0].state == "blocked":
        return row("blocked", f"navigation policy: {frames[0].cause}")
    if reported == "nothing of the child reached this renderer":
        return row("blocked", "the child is in a renderer locked to its site: " + reported)
    return row("failed", reported[:100])


async def run_frame_attack_table(*, as_json: bool, names: list[str] | None = None) -> int:
    """``minibrowser attack frames``: each frame attack under every process model."""
    logging.getLogger("minibrowser").setLevel(logging.ERROR)  # the kills are the point: the table says them
    chosen = [a for a in attacks.FRAME_ATTACKS if not names or a.name in names]
    results = [await run_frame_attack(model, attack) for attack in chosen for model in ProcessModel]
    if as_json:
        print(json.dumps({"frame_attacks": [asdict(r) for r in results]}))
    else:
        width = max(len(m.value) for m in ProcessModel)
        for attack in chosen:
            print(f"{attack.name}: {attack.description}")
            for r in (r for r in results if r.attack == attack.name):
                print(f"  {r.model:{width}}  {r.outcome:9}  {r.detail}")
            print()
        print("Under site-per-process a cross-site frame lives in a renderer locked to its own site, so a\n"
              "compromised page never receives its bytes; under per-tab, process-per-site and single the\n"
              "frame shares the page's renderer and the page reads it. That difference is the point of\n"
              "site isolation, and what its extra processes cost (benchmarks/process_models.py --frames).")
    failed = [r for r in results if r.outcome == "failed"]
    return 0 if not failed else 1
