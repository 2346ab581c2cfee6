"""http: and https: for the loader, through httpx.

This is the part of the loader that reads a server's bytes: framing,
chunked bodies, content codings (``_decoding``), cookies (``_cookies``) and
redirects.  No ``httpx`` or ``OSError`` exception leaves it raw, and no text
a server chose (a reason phrase, a header, an encoding, a refused redirect
target) is quoted in a message beyond the percent-encoded address of a page it
redirected to: a hostile server must not be able to write the user's error line.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import urllib.parse
from typing import TYPE_CHECKING

from broker.loader._content import parse_content_type
from broker.loader._cookies import CookieJar, CookiePolicy
from broker.loader._decoding import (
    ACCEPT_ENCODING,
    ContentDecoder,
    CorruptData,
    DecodingError,
    OverBudget,
    TruncatedData,
    UnsupportedEncoding,
    parse_content_encoding,
)
from broker.loader._errors import (
    HostUnreachable,
    InvalidResponse,
    InvalidURL,
    LoadError,
    LoadTimeout,
    NavigationRefused,
    NetworkError,
    TooManyRedirects,
    UndecodableContent,
    too_large,
)
from broker.loader._urls import normalize_url
from broker.navigation_policy import redirect_refusal
from broker.urls import host_port, scheme_of, shown


def _lazy_module(name: str):
    """``name``, imported on first attribute access (importlib's LazyLoader)."""
    import importlib.util
    import sys

    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec(name)
    spec.loader = importlib.util.LazyLoader(spec.loader)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


if TYPE_CHECKING:
    import httpx
else:
    httpx = _lazy_module("httpx")  # about 15 ms to import: a file:, data: or about: page never needs it

USER_AGENT = "minibrowser/0.1"
ACCEPT = "text/html,application/xhtml+xml,text/plain;q=0.9,*/*;q=0.8"


#: Every exception httpx raises.  Most derive from ``httpx.HTTPError``, but
#: ``InvalidURL``, ``CookieConflict`` and the ``StreamError`` family do not.
def httpx_errors() -> tuple[type[BaseException], ...]:
    return (httpx.HTTPError, httpx.InvalidURL, httpx.CookieConflict, httpx.StreamError)


_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
#: Where :func:`_take_location` keeps a redirect's Location values (response extensions).
_LOCATIONS = "minibrowser.locations"


class HttpFetcher:
    """http(s) for the loader: one shared ``httpx.AsyncClient`` (created on
    first use); redirects are followed here, not by httpx, so that each hop is
    checked by the navigation policy and counted.  Bodies are read raw and
    decoded by ``_decoding``, so the size cap holds for the decoded bytes of
    every content-coding layer together."""

    def __init__(self, *, timeout: float, deadline: float, max_bytes: int, max_redirects: int) -> None:
        self.timeout = timeout
        self.deadline = deadline
        self.max_bytes = max_bytes
        self.max_redirects = max_redirects
        self._client: httpx.AsyncClient | None = None

    async def aclose(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()

    def _http_client(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                follow_redirects=False,
                trust_env=False,
                timeout=httpx.Timeout(self.timeout),
                headers={
                    "User-Agent": USER_AGENT,
                    "Accept": ACCEPT,
                    "Accept-Encoding": ACCEPT_ENCODING,
                },
                cookies=CookieJar(policy=CookiePolicy()),
                event_hooks={"response": [_take_location]},
                # No connection is used twice: bytes a server sends beyond its
                # Content-Length would otherwise be read as the answer to the
                # next request (a broken or smuggled response for another page).
                limits=httpx.Limits(max_keepalive_connections=0),
            )
        return self._client

    async def fetch(
        self, url: str, *, initiator: str | None, method: str, form_body: str
    ) -> tuple[str, int, str, str | None, bytes]:
        """``(final_url, status, content_type, charset, body)`` of ``url``, after redirects."""
        try:
            async with asyncio.timeout(self.deadline):
                return await self._follow_redirects(url, initiator, method, form_body)
        except TimeoutError:
            raise LoadTimeout(
                f"loading {shown(url)} took longer than {self.deadline:g} s: "
                "try again later or check your connection",
                url=url,
            ) from None

    async def _follow_redirects(
        self, url: str, initiator: str | None, method: str, form_body: str
    ) -> tuple[str, int, str, str | None, bytes]:
        visited: list[str] = []
        current = url
        while True:
            visited.append(current)
            headers = {}
            # As in Fetch, the referrer stays the initiator's across redirects.
            if (referer := _referer(initiator, current)) is not None:
                headers["Referer"] = referer
            content = None
            if method == "POST":
                headers["Content-Type"] = "application/x-www-form-urlencoded"
                content = form_body.encode("utf-8")
            try:
                request = self._http_client().build_request(
                    method, current, headers=headers, content=content
                )
                response = await self._http_client().send(request, stream=True)
            except (*httpx_errors(), OSError, UnicodeError) as exc:
                raise network_error(exc, current) from None
            try:
                locations = response.extensions.get(_LOCATIONS, [])
                if response.status_code in _REDIRECT_STATUSES and any(locations):
                    next_url = self._redirect_target(current, locations)
                    if len(visited) > self.max_redirects:
                        raise _too_many_redirects(url, visited, next_url, self.max_redirects)
                    if response.status_code == 303 or (
                        response.status_code in (301, 302) and method == "POST"
                    ):
                        method, form_body = "GET", ""
                    current = next_url
                    continue
                body = await self._read_body(response, current)
                content_type, charset = parse_content_type(response.headers.get("content-type", ""))
                return current, response.status_code, content_type, charset, body
            finally:
                try:
                    await response.aclose()
                except (*httpx_errors(), OSError):
                    pass  # the connection is dropped either way

    def _redirect_target(self, current: str, locations: list[str]) -> str:
        """Where a redirect from ``current`` leads, checked by the navigation policy."""
        if len({location.strip() for location in locations}) > 1:
            raise InvalidResponse(
                f"the server at {shown(current)} sent a redirect with several different "
                "addresses: the site is broken; try again later",
                url=current,
            )
        try:
            target = normalize_url(urllib.parse.urljoin(current, locations[0].strip()))
        except (ValueError, InvalidURL):
            raise InvalidResponse(
                f"the server at {shown(current)} redirected to a malformed address: "
                "the site is broken; try again later",
                url=current,
            ) from None
        if (refusal := redirect_refusal(current, target)) is not None:
            raise NavigationRefused(refusal, url=current)
        return target

    async def _read_body(self, response: httpx.Response, url: str) -> bytes:
        """The decoded body, refused as soon as the wire bytes or the decoded
        bytes of all content-coding layers together pass ``max_bytes``."""
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            raise too_large(url, self.max_bytes, int(declared))
        try:
            encodings = parse_content_encoding(
                response.headers.get_list("content-encoding", split_commas=True)
            )
        except UnsupportedEncoding as exc:
            raise _undecodable(exc, url) from None
        decoder = ContentDecoder(encodings, budget=self.max_bytes)
        pieces: list[bytes] = []
        received = 0
        try:
            async for chunk in response.aiter_raw():
                received += len(chunk)
                if received > self.max_bytes:
                    raise too_large(url, self.max_bytes)
                pieces.extend(decoder.feed(chunk))
            decoder.finish()
        except OverBudget:
            raise too_large(url, self.max_bytes) from None
        except DecodingError as exc:
            raise _undecodable(exc, url) from None
        except (*httpx_errors(), OSError) as exc:
            raise network_error(exc, url) from None
        return b"".join(pieces)


async def _take_location(response: httpx.Response) -> None:
    """Response hook: take a redirect's Location out of httpx's sight.

    Even with ``follow_redirects`` off, httpx builds the next request from
    any redirect's Location, and raises on addresses it cannot parse
    (``about:crash``, ``data:``, ``javascript:``).  The loader judges every
    hop itself (:meth:`HttpFetcher._redirect_target`), so the values move to the
    response's extensions before httpx looks.
    """
    if response.status_code in _REDIRECT_STATUSES and "location" in response.headers:
        response.extensions[_LOCATIONS] = response.headers.get_list("location")
        del response.headers["location"]


def network_error(exc: BaseException, url: str) -> LoadError:
    """Map any httpx (or socket) failure to a :class:`LoadError` with advice."""
    where = host_port(url)
    if isinstance(exc, httpx.TimeoutException):
        step = "connecting to" if isinstance(exc, httpx.ConnectTimeout) else "waiting for"
        return LoadTimeout(
            f"timed out {step} {where} (no answer within {_timeout_shown(exc)}): "
            "try again later or check your connection",
            url=url,
        )
    if isinstance(exc, (httpx.UnsupportedProtocol, httpx.InvalidURL)):
        return InvalidURL(f"{shown(url)} is not a valid address: check it", url=url)
    if isinstance(exc, httpx.ProtocolError):
        return InvalidResponse(
            f"the server at {where} sent {_protocol_problem(exc)}: "
            "the site is broken; try again later",
            url=url,
        )
    cause = _os_error_in(exc)
    if isinstance(exc, (httpx.ConnectError, ConnectionRefusedError, socket.gaierror)):
        if isinstance(cause, socket.gaierror):
            return HostUnreachable(
                f"cannot find host {where} (DNS lookup failed): "
                "check the spelling of the address and your connection",
                url=url,
            )
        if isinstance(cause, ssl.SSLError):
            reason = getattr(cause, "reason", None) or cause.strerror or "TLS error"
            return NetworkError(
                f"secure connection to {where} failed ({reason.lower().replace('_', ' ')}): "
                "the site's certificate is not trusted; do not enter private data there",
                url=url,
            )
        if isinstance(cause, ConnectionRefusedError):
            return HostUnreachable(
                f"cannot reach {where} (connection refused): "
                "check the address and that the server is running",
                url=url,
            )
        reason = (cause.strerror if cause is not None else None) or str(exc) or "connect failed"
        return HostUnreachable(
            f"cannot reach {where} ({reason.lower()}): check the address and your connection",
            url=url,
        )
    if isinstance(cause, ConnectionResetError):
        return NetworkError(
            f"the server at {where} reset the connection: try again; if it keeps failing "
            "the site may be down",
            url=url,
        )
    reason = (cause.strerror.lower() if cause is not None and cause.strerror else None) or (
        _httpx_reasons().get(type(exc)) or type(exc).__name__
    )
    return NetworkError(
        f"the connection to {where} failed ({reason}): try again; if it keeps failing "
        "the site may be down",
        url=url,
    )


def _httpx_reasons() -> dict[type, str]:
    """What went wrong, for errors whose own text is no use to a person.
    (A function: naming httpx's classes imports it, which a local page never needs.)"""
    return {
        httpx.ReadError: "the connection broke while reading",
        httpx.WriteError: "the connection broke while sending",
        httpx.CloseError: "the connection broke while closing",
        httpx.ProxyError: "a proxy failed",
        httpx.DecodingError: "the body could not be decoded",
        httpx.TooManyRedirects: "too many redirects",
        httpx.HTTPStatusError: "an error status",
        httpx.CookieConflict: "conflicting cookies",
        UnicodeEncodeError: "the request holds characters HTTP cannot carry",
    }

#: h11 and httpcore messages (by a fragment, lower case) -> what to tell a person.
#: Their own text can quote the server's bytes, so it is never shown.
_PROTOCOL_PROBLEMS = (
    ("without sending a response", "no HTTP response"),
    ("without sending complete message body", "less of the page than it announced"),
    ("chunk", "a broken chunked body"),
    ("receive buffer too long", "headers that are far too large"),
    ("content-length", "a malformed Content-Length"),
    ("transfer-encoding", "a Transfer-Encoding this browser does not support"),
    ("status line", "a malformed status line"),
    ("response line", "a malformed status line"),
    ("header", "a malformed header"),
)


def _protocol_problem(exc: httpx.ProtocolError) -> str:
    message = str(exc).lower()
    for fragment, problem in _PROTOCOL_PROBLEMS:
        if fragment in message:
            return problem
    return "a response that is not valid HTTP"


def _undecodable(exc: DecodingError, url: str) -> UndecodableContent:
    """A :class:`UndecodableContent` for a decoding failure of the page at ``url``."""
    where = host_port(url)
    if isinstance(exc, UnsupportedEncoding):
        if exc.too_many:
            what = "compressed in more layers than this browser decodes"
        elif exc.name is not None:
            what = f"in the {exc.name!r} content encoding, which this browser cannot decode"
        else:
            what = "in a content encoding this browser cannot recognise"
        return UndecodableContent(
            f"the server at {where} sent the page {what}: open it with another tool", url=url
        )
    encoding = exc.encoding.value if isinstance(exc, CorruptData) else "compressed"
    damage = "ends before its compressed data does" if isinstance(exc, TruncatedData) else "is corrupt"
    return UndecodableContent(
        f"the server at {where} sent a {encoding}-compressed page that {damage}: "
        "the site is broken; try again later",
        url=url,
    )


def _timeout_shown(exc: httpx.TimeoutException) -> str:
    """The timeout that fired, as "15 s", read from the request's extensions."""
    try:
        timeouts = exc.request.extensions.get("timeout", {})
        value = next(v for v in timeouts.values() if v is not None)
        return f"{value:g} s"
    except (RuntimeError, StopIteration, TypeError):
        return "the time limit"


def _os_error_in(exc: BaseException) -> OSError | None:
    """The most specific OSError behind an httpx error (anyio wraps the real one)."""
    found: OSError | None = None
    seen: set[int] = set()
    stack: list[BaseException] = [exc]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, OSError) and (found is None or current.errno is not None):
            found = current
        if isinstance(current, BaseExceptionGroup):
            stack.extend(current.exceptions)
        for nxt in (current.__cause__, current.__context__):
            if nxt is not None:
                stack.append(nxt)
    return found


def _too_many_redirects(url: str, visited: list[str], next_url: str, limit: int) -> TooManyRedirects:
    if next_url in visited:
        return TooManyRedirects(
            f"{shown(url)} redirects in a loop: "
            "the site is misconfigured; try again later",
            url=url,
        )
    return TooManyRedirects(
        f"{shown(url)} redirected more than {limit} times: "
        "the site is misconfigured; try again later",
        url=url,
    )

def _referer(initiator: str | None, target: str) -> str | None:
    """The Referer to send, as ``strict-origin-when-cross-origin`` would."""
    if initiator is None or scheme_of(initiator) not in ("http", "https"):
        return None
    if scheme_of(initiator) == "https" and scheme_of(target) == "http":
        return None
    source = urllib.parse.urlsplit(initiator)
    dest = urllib.parse.urlsplit(target)
    origin = f"{source.scheme}://{source.netloc.rpartition('@')[2]}"
    if (source.scheme, source.netloc) == (dest.scheme, dest.netloc):
        return urllib.parse.urlunsplit(source._replace(netloc=origin.partition("//")[2], fragment=""))
    return origin + "/"
