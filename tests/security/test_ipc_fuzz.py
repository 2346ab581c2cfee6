"""Seeded, bounded fuzzing of the broker's IPC checks from inside a renderer.

Each case runs in a real, fully sandboxed renderer (compromise simulation)
that sends one message on its own DEALER: random bytes, or a valid message
of each type the renderer may send, with fields replaced by hostile values,
bytes flipped or the end cut off.  Whatever it is, the broker either takes
it as a valid message or ends the renderer with a named reason, never logs
a traceback, and keeps serving another tab.  The seed and the count are
fixed, so a failure reproduces.
"""

from __future__ import annotations

import asyncio
import logging
import random

import msgspec
import pytest

from broker.bad_message import BadMessage
from browser import Browser, attacks
from browser.security import run_probe
from renderer import protocol

SEED = 20261124
CASES_PER_TYPE = 5
RANDOM_BYTE_CASES = 8
PARALLEL = 6
RENDERER = "__RENDERER__"  # filled in with the renderer's own id inside it

_FRAME = protocol.Frame(
    url="https://fuzz.example/", title="fuzz", width=80,
    lines=[protocol.Line([protocol.Span("a link", protocol.Style.LINK, 1, 0)])],
    links=[protocol.Link(1, "https://fuzz.example/next", "a link", 0)],
    fields=[protocol.FormField(1, protocol.FieldKind.TEXT, "q", "v", False, ["o"], 0)],
)
SAMPLES: dict[type, msgspec.Struct] = {
    protocol.Hello: protocol.Hello(renderer=0, token="t" * 32, pid=1),
    protocol.FrameReady: protocol.FrameReady(document=0, request=1, frame=_FRAME),
    protocol.SheetsWanted: protocol.SheetsWanted(document=0, request=1, urls=["https://fuzz.example/a.css"]),
    protocol.NavigateRequest: protocol.NavigateRequest(document=0, request=1, url="https://fuzz.example/",
                                                       method=protocol.Method.POST, form_body="q=v"),
    protocol.FindResult: protocol.FindResult(document=0, request=1, matches=[(0, 1, 2)], frame=_FRAME),
    protocol.Pong: protocol.Pong(renderer=0, seq=1),
    protocol.SnapshotReady: protocol.SnapshotReady(document=0, request=1, snapshot=protocol.Snapshot(
        url="https://fuzz.example/", title="fuzz", content_type="text/html", charset="utf-8", body=b"<p>x",
        kind=protocol.DocumentKind.HTML, width=80, form_values={1: "v"}, frame=_FRAME,
        sheets=[protocol.StyleSheet(url="https://fuzz.example/a.css", body=b"p { color: red }")])),
    protocol.SandboxReport: protocol.SandboxReport(renderer=0, request=1, layers=[
        protocol.SandboxLayer("seccomp", True, True, "on")]),
    protocol.ProbeResult: protocol.ProbeResult(renderer=0, outcome=protocol.ProbeOutcome.RAISED, detail="d", errno=1),
    protocol.MemoryReport: protocol.MemoryReport(renderer=0, request=1, rss=3 << 20, pss=2 << 20, uss=1 << 20),
}
HOSTILE_VALUES = [
    -1, 2**63 - 1, -(2**63), 2**64 - 1, 1.5, None, True, "", "x" * 100_000, "DELETE", b"\xff\xfe",
    [], [[[[[]]]]], [0] * 5000, {"a": 1}, {"type": "pong"},
]


def test_every_message_a_renderer_may_send_is_sampled():
    assert set(SAMPLES) == set(protocol.ToBroker.__args__)


def _paths(value, prefix=()):
    """Every path to a value inside ``value`` (dict keys and list indexes)."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield prefix + (key,)
            yield from _paths(item, prefix + (key,))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield prefix + (index,)
            yield from _paths(item, prefix + (index,))


def _replace(value, path, new):
    if not path:
        return new
    copy = dict(value) if isinstance(value, dict) else list(value)
    copy[path[0]] = _replace(value[path[0]], path[1:], new)
    return copy


def _cases() -> list[tuple[str, object, bytes | None, list[tuple[int, int]], int | None]]:
    """(name, message as builtins or None, raw bytes or None, byte flips, cut)."""
    rng = random.Random(SEED)
    cases = []
    for n in range(RANDOM_BYTE_CASES):
        cases.append((f"random-bytes-{n}", None, rng.randbytes(rng.randrange(0, 600)), [], None))
    for kind, sample in SAMPLES.items():
        builtins = msgspec.to_builtins(sample, builtin_types=(bytes,))
        if "renderer" in builtins:
            builtins["renderer"] = RENDERER
        paths = [p for p in _paths(builtins) if p != ("renderer",)]
        for n in range(CASES_PER_TYPE):
            mutation = rng.choice(("field", "field", "flip", "cut"))
            name = f"{kind.__name__}-{mutation}-{n}"
            if mutation == "field":
                path = rng.choice(paths)
                cases.append((name, _replace(builtins, path, rng.choice(HOSTILE_VALUES)), None, [], None))
            elif mutation == "flip":
                flips = [(rng.randrange(1 << 16), 1 << rng.randrange(8)) for _ in range(rng.randrange(1, 5))]
                cases.append((name, builtins, None, flips, None))
            else:
                cases.append((name, builtins, None, [], rng.randrange(1 << 16)))
    return cases


SENDER = """\
obj, data, flips, cut = {case!r}
def fill_renderer(value):
    if isinstance(value, dict) and value.get("renderer") == {renderer!r}:
        value = dict(value, renderer=RENDERER)
    return value
data = bytearray(data if data is not None else msgspec.msgpack.encode(fill_renderer(obj)))
for at, bit in flips:
    if data:
        data[at % len(data)] ^= bit
if cut is not None:
    data = data[: cut % (len(data) + 1)]
sock.send(bytes(data))
result = ended_by_the_broker()
"""


async def test_fuzzed_messages_are_taken_or_end_the_sender_by_name(caplog):
    caplog.set_level(logging.INFO, logger="minibrowser.broker")
    cases = _cases()
    names = {reason.name for reason in BadMessage}
    async with Browser() as browser:
        other = await browser.open("about:blank")
        gate = asyncio.Semaphore(PARALLEL)

        async def one(case):
            name, *recipe = case
            code = attacks.BROWSER_HELPERS + SENDER.format(case=tuple(recipe), renderer=RENDERER)
            async with gate:
                return name, await run_probe(browser, code, timeout=30)

        outcomes = await asyncio.gather(*(one(case) for case in cases))
        # The broker keeps serving another tab after all of it.
        assert await other.ping(timeout=30) > 0
        assert (await other.navigate("about:blank")) is other.frame
    for name, outcome in outcomes:
        if outcome.outcome in ("completed", "raised"):  # taken: a mutated probe result still valid
            assert name.startswith("ProbeResult-"), (name, outcome)
        else:
            assert outcome.outcome == "killed" and outcome.bad_message in names, (name, outcome)
    assert [r for r in caplog.records if r.exc_info] == []
    assert all(r.getMessage().startswith(("ending renderer pid ", "dropping ")) for r in caplog.records
               if r.levelno >= logging.WARNING), [r.getMessage() for r in caplog.records]
    assert len(outcomes) == RANDOM_BYTE_CASES + CASES_PER_TYPE * len(SAMPLES)
