"""What a load returns."""

from __future__ import annotations

from dataclasses import dataclass


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
