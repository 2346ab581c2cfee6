"""data: URLs (RFC 2397), decoded the way browsers do."""

from __future__ import annotations

import base64
import binascii
import re
import urllib.parse

from broker.loader._errors import BadDataURL, too_large
from broker.urls import shown


def load_data(url: str, max_bytes: int) -> tuple[str, str | None, bytes]:
    """RFC 2397: ``data:[<mediatype>][;base64],<data>``."""
    if len(url) > 2 * max_bytes:  # percent-encoding can triple; base64 is 4/3
        raise too_large(shown(url), max_bytes)
    header, comma, payload = url[len("data:") :].partition(",")
    if not comma:
        raise BadDataURL(
            f"{shown(url)} is not a valid data: URL (no comma before the data): "
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
            f"{shown(url)} is not a valid data: URL ({mime!r} is not a media type): "
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
    if len(body) > max_bytes:
        raise too_large(shown(url), max_bytes)
    return mime, charset, body


def _forgiving_base64(data: bytes, url: str) -> bytes:
    """Decode base64 the way browsers do: whitespace ignored, padding optional."""
    data = re.sub(rb"[\t\n\f\r ]", b"", data)
    if len(data) % 4 == 0:
        data = data.removesuffix(b"=").removesuffix(b"=")
    if len(data) % 4 == 1 or not re.fullmatch(rb"[A-Za-z0-9+/]*", data):
        raise BadDataURL(
            f"{shown(url)} is not a valid data: URL (the base64 data is malformed): "
            "check that it was copied whole",
            url=url,
        )
    try:
        return base64.b64decode(data + b"=" * (-len(data) % 4), validate=True)
    except binascii.Error:
        raise BadDataURL(
            f"{shown(url)} is not a valid data: URL (the base64 data is malformed): "
            "check that it was copied whole",
            url=url,
        ) from None
