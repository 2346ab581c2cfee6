"""URL normalisation: what a person typed, as an absolute URL."""

from __future__ import annotations

import ipaddress
import os
import re
import urllib.parse

from broker.loader._errors import InvalidURL
from broker.urls import shown

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


def _quoted(typed: str) -> str:
    return repr(shown(typed))
