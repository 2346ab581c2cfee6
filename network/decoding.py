"""Content-Encoding decoding for the network process, bounded in memory and in output.

A response may stack encodings (``Content-Encoding: gzip, gzip``), and each
layer can inflate a thousandfold: 3 KB on the wire can become 2 GB.
:class:`ContentDecoder` decodes every layer incrementally, never asks zlib for
more than :data:`STEP_BYTES` at a time, and counts the output of *every*
layer against one budget.  The moment the total passes the budget it raises
:class:`OverBudget`, having held at most the budget plus one step, so a bomb
costs the network process no more memory than a document at the size cap
(and the broker nothing: it only ever sees decoded bytes, up to the cap).

Counting every layer, not just the last, is deliberate: the intermediate
layers of a bomb are bombs too.  A legitimate page is rarely compressed
twice, and when it is, its inner layer is smaller than the page.

No server text reaches an exception message here: an encoding name is kept
only if it is a plain token, so the broker can quote it to the user.
"""

from __future__ import annotations

import enum
import re
import zlib
from collections.abc import Iterable, Iterator

__all__ = [
    "ACCEPT_ENCODING",
    "ContentDecoder",
    "CorruptData",
    "DecodingError",
    "Encoding",
    "MAX_LAYERS",
    "OverBudget",
    "STEP_BYTES",
    "TruncatedData",
    "UnsupportedEncoding",
    "parse_content_encoding",
]

#: The most output one zlib call may produce.
STEP_BYTES = 64 * 1024
#: The most encodings a response may stack; real servers use one.
MAX_LAYERS = 4
#: Offered in ``Accept-Encoding``: exactly what this module decodes.
ACCEPT_ENCODING = "gzip, deflate"


class Encoding(enum.Enum):
    """A content coding this browser decodes."""

    IDENTITY = "identity"
    GZIP = "gzip"
    DEFLATE = "deflate"


_BY_NAME = {
    "identity": Encoding.IDENTITY,
    "gzip": Encoding.GZIP,
    "x-gzip": Encoding.GZIP,  # RFC 9110 asks recipients to treat it as gzip
    "deflate": Encoding.DEFLATE,
}
_TOKEN_RE = re.compile(r"[a-z0-9!#$%&'*+.^_`|~\-]{1,32}")


class DecodingError(Exception):
    """The body cannot be decoded; subclasses say why."""


class UnsupportedEncoding(DecodingError):
    """A content coding this browser does not decode (``br``, ``zstd``, a made-up name).

    ``name`` is the coding as the server wrote it when that is a plain token,
    else None (never quote server bytes that could be anything).
    """

    def __init__(self, name: str | None, *, too_many: bool = False) -> None:
        super().__init__(name or "unrecognised")
        self.name = name
        self.too_many = too_many


class CorruptData(DecodingError):
    """The bytes are not valid data in the coding the server declared."""

    def __init__(self, encoding: Encoding) -> None:
        super().__init__(encoding.value)
        self.encoding = encoding


class TruncatedData(CorruptData):
    """The compressed data stopped before its end marker."""


class OverBudget(DecodingError):
    """The layers together produced more than the budget."""


def parse_content_encoding(values: Iterable[str]) -> list[Encoding]:
    """The codings of a ``Content-Encoding`` header, in the order they were applied.

    ``values`` are the header's comma-separated items; ``identity`` is
    dropped.  Raises :class:`UnsupportedEncoding` for a coding this module
    does not decode, or for more than :data:`MAX_LAYERS` layers.
    """
    encodings = []
    for value in values:
        name = value.strip().lower()
        if not name:
            continue
        encoding = _BY_NAME.get(name)
        if encoding is None:
            raise UnsupportedEncoding(name if _TOKEN_RE.fullmatch(name) else None)
        if encoding is not Encoding.IDENTITY:
            encodings.append(encoding)
    if len(encodings) > MAX_LAYERS:
        raise UnsupportedEncoding(None, too_many=True)
    return encodings


class _ZlibLayer:
    """One gzip or deflate layer, decoded at most :data:`STEP_BYTES` per call.

    ``deflate`` in HTTP means the zlib format, but some servers send raw
    deflate; the first two bytes tell them apart (a zlib header is a
    multiple of 31 with compression method 8), as browsers do.  Data after
    the end of the first gzip member is ignored, as in Chromium and httpx.
    """

    def __init__(self, encoding: Encoding) -> None:
        self.encoding = encoding
        self._inflater: zlib._Decompress | None = None
        self._head = b""  # deflate only: bytes held until the format is known
        self._ended = False
        if encoding is Encoding.GZIP:
            self._inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)

    def feed(self, data: bytes) -> Iterator[bytes]:
        if self._ended or not data:
            return
        if self._inflater is None:
            self._head += data
            if len(self._head) < 2:
                return
            first, second = self._head[0], self._head[1]
            is_zlib = first & 0x0F == 8 and (first * 256 + second) % 31 == 0
            self._inflater = zlib.decompressobj(zlib.MAX_WBITS if is_zlib else -zlib.MAX_WBITS)
            data, self._head = self._head, b""
        pending = data
        while True:
            try:
                out = self._inflater.decompress(pending, STEP_BYTES)
            except zlib.error:
                raise CorruptData(self.encoding) from None
            self._ended = self._inflater.eof
            if out:
                yield out
            if self._ended:
                return
            pending = self._inflater.unconsumed_tail
            if not pending and len(out) < STEP_BYTES:
                return

    def finish(self) -> None:
        if not self._ended:
            raise TruncatedData(self.encoding)


class ContentDecoder:
    """Decode a body through its content codings with one output budget.

    Feed wire bytes to :meth:`feed` as they arrive and collect what it
    yields; call :meth:`finish` at the end of the body.  Without codings the
    wire bytes themselves count against the budget.
    """

    def __init__(self, encodings: list[Encoding], *, budget: int) -> None:
        # Decode in the reverse of the order the codings were applied.
        self._layers = [_ZlibLayer(encoding) for encoding in reversed(encodings)]
        self._budget = budget
        self.produced = 0  # bytes out of every layer so far

    def feed(self, data: bytes) -> Iterator[bytes]:
        """The decoded bytes ``data`` gives, in pieces; raises :class:`OverBudget`."""
        yield from self._through(0, data)

    def finish(self) -> None:
        """Raise :class:`TruncatedData` if a layer has not reached its end."""
        for layer in self._layers:
            layer.finish()

    def _through(self, index: int, data: bytes) -> Iterator[bytes]:
        if index == len(self._layers):
            if not self._layers:
                self._spend(len(data))
            yield data
            return
        for piece in self._layers[index].feed(data):
            self._spend(len(piece))
            yield from self._through(index + 1, piece)

    def _spend(self, size: int) -> None:
        self.produced += size
        if self.produced > self._budget:
            raise OverBudget(f"more than {self._budget} bytes")
