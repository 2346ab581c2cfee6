"""Page loads through the network process against the old in-broker loader.

The loader now asks a sandboxed network process for every http(s) page and
receives typed messages; before, the broker spoke HTTP itself through httpx,
with a new connection per load (keep-alive was off, so that bytes beyond a
response could not be read as the next one).  The old way is kept here, in
this benchmark only, as the baseline, measured in the same run, interleaved
with the new one, against a local server:

* one load of a 100 KB page on a fresh connection (the server closes each
  connection), the network process already running: target at most 1.2x
  the old loader;
* twenty loads of that page from one site, one after another, where the
  network process reuses its connection: target faster than the old loader;
* the network process's start (the first http load of a browser), shown for
  information: a file: page never pays it.

    .venv/bin/python benchmarks/network_load.py [--runs N]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

import httpx

from _common import page_of_size, serve
from broker.loader import Loader, normalize_url
from network.decoding import ContentDecoder, parse_content_encoding

PAGE_BYTES = 100_000
SINGLE_TARGET = 1.2
BURST = 20


class OldLoader:
    """The in-broker http path as it was: httpx in the broker, one new
    connection per load, the body read raw and decoded under the budget."""

    def __init__(self, max_bytes: int = 8 * 1024 * 1024) -> None:
        self.max_bytes = max_bytes
        self.client = httpx.AsyncClient(
            follow_redirects=False, trust_env=False, timeout=httpx.Timeout(15.0),
            headers={"User-Agent": "minibrowser/0.1", "Accept-Encoding": "gzip, deflate"},
            limits=httpx.Limits(max_keepalive_connections=0),
        )

    async def load(self, url: str) -> bytes:
        target = normalize_url(url)
        response = await self.client.send(self.client.build_request("GET", target), stream=True)
        try:
            decoder = ContentDecoder(parse_content_encoding(response.headers.get_list("content-encoding", True)),
                                     budget=self.max_bytes)
            pieces = []
            async for chunk in response.aiter_raw():
                pieces.extend(decoder.feed(chunk))
            decoder.finish()
            return b"".join(pieces)
        finally:
            await response.aclose()

    async def aclose(self) -> None:
        await self.client.aclose()


async def timed(load, url: str) -> float:
    started = time.perf_counter()
    body = await load(url)
    elapsed = (time.perf_counter() - started) * 1000
    if len(body) < PAGE_BYTES // 2:
        raise SystemExit(f"network_load: {url} gave {len(body)} bytes")
    return elapsed


async def new_body(loader: Loader, url: str) -> bytes:
    return (await loader.load(url)).body


async def main(runs: int) -> None:
    page = page_of_size(PAGE_BYTES)
    routes = {"/page": page, "/closing": (page, {"Connection": "close"})}
    with serve(routes) as base:
        old = OldLoader()
        new = Loader()
        try:
            started = time.perf_counter()
            await new.load(base + "/page")
            first_ms = (time.perf_counter() - started) * 1000
            await old.load(base + "/page")

            single_old, single_new = [], []
            for _ in range(runs):
                single_old.append(await timed(old.load, base + "/closing"))
                single_new.append(await timed(lambda u: new_body(new, u), base + "/closing"))

            burst_old, burst_new = [], []
            for _ in range(max(3, runs // 10)):
                for kind, record in ((old.load, burst_old), (lambda u: new_body(new, u), burst_new)):
                    started = time.perf_counter()
                    for _ in range(BURST):
                        await kind(base + "/page")
                    record.append((time.perf_counter() - started) * 1000)
        finally:
            await old.aclose()
            await new.aclose()

    single = statistics.median(single_new) / statistics.median(single_old)
    burst = statistics.median(burst_new) / statistics.median(burst_old)
    print(f"100 KB page, local server, {runs} runs each, interleaved (median ms)")
    print(f"  one load, fresh connection: old in-broker loader {statistics.median(single_old):7.2f}   "
          f"network process {statistics.median(single_new):7.2f}   ratio {single:.2f}x "
          f"(target <= {SINGLE_TARGET}x): {'met' if single <= SINGLE_TARGET else 'NOT met'}")
    print(f"  {BURST} loads from one site:    old in-broker loader {statistics.median(burst_old):7.2f}   "
          f"network process {statistics.median(burst_new):7.2f}   ratio {burst:.2f}x "
          f"(target < 1.0x): {'met' if burst < 1.0 else 'NOT met'}")
    print(f"  first http load of a browser (starts the network process): {first_ms:.1f} ms")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=40)
    asyncio.run(main(parser.parse_args().runs))
