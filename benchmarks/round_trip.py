"""Broker-renderer round trip against a raw socketpair between two processes.

The broker pings a real, sandboxed renderer over ZeroMQ (Ping -> Pong, both
msgspec-encoded, through the IPC hub's checks); the baseline is a bare
``socketpair`` echo between this process and a forked child, measured in the
same run.

    .venv/bin/python benchmarks/round_trip.py [--count N]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import time

from _common import percentile, summary

from browser import Browser


def socketpair_round_trips(count: int) -> list[float]:
    ours, theirs = socket.socketpair()
    pid = os.fork()
    if pid == 0:
        ours.close()
        while True:
            data = theirs.recv(64)
            if not data:
                os._exit(0)
            theirs.sendall(data)
    theirs.close()
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        ours.sendall(b"ping")
        ours.recv(64)
        samples.append((time.perf_counter() - started) * 1000)
    ours.close()
    os.waitpid(pid, 0)
    return samples


async def ipc_round_trips(count: int) -> list[float]:
    async with Browser() as browser:
        tab = await browser.open("about:blank")
        host = tab.host
        for _ in range(100):  # warm up
            await host.ping(timeout=5)
        samples = []
        for _ in range(count):
            started = time.perf_counter()
            await host.ping(timeout=5)
            samples.append((time.perf_counter() - started) * 1000)
        return samples


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=5000)
    args = parser.parse_args()
    raw = socketpair_round_trips(args.count)  # before the browser starts any thread
    ipc = asyncio.run(ipc_round_trips(args.count))
    raw_again = socketpair_round_trips(args.count)
    raw_all = raw + raw_again
    print(f"round trip, {args.count} samples each (ms)")
    print(f"  socketpair (raw)     {summary(raw_all)}")
    print(f"  broker<->renderer    {summary(ipc)}")
    print(f"  ratio p50: {percentile(ipc, 50) / percentile(raw_all, 50):.2f}x  "
          f"p99: {percentile(ipc, 99) / percentile(raw_all, 99):.2f}x  (target p50 <= 2x)")


if __name__ == "__main__":
    main()
