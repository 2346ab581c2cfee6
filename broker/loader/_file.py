"""file: URLs: a local file's bytes, or a directory as an HTML listing."""

from __future__ import annotations

import errno
import html
import mimetypes
import os
import stat
import urllib.parse

from broker.loader._errors import FileNotReadable, too_large

_MAX_LISTING_ENTRIES = 5000


def load_file(url: str, max_bytes: int) -> tuple[str, str, str | None, bytes]:
    """``(final_url, content_type, charset, body)`` of a local file or directory.

    It blocks on the filesystem: run it in a worker thread."""
    path = os.fsdecode(urllib.parse.unquote_to_bytes(urllib.parse.urlsplit(url).path))
    if "\x00" in path:
        raise FileNotReadable(f"no such file: {path}: check the path", url=url)
    try:
        info = os.stat(path)
        if stat.S_ISDIR(info.st_mode):
            final_url = url if url.endswith("/") else url + "/"
            return final_url, "text/html", "utf-8", _directory_listing(path)
        if not stat.S_ISREG(info.st_mode):
            raise FileNotReadable(
                f"cannot open {path}: it is not a regular file (a device, pipe or socket)",
                url=url,
            )
        if info.st_size > max_bytes:
            raise too_large(url, max_bytes, info.st_size)
        # O_NONBLOCK: a FIFO swapped in after the stat must not hang the broker.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
        with os.fdopen(fd, "rb") as file:
            if not stat.S_ISREG(os.fstat(file.fileno()).st_mode):
                raise FileNotReadable(f"cannot open {path}: it is not a regular file", url=url)
            body = file.read(max_bytes + 1)
    except OSError as exc:
        raise _file_error(exc, path, url) from None
    if len(body) > max_bytes:
        raise too_large(url, max_bytes)
    mime, encoding = mimetypes.guess_type(path, strict=False)
    if encoding is not None:  # .gz, .bz2...: compressed bytes whatever is inside
        return url, "application/octet-stream", None, body
    return url, (mime or "").lower(), None, body

def _directory_listing(path: str) -> bytes:
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


def _file_error(exc: OSError, path: str, url: str) -> FileNotReadable:
    if exc.errno in (errno.ENOENT, errno.ENOTDIR):
        return FileNotReadable(f"no such file: {path}: check the path", url=url)
    if exc.errno in (errno.EACCES, errno.EPERM):
        return FileNotReadable(
            f"permission denied reading {path}: check the file's permissions", url=url
        )
    reason = (exc.strerror or str(exc)).lower()
    return FileNotReadable(f"cannot read {path} ({reason}): check the path", url=url)

def _is_dir(entry: os.DirEntry) -> bool:
    try:
        return entry.is_dir()
    except OSError:
        return False
