"""http: and https: for the loader, through the network process.

The broker never reads a server's bytes: the network process
(``network/``, owned by ``broker/network_host.py``) speaks HTTP, decodes
bodies under one budget and answers each request with a status, headers as
data and the body.  This module decides everything else from the broker's
own record of what it asked for: which headers go out (``Cookie`` from the
profile's cookie store, ``Referer``), whether a redirect may be followed
(the navigation policy, hop by hop, counted), which cookies are kept, and
the one line a person reads when a load fails.  No text a server chose (a
reason phrase, a header, an encoding, a refused redirect target) is quoted
in a message beyond the percent-encoded address of a page it redirected to,
and the network process's own words are limited by its protocol to a few
plain characters: neither can write the user's error line.
"""

from __future__ import annotations

import asyncio
import urllib.parse

from broker.loader._content import parse_content_type
from broker.loader._cookies import CookieStore
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
from broker.network_host import NetworkFailure, NetworkHost, NetworkProcessLost
from broker.urls import host_port, scheme_of, shown
from network.protocol import Failed, FailureKind, Method, ProtocolProblem

USER_AGENT = "minibrowser/0.1"
ACCEPT = "text/html,application/xhtml+xml,text/plain;q=0.9,*/*;q=0.8"
#: Offered in ``Accept-Encoding``: exactly what the network process decodes.
ACCEPT_ENCODING = "gzip, deflate"
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


class HttpFetcher:
    """http(s) for the loader: each exchange through the network process,
    redirects followed here (each hop checked by the navigation policy and
    counted), cookies kept in ``cookies``."""

    def __init__(self, *, timeout: float, deadline: float, max_bytes: int, max_redirects: int,
                 network: NetworkHost, cookies: CookieStore) -> None:
        self.timeout = timeout
        self.deadline = deadline
        self.max_bytes = max_bytes
        self.max_redirects = max_redirects
        self.network = network
        self.cookies = cookies

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
            headers = [("User-Agent", USER_AGENT), ("Accept", ACCEPT), ("Accept-Encoding", ACCEPT_ENCODING)]
            # As in Fetch, the referrer stays the initiator's across redirects.
            if (referer := _referer(initiator, current)) is not None:
                headers.append(("Referer", referer))
            if (cookie := self.cookies.header_for(current)) is not None:
                headers.append(("Cookie", cookie))
            body = b""
            if method == "POST":
                headers.append(("Content-Type", "application/x-www-form-urlencoded"))
                body = form_body.encode("utf-8")
            try:
                reply = await self.network.fetch(method=Method(method), url=current, headers=headers, body=body,
                                                 max_bytes=self.max_bytes, timeout_s=self.timeout)
            except NetworkFailure as failure:
                raise failure_error(failure.failed, current, timeout=self.timeout, max_bytes=self.max_bytes) from None
            except NetworkProcessLost as lost:
                raise NetworkError(
                    f"the network process ended while loading {shown(current)} ({lost}): try again",
                    url=current,
                ) from None
            self.cookies.store(current, [_header_text(v) for v in reply.header_list("set-cookie")])
            locations = [_header_text(v) for v in reply.header_list("location")]
            if reply.status in _REDIRECT_STATUSES and any(locations):
                next_url = self._redirect_target(current, locations)
                if len(visited) > self.max_redirects:
                    raise _too_many_redirects(url, visited, next_url, self.max_redirects)
                if reply.status == 303 or (reply.status in (301, 302) and method == "POST"):
                    method, form_body = "GET", ""
                current = next_url
                continue
            content_type, charset = parse_content_type(_header_text(reply.header("content-type") or ""))
            return current, reply.status, content_type, charset, reply.body

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


def _header_text(value: str) -> str:
    """A header value as a server meant it: the network process sends each
    byte as one ISO-8859-1 character; UTF-8 is read as UTF-8 (as httpx does)."""
    try:
        return value.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return value


#: How a response was not valid HTTP, in words for a person.
PROBLEMS = {
    ProtocolProblem.NO_RESPONSE: "no HTTP response",
    ProtocolProblem.SHORT_BODY: "less of the page than it announced",
    ProtocolProblem.BROKEN_CHUNKS: "a broken chunked body",
    ProtocolProblem.HEADERS_TOO_LARGE: "headers that are far too large",
    ProtocolProblem.BAD_CONTENT_LENGTH: "a malformed Content-Length",
    ProtocolProblem.BAD_TRANSFER_ENCODING: "a Transfer-Encoding this browser does not support",
    ProtocolProblem.BAD_STATUS_LINE: "a malformed status line",
    ProtocolProblem.BAD_HEADER: "a malformed header",
    ProtocolProblem.OTHER: "a response that is not valid HTTP",
}


def failure_error(failed: Failed, url: str, *, timeout: float, max_bytes: int) -> LoadError:
    """The one line a person reads for a failure the network process reported."""
    where = host_port(url)
    detail = failed.detail
    match failed.kind:
        case FailureKind.CONNECT_TIMEOUT | FailureKind.READ_TIMEOUT:
            step = "connecting to" if failed.kind is FailureKind.CONNECT_TIMEOUT else "waiting for"
            return LoadTimeout(f"timed out {step} {where} (no answer within {timeout:g} s): "
                               "try again later or check your connection", url=url)
        case FailureKind.DNS_FAILED:
            return HostUnreachable(f"cannot find host {where} (DNS lookup failed): "
                                   "check the spelling of the address and your connection", url=url)
        case FailureKind.REFUSED:
            return HostUnreachable(f"cannot reach {where} (connection refused): "
                                   "check the address and that the server is running", url=url)
        case FailureKind.CONNECT_FAILED:
            return HostUnreachable(f"cannot reach {where} ({detail or 'connect failed'}): "
                                   "check the address and your connection", url=url)
        case FailureKind.TLS_FAILED:
            return NetworkError(f"secure connection to {where} failed ({detail or 'tls error'}): "
                                "the site's certificate is not trusted; do not enter private data there", url=url)
        case FailureKind.RESET:
            return NetworkError(f"the server at {where} reset the connection: try again; if it keeps failing "
                                "the site may be down", url=url)
        case FailureKind.PROTOCOL:
            problem = PROBLEMS[failed.problem or ProtocolProblem.OTHER]
            return InvalidResponse(f"the server at {where} sent {problem}: the site is broken; try again later",
                                   url=url)
        case FailureKind.TOO_LARGE:
            return too_large(url, max_bytes, failed.size)
        case FailureKind.UNSUPPORTED_ENCODING | FailureKind.TOO_MANY_LAYERS:
            if failed.kind is FailureKind.TOO_MANY_LAYERS:
                what = "compressed in more layers than this browser decodes"
            elif failed.encoding is not None:
                what = f"in the {failed.encoding!r} content encoding, which this browser cannot decode"
            else:
                what = "in a content encoding this browser cannot recognise"
            return UndecodableContent(f"the server at {where} sent the page {what}: open it with another tool",
                                      url=url)
        case FailureKind.CORRUPT_ENCODING | FailureKind.TRUNCATED_ENCODING:
            damage = ("ends before its compressed data does" if failed.kind is FailureKind.TRUNCATED_ENCODING
                      else "is corrupt")
            return UndecodableContent(f"the server at {where} sent a {failed.encoding or 'compressed'}-compressed "
                                      f"page that {damage}: the site is broken; try again later", url=url)
        case FailureKind.INVALID_URL:
            return InvalidURL(f"{shown(url)} is not a valid address: check it", url=url)
    return NetworkError(f"the connection to {where} failed ({detail or 'the load was dropped'}): try again; "
                        "if it keeps failing the site may be down", url=url)


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
