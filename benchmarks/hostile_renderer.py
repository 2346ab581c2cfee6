"""What a hostile renderer costs the broker: memory under a flood, and the
time from its bad message to its end.

Each hostile renderer is a real, fully sandboxed compromise-simulation
renderer.  It writes the CLOCK_MONOTONIC time (system-wide) of its first bad
message to its own log just before sending it; the broker side notes when
it logged the end of that renderer and when it saw it exit.

* answer flood: the broker hands the renderer a document; it answers with
  300 copies of a valid 1 MB frame, as fast as it can (the issue's "legal
  1 MB message flood").
* heartbeat flood: 300 padded 1 MB heartbeat answers nobody asked for.
* invalid UTF-8: one small message.

For each: the broker's RSS before, after and at its peak (sampled while
another tab is pinged throughout), and the time to end the renderer.

    .venv/bin/python benchmarks/hostile_renderer.py [--repeat N]
"""

from __future__ import annotations

import argparse
import asyncio
import glob
import logging
import os
import statistics
import time

import psutil

from browser import Browser
from browser.security import run_probe

#: Broker memory growth under the flood that counts as bounded.
FLOOD_GROWTH_TARGET_MB = 64

PROBE = """\
import os, time, msgspec
RENDERER = globals().get("renderer")
def next_request():
    return protocol.to_renderer_decoder.decode(sock.recv()) if sock.poll(5000) else None
{prepare}
os.write(2, ("bad message at %r\\n" % time.monotonic()).encode())
{send}
sock.poll(5000)
result = "not ended"
"""
ANSWER_FLOOD = PROBE.format(
    prepare="load = next_request()\n"
            "answer = protocol.encode(protocol.FrameReady(document=load.document, request=load.request,"
            " frame=protocol.Frame(url=load.url, title='x' * 2**20, width=80, lines=[])))",
    send="for _ in range(300):\n    sock.send(answer)",
)
HEARTBEAT_FLOOD = PROBE.format(
    prepare="pong = msgspec.msgpack.encode({'type': 'pong', 'renderer': RENDERER, 'seq': 1, 'pad': 'x' * 2**20})",
    send="for _ in range(300):\n    sock.send(pong)",
)
INVALID_UTF8 = PROBE.format(
    prepare="bad = msgspec.msgpack.encode({'type': 'navigate', 'document': 1, 'request': 1, 'url': 'AAAA'})"
            ".replace(b'AAAA', b'\\xff' * 4)",
    send="sock.send(bad)",
)


class _EndingTimes(logging.Handler):
    """When the broker logged the end of each renderer (by pid)."""

    def __init__(self) -> None:
        super().__init__()
        self.by_pid: dict[int, float] = {}

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message.startswith("ending renderer pid "):
            self.by_pid.setdefault(int(message.split()[3]), time.monotonic())


def _sent_at(runtime_path: str) -> float | None:
    """The send time the newest hostile renderer wrote to its log."""
    logs = sorted(glob.glob(os.path.join(runtime_path, "**", "*.log"), recursive=True), key=os.path.getmtime)
    for path in reversed(logs):
        with open(path, "rb") as log:
            for line in log.read().decode("utf-8", "replace").splitlines():
                if line.startswith("bad message at "):
                    return float(line.rsplit(" ", 1)[1])
    return None


async def _one(browser: Browser, code: str, commit: bool, endings: _EndingTimes, sibling) -> dict:
    broker = psutil.Process(os.getpid())
    before = broker.memory_info().rss
    peak = before
    probe = asyncio.ensure_future(run_probe(browser, code, timeout=60, commit_document=commit))
    pings = 0
    while not probe.done():
        await sibling.ping(timeout=60)
        pings += 1
        peak = max(peak, broker.memory_info().rss)
    outcome = await probe
    returned = time.monotonic()
    after = broker.memory_info().rss
    sent = _sent_at(browser.runtime_dir)
    logged = endings.by_pid.get(outcome.pid)
    return {
        "outcome": f"{outcome.outcome}: {outcome.detail}",
        "before_mb": before / 2**20, "after_mb": after / 2**20, "peak_mb": peak / 2**20,
        "to_log_ms": (logged - sent) * 1000 if logged and sent else None,
        "to_exit_ms": (returned - sent) * 1000 if sent else None,
        "sibling_pings": pings,
    }


async def measure(repeat: int) -> None:
    endings = _EndingTimes()
    logging.getLogger("minibrowser").addHandler(endings)
    logging.getLogger("minibrowser").setLevel(logging.WARNING)
    logging.getLogger("minibrowser").propagate = False
    async with Browser() as browser:
        sibling = await browser.open("about:blank")
        for name, code, commit in (("answer flood (300 x 1 MB)", ANSWER_FLOOD, True),
                                   ("heartbeat flood (300 x 1 MB)", HEARTBEAT_FLOOD, False),
                                   ("invalid UTF-8", INVALID_UTF8, False)):
            runs = [await _one(browser, code, commit, endings, sibling) for _ in range(repeat)]
            print(f"{name}: {runs[-1]['outcome']}")
            growth = max(r["peak_mb"] - r["before_mb"] for r in runs)
            print(f"  broker RSS before {runs[0]['before_mb']:.0f} MB, after {runs[-1]['after_mb']:.0f} MB, "
                  f"largest growth seen {growth:.0f} MB "
                  f"(target < {FLOOD_GROWTH_TARGET_MB} MB: {'met' if growth < FLOOD_GROWTH_TARGET_MB else 'NOT met'})")
            to_log = [r["to_log_ms"] for r in runs if r["to_log_ms"] is not None]
            to_exit = [r["to_exit_ms"] for r in runs if r["to_exit_ms"] is not None]
            if to_log:
                print(f"  bad message -> ended by name: median {statistics.median(to_log):.1f} ms")
            print(f"  bad message -> exit seen by the broker: "
                  + (f"median {statistics.median(to_exit):.1f} ms" if to_exit else "never"))
            print(f"  another tab answered {sum(r['sibling_pings'] for r in runs)} heartbeats meanwhile")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(measure(args.repeat))


if __name__ == "__main__":
    main()
