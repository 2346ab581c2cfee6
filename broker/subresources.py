"""Subresources a document asks for: today, its linked style sheets.

The renderer names the sheets it found (``protocol.SheetsWanted``); those
URLs are claims.  The broker judges each against the page *it* committed
(:func:`sheet_refusal`), fetches the allowed ones with the same loader,
rules and caps as a navigation the page started, and hands the bytes back
(``protocol.LoadSheets``).  It never parses them: CSS is page content, and
only a renderer reads it.

Rules, beyond those of any navigation a page starts (an ``http(s):`` page
never reaches ``file:``, ``about:`` pages only when typed):

* a ``file:`` page may load a ``file:`` sheet whose name ends in ``.css``
  from its own tree: its directory or below, or below the directory above
  it (``../_static/x.css``, as Sphinx builds link them);
* a sheet larger than ``protocol.MAX_SHEET_BYTES`` is not used;
* an ``http(s):`` sheet must be served as ``text/css`` (or with no type),
  as browsers require of style sheets.
"""

from __future__ import annotations

import asyncio
import logging
import os.path
import urllib.parse

from renderer import protocol

log = logging.getLogger(__name__)

#: How many directories above a ``file:`` page's own its sheets may come from.
FILE_SHEET_LEVELS_UP = 1


def _file_path(url: str) -> str | None:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "file" or parts.netloc not in ("", "localhost"):
        return None
    return os.path.normpath(urllib.parse.unquote(parts.path))


def sheet_refusal(page_url: str, sheet_url: str) -> str | None:
    """Why the page committed as ``page_url`` may not load ``sheet_url`` as a
    style sheet (None: it may, as far as the scheme rules go; the loader
    applies the navigation rules on top)."""
    scheme = urllib.parse.urlsplit(sheet_url).scheme.lower()
    page_scheme = urllib.parse.urlsplit(page_url).scheme.lower()
    if scheme in ("http", "https", "data"):
        return None
    if scheme != "file":
        return f"{scheme}: style sheets are not loaded"
    if page_scheme != "file":
        return "only a file: page may load a file: style sheet"
    page_path, sheet_path = _file_path(page_url), _file_path(sheet_url)
    if page_path is None or sheet_path is None:
        return "not a local file URL"
    if not sheet_path.endswith(".css"):
        return "a local style sheet's name must end in .css"
    root = os.path.dirname(page_path)
    for _ in range(FILE_SHEET_LEVELS_UP):
        root = os.path.dirname(root)
    if os.path.commonpath([root, sheet_path]) != root:
        return "a local style sheet must be in the page's own directory tree"
    return None


async def fetch_sheets(loader, page_url: str, urls: list[str]) -> list[protocol.StyleSheet]:
    """The sheets of ``urls`` that the page at ``page_url`` may have and that
    could be fetched, in order; the others are left out (and logged)."""

    async def one(url: str) -> protocol.StyleSheet | None:
        refusal = sheet_refusal(page_url, url)
        if refusal is not None:
            log.info("style sheet %s of %s not loaded: %s", url, page_url, refusal)
            return None
        try:
            response = await loader.load(url, initiator=page_url)
        except Exception as error:  # noqa: BLE001 - a failed sheet is left out, whatever went wrong
            log.info("style sheet %s of %s not loaded: %s", url, page_url, error)
            return None
        if getattr(response, "status", 200) >= 400:
            return None
        if urllib.parse.urlsplit(response.final_url).scheme == "file" and sheet_refusal(page_url, response.final_url):
            return None
        if urllib.parse.urlsplit(url).scheme in ("http", "https") and response.content_type not in ("text/css", ""):
            log.info("style sheet %s not loaded: served as %s", url, response.content_type)
            return None
        if len(response.body) > protocol.MAX_SHEET_BYTES:
            log.info("style sheet %s not loaded: %d bytes is over the cap", url, len(response.body))
            return None
        return protocol.StyleSheet(url=url, body=response.body)

    fetched = await asyncio.gather(*(one(url) for url in urls[: protocol.MAX_SHEETS]))
    return [sheet for sheet in fetched if sheet is not None]
