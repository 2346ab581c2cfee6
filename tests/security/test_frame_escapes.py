"""A compromised renderer writes terminal escapes into every field of its
frames; what the user sees (``open --dump``, ``--json``, the tab's title,
find results) carries none of them.

The renderer is real: forked by the zygote, fully sandboxed, its message loop
replaced by the ``frame-escapes`` attack's code, talking to the real broker
over ZeroMQ.
"""

from __future__ import annotations

import json
import re

from browser import Browser, attacks
from browser.output import dump_header, dump_text, tab_problem
from browser.security import ESCAPES_SHOWN, TAB_ATTACK_URL, attack_source, run_tab_attack

FORBIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
ATTACK = attacks.by_name(["frame-escapes"])[0]
E = ESCAPES_SHOWN  # what the user sees of the escapes
#: The page as the hostile renderer draws it, made safe: whole.
DUMP = (
    f"==> data:text/html,address{E} <==\n"
    f"text{E}link{E}\n"
    f"field{E}\n"
    "\n"
    "References\n"
    "\n"
    f"   1. http://example.test/{E}\n"
)


def test_the_escapes_are_real_before_the_broker_sees_them():
    """The attack sends real control characters: the picture form differs from what is sent."""
    assert FORBIDDEN.findall(attacks.TERMINAL_ESCAPES) == ["\x1b", "\x07", "\x1b", "\x07", "\x1b", "\x9b", "\x7f",
                                                           "\u202e"]
    assert E == "␛]52;c;aGk=␇␛]0;pwned␇␛[2J\ufffd31m␡"


async def test_every_field_reaches_the_user_safe():
    async with Browser() as browser:
        source = attack_source(ATTACK, _no_target(), inside=True)
        tab = await browser.open_compromised(TAB_ATTACK_URL, source)
        assert tab.title == f"title{E}"
        assert dump_header(tab) + dump_text(TAB_ATTACK_URL, tab, tab_problem(tab), as_json=False) == DUMP
        line = dump_text(TAB_ATTACK_URL, tab, None, as_json=True)
        assert FORBIDDEN.findall(line) == []
        record = json.loads(line)
        del record["renderer_pid"], record["timings_ms"]
        assert record == {
            "url": f"data:text/html,address{E}", "final_url": f"data:text/html,address{E}", "title": f"title{E}",
            "state": "active", "error": None, "text": f"text{E}link{E}\nfield{E}",
            "links": [{"number": 1, "url": f"http://example.test/{E}"}], "renderer_site": None, "frames": [],
        }
        field = tab.frame.fields[0]
        assert (field.name, field.value, field.options) == (f"name{E}", f"value{E}", [f"option{E}"])
        assert tab.frame.links[0].text == f"link{E}"
        # find answers with a frame of its own: it enters the tab's record the same way.
        assert await tab.find("text") == [(0, 0, 4)]
        assert dump_header(tab) + tab.frame.dump() == DUMP
        await tab.close()


async def test_the_attack_counts_as_blocked():
    async with Browser() as browser:
        result = await run_tab_attack(browser, ATTACK, attack_source(ATTACK, _no_target(), inside=True))
    assert (result.outcome, result.layer, result.detail) == (
        "blocked", "broker (safe text)", "escapes reached the user only as pictures (13 fields shown safe)")


def _no_target() -> attacks.Target:
    """This attack aims at the broker's output, not at files or processes."""
    return attacks.Target(broker_pid=1, sibling_pid=1, secret_path="/nonexistent", profile_path="/nonexistent",
                          scratch_dir="/nonexistent", broker_socket="/nonexistent", listener_port=9)
