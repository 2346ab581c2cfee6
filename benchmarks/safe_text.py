"""Cost of making a frame safe (broker/safe_text.py) on a large page.

The frame of the 500 KB documentation page is laid out once; then the time
``safe_frame`` takes is measured against the time the broker already spends
decoding that frame's FrameReady message, in the same run.  Target: a clean
frame costs at most half its decode.  A frame with one escape (in its title)
and one with an escape in every span (the slow path: every line copied)
are shown for comparison.

    .venv/bin/python benchmarks/safe_text.py
"""

from __future__ import annotations

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from _common import documentation_page  # noqa: E402

from broker.safe_text import safe_frame  # noqa: E402
from renderer import protocol  # noqa: E402
from renderer.page import Page  # noqa: E402

TARGET_RATIO = 0.5
ROUNDS = 30


def best_ms(work) -> float:
    best = float("inf")
    for _ in range(ROUNDS):
        started = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - started)
    return best * 1000


def main() -> None:
    body = documentation_page(500_000)
    frame = Page(body, url="http://127.0.0.1/doc", content_type="text/html", charset="utf-8", kind="html").layout(80)
    message = protocol.encode(protocol.FrameReady(document=1, request=1, frame=frame))
    hostile = protocol.Frame(
        url=frame.url, title=frame.title, width=frame.width, links=frame.links, fields=frame.fields,
        lines=[protocol.Line([protocol.Span(span.text + "\x1b[2J", span.style, span.link, span.field)
                              for span in line.spans]) for line in frame.lines],
    )
    one_escape = protocol.Frame(url=frame.url, title=frame.title + "\x1b]0;x\x07", width=frame.width,
                                links=frame.links, fields=frame.fields, lines=frame.lines)
    spans = sum(len(line.spans) for line in frame.lines)
    print(f"page {len(body) / 1000:.0f} KB, frame {len(frame.lines)} lines, {spans} spans, "
          f"{len(frame.links)} links, message {len(message) / 1000:.0f} KB")
    decode = best_ms(lambda: protocol.to_broker_decoder.decode(message))
    clean = best_ms(lambda: safe_frame(frame))
    dirty = best_ms(lambda: safe_frame(hostile))
    one = best_ms(lambda: safe_frame(one_escape))
    ratio = clean / decode
    print(f"decode FrameReady (baseline):       {decode:7.2f} ms")
    print(f"safe_frame, clean frame:            {clean:7.2f} ms  ({ratio:.2f}x the decode)")
    print(f"safe_frame, one escape (title):     {one:7.2f} ms  ({one / decode:.2f}x the decode)")
    print(f"safe_frame, an escape in every span: {dirty:6.2f} ms  ({dirty / decode:.2f}x the decode)")
    verdict = "met" if ratio <= TARGET_RATIO else "NOT met"
    print(f"target: a clean frame at most {TARGET_RATIO}x its decode: {verdict}")


if __name__ == "__main__":
    main()
