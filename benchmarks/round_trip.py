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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=5000)
    args = parser.parse_args()
    raw = socketpair_round_trips(args.count)  # before the browser starts any thread
    ipc = asyncio.run(ipc_round_trips(args.count))
    raw_again = socketpair_round_trips(args.count)
    floor = zmq_round_trips(args.count)
    raw_all = raw + raw_again
    print(f"round trip, {args.count} samples each (ms)")
    print(f"  socketpair (raw)     {summary(raw_all)}")
    print(f"  pyzmq ROUTER/DEALER  {summary(floor)}   (bare, blocking: the floor under the broker)")
    print(f"  broker<->renderer    {summary(ipc)}")
    print(f"  pyzmq floor / socketpair p50: {percentile(floor, 50) / percentile(raw_all, 50):.2f}x")
    print(f"  ratio p50: {percentile(ipc, 50) / percentile(raw_all, 50):.2f}x  "
          f"p99: {percentile(ipc, 99) / percentile(raw_all, 99):.2f}x  (target p50 <= 2x)")


if __name__ == "__main__":
    main()
