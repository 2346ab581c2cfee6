"""The broker's private runtime directory: sockets and renderer logs.

Mode 0700 and unique per broker instance, removed on exit.  When the broker
runs as root and renderers drop to another uid, the directory is handed to
that uid (still 0700): a renderer connects to the broker's ipc:// socket
*after* it has dropped its privileges, and could not traverse a root-only
directory.  The broker, as root, keeps access either way.
"""

from __future__ import annotations

import os
import shutil
import tempfile


class RuntimeDir:
    def __init__(self) -> None:
        base = os.environ.get("XDG_RUNTIME_DIR")
        if not base or not os.path.isdir(base) or not os.access(base, os.W_OK | os.X_OK):
            base = None  # tempfile's default
        self.path = tempfile.mkdtemp(prefix="minibrowser-", dir=base)  # mode 0700
        self._owner: tuple[int, int] | None = None  # the renderers' uid/gid, when not ours

    @property
    def socket_path(self) -> str:
        return os.path.join(self.path, "broker.sock")

    @property
    def endpoint(self) -> str:
        return "ipc://" + self.socket_path

    def hand_to(self, uid: int, gid: int) -> None:
        """Let renderers running as uid/gid reach the broker socket."""
        parent = os.path.dirname(self.path)
        parent_mode = os.stat(parent).st_mode
        if not parent_mode & 0o001:
            # The parent is not searchable by others (a root XDG_RUNTIME_DIR):
            # move to the system temporary directory instead.
            new = tempfile.mkdtemp(prefix="minibrowser-", dir=tempfile.gettempdir())
            os.rmdir(self.path)
            self.path = new
        os.chown(self.path, uid, gid)
        self._owner = (uid, gid)

    def socket_bound(self) -> None:
        """Called once the broker socket exists: connecting needs write access to it."""
        if self._owner is not None:
            os.chown(self.socket_path, *self._owner)

    def log_path(self, name: str) -> str:
        return os.path.join(self.path, name)

    def remove(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)
