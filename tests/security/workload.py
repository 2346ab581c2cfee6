"""A stand-in renderer: the full lockdown around a real ZeroMQ + selectolax workload.

The parent plays the broker (a ROUTER bound on a pathname ipc:// socket in a
private directory); the forked child does what renderer/main.py does --
fresh process state, lockdown_before_ipc, DEALER connect, handshake,
lockdown_after_ipc -- then serves a few requests that parse HTML, and exits 0.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from dataclasses import dataclass

import msgspec
import zmq
from selectolax.lexbor import LexborHTMLParser as HTMLParser

from renderer import sandbox
from renderer.protocol import SandboxPolicy
from forkrun import ChildEnd, child_log, report, run_in_child

PAGE = ("<html><head><title>T</title></head><body>"
        + "".join(f"<p id=p{i}>para <a href='/l{i}'>link {i}</a> &amp; caf\u00e9</p>" for i in range(200))
        + "</body></html>")


@dataclass
class Broker:
    directory: str
    endpoint: str
    context: zmq.Context
    router: zmq.Socket

    def close(self) -> None:
        self.router.close(0)
        self.context.term()
        shutil.rmtree(self.directory, ignore_errors=True)


def start_broker(*, renderer_uid: int | None) -> Broker:
    """Bind a ROUTER in a 0700 directory owned by the renderer's uid (as the
    real broker chowns its runtime directory when renderers drop to nobody)."""
    directory = tempfile.mkdtemp(prefix="mb-sandbox-")
    if renderer_uid is not None:
        os.chown(directory, renderer_uid, renderer_uid)
    context = zmq.Context()
    router = context.socket(zmq.ROUTER)
    router.setsockopt(zmq.LINGER, 0)
    endpoint = f"ipc://{directory}/broker.sock"
    router.bind(endpoint)
    if renderer_uid is not None:
        # connect(2) on a UNIX socket needs write permission on the socket file too.
        os.chown(f"{directory}/broker.sock", renderer_uid, renderer_uid)
    return Broker(directory, endpoint, context, router)


def renderer_body(endpoint: str, policy: SandboxPolicy, *, zygote_pid: int, requests: int) -> int:
    sandbox.process.fresh_process_state(child_log(), parent_pid=zygote_pid)
    t0 = time.perf_counter()
    state = sandbox.lockdown_before_ipc(policy)
    t1 = time.perf_counter()
    context = zmq.Context(io_threads=1)
    sock = context.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(endpoint)
    sock.send(b"hello")
    if not sock.poll(10_000):
        return 3
    assert sock.recv() == b"ack"
    t2 = time.perf_counter()
    sandbox.lockdown_after_ipc(state)
    t3 = time.perf_counter()
    report(before_ms=(t1 - t0) * 1000, after_ms=(t3 - t2) * 1000)
    served = 0
    while served < requests:
        if not sock.poll(5_000):
            return 4
        html = sock.recv().decode("utf-8")
        tree = HTMLParser(html)
        links = [a.attributes.get("href") for a in tree.css("a")]
        text = tree.body.text(separator=" ")
        reply = msgspec.msgpack.encode({"links": len(links), "chars": len(text),
                                        "pid": os.getpid(), "t": time.monotonic()})
        sock.send(reply)
        served += 1
        _garbage = [bytearray(1 << 20) for _ in range(20)]  # grow and shrink the heap
        del _garbage
    layers = sandbox.describe(state)
    sock.send(msgspec.json.encode(layers))
    try:
        open("/etc/hostname")
    except OSError as error:
        report(open_errno=error.errno)
    sock.close(0)
    context.term()
    return 0


def run_workload(policy: SandboxPolicy, *, as_user: int | None = None, requests: int = 5) -> tuple[ChildEnd, list]:
    renderer_uid = as_user if as_user is not None else (
        sandbox.privileges.default_drop_ids()[0] if os.geteuid() == 0 and policy.enabled else None)
    broker = start_broker(renderer_uid=renderer_uid)
    sandbox.preload()  # as the zygote does
    zygote_pid = os.getpid()
    replies: list = []
    try:
        import threading

        def serve() -> None:
            router = broker.router
            if not router.poll(20_000):
                return
            peer, hello = router.recv_multipart()
            replies.append(hello)
            router.send_multipart([peer, b"ack"])
            for _ in range(requests):
                router.send_multipart([peer, PAGE.encode()])
                if not router.poll(10_000):
                    return
                replies.append(msgspec.msgpack.decode(router.recv_multipart()[1]))
            if router.poll(10_000):
                replies.append(msgspec.json.decode(router.recv_multipart()[1]))

        server = threading.Thread(target=serve)
        server.start()
        end = run_in_child(lambda: renderer_body(broker.endpoint, policy, zygote_pid=zygote_pid,
                                                 requests=requests), as_user=as_user)
        server.join()
    finally:
        broker.close()
    return end, replies
