"""network/decoding.py: content codings decoded in bounded steps under one budget."""

from __future__ import annotations

import random
import zlib

import pytest

from network.decoding import (
    MAX_LAYERS,
    STEP_BYTES,
    ContentDecoder,
    CorruptData,
    Encoding,
    OverBudget,
    TruncatedData,
    UnsupportedEncoding,
    parse_content_encoding,
)

PAGE = b"<!DOCTYPE html><title>Page</title>" + b"<p>A paragraph of an ordinary page.</p>\n" * 500


def compress(data: bytes, wbits: int) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, wbits)
    return compressor.compress(data) + compressor.flush()


def gzip(data: bytes) -> bytes:
    return compress(data, 16 + zlib.MAX_WBITS)


def decode(header: list[str], body: bytes, *, budget: int = 10**9, piece: int | None = None) -> bytes:
    """Decode ``body`` fed in ``piece``-byte chunks (all at once by default)."""
    decoder = ContentDecoder(parse_content_encoding(header), budget=budget)
    piece = piece or max(len(body), 1)
    out = []
    for start in range(0, len(body), piece):
        out.extend(decoder.feed(body[start : start + piece]))
    decoder.finish()
    return b"".join(out)


@pytest.mark.parametrize(
    "header, body",
    [
        (["gzip"], gzip(PAGE)),
        (["x-gzip"], gzip(PAGE)),
        (["deflate"], compress(PAGE, zlib.MAX_WBITS)),  # zlib format, as HTTP means it
        (["deflate"], compress(PAGE, -zlib.MAX_WBITS)),  # raw deflate, as some servers send
        (["deflate", "gzip"], gzip(compress(PAGE, zlib.MAX_WBITS))),
        (["identity"], PAGE),
        ([], PAGE),
        ([" GZIP ", "identity"], gzip(PAGE)),
    ],
    ids=["gzip", "x-gzip", "zlib", "raw-deflate", "stacked", "identity", "none", "spaced"],
)
@pytest.mark.parametrize("piece", [None, 1, 7], ids=["whole", "bytewise", "7-bytes"])
def test_codings_decode_to_the_page(header, body, piece):
    assert decode(header, body, piece=piece) == PAGE


def test_a_bomb_stops_at_the_budget_holding_at_most_one_step_more():
    bomb = gzip(bytes(64 * 1024 * 1024))  # 64 MiB of zeros, 64 KiB on the wire
    budget = 1024 * 1024
    decoder = ContentDecoder([Encoding.GZIP], budget=budget)
    held = 0
    with pytest.raises(OverBudget):
        for piece in decoder.feed(bomb):
            assert len(piece) <= STEP_BYTES
            held += len(piece)
    assert held <= budget
    assert budget < decoder.produced <= budget + STEP_BYTES


def test_a_double_bomb_stops_at_the_budget_too():
    bomb = gzip(gzip(bytes(256 * 1024 * 1024)))  # a few kilobytes on the wire
    decoder = ContentDecoder([Encoding.GZIP, Encoding.GZIP], budget=1024 * 1024)
    with pytest.raises(OverBudget):
        for _ in decoder.feed(bomb):
            pass
    assert decoder.produced <= 1024 * 1024 + STEP_BYTES


def test_every_layer_counts_against_the_budget():
    """700 incompressible bytes fit a 1000-byte budget once compressed, not
    twice: the inner layer's ~720 bytes count as well."""
    text = random.Random(8).randbytes(700)
    assert decode(["gzip"], gzip(text), budget=1000) == text
    with pytest.raises(OverBudget):
        decode(["gzip", "gzip"], gzip(gzip(text)), budget=1000)


def test_without_coding_the_wire_bytes_count():
    assert decode([], b"x" * 1000, budget=1000) == b"x" * 1000
    with pytest.raises(OverBudget):
        decode([], b"x" * 1001, budget=1000)


@pytest.mark.parametrize(
    "header, name",
    [(["br"], "br"), (["zstd"], "zstd"), (["gzip", "x-mystery"], "x-mystery"), (["\x1b[2J"], None),
     (["\xff\xfezip"], None), (["a" * 33], None)],
)
def test_codings_not_decoded_are_named_only_when_plain(header, name):
    with pytest.raises(UnsupportedEncoding) as caught:
        parse_content_encoding(header)
    assert caught.value.name == name
    assert not caught.value.too_many


def test_more_layers_than_allowed_are_refused():
    assert len(parse_content_encoding(["gzip"] * MAX_LAYERS)) == MAX_LAYERS
    with pytest.raises(UnsupportedEncoding) as caught:
        parse_content_encoding(["gzip"] * (MAX_LAYERS + 1))
    assert caught.value.too_many and caught.value.name is None


@pytest.mark.parametrize(
    "header, body",
    [(["gzip"], PAGE), (["deflate"], b"\x78\x9c" + b"\xff" * 40), (["gzip", "gzip"], gzip(PAGE))],
    ids=["not-gzip", "bad-zlib", "inner-not-gzip"],
)
def test_corrupt_data_is_refused(header, body):
    with pytest.raises(CorruptData) as caught:
        decode(header, body)
    assert not isinstance(caught.value, TruncatedData)


def test_truncated_data_is_refused():
    body = gzip(PAGE)
    with pytest.raises(TruncatedData) as caught:
        decode(["gzip"], body[: len(body) // 2])
    assert caught.value.encoding is Encoding.GZIP


def test_bytes_after_the_end_of_a_gzip_member_are_ignored():
    assert decode(["gzip"], gzip(PAGE) + b"trailing junk") == PAGE
