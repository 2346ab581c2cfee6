"""`minibrowser open` on a real terminal (a pty): closing the terminal leaves nothing behind."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import signal
import struct
import sys
import termios

import psutil

from tests.support.waiting import wait_for_blocking


def read_until(fd: int, needle: bytes, timeout: float) -> bytes:
    """What the terminal showed until ``needle`` (or until it closed)."""
    seen = bytearray()

    def arrived() -> bool:
        while select.select([fd], [], [], 0)[0]:
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # the other side closed: nothing more will come
                return True
            if not chunk:
                return True
            seen.extend(chunk)
        return needle in seen

    wait_for_blocking(arrived, timeout=timeout, what=f"{needle!r} on the terminal")
    return bytes(seen)


def test_closing_the_terminal_ends_every_process(http_server):
    pid, fd = pty.fork()
    if pid == 0:  # the child: minibrowser on the pty
        os.execv(sys.executable, [sys.executable, "-m", "browser.cli", "open", http_server.url("/hello")])
    try:
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
        read_until(fd, b"Hello", 15)  # the page is on the terminal
        broker = psutil.Process(pid)
        children = wait_for_blocking(lambda: len(found := broker.children(recursive=True)) >= 2 and found,
                                     what="the zygote and the renderer")
        runtime = [f.path for f in broker.open_files()] + [c.laddr for c in broker.net_connections("unix") if c.laddr]
        assert len(children) >= 2
        assert any("minibrowser-" in path for path in runtime)
    finally:
        os.close(fd)  # the terminal goes away: the kernel sends SIGHUP
        os.kill(pid, signal.SIGHUP)
    try:
        done = wait_for_blocking(lambda: (ended := os.waitpid(pid, os.WNOHANG))[0] and ended, timeout=15,
                                 what="minibrowser to exit when its terminal closed")
    except AssertionError:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        raise
    assert os.waitstatus_to_exitcode(done[1]) == 0
    gone, alive = psutil.wait_procs(children, timeout=5)
    assert alive == []
    for path in runtime:
        if "minibrowser-" in path:
            assert not os.path.exists(os.path.dirname(path))
