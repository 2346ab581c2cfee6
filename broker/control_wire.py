"""What a control client needs without importing the browser: where the
running browsers of this user are listed, how frames are cut, the limits.

Every broker listens on a control socket (``broker/control.py``) in its
private runtime directory.  It announces itself in a per-user registry
directory, one small JSON file a broker (``<pid>.json``: pid, profile,
start time, what started it, socket path), so that ``minibrowser open``,
``ps`` and ``tui --attach`` find it.  Entries of brokers that are gone are
skipped and removed.

The wire: a plain AF_UNIX stream socket (the broker checks the peer's uid
with ``SO_PEERCRED`` on each connection) carrying frames, each a 4-byte
big-endian length and that many bytes of JSON (the typed messages of
``broker/control_protocol.py``).  A frame's first byte is therefore below
0x04 (frames are at most :data:`MAX_BROKER_FRAME` bytes).  When the broker
refuses or drops a client it writes one line of text instead, starting
``minibrowser:``, and closes the connection.

This module imports only the standard library's cheapest parts: the
``minibrowser open`` hand-off must start almost as fast as a bare
interpreter.
"""

from __future__ import annotations

import errno
import json
import os
import socket

#: A frame a client may send: a request with up to MAX_URLS addresses.
MAX_CLIENT_FRAME = 1024 * 1024
#: A frame the broker sends: one tab's output or one pushed event.
MAX_BROKER_FRAME = 48 * 1024 * 1024
#: The longest refusal line a client reads.
MAX_LINE = 4096
#: Clients connected to one broker at a time.
MAX_CONNECTIONS = 32
#: Bumped when a message changes incompatibly.
VERSION = 1

REGISTRY_NAME = "minibrowser"
SOCKET_NAME = "control.sock"


class ControlError(Exception):
    """Talking to a running browser failed; ``str()`` is one line for a person."""


def default_profile_dir() -> str:
    """``$XDG_DATA_HOME/minibrowser``, or ``~/.local/share/minibrowser``."""
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return os.path.join(base, "minibrowser")


def profile_key(profile: str | None) -> str:
    """How a profile directory is compared between browsers: its real path."""
    return os.path.realpath(profile if profile is not None else default_profile_dir())


# -- the registry of running browsers ------------------------------------------------


def registry_dir() -> str:
    """This user's registry: ``$MINIBROWSER_REGISTRY`` when set (a test suite
    keeps its browsers apart from the user's), else
    ``$XDG_RUNTIME_DIR/minibrowser``, else ``/tmp/minibrowser-UID`` (a
    directory of our own, mode 0700)."""
    if chosen := os.environ.get("MINIBROWSER_REGISTRY"):
        return chosen
    base = os.environ.get("XDG_RUNTIME_DIR")
    if base and os.path.isdir(base) and os.access(base, os.W_OK | os.X_OK):
        return os.path.join(base, REGISTRY_NAME)
    return os.path.join(os.environ.get("TMPDIR") or "/tmp", f"{REGISTRY_NAME}-{os.getuid()}")


def _own_private_dir(path: str, *, create: bool) -> bool:
    """True when ``path`` is a real directory of ours that no one else can
    enter (created so when ``create``): in a shared /tmp someone else could
    have made it first, or put a symlink there."""
    if create:
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:
            pass
        except OSError:
            return False
    try:
        info = os.lstat(path)
    except OSError:
        return False
    import stat

    return stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid() and info.st_mode & 0o077 == 0


def register(entry: dict) -> str | None:
    """Announce a running broker; returns the entry's path (None when the
    registry cannot be used: the broker then runs unlisted)."""
    directory = registry_dir()
    if not _own_private_dir(directory, create=True):
        return None
    path = os.path.join(directory, f"{entry['pid']}.json")
    partial = path + ".partial"
    try:
        with open(partial, "w", encoding="utf-8") as f:
            json.dump(entry, f)
        os.replace(partial, path)
    except OSError:
        return None
    return path


def unregister(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def process_start_ticks(pid: int) -> int | None:
    """When ``pid`` started, in clock ticks after boot (None: no such process).
    With the pid, it names one process: pids are reused, start times are not."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    try:
        return int(stat[stat.rindex(b")") + 2:].split()[19])
    except (ValueError, IndexError):
        return None


def running_browsers() -> list[dict]:
    """Every running browser of this user, oldest first.  Entries of brokers
    that are gone (or whose pid now names another process) are removed."""
    directory = registry_dir()
    if not _own_private_dir(directory, create=False):
        return []
    found = []
    for name in os.listdir(directory):
        if not name.endswith(".json"):
            continue
        path = os.path.join(directory, name)
        try:
            with open(path, encoding="utf-8") as f:
                entry = json.load(f)
            pid, ticks = int(entry["pid"]), entry.get("start_ticks")
            str(entry["socket"]), str(entry["profile"])
        except (OSError, ValueError, KeyError, TypeError):
            unregister(path)
            continue
        if process_start_ticks(pid) is None or process_start_ticks(pid) != ticks or not os.path.exists(entry["socket"]):
            unregister(path)
            continue
        found.append(entry)
    found.sort(key=lambda entry: (entry.get("started", 0), entry["pid"]))
    return found


# -- frames ---------------------------------------------------------------------------


def frame(payload: bytes) -> bytes:
    """One frame: the length, then the bytes."""
    return len(payload).to_bytes(4, "big") + payload


def connect(path: str, *, timeout: float = 5.0) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(path)
    except OSError as error:
        sock.close()
        if error.errno in (errno.ECONNREFUSED, errno.ENOENT):
            raise ControlError("the browser is no longer running") from None
        raise ControlError(f"cannot reach the browser's control socket: {error.strerror or error}") from None
    return sock


def send_message(sock: socket.socket, message: dict) -> None:
    """Send one message (a dict with its ``type``) as a JSON frame."""
    try:
        sock.sendall(frame(json.dumps(message, ensure_ascii=False).encode()))
    except OSError as error:
        raise ControlError(f"the browser closed the connection ({error.strerror or error})") from None


def _read_exactly(sock: socket.socket, count: int) -> bytes:
    chunks, left = [], count
    while left:
        try:
            chunk = sock.recv(min(left, 1 << 20))
        except socket.timeout:
            raise ControlError("the browser did not answer in time") from None
        except OSError as error:
            raise ControlError(f"the connection to the browser failed ({error.strerror or error})") from None
        if not chunk:
            raise ControlError("the browser closed the connection")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def receive_message(sock: socket.socket) -> dict:
    """The next message from the broker; its refusal line raises ControlError."""
    head = _read_exactly(sock, 4)
    if head[0] >= 0x04:  # a line, not a frame: the broker refused or dropped us
        line = head
        while b"\n" not in line and len(line) < MAX_LINE:
            try:
                more = sock.recv(MAX_LINE - len(line))
            except OSError:
                break
            if not more:
                break
            line += more
        text = line.split(b"\n", 1)[0].decode("utf-8", "replace").removeprefix("minibrowser: ")
        raise ControlError(text)
    size = int.from_bytes(head, "big")
    if size > MAX_BROKER_FRAME:
        raise ControlError(f"the browser sent a frame of {size} bytes, over the limit")
    try:
        message = json.loads(_read_exactly(sock, size))
    except ValueError:
        raise ControlError("the browser sent a message that is not JSON") from None
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        raise ControlError("the browser sent a message without a type")
    return message
