"""Sites: the unit a renderer process is locked to.

A site is a URL's scheme plus its registrable domain ("eTLD+1"), as in
Chromium's ``docs/process_model_and_site_isolation.md``: ``https://a.example.co.uk/x``
and ``https://b.example.co.uk/`` are the same site, ``https://example.co.uk``
and ``http://example.co.uk`` are not.  The registrable domain comes from the
Public Suffix List bundled with the maintained ``publicsuffixlist`` package
(no network).  The port does not count.  Special cases, as Chromium treats
them:

* an IP address, ``localhost`` or a host that is itself a public suffix (or
  has no registrable part) is its own site;
* every ``file:`` URL is one site, ``file://``;
* ``about:`` and ``data:`` documents have an opaque origin and no site:
  :func:`site_of` returns None, and such a document gets an unlocked
  renderer (a process that is not locked to a site).

The broker computes sites only from URLs it committed itself (the final URL
of a response it fetched), never from a URL a renderer reports.
"""

from __future__ import annotations

import functools
import ipaddress
import urllib.parse

from publicsuffixlist import PublicSuffixList

_SUFFIXES = PublicSuffixList()  # the bundled list: works offline

#: The one site every ``file:`` URL belongs to.
FILE_SITE = "file://"
#: Schemes whose documents have opaque origins: no site, an unlocked renderer.
OPAQUE_SCHEMES = frozenset({"about", "data", "javascript", "blob"})


@functools.lru_cache(maxsize=4096)
def site_of(url: str) -> str | None:
    """The site of ``url`` (``"https://example.co.uk"``), or None for a
    document with an opaque origin (``about:``, ``data:``) or a URL that
    names no host."""
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme in OPAQUE_SCHEMES or not scheme:
        return None
    if scheme == "file":
        return FILE_SITE
    try:
        host = (parts.hostname or "").rstrip(".").lower()
    except ValueError:
        return None
    if not host:
        return None
    return f"{scheme}://{registrable_domain(host)}"


def registrable_domain(host: str) -> str:
    """``host``'s registrable domain (eTLD+1); an IP address, ``localhost``,
    or a host with no registrable part is its own."""
    if _is_ip_address(host) or host == "localhost" or host.endswith(".localhost"):
        return host
    return _SUFFIXES.privatesuffix(host) or host


def _is_ip_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def describe(site: str | None) -> str:
    """A site as the task manager and the process tree show it."""
    return site if site is not None else "(unlocked)"
