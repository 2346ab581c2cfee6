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
import zmq.asyncio

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
        self.context = zmq.asyncio.Context()
        self.socket = self.context.socket(zmq.ROUTER)
        self.socket.setsockopt(zmq.LINGER, 0)
        # ZeroMQ drops a peer whose message is far over the cap before it
        # reaches us; anything between the cap and this is ended by name.
        self.socket.setsockopt(zmq.MAXMSGSIZE, protocol.MAX_MESSAGE_BYTES * 2)
        self.socket.setsockopt(zmq.ROUTER_HANDOVER, 0)
        self._by_token: dict[str, RendererHost] = {}
        self._by_routing_id: dict[bytes, RendererHost] = {}
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self.socket.bind(self.endpoint)
        self._task = asyncio.create_task(self._receive_loop(), name="ipc-hub")

    def send(self, routing_id: bytes, payload: bytes) -> None:
        self.socket.send_multipart([routing_id, payload], copy=False)

    def expect(self, host: RendererHost) -> None:
        """A renderer is about to be spawned: accept its handshake once."""
        self._by_token[host.token] = host

    def forget(self, host: RendererHost) -> None:
        self._by_token.pop(host.token, None)
        if host.routing_id is not None:
            self._by_routing_id.pop(host.routing_id, None)

    async def _receive_loop(self) -> None:
        while True:
            try:
                routing_id, payload = await self.socket.recv_multipart(copy=True)
            except (zmq.ContextTerminated, asyncio.CancelledError):
                return
            except ValueError:  # a malformed multipart: not from a DEALER
                continue
            except zmq.ZMQError as error:
                log.warning("IPC receive failed: %s", error)
                continue
            try:
                self._handle(routing_id, payload)
            except Exception:  # noqa: BLE001 - the hub must outlive any one message
                log.exception("error while handling a renderer message")

    def _handle(self, routing_id: bytes, payload: bytes) -> None:
        host = self._by_routing_id.get(routing_id)
        if host is None:
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
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        self.socket.close(linger=0)
        self.context.term()
