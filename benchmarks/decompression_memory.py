"""Broker memory when a server sends a decompression bomb.

A double-gzip response (``Content-Encoding: gzip, gzip``) of a few kilobytes
on the wire inflates to gigabytes.  The network process decodes it and must
stop at the document cap, whatever the number of layers; the broker receives
at most the cap in decoded chunks (more is a bad message), so its peak memory
stays within a few times that cap above what loading an ordinary page costs.

The broker here is this process (the public ``Browser`` API, real zygote and
renderers), so its peak resident set is ``getrusage(RUSAGE_SELF).ru_maxrss``:
read after an ordinary page (the baseline), then after the bomb.

    .venv/bin/python benchmarks/decompression_memory.py [--inflated-mib N]
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import time
import zlib

from _common import serve
from browser import Browser
from renderer.protocol import MAX_DOCUMENT_BYTES

MIB = 1024 * 1024
#: Target: the bomb may cost the broker at most this many document caps above the baseline.
TARGET_CAPS = 3


def gzip_of_zeros(size: int) -> bytes:
    """gzip of ``size`` zero bytes, made a mebibyte at a time."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = bytes(MIB)
    parts = [compressor.compress(zeros) for _ in range(size // MIB)]
    parts.append(compressor.compress(bytes(size % MIB)))
    parts.append(compressor.flush())
    return b"".join(parts)


def gzip(data: bytes) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


def peak_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB


async def measure(base: str) -> tuple[int, int, str, float]:
    async with Browser() as browser:
        await browser.open(base + "/page")
        baseline = peak_rss()
        started = time.perf_counter()
        tab = await browser.open(base + "/bomb")
        elapsed = time.perf_counter() - started
        return baseline, peak_rss(), tab.error or "(no error: the page was shown)", elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--inflated-mib", type=int, default=2048, help="size of the bomb once inflated")
    args = parser.parse_args()
    bomb = gzip(gzip_of_zeros(args.inflated_mib * MIB))
    page = b"<!doctype html><title>Page</title><p>" + b"An ordinary page. " * 2000
    routes = {
        "/page": (gzip(page), {"Content-Encoding": "gzip"}),
        "/bomb": (bomb, {"Content-Encoding": "gzip, gzip"}),
    }
    with serve(routes) as base:
        baseline, after, error, elapsed = asyncio.run(measure(base))
    growth = after - baseline
    budget = TARGET_CAPS * MAX_DOCUMENT_BYTES
    print(f"double-gzip bomb: {len(bomb)} bytes on the wire, {args.inflated_mib} MiB inflated")
    print(f"  broker peak RSS after an ordinary gzip page  {baseline / MIB:8.1f} MiB  (baseline)")
    print(f"  broker peak RSS after the double-gzip bomb   {after / MIB:8.1f} MiB  "
          f"(+{growth / MIB:.1f} MiB, {after / baseline:.2f}x baseline)")
    print(f"  load took {elapsed:.2f} s; the tab says: {error}")
    verdict = "met" if growth <= budget else "NOT met"
    print(f"target: growth at most {TARGET_CAPS} x the {MAX_DOCUMENT_BYTES // MIB} MiB document cap "
          f"({budget / MIB:.0f} MiB): {verdict}")


if __name__ == "__main__":
    main()
