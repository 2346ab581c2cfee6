"""The IPC hub: the broker's ZeroMQ ROUTER and the checks on every message.

Every renderer connects a DEALER to this ROUTER.  Its first message must be
a ``Hello`` with the one-time token issued for its tab; that binds its ZeroMQ
routing id to the tab.  After that, every message is checked before it is
acted on: size, decoding, type, the tab it speaks for, that it answers a
request that was made.  A message that fails a check ends the renderer with
a named reason (``broker/bad_message.py``); the broker and the other tabs go
on.
"""

from __future__ import annotations

import asyncio
import logging

import msgspec
import zmq

from broker.bad_message import BadMessage
from broker.host import RendererHost
from renderer import protocol

log = logging.getLogger("minibrowser.broker")

_KNOWN_TAGS = {
    cls.__struct_config__.tag for cls in protocol.ToBroker.__args__  # type: ignore[attr-defined]
}


def classify_undecodable(payload: bytes) -> BadMessage:
    """Tell a message of an unknown type from one that is simply garbage."""
    try:
        raw = msgspec.msgpack.decode(payload)
    except msgspec.DecodeError:
        return BadMessage.DECODE_FAILED
    if isinstance(raw, dict) and "type" in raw and raw["type"] not in _KNOWN_TAGS:
        return BadMessage.UNKNOWN_TYPE
    return BadMessage.DECODE_FAILED


class IpcHub:
    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        # A plain (not zmq.asyncio) socket driven by the event loop through
        # ZMQ_FD: on the IPC hot path this saves a future and a task per message.
        self.context = zmq.Context()
        self.socket = self.context.socket(zmq.ROUTER)
        self.socket.setsockopt(zmq.LINGER, 0)
        # ZeroMQ drops a peer whose message is far over the cap before it
        # reaches us; anything between the cap and this is ended by name.
        self.socket.setsockopt(zmq.MAXMSGSIZE, protocol.MAX_MESSAGE_BYTES * 2)
        self.socket.setsockopt(zmq.ROUTER_HANDOVER, 0)
        self._by_token: dict[str, RendererHost] = {}
        self._by_routing_id: dict[bytes, RendererHost] = {}
        self._retired: dict[bytes, None] = {}  # routing ids of ended renderers, oldest first
        self._loop: asyncio.AbstractEventLoop | None = None
        self._fd: int | None = None
        self._drain_scheduled = False

    def start(self) -> None:
        self.socket.bind(self.endpoint)
        self._loop = asyncio.get_running_loop()
        self._fd = self.socket.getsockopt(zmq.FD)
        self._loop.add_reader(self._fd, self._drain)

    def send(self, routing_id: bytes, payload: bytes) -> None:
        # A ROUTER never blocks: past the high-water mark it drops, which
        # only happens to a renderer that stopped reading long ago.
        self.socket.send_multipart([routing_id, payload], flags=zmq.NOBLOCK, copy=False)
        # ZMQ_FD is edge-triggered and a send can consume the edge of a
        # message that is already waiting: look again soon.
        self._schedule_drain()

    def _schedule_drain(self) -> None:
        if not self._drain_scheduled and self._loop is not None:
            self._drain_scheduled = True
            self._loop.call_soon(self._drain)

    def expect(self, host: RendererHost) -> None:
        """A renderer is about to be spawned: accept its handshake once."""
        self._by_token[host.token] = host

    def forget(self, host: RendererHost) -> None:
        self._by_token.pop(host.token, None)
        if host.routing_id is not None:
            self._by_routing_id.pop(host.routing_id, None)
            # Messages it queued before it ended may still arrive: drop them quietly.
            self._retired[host.routing_id] = None
            while len(self._retired) > 1024:
                self._retired.pop(next(iter(self._retired)))

    def _drain(self, budget: int = 256) -> None:
        """Handle every message waiting on the socket (up to ``budget``, then yield)."""
        self._drain_scheduled = False
        if self.socket.closed:
            return
        for _ in range(budget):
            try:
                if not self.socket.getsockopt(zmq.EVENTS) & zmq.POLLIN:
                    return
                frames = self.socket.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            except zmq.ZMQError as error:
                log.warning("IPC receive failed: %s", error)
                return
            if len(frames) != 2:  # not what a DEALER sending one frame produces
                continue
            try:
                self._handle(frames[0], frames[1])
            except Exception:  # noqa: BLE001 - the hub must outlive any one message
                log.exception("error while handling a renderer message")
        self._schedule_drain()  # more waiting: let the loop breathe first

    def _handle(self, routing_id: bytes, payload: bytes) -> None:
        host = self._by_routing_id.get(routing_id)
        if host is None:
            if routing_id not in self._retired:
                self._handshake(routing_id, payload)
            return
        if not host.alive:
            return
        if len(payload) > protocol.MAX_MESSAGE_BYTES:
            host.terminate(BadMessage.TOO_LARGE)
            return
        try:
            message = protocol.to_broker_decoder.decode(payload)
        except (msgspec.DecodeError, msgspec.ValidationError):
            host.terminate(classify_undecodable(payload))
            return
        if isinstance(message, protocol.Hello):
            host.terminate(BadMessage.HANDSHAKE_REPLAYED)
            return
        if message.tab != host.tab:
            host.terminate(BadMessage.WRONG_TAB)
            return
        reason = host.deliver(message, len(payload))
        if reason is not None:
            host.terminate(reason)

    def _handshake(self, routing_id: bytes, payload: bytes) -> None:
        # An unbound peer has no tab yet, so there is nothing to end; a bad
        # first message is dropped.  Renderers cannot open a second
        # connection after lockdown, so a peer only gets one try.
        try:
            hello = protocol.to_broker_decoder.decode(payload) if len(payload) <= 4096 else None
        except (msgspec.DecodeError, msgspec.ValidationError):
            hello = None
        if not isinstance(hello, protocol.Hello):
            log.warning("dropping a message from an unknown IPC peer")
            return
        host = self._by_token.pop(hello.token, None)
        if host is None:
            log.warning("dropping a handshake with an unknown or already used token")
            return
        if hello.tab != host.tab:
            host.terminate(BadMessage.WRONG_TAB)
            return
        if host.pid and hello.pid != host.pid:
            host.terminate(BadMessage.WRONG_PID)
            return
        host.routing_id = routing_id
        host.counters.messages_in += 1
        host.counters.bytes_in += len(payload)
        self._by_routing_id[routing_id] = host
        host.send(protocol.HelloAck(tab=host.tab))
        if not host.connected.done():
            host.connected.set_result(None)

    async def close(self) -> None:
        if self._loop is not None and self._fd is not None:
            self._loop.remove_reader(self._fd)
            self._fd = None
        self.socket.close(linger=0)
        self.context.term()
