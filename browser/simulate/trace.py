"""The browsing trace: a versioned JSONL format, read strictly.

A trace is a text file, UTF-8, one JSON object per line.  The first line is
the header; every other line is one event, in time order::

    {"format": "minibrowser-trace", "version": 1, "users": 2, "days": 1, "seed": 7}
    {"t": 0.0, "user": 0, "tab": 1, "action": "open", "url": "http://site3.test/p/12", "size": "medium"}
    {"t": 95.25, "user": 0, "tab": 1, "action": "navigate", "url": "http://site3.test/p/40", "size": "small"}
    {"t": 180.0, "user": 0, "tab": 2, "action": "open", "url": "http://site9.test/p/1", "size": "large"}
    {"t": 240.5, "user": 0, "tab": 1, "action": "switch"}
    {"t": 300.0, "user": 0, "tab": 1, "action": "input"}
    {"t": 360.0, "user": 0, "tab": 2, "action": "close"}

Header fields: ``format`` (always ``"minibrowser-trace"``), ``version``
(this module reads version 1), ``users`` (how many users; user numbers run
from 0) and ``days`` (the length of the trace: every event happens before
``days * 86400`` seconds).  Other header fields (``seed``, ``generator``,
``note``) are kept but not interpreted.

Event fields:

* ``t``: seconds since the start of the trace (a number, never decreasing
  from one line to the next);
* ``user``: the user (each user is one browser of their own);
* ``tab``: the user's tab number (a positive whole number, unique among the
  user's open tabs; a closed tab's number may be used again);
* ``action``: one of

  - ``open``: a new tab, made the active tab, loading ``url``;
  - ``switch``: the user makes ``tab`` the active tab;
  - ``navigate``: ``tab`` goes to ``url`` (a background tab may navigate
    itself; a user's navigation is in the active tab);
  - ``input``: the user types or scrolls in ``tab``; if it was not the
    active tab, the engines make it so first (as a click on it would);
  - ``close``: the tab is closed (if it was active, the next event says which
    tab the user looks at; until then none is active);

* ``url`` (``open`` and ``navigate`` only): an ``http:`` or ``https:`` URL;
  its host is the page's site;
* ``size`` (``open`` and ``navigate`` only): the page's size class,
  ``small``, ``medium`` or ``large`` (see :class:`SizeClass`).

Anything else is an error: :func:`read_trace` stops at the first bad line
with :class:`TraceError`, whose message names the file, the line and what is
wrong, in one line.
"""

from __future__ import annotations

import enum
import functools
import json
import os
import urllib.parse
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from browser.actions import UserAction

FORMAT_NAME = "minibrowser-trace"
FORMAT_VERSION = 1
SECONDS_PER_DAY = 86400.0
MAX_LINE_BYTES = 64 * 1024  # an event is a few hundred bytes; a longer line is not a trace


class SizeClass(enum.Enum):
    """How big a page's document is.  The bytes are what the real engine's
    page server sends for the class; renderer memory per class comes from
    the cost model (``browser.simulate.costs``)."""

    SMALL = "small"
    MEDIUM = "medium"
    LARGE = "large"

    @property
    def document_bytes(self) -> int:
        return _DOCUMENT_BYTES[self]


_DOCUMENT_BYTES = {SizeClass.SMALL: 8 * 1024, SizeClass.MEDIUM: 64 * 1024, SizeClass.LARGE: 512 * 1024}
_ACTIONS = ", ".join(a.value for a in UserAction)
_SIZES = ", ".join(s.value for s in SizeClass)


@dataclass(frozen=True, slots=True)
class Event:
    """One line of a trace."""

    t: float
    user: int
    tab: int
    action: UserAction
    url: str | None = None
    size: SizeClass | None = None

    @property
    def site(self) -> str | None:
        """The host of ``url``: the unit the process models group by."""
        return _site_of(self.url) if self.url else None

    def to_json(self) -> str:
        record: dict = {"t": round(self.t, 3), "user": self.user, "tab": self.tab, "action": self.action.value}
        if self.url is not None:
            record["url"] = self.url
            record["size"] = self.size.value
        return json.dumps(record, separators=(", ", ": "))


@dataclass
class Trace:
    """A header and its events (all users' events, in time order)."""

    users: int
    days: float
    events: list[Event]
    extra: dict = field(default_factory=dict)  # header fields kept as they were (seed, generator...)

    @property
    def duration_s(self) -> float:
        return self.days * SECONDS_PER_DAY

    def header_json(self) -> str:
        header = {"format": FORMAT_NAME, "version": FORMAT_VERSION, "users": self.users, "days": self.days}
        header.update(self.extra)
        return json.dumps(header, separators=(", ", ": "))

    def by_user(self) -> list[list[Event]]:
        """The events of each user, in order."""
        users: list[list[Event]] = [[] for _ in range(self.users)]
        for event in self.events:
            users[event.user].append(event)
        return users


class TraceError(ValueError):
    """A trace that cannot be used; ``str()`` is one line for a person."""


def write_trace(trace: Trace, path: str | os.PathLike) -> None:
    """Write ``trace`` to ``path`` (the same trace gives the same bytes)."""
    with open(path, "w", encoding="utf-8", newline="\n") as out:
        out.write(trace.header_json() + "\n")
        for event in trace.events:
            out.write(event.to_json() + "\n")


def read_trace(path: str | os.PathLike) -> Trace:
    """Read and check a whole trace; :class:`TraceError` at the first problem."""
    name = os.fspath(path)
    try:
        with open(path, "rb") as source:
            return parse_trace(source, name=name)
    except FileNotFoundError:
        raise TraceError(f"{name}: no such file") from None
    except IsADirectoryError:
        raise TraceError(f"{name}: is a directory, not a trace file") from None
    except PermissionError:
        raise TraceError(f"{name}: permission denied") from None


def parse_trace(lines: Iterable[bytes], *, name: str = "trace") -> Trace:
    """Parse the lines of a trace (bytes, as read from a file)."""
    checker = _Checker(name)
    numbered = enumerate(lines, start=1)
    header = None
    for number, raw in numbered:
        header = checker.header(number, raw)
        break
    if header is None:
        raise TraceError(f"{name}: empty file; a trace starts with a header line (see 'minibrowser simulate --help')")
    users, days, extra = header
    events = [checker.event(number, raw, users, days) for number, raw in numbered if raw.strip()]
    return Trace(users, days, events, extra)


class _Checker:
    """The rules of the format, with the line number in every complaint."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.last_t = 0.0
        self.open_tabs: dict[int, set[int]] = {}

    def fail(self, number: int, problem: str) -> TraceError:
        return TraceError(f"{self.name} line {number}: {problem}")

    def decode(self, number: int, raw: bytes) -> dict:
        if len(raw) > MAX_LINE_BYTES:
            raise self.fail(number, f"line longer than {MAX_LINE_BYTES} bytes")
        try:
            record = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError:
            raise self.fail(number, "not UTF-8 text") from None
        except json.JSONDecodeError as error:
            raise self.fail(number, f"not a JSON object ({error.msg})") from None
        if not isinstance(record, dict):
            raise self.fail(number, "not a JSON object")
        return record

    def header(self, number: int, raw: bytes) -> tuple[int, float, dict]:
        record = self.decode(number, raw)
        if record.get("format") != FORMAT_NAME:
            raise self.fail(number, f'the first line must be the header, with "format": "{FORMAT_NAME}"')
        version = record.get("version")
        if version != FORMAT_VERSION:
            raise self.fail(number, f"trace format version {version!r} is not supported (this minibrowser reads version {FORMAT_VERSION})")
        users = record.get("users")
        if not _whole(users) or not 1 <= users <= 1_000_000:
            raise self.fail(number, f'"users" must be a whole number from 1 to 1000000, not {users!r}')
        days = record.get("days")
        if not _number(days) or not 0 < days <= 366:
            raise self.fail(number, f'"days" must be a number above 0 and at most 366, not {days!r}')
        extra = {k: v for k, v in record.items() if k not in ("format", "version", "users", "days")}
        return users, float(days), extra

    def event(self, number: int, raw: bytes, users: int, days: float) -> Event:
        record = self.decode(number, raw)
        allowed = {"t", "user", "tab", "action", "url", "size"}
        if unknown := sorted(set(record) - allowed):
            raise self.fail(number, f"unknown field {unknown[0]!r} (an event has t, user, tab, action, url, size)")
        for key in ("t", "user", "tab", "action"):
            if key not in record:
                raise self.fail(number, f'missing "{key}"')
        t = record["t"]
        if not _number(t) or t < 0:
            raise self.fail(number, f'"t" must be a number of seconds, 0 or more, not {t!r}')
        if t < self.last_t:
            raise self.fail(number, f'"t" goes back in time ({t} after {self.last_t}); events must be in time order')
        if t >= days * SECONDS_PER_DAY:
            raise self.fail(number, f'"t" {t} is after the end of the trace ({days:g} days, from the header)')
        user = record["user"]
        if not _whole(user) or not 0 <= user < users:
            raise self.fail(number, f'"user" must be a whole number from 0 to {users - 1} (the header says {users} users), not {user!r}')
        tab = record["tab"]
        if not _whole(tab) or not 1 <= tab <= 2**31:
            raise self.fail(number, f'"tab" must be a whole number from 1, not {tab!r}')
        try:
            action = UserAction(record["action"])
        except (ValueError, TypeError):
            raise self.fail(number, f'"action" must be one of {_ACTIONS}, not {record["action"]!r}') from None
        url = record.get("url")
        size = record.get("size")
        if action in (UserAction.OPEN, UserAction.NAVIGATE):
            if not isinstance(url, str) or len(url) > 2048:
                raise self.fail(number, f'"{action.value}" needs a "url" (text, at most 2048 characters)')
            parts = urllib.parse.urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise self.fail(number, f'"url" must be an http: or https: URL with a host, not {url!r}')
            try:
                size_class = SizeClass(size)
            except (ValueError, TypeError):
                raise self.fail(number, f'"size" must be one of {_SIZES}, not {size!r}') from None
        else:
            if url is not None or size is not None:
                raise self.fail(number, f'"{action.value}" takes no "url" or "size"')
            size_class = None
        tabs = self.open_tabs.setdefault(user, set())
        if action is UserAction.OPEN:
            if tab in tabs:
                raise self.fail(number, f"user {user} opens tab {tab}, which is already open")
            tabs.add(tab)
        elif tab not in tabs:
            raise self.fail(number, f"user {user} has no open tab {tab} to {action.value}")
        elif action is UserAction.CLOSE:
            tabs.discard(tab)
        self.last_t = float(t)
        return Event(float(t), user, tab, action, url, size_class)


@functools.lru_cache(maxsize=65536)
def _site_of(url: str) -> str | None:
    """The host of ``url`` (cached: a trace visits the same URLs again and again)."""
    return urllib.parse.urlsplit(url).hostname


def _whole(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value == value and value not in (float("inf"), float("-inf"))


def iter_sites(events: Iterable[Event]) -> Iterator[str]:
    """Every site the events visit, each once, in order of first visit."""
    seen: set[str] = set()
    for event in events:
        site = event.site
        if site is not None and site not in seen:
            seen.add(site)
            yield site
