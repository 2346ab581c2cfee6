"""The profile's cookies: kept and decided by the broker, never by the network process.

The network process only carries them: the broker gives each request its
``Cookie`` header value (:meth:`CookieStore.header_for`), and the network
process reports a response's ``Set-Cookie`` values as data, which
:meth:`CookieStore.store` keeps as the policy allows: the standard library's
RFC 6265 policy (``http.cookiejar.DefaultCookiePolicy``: domain and path
matching, secure cookies only over https...), made stricter for what a
request could not carry back (:class:`CookiePolicy`), and bounded in number
(:class:`CookieJar`).

Cookies that outlive the session (``Expires`` or ``Max-Age``) are written
to ``cookies.sqlite`` in the profile directory, so the next browser started
with the same profile sends them; session cookies live in memory only, as in
every browser.  The database is opened on first use: a browser that never
loads an http(s) page never touches it.
"""

from __future__ import annotations

import email.message
import http.cookiejar
import json
import os
import re
import sqlite3
import threading
import time
import urllib.request

#: RFC 6265 cookie-octets (and the space and comma old servers use), for names and values.
_COOKIE_TEXT_RE = re.compile(r"[\x20-\x3a\x3c-\x7e]*")
#: Per cookie and in all, the limits RFC 6265 section 6.1 asks browsers to allow at least.
MAX_COOKIE_BYTES = 4096
MAX_COOKIES = 3000


class CookiePolicy(http.cookiejar.DefaultCookiePolicy):
    """Refuse cookies a request could not carry back.

    A ``Set-Cookie`` value comes as Latin-1 text; a cookie with bytes outside
    ASCII would make every later request to that site fail to encode.
    Cookies over the size limit are refused too.
    """

    def set_ok(self, cookie: http.cookiejar.Cookie, request: object) -> bool:
        name, value = cookie.name or "", cookie.value or ""
        if len(name) + len(value) > MAX_COOKIE_BYTES:
            return False
        if not (_COOKIE_TEXT_RE.fullmatch(name) and _COOKIE_TEXT_RE.fullmatch(value)):
            return False
        if not all(_COOKIE_TEXT_RE.fullmatch(part or "") for part in (cookie.domain, cookie.path)):
            return False
        return super().set_ok(cookie, request)


class CookieJar(http.cookiejar.CookieJar):
    """A cookie jar that holds at most :data:`MAX_COOKIES` (new ones are dropped past it)."""

    def set_cookie(self, cookie: http.cookiejar.Cookie) -> None:
        if len(self) >= MAX_COOKIES:
            self.clear_expired_cookies()
            if len(self) >= MAX_COOKIES:
                return
        super().set_cookie(cookie)


DATABASE = "cookies.sqlite"
#: Set-Cookie values looked at per response (a response may carry more: the rest are dropped).
MAX_SET_COOKIES = 50

_SCHEMA = """
CREATE TABLE IF NOT EXISTS cookies (
    domain TEXT NOT NULL,
    path TEXT NOT NULL,
    name TEXT NOT NULL,
    value TEXT NOT NULL,
    expires INTEGER NOT NULL,
    secure INTEGER NOT NULL,
    attributes TEXT NOT NULL,      -- JSON: version, domain_specified, domain_initial_dot, path_specified, rest
    PRIMARY KEY (domain, path, name)
);
"""


class _SetCookies:
    """A response as ``http.cookiejar`` wants to see one: only its Set-Cookie values."""

    def __init__(self, values: list[str]) -> None:
        self._message = email.message.Message()
        for value in values[:MAX_SET_COOKIES]:
            self._message["Set-Cookie"] = value

    def info(self) -> email.message.Message:
        return self._message


class CookieStore:
    """One profile's cookies.  ``directory`` None: in memory only."""

    def __init__(self, directory: str | None) -> None:
        self.directory = directory
        self.jar = CookieJar(policy=CookiePolicy())
        self._connection: sqlite3.Connection | None = None
        self._loaded = False
        self._lock = threading.Lock()

    @property
    def database(self) -> str | None:
        return os.path.join(self.directory, DATABASE) if self.directory else None

    def header_for(self, url: str) -> str | None:
        """The ``Cookie`` value to send with a request for ``url``, if any."""
        with self._lock:
            self._load()
            request = urllib.request.Request(url)
            self.jar.add_cookie_header(request)
            return request.unredirected_hdrs.get("Cookie")

    def store(self, url: str, set_cookies: list[str]) -> None:
        """Keep what a response for ``url`` set, as the policy allows."""
        if not set_cookies:
            return
        with self._lock:
            self._load()
            request = urllib.request.Request(url)
            before = self._persistent()
            try:
                self.jar.extract_cookies(_SetCookies(set_cookies), request)
            except (ValueError, TypeError, OverflowError):
                return  # a header the standard library chokes on is no cookie
            if self._persistent() != before:
                self._save()

    def close(self) -> None:
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None

    # -- disk ------------------------------------------------------------------

    def _persistent(self) -> set[tuple]:
        return {(c.domain, c.path, c.name, c.value, c.expires) for c in self.jar if not c.discard}

    def _open(self, *, create: bool) -> sqlite3.Connection | None:
        if self._connection is None and self.database is not None:
            if not create and not os.path.exists(self.database):
                return None
            os.makedirs(self.directory, mode=0o700, exist_ok=True)
            self._connection = sqlite3.connect(self.database, check_same_thread=False)
            self._connection.executescript(_SCHEMA)
        return self._connection

    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        try:
            connection = self._open(create=False)
            if connection is None:
                return
            rows = connection.execute(
                "SELECT domain, path, name, value, expires, secure, attributes FROM cookies "
                "WHERE expires > ?", (int(time.time()),)).fetchall()
        except sqlite3.Error:
            return  # an unreadable cookie database loses its cookies, not the page
        for domain, path, name, value, expires, secure, attributes in rows[:MAX_COOKIES]:
            try:
                extra = json.loads(attributes)
                self.jar.set_cookie(http.cookiejar.Cookie(
                    version=extra.get("version", 0), name=name, value=value, port=None, port_specified=False,
                    domain=domain, domain_specified=bool(extra.get("domain_specified")),
                    domain_initial_dot=bool(extra.get("domain_initial_dot")), path=path,
                    path_specified=bool(extra.get("path_specified")), secure=bool(secure), expires=expires,
                    discard=False, comment=None, comment_url=None, rest=dict(extra.get("rest", {}))))
            except (ValueError, TypeError, AttributeError):
                continue

    def _save(self) -> None:
        try:
            connection = self._open(create=True)
            if connection is None:
                return
            with connection:
                connection.execute("DELETE FROM cookies")
                connection.executemany(
                    "INSERT OR REPLACE INTO cookies VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [(c.domain, c.path, c.name, c.value or "", int(c.expires), int(c.secure), json.dumps({
                        "version": c.version or 0, "domain_specified": c.domain_specified,
                        "domain_initial_dot": c.domain_initial_dot, "path_specified": c.path_specified,
                        "rest": {"HttpOnly": None} if c.has_nonstandard_attr("HttpOnly") else {}}))
                     for c in self.jar if not c.discard and c.expires is not None])
        except sqlite3.Error:
            pass  # cookies stay in memory for this session
