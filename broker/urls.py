"""Small helpers on URL text, shared by the loader and the navigation policy.

None of them parses a document or fetches anything: they pick a URL apart
just enough to name its scheme, quote it in a message, or name an about: page.
"""

from __future__ import annotations

import re
import urllib.parse


def scheme_of(url: str) -> str:
    """``'HTTP://x/'`` -> ``'http'``."""
    return url.partition(":")[0].lower()


def shown(url: str, limit: int = 120) -> str:
    """A URL short enough to quote in a message (data: URLs can be megabytes)."""
    return url if len(url) <= limit else url[: limit - 1] + "…"


def host_port(url: str) -> str:
    """``host`` or ``host:port`` as the user would recognise it, for messages."""
    try:
        parts = urllib.parse.urlsplit(url)
        return parts.netloc.rpartition("@")[2] or url
    except ValueError:
        return url


def about_name(url: str) -> str:
    """``about:welcome#top`` -> ``about:welcome``."""
    return re.split(r"[?#]", url, maxsplit=1)[0]
