"""Starting the zygote's process: synchronous, and cheap to import.

The zygote needs about 100 ms to import and warm everything a renderer
needs, and the broker needs about as long to import its own modules.  The
command line calls :func:`start_early` first thing, before those imports,
so the two overlap; ``Browser`` then adopts what it started.  This module
therefore imports only a few standard modules and ``broker.runtime``
(not even ``dataclasses``).

The zygote runs in a process group of its own.  Signals meant for the
terminal's foreground group -- Ctrl-C, and the hangup the kernel sends when
a terminal's session leader (a broker started directly by tmux) dies --
reach the broker, not the zygote; the zygote learns that the broker is
gone from its channel and its parent-death signal, and cleans up then.
"""

from __future__ import annotations

import os
import pwd
import socket
import subprocess
import sys

from broker.runtime import RuntimeDir


def default_renderer_ids() -> tuple[int | None, int | None]:
    """The uid and gid renderers drop to: root drops them to ``nobody``;
    anyone else keeps their own uid (None, None)."""
    if os.getuid() != 0:
        return None, None
    try:
        entry = pwd.getpwnam("nobody")
    except KeyError:
        return 65534, 65534
    return entry.pw_uid, entry.pw_gid


def runtime_owner(*, sandbox: bool, uid: int | None, gid: int | None) -> tuple[int, int] | None:
    """Who must own the runtime directory: the renderers' uid and gid when
    a root broker drops them to another user, else None (the broker)."""
    if sandbox and os.getuid() == 0 and uid not in (None, 0):
        return uid, gid if gid is not None else -1  # -1: chown keeps the group
    return None


def prepare_runtime(owner: tuple[int, int] | None) -> RuntimeDir:
    """A new private runtime directory, handed to ``owner`` when given."""
    runtime = RuntimeDir()
    if owner is not None:
        try:
            runtime.hand_to(*owner)
        except BaseException:
            runtime.remove()
            raise
    return runtime


class ZygoteProcess:
    """A started zygote interpreter and the broker's end of its channel.

    Not ready yet: it announces itself with ``ZygoteReady`` once its
    preload is done.  ``ZygoteClient`` reads and writes ``channel``.
    """

    def __init__(self, process: subprocess.Popen, channel: socket.socket) -> None:
        self.process = process
        self.channel = channel

    @property
    def pid(self) -> int:
        return self.process.pid

    def kill(self) -> None:
        """End it now and reap it (for a zygote nobody will talk to)."""
        self.channel.close()
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()


def start_zygote_process(runtime_dir: str) -> ZygoteProcess:
    """Start ``python -m renderer.zygote`` in a process group of its own,
    with a socketpair as its channel and its log in ``runtime_dir``.

    Call it from the thread that will outlive the zygote (the main thread):
    the zygote's parent-death signal fires when this thread ends.
    """
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        with open(os.path.join(runtime_dir, "zygote.log"), "ab") as log:
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "renderer.zygote",
                    "--fd",
                    str(theirs.fileno()),
                    "--broker-pid",
                    str(os.getpid()),
                    "--runtime-dir",
                    runtime_dir,
                ],
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                cwd="/",
                process_group=0,
            )
    except BaseException:
        ours.close()
        raise
    finally:
        theirs.close()
    return ZygoteProcess(process, ours)


class EarlyStart:
    """A runtime directory and a zygote started before the broker's imports,
    for ``Browser(started_early=...)`` to adopt."""

    def __init__(self, runtime: RuntimeDir, owner: tuple[int, int] | None, zygote: ZygoteProcess) -> None:
        self.runtime = runtime
        self.owner = owner
        self.zygote = zygote

    def abandon(self) -> None:
        """Undo it, when no browser adopted it (other settings, an error).
        Harmless once a browser that adopted it has shut down."""
        self.zygote.kill()
        self.runtime.remove()


def start_early(*, sandbox: bool) -> EarlyStart:
    """Create the runtime directory and start the zygote for a browser with
    the default renderer ids, now, while the caller goes on importing."""
    uid, gid = default_renderer_ids()
    owner = runtime_owner(sandbox=sandbox, uid=uid, gid=gid)
    runtime = prepare_runtime(owner)
    try:
        zygote = start_zygote_process(runtime.path)
    except BaseException:
        runtime.remove()
        raise
    return EarlyStart(runtime, owner, zygote)
