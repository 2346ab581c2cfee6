"""Broker-renderer round trip against the bare transport under it.

The broker pings a real, sandboxed renderer over ZeroMQ (Ping -> Pong, both
msgspec-encoded, through the IPC hub's checks and the host's reply
matching).  Measured in the same run: the floor under it, a bare pyzmq
ROUTER/DEALER echo between two processes (blocking calls, no event loop, no
checks), and a raw ``socketpair`` echo.  Target: broker p50 at most
``TARGET_RATIO`` times the pyzmq floor's p50.

    .venv/bin/python benchmarks/round_trip.py [--count N] [--rounds R]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
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


def zmq_round_trips(count: int) -> list[float]:
    """The floor under the broker: a bare pyzmq ROUTER/DEALER echo over ipc://
    between two processes, blocking calls, no event loop, no checks."""
    import tempfile

    import zmq

    directory = tempfile.mkdtemp(prefix="mb-bench-")
    endpoint = f"ipc://{directory}/echo.sock"
    pid = os.fork()
    if pid == 0:
        context = zmq.Context()
        dealer = context.socket(zmq.DEALER)
        dealer.connect(endpoint)
        dealer.send(b"hello")
        while (message := dealer.recv()) != b"bye":
            dealer.send(message)
        os._exit(0)
    context = zmq.Context()
    router = context.socket(zmq.ROUTER)
    router.bind(endpoint)
    peer, _ = router.recv_multipart()
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        router.send_multipart([peer, b"ping"])
        router.recv_multipart()
        samples.append((time.perf_counter() - started) * 1000)
    router.send_multipart([peer, b"bye"])
    os.waitpid(pid, 0)
    router.close(linger=0)
    context.term()
    shutil.rmtree(directory, ignore_errors=True)
    return samples


async def ipc_round_trips(count: int) -> list[float]:
    async with Browser() as browser:
        tab = await browser.open("about:blank")
        for _ in range(100):  # warm up
            await tab.ping(timeout=5)
        samples = []
        for _ in range(count):
            started = time.perf_counter()
            await tab.ping(timeout=5)
            samples.append((time.perf_counter() - started) * 1000)
        return samples


TARGET_RATIO = 1.5  # broker p50 / pyzmq floor p50


def _us(values: list[float]) -> str:
    """``summary`` in microseconds: these round trips are tens of them."""
    return summary([value * 1000 for value in values])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=3,
                        help="alternate broker and floor runs this many times (a busy machine drifts)")
    args = parser.parse_args()
    raw = socketpair_round_trips(args.count)  # before the browser starts any thread
    ipc: list[float] = []
    floor: list[float] = []
    for _ in range(args.rounds):
        ipc += asyncio.run(ipc_round_trips(args.count))
        floor += zmq_round_trips(args.count)
    raw += socketpair_round_trips(args.count)
    ratio = percentile(ipc, 50) / percentile(floor, 50)
    print(f"round trip, {args.count} samples x {args.rounds} rounds each (microseconds)")
    print(f"  socketpair (raw)     {_us(raw)}")
    print(f"  pyzmq ROUTER/DEALER  {_us(floor)}   (bare, blocking: the floor under the broker)")
    print(f"  broker<->renderer    {_us(ipc)}")
    print(f"  pyzmq floor / socketpair p50: {percentile(floor, 50) / percentile(raw, 50):.2f}x")
    print(f"  broker / pyzmq floor p50: {ratio:.2f}x  p99: {percentile(ipc, 99) / percentile(floor, 99):.2f}x  "
          f"(target p50 <= {TARGET_RATIO}x: {'met' if ratio <= TARGET_RATIO else 'NOT met'})")


if __name__ == "__main__":
    main()
