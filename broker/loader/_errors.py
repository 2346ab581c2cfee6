"""The loader's errors: one class per kind of failure (the tree is drawn in
``broker/loader/__init__.py``), each ``str()`` one line for a person."""

from __future__ import annotations

from broker.urls import shown

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


def too_large(url: str, limit: int, size: int | None = None) -> TooLarge:
    """The error for a body (or file, or data: URL) over ``limit`` bytes."""
    limit_shown = f"{limit / 1048576:.3g} MiB" if limit >= 1048576 else f"{limit} bytes"
    what = (
        f"{size / 1048576:.1f} MiB; the limit is {limit_shown}"
        if size is not None
        else f"more than the {limit_shown} limit"
    )
    return TooLarge(
        f"{shown(url)} is too large to show ({what}): "
        "download it with another tool",
        url=url,
    )
