"""Failures of a fetch, from the network process's classification to the
broker's one line: typed on the way, never the text of an error (which can
quote a server), and never more than the protocol's few plain words."""

from __future__ import annotations

import socket
import ssl

import h11
import msgspec
import pytest

from broker.bad_message import BadMessage, classify_decode_failure
from broker.loader import LoadError, failure_error
from network import protocol
from network.http import connect_failure, protocol_problem, transfer_failure

URL = "http://127.0.0.1:8000/page"


def failures() -> list[protocol.Failed]:
    kinds = [protocol.Failed(request=1, kind=kind) for kind in protocol.FailureKind]
    problems = [protocol.Failed(request=1, kind=protocol.FailureKind.PROTOCOL, problem=problem)
                for problem in protocol.ProtocolProblem]
    return kinds + problems + [
        protocol.Failed(request=1, kind=protocol.FailureKind.TLS_FAILED, detail="certificate verify failed"),
        protocol.Failed(request=1, kind=protocol.FailureKind.TOO_LARGE, size=9 * 1024 * 1024),
        protocol.Failed(request=1, kind=protocol.FailureKind.UNSUPPORTED_ENCODING, encoding="br"),
        protocol.Failed(request=1, kind=protocol.FailureKind.CORRUPT_ENCODING, encoding="gzip"),
    ]


@pytest.mark.parametrize("failed", failures(), ids=lambda f: f"{f.kind.value}-{f.problem or f.detail or f.encoding}")
def test_every_failure_is_one_line_that_names_the_host(failed):
    error = failure_error(failed, URL, timeout=15.0, max_bytes=8 * 1024 * 1024)
    assert isinstance(error, LoadError)
    text = str(error)
    assert text.isprintable() and "\n" not in text
    assert "127.0.0.1:8000" in text
    assert ": " in text  # what happened: what to do


def test_a_failure_detail_with_anything_but_plain_words_is_a_bad_message():
    forged = msgspec.msgpack.encode({"type": "failed", "request": 1, "kind": "broken", "detail": "\x1b]0;owned\x07"})
    with pytest.raises(msgspec.ValidationError) as caught:
        protocol.from_network_decoder.decode(forged)
    assert classify_decode_failure(forged, caught.value) is BadMessage.FIELD_INVALID


@pytest.mark.parametrize("head, problem", [
    (b"SPAM SPAM SPAM\r\n\r\n", protocol.ProtocolProblem.BAD_STATUS_LINE),
    (b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", protocol.ProtocolProblem.BAD_CONTENT_LENGTH),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", protocol.ProtocolProblem.BAD_TRANSFER_ENCODING),
    (b"HTTP/1.1 200 OK\r\n\x1b[2J: x\r\n\r\n", protocol.ProtocolProblem.BAD_HEADER),
])
def test_h11_errors_become_named_problems(head, problem):
    parser = h11.Connection(our_role=h11.CLIENT)
    parser.send(h11.Request(method="GET", target="/", headers=[("Host", "x")]))
    parser.send(h11.EndOfMessage())
    parser.receive_data(head)
    with pytest.raises(h11.RemoteProtocolError) as caught:
        parser.next_event()
    assert protocol_problem(caught.value) is problem


def test_os_errors_become_kinds_with_plain_words():
    assert connect_failure(socket.gaierror(-2, "Name or service not known")).kind is protocol.FailureKind.DNS_FAILED
    assert connect_failure(ConnectionRefusedError(111, "Connection refused")).kind is protocol.FailureKind.REFUSED
    unreachable = connect_failure(OSError(101, "Network is unreachable"))
    assert (unreachable.kind, unreachable.detail) == (protocol.FailureKind.CONNECT_FAILED, "network is unreachable")
    tls = ssl.SSLCertVerificationError(1, "[SSL: CERTIFICATE_VERIFY_FAILED] \x1b[2J")
    tls.reason = "CERTIFICATE_VERIFY_FAILED"
    assert connect_failure(tls).detail == "certificate verify failed"
    assert transfer_failure(ConnectionResetError(104, "reset")).kind is protocol.FailureKind.RESET
    # Whatever words an error brings, what goes out fits the protocol's pattern.
    odd = transfer_failure(OSError(5, "I/O \x1b[31merror\u202e"))
    protocol.from_network_decoder.decode(protocol.encode(odd.message(1)))
