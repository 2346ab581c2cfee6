"""URL loading: the broker fetches every document; renderers never touch the network.

:func:`normalize_url` turns what a person typed into an absolute URL, and
:class:`Loader` fetches it (``http:``, ``https:``, ``file:``, ``data:``,
``about:``) after checking that whoever asked may go there.  The loader never
parses page content: it reports the charset from the ``Content-Type`` header
and leaves ``<meta charset>`` and BOM sniffing to the renderer.  The one piece
of HTML it writes (never reads) is the listing of a local directory.

Every failure is a :class:`LoadError` whose ``str()`` is one line for a
person, and whose ``short`` is a stable code for the CLI and JSON output::

    LoadError                 load-error
     ├── InvalidURL            invalid-url          garbage address, unknown about: page
     ├── UnsupportedScheme     unsupported-scheme   ftp:, mailto:, javascript: ...
     ├── NavigationRefused     navigation-refused   a page asked for file:, about: ...
     ├── NetworkError          network-error        connection dropped or reset, TLS failure ...
     │    ├── HostUnreachable  host-unreachable     DNS failure, connection refused
     │    └── InvalidResponse  invalid-response     not HTTP, broken chunks, short body, bad redirect
     ├── LoadTimeout           timeout              a step or the whole load took too long
     ├── TooLarge              too-large            body (decoded, all layers) over ``max_bytes``
     ├── UndecodableContent    undecodable-content  unknown or corrupt Content-Encoding
     ├── TooManyRedirects      too-many-redirects
     ├── FileNotReadable       file-not-readable    missing, permission denied
     └── BadDataURL            bad-data-url

The http(s) exchange itself happens in the network process
(``network/``): this module gets a status, headers as data and the decoded
body, or a typed failure it words for a person (:func:`failure_error`).
No ``OSError`` leaves this module raw, and no text a
server chose (a reason phrase, a header, an encoding, a refused redirect
target) is quoted in a message beyond the percent-encoded address of a page it
redirected to: a hostile server must not be able to write the user's error line.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import errno
import html
import ipaddress
import mimetypes
import os
import re
import stat
import time
import urllib.parse
from dataclasses import dataclass
from typing import Callable

from broker.cookies import CookieStore
from broker.network_host import NetworkFailure, NetworkHost, NetworkProcessLost
from network.protocol import Failed, FailureKind, Method, ProtocolProblem
from renderer.protocol import MAX_DOCUMENT_BYTES


__all__ = [
    "BadDataURL",
    "DEBUG_PAGES",
    "FileNotReadable",
    "HostUnreachable",
    "InvalidResponse",
    "InvalidURL",
    "LoadError",
    "LoadTimeout",
    "Loader",
    "NavigationRefused",
    "NetworkError",
    "Response",
    "TooLarge",
    "TooManyRedirects",
    "UndecodableContent",
    "UnsupportedScheme",
    "classify",
    "failure_error",
    "normalize_url",
]

USER_AGENT = "minibrowser/0.1"
ACCEPT = "text/html,application/xhtml+xml,text/plain;q=0.9,*/*;q=0.8"
#: Offered in ``Accept-Encoding``: exactly what the network process decodes.
ACCEPT_ENCODING = "gzip, deflate"

#: about: URLs that act on the browser (crash or hang a tab...).  Only the
#: person at the keyboard may open them, never a page, not even about:welcome.
DEBUG_PAGES = frozenset(
    {"about:crash", "about:hang", "about:kill", "about:memory-exhaust"}
)

_SUPPORTED_SCHEMES = ("http", "https", "file", "data", "about")
_MAX_LISTING_ENTRIES = 5000

_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


# --------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------


class LoadError(Exception):
    """A load failed.  ``str(err)`` is one line: what happened and what to do."""

    short = "load-error"

    def __init__(self, message: str, *, url: str | None = None) -> None:
        super().__init__(_one_line(message))
        self.url = url


class InvalidURL(LoadError):
    short = "invalid-url"


class UnsupportedScheme(LoadError):
    short = "unsupported-scheme"


class NavigationRefused(LoadError):
    short = "navigation-refused"


class NetworkError(LoadError):
    short = "network-error"


class HostUnreachable(NetworkError):
    short = "host-unreachable"


class InvalidResponse(NetworkError):
    short = "invalid-response"


class LoadTimeout(LoadError):
    short = "timeout"


class TooLarge(LoadError):
    short = "too-large"


class UndecodableContent(LoadError):
    short = "undecodable-content"


class TooManyRedirects(LoadError):
    short = "too-many-redirects"


class FileNotReadable(LoadError):
    short = "file-not-readable"


class BadDataURL(LoadError):
    short = "bad-data-url"


def _one_line(text: str) -> str:
    """Escape anything unprintable (newlines, terminal escapes) a URL may carry."""
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)


def _shown(url: str, limit: int = 120) -> str:
    """A URL short enough to quote in a message (data: URLs can be megabytes)."""
    return url if len(url) <= limit else url[: limit - 1] + "…"


# --------------------------------------------------------------------------
# Response and content classification
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Response:
    """A fetched document, ready to hand to a renderer."""

    url: str  # as requested (normalised)
    final_url: str  # after redirects
    status: int  # HTTP status; 200 for file:, data:, about:
    content_type: str  # MIME type, lower case, no parameters
    charset: str | None  # from the Content-Type header (or the data: URL)
    body: bytes
    kind: str  # html, text, binary
    fetch_ms: float


_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
_TEXT_APPLICATION_TYPES = frozenset(
    {
        "application/json",
        "application/xml",
        "application/javascript",
        "application/x-javascript",
        "application/ecmascript",
        "application/x-sh",
        "application/x-httpd-php",
        "application/toml",
        "application/yaml",
        "application/x-yaml",
        "application/sql",
    }
)
#: Content types that say nothing: sniff the body instead.
_UNKNOWN_TYPES = frozenset({"", "unknown/unknown", "application/unknown", "*/*"})


def classify(content_type: str, body: bytes) -> tuple[str, str]:
    """Return ``(content_type, kind)``, sniffing the body when the type says nothing.

    This is MIME sniffing on a byte prefix, not HTML parsing.
    """
    if content_type in _UNKNOWN_TYPES:
        return _sniff(body)
    if content_type in _HTML_TYPES:
        return content_type, "html"
    if (
        content_type.startswith("text/")
        or content_type in _TEXT_APPLICATION_TYPES
        or content_type.endswith(("+xml", "+json"))
    ):
        return content_type, "text"
    return content_type, "binary"


def _sniff(body: bytes) -> tuple[str, str]:
    head = body[:1024]
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):  # UTF-16 BOM: NULs are expected
        encoding = "utf-16-le" if head.startswith(b"\xff\xfe") else "utf-16-be"
        start = head[2:].decode(encoding, "ignore").encode("ascii", "ignore")
    elif b"\x00" in head:
        return "application/octet-stream", "binary"
    else:
        start = head.removeprefix(b"\xef\xbb\xbf")
    start = start.lstrip(b" \t\r\n\f").lower()
    if start.startswith((b"<!doctype html", b"<html")):
        return "text/html", "html"
    return "text/plain", "text"


_MIME_RE = re.compile(r"[a-z0-9!#$&^_.+\-]{1,64}/[a-z0-9!#$&^_.+\-]{1,64}")
#: Encoding labels (WHATWG Encoding) are short and use only these characters.
_CHARSET_RE = re.compile(r"[a-z0-9._:()+\-]{1,40}")


def _parse_content_type(value: str) -> tuple[str, str | None]:
    """``'Text/HTML; charset="UTF-8"'`` -> ``('text/html', 'utf-8')``.

    A server's header can hold anything: a type that is not ``type/subtype``
    becomes ``''`` (the body is sniffed), a charset that is not a plausible
    label becomes None (the renderer sniffs and falls back).
    """
    mime, _, params = value.partition(";")
    mime = mime.strip().lower()
    charset = None
    for param in params.split(";"):
        name, _, val = param.partition("=")
        if name.strip().lower() == "charset":
            charset = val.strip().strip("\"'").strip().lower() or None
    if not _MIME_RE.fullmatch(mime):
        mime = ""
    if charset is not None and not _CHARSET_RE.fullmatch(charset):
        charset = None
    return mime, charset


# --------------------------------------------------------------------------
# URL normalisation
# --------------------------------------------------------------------------

_SCHEME_RE = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):(.*)", re.DOTALL)
#: "localhost:8000" is a host and a port, but "tel:123" is a URL.
_SCHEMES_WITH_DIGITS = frozenset({"tel", "sms", "fax", "callto", "urn"})
_PORT_ONLY_RE = re.compile(r"\d+([/?#].*)?", re.DOTALL)
_HOST_LABELS_RE = re.compile(r"[a-z0-9_\-]+(\.[a-z0-9_\-]+)*\.?")
_TAB_OR_NEWLINE = str.maketrans("", "", "\t\n\r")
_PATH_SAFE = "/%:@!$&'()*+,;=-._~[]"
_QUERY_SAFE = "/%:@!$&'()*+,;=-._~[]?{}|^`\\"
_FRAGMENT_SAFE = "/%:@!$&'()*+,;=-._~[]?{}|^#\\"


def normalize_url(text: str) -> str:
    """Turn what the user typed into an absolute URL, or raise :class:`InvalidURL`.

    ``example.com/x`` -> ``http://example.com/x``, ``localhost:8000`` ->
    ``http://localhost:8000/``, ``./a.html`` -> ``file:///abs/a.html``;
    ``about:`` and ``data:`` URLs are kept as they are.  Schemes this browser
    does not load (``ftp:``, ``mailto:``) pass through: :meth:`Loader.load`
    refuses them with :class:`UnsupportedScheme`.
    """
    # As the URL standard does: trim C0 controls and spaces, drop tabs/newlines.
    text = text.strip("".join(map(chr, range(0x21)))).translate(_TAB_OR_NEWLINE)
    if not text:
        raise InvalidURL("the address is empty: type a URL such as example.com or a file path")

    if text.startswith(("/", "./", "../", "~")) or text in (".", ".."):
        path = os.path.abspath(os.path.expanduser(text))
        return "file://" + urllib.parse.quote(os.fsencode(path), safe=_PATH_SAFE)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidURL(
            f"{_quoted(text)} is not a valid address (it has undecodable characters): retype it"
        ) from None

    match = _SCHEME_RE.fullmatch(text)
    if match and (
        match.group(1).lower() in _SCHEMES_WITH_DIGITS or not _PORT_ONLY_RE.fullmatch(match.group(2))
    ):
        scheme, rest = match.group(1).lower(), match.group(2)
        if scheme in ("http", "https"):
            return _normalize_http(scheme, rest, text)
        if scheme == "file":
            return _normalize_file(rest, text)
        if scheme == "about":
            name, suffix = re.fullmatch(r"([^?#]*)(.*)", rest, re.DOTALL).groups()
            return "about:" + name.lower() + suffix
        return f"{scheme}:{rest}"
    if "://" in text:
        scheme = text.split("://", 1)[0]
        raise InvalidURL(
            f"{_quoted(text)} is not a valid address ({scheme!r} is not a URL scheme): "
            "check the spelling, e.g. http://example.com/"
        )
    return _normalize_http("http", text, text)


def _normalize_http(scheme: str, rest: str, typed: str) -> str:
    # Special schemes take any number of slashes, either way round, before the host.
    rest = rest.lstrip("/\\")
    cut = min((i for i in (rest.find("?"), rest.find("#")) if i >= 0), default=len(rest))
    rest = rest[:cut].replace("\\", "/") + rest[cut:]
    try:
        parts = urllib.parse.urlsplit(f"{scheme}://{rest}")
    except ValueError:  # only an unclosed "[" gets here
        raise InvalidURL(
            f"{_quoted(typed)} is not a valid address (bad IPv6 address): write it as http://[::1]:8000/"
        ) from None
    host = _normalize_host(parts, typed)
    try:
        port = parts.port
    except ValueError:
        port = 0
    if port == 0:
        shown = parts.netloc.rpartition(":")[2]
        raise InvalidURL(
            f"{_quoted(typed)} is not a valid address (bad port {shown!r}): "
            "a port is a number from 1 to 65535, e.g. localhost:8000"
        )
    netloc = host
    userinfo = parts.netloc.rpartition("@")[0] if "@" in parts.netloc else ""
    if userinfo:
        netloc = f"{userinfo}@{host}"
    if port is not None and port != {"http": 80, "https": 443}[scheme]:
        netloc += f":{port}"
    url = f"{scheme}://{netloc}{urllib.parse.quote(parts.path or '/', safe=_PATH_SAFE)}"
    if parts.query or rest.endswith("?") or "?#" in rest:
        url += "?" + urllib.parse.quote(parts.query, safe=_QUERY_SAFE)
    if parts.fragment or rest.endswith("#"):
        url += "#" + urllib.parse.quote(parts.fragment, safe=_FRAGMENT_SAFE)
    return url


def _normalize_host(parts: urllib.parse.SplitResult, typed: str) -> str:
    hostinfo = parts.netloc.rpartition("@")[2]
    if hostinfo.startswith("["):
        literal = hostinfo[1:].partition("]")[0]
        try:
            return f"[{ipaddress.IPv6Address(literal).compressed}]"
        except ValueError:
            raise InvalidURL(
                f"{_quoted(typed)} is not a valid address ({literal!r} is not an IPv6 address): "
                "check the address"
            ) from None
    host = (parts.hostname or "").rstrip(".") if parts.hostname != "." else ""
    if not host:
        raise InvalidURL(
            f"{_quoted(typed)} has no host name: type an address such as http://example.com/"
        )
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            raise InvalidURL(
                f"{_quoted(typed)} is not a valid address ({host!r} is not a valid host name): "
                "check the spelling"
            ) from None
    if not _HOST_LABELS_RE.fullmatch(host):
        reason = "spaces in the host name" if " " in host else f"{host!r} is not a valid host name"
        raise InvalidURL(f"{_quoted(typed)} is not a valid address ({reason}): check the spelling")
    return host


def _normalize_file(rest: str, typed: str) -> str:
    if rest.startswith("//"):
        host, slash, path = rest[2:].partition("/")
        if host.lower() not in ("", "localhost"):
            raise InvalidURL(
                f"{_quoted(typed)} names a file on another computer ({host}): "
                "only local files can be opened, e.g. file:///tmp/page.html"
            )
        rest = slash + path
    path, suffix = re.fullmatch(r"([^?#]*)(.*)", rest, re.DOTALL).groups()
    if not path.startswith("/"):
        raise InvalidURL(f"{_quoted(typed)} is not an absolute file path: use e.g. file:///tmp/page.html")
    return "file://" + urllib.parse.quote(path, safe=_PATH_SAFE) + suffix


def _article(word: str) -> str:
    return "an" if word[:1] in ("a", "e", "i", "o", "u") else "a"


def _quoted(typed: str) -> str:
    return repr(_shown(typed))


def _scheme(url: str) -> str:
    return url.partition(":")[0].lower()


def _host_port(url: str) -> str:
    """``host`` or ``host:port`` as the user would recognise it, for messages."""
    try:
        parts = urllib.parse.urlsplit(url)
        return parts.netloc.rpartition("@")[2] or url
    except ValueError:
        return url


# --------------------------------------------------------------------------
# The loader
# --------------------------------------------------------------------------


class Loader:
    """Fetch documents for the broker, with the browser's navigation policy.

    Every http(s) exchange goes through the network process (``network``, a
    :class:`~broker.network_host.NetworkHost`), which never follows a
    redirect: each hop comes back here, is checked (nothing but http and
    https) and counted.  The network process decodes bodies under the size
    cap across every content-coding layer; cookies are ``cookies``'s.
    """

    def __init__(
        self,
        *,
        timeout: float = 15.0,
        max_bytes: int = MAX_DOCUMENT_BYTES,
        max_redirects: int = 10,
        about_pages: Callable[[str], str | None] | None = None,
        deadline: float | None = None,
        network: NetworkHost | None = None,
        cookies: CookieStore | None = None,
    ) -> None:
        """``timeout`` bounds each network step (connect, each read);
        ``deadline`` (default twice ``timeout``) bounds a whole http load.
        ``network`` carries every http(s) exchange (default: a sandboxed
        network process of this loader's own, started on the first one);
        ``cookies`` is the profile's cookie store (default: in memory)."""
        self.timeout = timeout
        self.deadline = deadline if deadline is not None else 2 * timeout
        self.max_bytes = max_bytes
        self.max_redirects = max_redirects
        self.about_pages = about_pages
        self._owns_network = network is None
        self.network = network if network is not None else NetworkHost()
        self.cookies = cookies if cookies is not None else CookieStore(None)

    async def aclose(self) -> None:
        if self._owns_network:
            await self.network.stop()

    async def __aenter__(self) -> Loader:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def load(
        self,
        url: str,
        *,
        initiator: str | None = None,
        method: str = "GET",
        form_body: str = "",
    ) -> Response:
        """Fetch ``url``.

        ``initiator`` is None when the user typed the URL (or passed it on the
        command line), else the URL of the page that asked (a followed link, a
        submitted form).  ``form_body`` is sent, url-encoded, with a POST.
        """
        method = method.upper()
        if method not in ("GET", "POST"):
            raise ValueError(f"unsupported method {method!r}")
        started = time.perf_counter()
        target = normalize_url(url)
        scheme = _scheme(target)
        self._check_navigation(target, scheme, initiator)

        if scheme in ("http", "https"):
            final_url, status, content_type, charset, body = await self._load_http(
                target, initiator=initiator, method=method, form_body=form_body
            )
        elif scheme == "file":
            final_url, content_type, charset, body = await asyncio.to_thread(self._load_file, target)
            status = 200
        elif scheme == "data":
            final_url, status = target, 200
            content_type, charset, body = self._load_data(target)
        elif scheme == "about":
            final_url, status, charset = target, 200, "utf-8"
            content_type, body = "text/html", self._load_about(target)
        else:
            raise UnsupportedScheme(
                f"cannot open {_shown(target)} ({scheme}: URLs are not supported): "
                "open an http, https, file, data or about URL instead",
                url=target,
            )
        content_type, kind = classify(content_type, body)
        return Response(
            url=target,
            final_url=final_url,
            status=status,
            content_type=content_type,
            charset=charset,
            body=body,
            kind=kind,
            fetch_ms=(time.perf_counter() - started) * 1000,
        )

    # -- policy ------------------------------------------------------------

    def _check_navigation(self, target: str, scheme: str, initiator: str | None) -> None:
        """Refuse what a page may not open.  The user (initiator None) may open anything."""
        if initiator is None:
            return
        page = _shown(initiator)
        from_scheme = _scheme(initiator)
        if scheme == "file" and from_scheme != "file":
            raise NavigationRefused(
                f"the page at {page} tried to open a local file ({_shown(target)}): "
                "only a URL you type can open local files",
                url=target,
            )
        if scheme == "about":
            name = _about_name(target)
            if name == "about:blank":
                return
            if name in DEBUG_PAGES or from_scheme != "about":
                raise NavigationRefused(
                    f"the page at {page} tried to open {_shown(target)}: "
                    "about: pages open only when you type them",
                    url=target,
                )

    # -- http(s) -----------------------------------------------------------

    async def _load_http(
        self, url: str, *, initiator: str | None, method: str, form_body: str
    ) -> tuple[str, int, str, str | None, bytes]:
        try:
            async with asyncio.timeout(self.deadline):
                return await self._follow_redirects(url, initiator, method, form_body)
        except TimeoutError:
            raise LoadTimeout(
                f"loading {_shown(url)} took longer than {self.deadline:g} s: "
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
                    f"the network process ended while loading {_shown(current)} ({lost}): try again",
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
            content_type, charset = _parse_content_type(_header_text(reply.header("content-type") or ""))
            return current, reply.status, content_type, charset, reply.body

    def _redirect_target(self, current: str, locations: list[str]) -> str:
        """Where a redirect from ``current`` leads, checked as a page's navigation would be.

        The target is never quoted back: only its scheme, which
        :func:`normalize_url` has reduced to URL-scheme characters.
        """
        if len({location.strip() for location in locations}) > 1:
            raise InvalidResponse(
                f"the server at {_shown(current)} sent a redirect with several different "
                "addresses: the site is broken; try again later",
                url=current,
            )
        try:
            target = normalize_url(urllib.parse.urljoin(current, locations[0].strip()))
        except (ValueError, InvalidURL):
            raise InvalidResponse(
                f"the server at {_shown(current)} redirected to a malformed address: "
                "the site is broken; try again later",
                url=current,
            ) from None
        if (scheme := _scheme(target)) not in ("http", "https"):
            raise NavigationRefused(
                f"the server at {_shown(current)} redirected to {_article(scheme)} {scheme}: address, "
                "which a web page may not open: the redirect was refused",
                url=current,
            )
        return target

    # -- file: -------------------------------------------------------------

    def _load_file(self, url: str) -> tuple[str, str, str | None, bytes]:
        """Runs in a worker thread: returns (final_url, content_type, charset, body)."""
        path = os.fsdecode(urllib.parse.unquote_to_bytes(urllib.parse.urlsplit(url).path))
        if "\x00" in path:
            raise FileNotReadable(f"no such file: {path}: check the path", url=url)
        try:
            info = os.stat(path)
            if stat.S_ISDIR(info.st_mode):
                final_url = url if url.endswith("/") else url + "/"
                return final_url, "text/html", "utf-8", self._directory_listing(path)
            if not stat.S_ISREG(info.st_mode):
                raise FileNotReadable(
                    f"cannot open {path}: it is not a regular file (a device, pipe or socket)",
                    url=url,
                )
            if info.st_size > self.max_bytes:
                raise _too_large(url, self.max_bytes, info.st_size)
            # O_NONBLOCK: a FIFO swapped in after the stat must not hang the broker.
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
            with os.fdopen(fd, "rb") as file:
                if not stat.S_ISREG(os.fstat(file.fileno()).st_mode):
                    raise FileNotReadable(f"cannot open {path}: it is not a regular file", url=url)
                body = file.read(self.max_bytes + 1)
        except OSError as exc:
            raise _file_error(exc, path, url) from None
        if len(body) > self.max_bytes:
            raise _too_large(url, self.max_bytes)
        mime, encoding = mimetypes.guess_type(path, strict=False)
        if encoding is not None:  # .gz, .bz2...: compressed bytes whatever is inside
            return url, "application/octet-stream", None, body
        return url, (mime or "").lower(), None, body

    def _directory_listing(self, path: str) -> bytes:
        """HTML written by the broker (never parsed by it): one link per entry."""
        entries = []
        with os.scandir(path) as scan:
            for entry in scan:
                entries.append(entry)
                if len(entries) > _MAX_LISTING_ENTRIES:
                    break
        entries.sort(key=lambda e: (not _is_dir(e), e.name.lower(), e.name))
        title = html.escape(f"Index of {os.fsencode(path).decode('utf-8', 'replace')}")
        lines = [
            "<!DOCTYPE html>",
            '<html><head><meta charset="utf-8">',
            f"<title>{title}</title></head><body>",
            f"<h1>{title}</h1>",
            "<ul>",
        ]
        if path != "/":
            lines.append('<li><a href="../">../</a> (parent directory)</li>')
        for entry in entries[:_MAX_LISTING_ENTRIES]:
            name = entry.name + ("/" if _is_dir(entry) else "")
            raw = os.fsencode(name)  # names need not be UTF-8
            href = urllib.parse.quote(raw, safe="/")
            shown = raw.decode("utf-8", "replace")
            lines.append(f'<li><a href="{html.escape(href)}">{html.escape(shown)}</a></li>')
        lines.append("</ul>")
        if len(entries) > _MAX_LISTING_ENTRIES:
            lines.append(f"<p>Only the first {_MAX_LISTING_ENTRIES} entries are listed.</p>")
        lines.append("</body></html>")
        return "\n".join(lines).encode("utf-8")

    # -- data: and about: --------------------------------------------------

    def _load_data(self, url: str) -> tuple[str, str | None, bytes]:
        """RFC 2397: ``data:[<mediatype>][;base64],<data>``."""
        if len(url) > 2 * self.max_bytes:  # percent-encoding can triple; base64 is 4/3
            raise _too_large(_shown(url), self.max_bytes)
        header, comma, payload = url[len("data:") :].partition(",")
        if not comma:
            raise BadDataURL(
                f"{_shown(url)} is not a valid data: URL (no comma before the data): "
                "write it as data:text/plain,hello or data:text/html;base64,...",
                url=url,
            )
        payload = payload.partition("#")[0]
        params = [p.strip() for p in header.split(";")]
        is_base64 = len(params) > 1 and params[-1].lower() == "base64"
        if is_base64:
            params.pop()
        mime = urllib.parse.unquote(params[0]).strip().lower()
        if mime and not re.fullmatch(r"[a-z0-9!#$&^_.+\-]+/[a-z0-9!#$&^_.+\-]+", mime):
            raise BadDataURL(
                f"{_shown(url)} is not a valid data: URL ({mime!r} is not a media type): "
                "use e.g. data:text/html,<p>hello",
                url=url,
            )
        charset = None
        for param in params[1:]:
            name, _, value = param.partition("=")
            if name.strip().lower() == "charset":
                charset = urllib.parse.unquote(value).strip().strip("\"'").lower() or None
        if not mime:
            mime = "text/plain"
            charset = charset or "us-ascii"
        raw = urllib.parse.unquote_to_bytes(payload)
        body = _forgiving_base64(raw, url) if is_base64 else raw
        if len(body) > self.max_bytes:
            raise _too_large(_shown(url), self.max_bytes)
        return mime, charset, body

    def _load_about(self, url: str) -> bytes:
        name = _about_name(url)
        page = self.about_pages(name) if self.about_pages is not None else None
        if page is None and name == "about:blank":
            page = ""
        if page is None:
            raise InvalidURL(f"there is no page {_shown(name)} in this browser: try about:welcome", url=url)
        return page.encode("utf-8")


# --------------------------------------------------------------------------
# Helpers: error mapping in one place
# --------------------------------------------------------------------------


def _too_many_redirects(url: str, visited: list[str], next_url: str, limit: int) -> TooManyRedirects:
    if next_url in visited:
        return TooManyRedirects(
            f"{_shown(url)} redirects in a loop: "
            "the site is misconfigured; try again later",
            url=url,
        )
    return TooManyRedirects(
        f"{_shown(url)} redirected more than {limit} times: "
        "the site is misconfigured; try again later",
        url=url,
    )


def _too_large(url: str, limit: int, size: int | None = None) -> TooLarge:
    limit_shown = f"{limit / 1048576:.3g} MiB" if limit >= 1048576 else f"{limit} bytes"
    what = (
        f"{size / 1048576:.1f} MiB; the limit is {limit_shown}"
        if size is not None
        else f"more than the {limit_shown} limit"
    )
    return TooLarge(
        f"{_shown(url)} is too large to show ({what}): "
        "download it with another tool",
        url=url,
    )


def _file_error(exc: OSError, path: str, url: str) -> FileNotReadable:
    if exc.errno in (errno.ENOENT, errno.ENOTDIR):
        return FileNotReadable(f"no such file: {path}: check the path", url=url)
    if exc.errno in (errno.EACCES, errno.EPERM):
        return FileNotReadable(
            f"permission denied reading {path}: check the file's permissions", url=url
        )
    reason = (exc.strerror or str(exc)).lower()
    return FileNotReadable(f"cannot read {path} ({reason}): check the path", url=url)


def _forgiving_base64(data: bytes, url: str) -> bytes:
    """Decode base64 the way browsers do: whitespace ignored, padding optional."""
    data = re.sub(rb"[\t\n\f\r ]", b"", data)
    if len(data) % 4 == 0:
        data = data.removesuffix(b"=").removesuffix(b"=")
    if len(data) % 4 == 1 or not re.fullmatch(rb"[A-Za-z0-9+/]*", data):
        raise BadDataURL(
            f"{_shown(url)} is not a valid data: URL (the base64 data is malformed): "
            "check that it was copied whole",
            url=url,
        )
    try:
        return base64.b64decode(data + b"=" * (-len(data) % 4), validate=True)
    except binascii.Error:
        raise BadDataURL(
            f"{_shown(url)} is not a valid data: URL (the base64 data is malformed): "
            "check that it was copied whole",
            url=url,
        ) from None


def _about_name(url: str) -> str:
    """``about:welcome#top`` -> ``about:welcome``."""
    return re.split(r"[?#]", url, maxsplit=1)[0]


def _is_dir(entry: os.DirEntry) -> bool:
    try:
        return entry.is_dir()
    except OSError:
        return False


def _referer(initiator: str | None, target: str) -> str | None:
    """The Referer to send, as ``strict-origin-when-cross-origin`` would."""
    if initiator is None or _scheme(initiator) not in ("http", "https"):
        return None
    if _scheme(initiator) == "https" and _scheme(target) == "http":
        return None
    source = urllib.parse.urlsplit(initiator)
    dest = urllib.parse.urlsplit(target)
    origin = f"{source.scheme}://{source.netloc.rpartition('@')[2]}"
    if (source.scheme, source.netloc) == (dest.scheme, dest.netloc):
        return urllib.parse.urlunsplit(source._replace(netloc=origin.partition("//")[2], fragment=""))
    return origin + "/"


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
    where = _host_port(url)
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
            return _too_large(url, max_bytes, failed.size)
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
            return InvalidURL(f"{_shown(url)} is not a valid address: check it", url=url)
    return NetworkError(f"the connection to {where} failed ({detail or 'the load was dropped'}): try again; "
                        "if it keeps failing the site may be down", url=url)
