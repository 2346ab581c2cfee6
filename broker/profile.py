"""The profile on disk: discarded tabs' snapshots in SQLite.

One database per profile directory (``tabs.sqlite``), in WAL mode, one row
per discarded tab holding a zlib-compressed, msgspec-encoded
:class:`StoredTab` (the renderer's :class:`~renderer.protocol.Snapshot` plus
what only the broker knows: history, pin and keep flags).  Each write is one
transaction, so a broker killed at any moment leaves either the old row or
the new one, never half of one; a snapshot is committed (WAL, synchronous
FULL) before the renderer that made it is ended, so none is lost.

Rows belong to a *session* (one running broker).  A session's rows are
deleted when its tabs are closed or the broker shuts down; rows of a broker
that was killed are found by :meth:`Profile.orphaned` and can be restored by
the next one (``Browser.restore_session()``).

The database is opened lazily, on the first write or read, so a browser that
never discards a tab never touches the disk.  Blocking calls are run in a
worker thread by the async wrappers; one connection is used by one thread
at a time.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading
import time
import uuid
import zlib
from dataclasses import dataclass

import msgspec
import psutil

from renderer import protocol

FORMAT = 1
DATABASE = "tabs.sqlite"


class ProfileError(Exception):
    """The profile cannot be used (unwritable directory, corrupt database)."""


def default_profile_dir() -> str:
    """``$XDG_DATA_HOME/minibrowser``, or ``~/.local/share/minibrowser``."""
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return os.path.join(base, "minibrowser")


class StoredHistoryEntry(msgspec.Struct, array_like=True):
    url: str
    method: str = "GET"
    form_body: str = ""
    title: str = ""


class StoredFrame(msgspec.Struct):
    """One subframe of a discarded tab: where it sits and its document's snapshot."""

    path: list[int]  # slot indexes from the top frame down to this frame
    url: str  # the URL the broker committed there
    site: str | None = None
    sandboxed: bool = False
    state: str = "loaded"  # loaded, blocked, crashed (then no snapshot)
    cause: str = ""
    inherited_origin: str | None = None
    snapshot: protocol.Snapshot | None = None


class StoredTab(msgspec.Struct):
    """Everything needed to bring a discarded tab back without the network."""

    snapshot: protocol.Snapshot
    history: list[StoredHistoryEntry] = []
    history_index: int = -1
    pinned: bool = False
    kept: bool = False
    width: int = 80
    frames: list[StoredFrame] = []  # its frame tree, parents first (empty for a page without frames)


_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(StoredTab)


def encode_tab(stored: StoredTab, *, level: int = 6) -> bytes:
    return zlib.compress(_encoder.encode(stored), level)


def decode_tab(blob: bytes) -> StoredTab:
    return _decoder.decode(zlib.decompress(blob))


@dataclass(frozen=True)
class StoredRow:
    session: str
    tab: int
    url: str
    title: str
    saved_at: float
    size: int  # compressed bytes on disk


_SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY,
    pid INTEGER NOT NULL,
    started REAL NOT NULL          -- the broker process's create time (psutil)
);
CREATE TABLE IF NOT EXISTS tabs (
    session TEXT NOT NULL,
    tab INTEGER NOT NULL,
    url TEXT NOT NULL,
    title TEXT NOT NULL,
    saved_at REAL NOT NULL,
    format INTEGER NOT NULL,
    size INTEGER NOT NULL,
    snapshot BLOB NOT NULL,        -- zlib(msgpack(StoredTab))
    PRIMARY KEY (session, tab)
);
"""


class Profile:
    """A profile directory and its tab database."""

    def __init__(self, path: str | None = None, *, session: str | None = None) -> None:
        self.path = os.path.abspath(path or default_profile_dir())
        self.database = os.path.join(self.path, DATABASE)
        self.session = session or uuid.uuid4().hex
        self._connection: sqlite3.Connection | None = None
        self._lock = threading.Lock()  # one thread in the connection at a time

    # -- opening ------------------------------------------------------------

    @property
    def opened(self) -> bool:
        return self._connection is not None

    def _connect(self) -> sqlite3.Connection:
        if self._connection is not None:
            return self._connection
        try:
            os.makedirs(self.path, mode=0o700, exist_ok=True)
            connection = sqlite3.connect(self.database, timeout=10, isolation_level=None, check_same_thread=False)
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=FULL")
            connection.executescript(_SCHEMA)
            me = psutil.Process()
            connection.execute(
                "INSERT OR REPLACE INTO sessions (id, pid, started) VALUES (?, ?, ?)",
                (self.session, me.pid, me.create_time()),
            )
        except (OSError, sqlite3.Error) as error:
            raise ProfileError(f"cannot use the profile in {self.path}: {error}") from None
        self._connection = connection
        return connection

    def close(self, *, forget_session: bool = True) -> None:
        """Close the database; by default this session's rows go with it."""
        with self._lock:
            if self._connection is None:
                return
            try:
                if forget_session:
                    with self._connection:
                        self._connection.execute("BEGIN IMMEDIATE")
                        self._connection.execute("DELETE FROM tabs WHERE session = ?", (self.session,))
                        self._connection.execute("DELETE FROM sessions WHERE id = ?", (self.session,))
                self._connection.close()
            finally:
                self._connection = None

    # -- blocking operations ---------------------------------------------------

    def save(self, tab: int, stored: StoredTab) -> int:
        """Write (or replace) ``tab``'s row in one transaction; returns its size."""
        blob = encode_tab(stored)
        snapshot = stored.snapshot
        with self._lock:
            connection = self._connect()
            with connection:
                connection.execute("BEGIN IMMEDIATE")
                connection.execute(
                    "INSERT OR REPLACE INTO tabs (session, tab, url, title, saved_at, format, size, snapshot)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (self.session, tab, snapshot.url, snapshot.title, time.time(), FORMAT, len(blob), blob),
                )
        return len(blob)

    def load(self, tab: int, *, session: str | None = None) -> StoredTab | None:
        with self._lock:
            row = self._connect().execute(
                "SELECT snapshot FROM tabs WHERE session = ? AND tab = ? AND format = ?",
                (session or self.session, tab, FORMAT),
            ).fetchone()
        if row is None:
            return None
        try:
            return decode_tab(row[0])
        except (zlib.error, msgspec.DecodeError, msgspec.ValidationError) as error:
            raise ProfileError(f"the saved state of tab {tab} cannot be read: {error}") from None

    def delete(self, tab: int, *, session: str | None = None) -> None:
        with self._lock:
            if self._connection is None and not os.path.exists(self.database):
                return
            connection = self._connect()
            with connection:
                connection.execute("BEGIN IMMEDIATE")
                connection.execute("DELETE FROM tabs WHERE session = ? AND tab = ?", (session or self.session, tab))

    def adopt(self, session: str, tab: int, new_tab: int) -> None:
        """Move a row of a dead session to this one, under a new tab number."""
        with self._lock:
            connection = self._connect()
            with connection:
                connection.execute("BEGIN IMMEDIATE")
                connection.execute("DELETE FROM tabs WHERE session = ? AND tab = ?", (self.session, new_tab))
                connection.execute(
                    "UPDATE tabs SET session = ?, tab = ? WHERE session = ? AND tab = ?",
                    (self.session, new_tab, session, tab),
                )

    def rows(self, *, session: str | None = None) -> list[StoredRow]:
        """Stored tabs of ``session`` (default: this one), oldest first."""
        with self._lock:
            cursor = self._connect().execute(
                "SELECT session, tab, url, title, saved_at, size FROM tabs WHERE session = ? ORDER BY saved_at",
                (session or self.session,),
            )
            return [StoredRow(*row) for row in cursor.fetchall()]

    def orphaned(self) -> list[StoredRow]:
        """Rows left by brokers that are no longer running (killed, crashed)."""
        with self._lock:
            connection = self._connect()
            sessions = connection.execute("SELECT id, pid, started FROM sessions").fetchall()
            dead = [sid for sid, pid, started in sessions if sid != self.session and not _alive(pid, started)]
            known = {sid for sid, *_ in sessions}
            rows = connection.execute(
                "SELECT session, tab, url, title, saved_at, size FROM tabs WHERE session != ? ORDER BY saved_at",
                (self.session,),
            ).fetchall()
        return [StoredRow(*row) for row in rows if row[0] in dead or row[0] not in known]

    def forget_dead_sessions(self) -> None:
        with self._lock:
            connection = self._connect()
            sessions = connection.execute("SELECT id, pid, started FROM sessions").fetchall()
            with connection:
                connection.execute("BEGIN IMMEDIATE")
                for sid, pid, started in sessions:
                    if sid != self.session and not _alive(pid, started):
                        left = connection.execute("SELECT COUNT(*) FROM tabs WHERE session = ?", (sid,)).fetchone()[0]
                        if left == 0:
                            connection.execute("DELETE FROM sessions WHERE id = ?", (sid,))

    def integrity_check(self) -> str:
        with self._lock:
            return self._connect().execute("PRAGMA integrity_check").fetchone()[0]

    # -- async wrappers (a worker thread; the event loop never waits on disk) ----

    async def save_async(self, tab: int, stored: StoredTab) -> int:
        return await asyncio.to_thread(self.save, tab, stored)

    async def load_async(self, tab: int, *, session: str | None = None) -> StoredTab | None:
        return await asyncio.to_thread(self.load, tab, session=session)

    async def delete_async(self, tab: int) -> None:
        await asyncio.to_thread(self.delete, tab)


def _alive(pid: int, started: float) -> bool:
    try:
        return abs(psutil.Process(pid).create_time() - started) < 0.01
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return False
