"""The network process, through the broker's NetworkHost: real processes, the
real sandbox, a real server on 127.0.0.1.

Bad messages are sent from inside a real, locked-down network process
started for probes: the code runs there as a compromised network process's
would, writing to the broker the bytes it chooses.
"""

from __future__ import annotations

import os
import signal

import pytest

from broker.bad_message import BadMessage
from broker.network_host import NetworkFailure, NetworkHost, NetworkProcessLost
from broker.restart_backoff import RestartBackoff
from network import protocol
from tests.support.httpserver import HELLO_HTML, Hostile, HostileHTTPServer
from tests.support.processes import gone
from tests.support.waiting import wait_for

GET = protocol.Method.GET
BUDGET = 8 * 1024 * 1024


async def fetch(host: NetworkHost, url: str, *, timeout_s: float = 5.0, max_bytes: int = BUDGET):
    return await host.fetch(method=GET, url=url, headers=[], max_bytes=max_bytes, timeout_s=timeout_s)


@pytest.fixture
async def host(tmp_path):
    host = NetworkHost(log_dir=str(tmp_path))
    yield host
    await host.stop()


async def test_a_page_comes_through_the_sandboxed_process(host, http_server):
    reply = await fetch(host, http_server.url("/hello"))
    assert (reply.status, reply.body) == (200, HELLO_HTML)
    assert reply.header("content-type") == "text/html; charset=utf-8"
    assert host.pid not in (0, os.getpid())
    assert {layer.name: layer.active for layer in host.layers} == {
        "process": True, "limits": True, "privileges": os.geteuid() == 0, "no_new_privs": True,
        "landlock": True, "seccomp": True}


async def test_one_connection_carries_every_request_to_a_site(host, http_server):
    for _ in range(5):
        reply = await fetch(host, http_server.url("/hello"))
        assert reply.body == HELLO_HTML
    ports = {record.client_port for record in http_server.records}
    assert len(http_server.records) == 5 and len(ports) == 1


async def test_a_body_longer_than_declared_poisons_only_its_own_connection(host):
    with HostileHTTPServer() as server:
        long = await fetch(host, server.url(Hostile.LONG_BODY))
        plain = await fetch(host, server.url(Hostile.PLAIN))
        again = await fetch(host, server.url(Hostile.PLAIN))
    assert long.body == plain.body == again.body
    assert b"SMUGGLED" not in plain.body + again.body
    assert server.count(Hostile.PLAIN) == 2  # each one asked of the server, none read from leftovers


async def test_a_redirect_is_reported_not_followed(host, http_server):
    reply = await fetch(host, http_server.url("/redirect/2"))
    assert (reply.status, reply.header("location")) == (302, "/redirect/1")
    assert http_server.count() == 1


async def test_a_failure_is_a_typed_reason(host, unreachable_url):
    with pytest.raises(NetworkFailure) as caught:
        await fetch(host, unreachable_url)
    assert caught.value.failed.kind is protocol.FailureKind.REFUSED


async def test_kill_9_mid_load_fails_that_load_and_the_next_one_works(host, http_server):
    await fetch(host, http_server.url("/hello"))
    first = host.pid
    import asyncio

    slow = asyncio.ensure_future(fetch(host, http_server.url("/slow?seconds=30"), timeout_s=60))
    await wait_for(lambda: http_server.count("/slow") == 1, what="the slow load to reach the server")
    os.kill(first, signal.SIGKILL)
    with pytest.raises(NetworkProcessLost) as caught:
        await slow
    assert str(caught.value) == "killed by SIGKILL"
    reply = await fetch(host, http_server.url("/hello"))
    assert reply.body == HELLO_HTML
    assert host.pid not in (0, first) and host.starts == 2


# --------------------------------------------------------------------------
# Bad messages from a compromised network process
# --------------------------------------------------------------------------

ANSWER_WITH = {
    # code run inside the network process -> the reason the broker ends it for
    "send(protocol.Head(request=4242, status=200, headers=[]))": BadMessage.UNEXPECTED_REPLY,
    "send_raw(b'\\x00\\x00\\x00\\x05hello')": BadMessage.DECODE_FAILED,
    "send_raw((protocol.MAX_MESSAGE_BYTES + 1).to_bytes(4, 'big'))": BadMessage.TOO_LARGE,
    "send(protocol.Hello(pid=os.getpid(), layers=[]))": BadMessage.HANDSHAKE_REPLAYED,
    "payload = b'\\x81\\xa4type\\xa4nope'; send_raw(len(payload).to_bytes(4, 'big') + payload)":
        BadMessage.UNKNOWN_TYPE,
}

DURING_A_FETCH = {
    "f = next_fetch(); send(protocol.Body(request=f.request, data=b'x'))": BadMessage.WRONG_REPLY_TYPE,
    "f = next_fetch(); send(protocol.Head(request=f.request, status=200, headers=[]))\n"
    "send(protocol.Head(request=f.request, status=200, headers=[]))": BadMessage.WRONG_REPLY_TYPE,
    "f = next_fetch(); send(protocol.Head(request=f.request, status=200, headers=[]))\n"
    "while True: send(protocol.Body(request=f.request, data=b'x' * protocol.MAX_CHUNK_BYTES))":
        BadMessage.OVER_BUDGET,
    "f = next_fetch(); send(protocol.Head(request=f.request, status=200,"
    " headers=[protocol.Header(name='content-length', value='3')]))\n"
    "send(protocol.Body(request=f.request, data=b'four'))": BadMessage.LONGER_THAN_DECLARED,
    "f = next_fetch(); send(protocol.Head(request=f.request, status=99999, headers=[]))": BadMessage.OUT_OF_RANGE,
}


@pytest.fixture
async def probe_host(tmp_path):
    host = NetworkHost(log_dir=str(tmp_path), probes=True, backoff=RestartBackoff(initial=0.01))
    await host.start()
    yield host
    await host.stop()


@pytest.mark.parametrize("code", list(ANSWER_WITH), ids=lambda code: ANSWER_WITH[code].name)
async def test_a_bad_message_ends_the_network_process_by_name(probe_host, code):
    pid = probe_host.pid
    with pytest.raises(NetworkProcessLost) as caught:
        await probe_host.run_probe("import os\n" + code + "\nnext_fetch()")
    assert str(caught.value) == ANSWER_WITH[code].describe()
    assert probe_host.last_bad_message is ANSWER_WITH[code]
    await wait_for(lambda: gone(pid), what="the network process to be gone")


@pytest.mark.parametrize("code", list(DURING_A_FETCH), ids=lambda code: DURING_A_FETCH[code].name)
async def test_a_bad_answer_fails_the_load_with_one_line_and_the_next_load_works(probe_host, http_server, code):
    import asyncio

    pid = probe_host.pid
    probe = probe_host.start_probe(code + "\nnext_fetch()")
    with pytest.raises(NetworkProcessLost) as caught:
        await fetch(probe_host, http_server.url("/hello"), max_bytes=1024 * 1024)
    assert str(caught.value) == DURING_A_FETCH[code].describe()
    with pytest.raises(NetworkProcessLost):
        await probe
    await wait_for(lambda: gone(pid), what="the network process to be gone")
    reply = await fetch(probe_host, http_server.url("/hello"))
    assert reply.body == HELLO_HTML and probe_host.pid != pid


def test_restarts_back_off_and_never_give_up():
    now = [100.0]
    backoff = RestartBackoff(initial=0.1, maximum=1.0, reset_after=60.0, clock=lambda: now[0])
    assert [backoff.record_death() for _ in range(6)] == [0.1, 0.2, 0.4, 0.8, 1.0, 1.0]
    assert backoff.delay_now() == 1.0
    now[0] += 0.25
    assert backoff.delay_now() == 0.75
    now[0] += 61.0
    assert (backoff.delay_now(), backoff.record_death()) == (0.0, 0.1)
