"""What kind of document a body is: the Content-Type header read as data,
and MIME sniffing on a byte prefix (never HTML parsing)."""

from __future__ import annotations

import re

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


def parse_content_type(value: str) -> tuple[str, str | None]:
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
