"""The zygote: a preloaded, single-threaded interpreter that forks renderers.

Started by the broker as ``python -m renderer.zygote --fd N --broker-pid P
--runtime-dir DIR``.  It imports every module a renderer will ever need,
freezes the garbage collector's view of them (so forked children share those
pages copy-on-write instead of touching them on the first collection) and
then only forks on request.  It reaps its children and reports every exit to
the broker: that is how crashes are noticed.

It talks to the broker over an inherited socketpair with length-prefixed
MessagePack (``renderer/protocol.py``), never over ZeroMQ: a ZeroMQ context
starts threads, and threads do not survive ``fork``.

If the broker goes away (the channel closes, or PR_SET_PDEATHSIG delivers
SIGTERM), the zygote kills every renderer, removes the runtime directory
and exits, so nothing is left behind even when the broker is SIGKILLed --
also when the broker led its terminal's session, whose hangup the zygote
ignores.  If the zygote itself dies, its renderers die with it (theirs is
SIGKILL) and the broker starts another zygote.
"""

from __future__ import annotations

import argparse
import gc
import os
import select
import shutil
import signal
import socket
import sys
import time

_started = time.perf_counter()

# Everything a renderer needs, imported before the first fork.
from renderer import main as renderer_main  # noqa: E402
from renderer import protocol  # noqa: E402
from renderer.sandbox.process import PR_SET_PDEATHSIG, prctl  # noqa: E402


class _BrokerGone(Exception):
    pass


class Zygote:
    def __init__(self, channel: socket.socket, broker_pid: int, runtime_dir: str):
        self.channel = channel
        self.broker_pid = broker_pid
        self.runtime_dir = runtime_dir
        self.children: dict[int, int] = {}  # pid -> renderer id
        self._inbox = bytearray()

    # -- channel ------------------------------------------------------------

    def send(self, message) -> None:
        self.channel.sendall(protocol.frame_message(message))

    def _read_messages(self):
        chunk = self.channel.recv(1 << 20)
        if not chunk:
            raise _BrokerGone
        self._inbox += chunk
        while len(self._inbox) >= 4:
            length = int.from_bytes(self._inbox[:4], "big")
            if length > protocol.MAX_MESSAGE_BYTES:
                raise _BrokerGone  # the broker never sends this; treat as a broken channel
            if len(self._inbox) < 4 + length:
                break
            payload = bytes(self._inbox[4 : 4 + length])
            del self._inbox[: 4 + length]
            yield protocol.to_zygote_decoder.decode(payload)

    # -- children -----------------------------------------------------------

    def spawn(self, request: protocol.SpawnRenderer) -> None:
        zygote_pid = os.getpid()
        pid = os.fork()
        if pid == 0:  # the renderer; never returns
            renderer_main.run_forked(request, zygote_pid=zygote_pid)
            os._exit(protocol.ExitCode.INTERNAL_ERROR)
        self.children[pid] = request.renderer
        self.send(protocol.Spawned(renderer=request.renderer, pid=pid))

    def reap(self) -> None:
        while self.children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            renderer = self.children.pop(pid, 0)
            code = os.waitstatus_to_exitcode(status)
            self.send(
                protocol.ChildExited(
                    pid=pid,
                    renderer=renderer,
                    code=code if code >= 0 else None,
                    signal=-code if code < 0 else None,
                )
            )

    def kill_children(self) -> None:
        for pid in list(self.children):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 2
        while self.children and time.monotonic() < deadline:
            try:
                pid, _ = os.waitpid(-1, 0)
                self.children.pop(pid, None)
            except ChildProcessError:
                break

    # -- main loop ----------------------------------------------------------

    def serve(self) -> None:
        wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        signal.set_wakeup_fd(wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        self.send(protocol.ZygoteReady(pid=os.getpid(), preload_ms=(time.perf_counter() - _started) * 1000))
        try:
            while True:
                readable, _, _ = select.select([self.channel, wake_r], [], [])
                if wake_r in readable:
                    try:
                        os.read(wake_r, 4096)
                    except BlockingIOError:
                        pass
                    self.reap()
                if self.channel in readable:
                    for message in self._read_messages():
                        if isinstance(message, protocol.ZygoteShutdown):
                            return
                        self.spawn(message)
        finally:
            signal.set_wakeup_fd(-1)
            os.close(wake_r)
            os.close(wake_w)


def _on_broker_death(signum, frame):
    raise _BrokerGone


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m renderer.zygote")
    parser.add_argument("--fd", type=int, required=True)
    parser.add_argument("--broker-pid", type=int, required=True)
    parser.add_argument("--runtime-dir", required=True)
    args = parser.parse_args(argv)

    signal.signal(signal.SIGTERM, _on_broker_death)
    # Ctrl-C and a terminal's hangup are the broker's to handle (the zygote
    # runs in a process group of its own, so they should not reach it anyway).
    # A hangup must never end it before it has cleaned up after a dead broker.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    channel = socket.socket(fileno=args.fd)
    zygote = Zygote(channel, args.broker_pid, args.runtime_dir)
    broker_lost = False
    try:
        if os.getppid() != args.broker_pid:
            raise _BrokerGone
        renderer_main.preload()
        gc.collect()
        gc.freeze()
        zygote.serve()
    except (_BrokerGone, BrokenPipeError, ConnectionResetError):
        broker_lost = True
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        zygote.kill_children()
        if broker_lost:
            # Nobody else will clean up after a broker that was killed.
            shutil.rmtree(args.runtime_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    status = main()
    # Renderers are reaped and the runtime directory dealt with: nothing is
    # left to finalise but thousands of preloaded objects, and the broker
    # waits for this exit.  Skip the interpreter's teardown.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
