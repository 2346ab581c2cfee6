"""The cookie jar: only cookies a request could carry back, and not too many."""

from __future__ import annotations

import http.cookiejar
import re

#: RFC 6265 cookie-octets (and the space and comma old servers use), for names and values.
_COOKIE_TEXT_RE = re.compile(r"[\x20-\x3a\x3c-\x7e]*")
#: Per cookie and in all, the limits RFC 6265 section 6.1 asks browsers to allow at least.
MAX_COOKIE_BYTES = 4096
MAX_COOKIES = 3000


class CookiePolicy(http.cookiejar.DefaultCookiePolicy):
    """Refuse cookies a request could not carry back.

    httpx decodes a ``Set-Cookie`` header as Latin-1 and stores what it gets;
    a cookie with bytes outside ASCII would then make every later request to
    that site fail to encode.  Cookies over the size limit are refused too.
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
