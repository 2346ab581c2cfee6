"""The IPC hub: the broker's ZeroMQ ROUTER and the checks on every message.

Every renderer connects a DEALER to this ROUTER.  Its first message must be
a ``Hello`` with the one-time token issued for it; that binds its ZeroMQ
routing id to the renderer (not to a tab: a renderer may host several).  After that, every message is checked before it is
acted on, in this order: its shape (one frame), its size against the cap,
then against what the renderer owes (FLOOD: a renderer speaks only when
spoken to, so with nothing asked it may send nothing, and owing only a
heartbeat only a small reply), its decoding against the bounded types of
``renderer/protocol.py`` (any failure of any kind has a name), and, in
``RendererHost.deliver``, the renderer or document it speaks for, that it answers a request
that was made, with a type and a URL that request accepts.  A message that fails a check ends the renderer with a named
reason (``broker/bad_message.py``) in one log line; nothing it sends after
is read; the broker and the other tabs go on.

Budgets: the ROUTER queues at most ``RECEIVE_QUEUE_MESSAGES`` messages per
renderer (ZeroMQ stops reading a peer past it, so a flood waits in the
flooder's own memory), refuses a frame over ``MAX_WIRE_BYTES`` outright,
and each drain turn reads a bounded number of messages and bytes before it
lets the event loop run the answers that are ready for other tabs.

A frame over ``MAX_WIRE_BYTES`` never reaches the hub: ZeroMQ drops the
sender's connection as soon as it reads the frame's size, and the renderer's
ZeroMQ then reconnects, a ``socket()`` that seccomp refuses (SIGSYS).  So
that its tab names the message rather than the sandbox, the hub watches its
socket's connections (a ZeroMQ socket monitor) and knows from the kernel
(``SO_PEERCRED``) which process is at the other end of each.  A renderer
whose connection ends while it runs (not exiting, as one that dies or is
killed is) is marked ``connection_dropped``; if it then dies by SIGSYS, its
host ends it as TOO_LARGE.  An honest renderer also closes its connection
while it runs, on its way out (asked to shut down, out of memory): it then
exits by its own status, and nothing is blamed on it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import struct
from collections import deque

import zmq

from broker.bad_message import BadMessage, classify_decode_failure
from broker.host import RendererHost
from renderer import protocol

log = logging.getLogger("minibrowser.broker")

#: Messages ZeroMQ holds for one renderer before it stops reading from it.
#: A renderer owes at most a few replies at once (one request per tab at a
#: time, a heartbeat, a sandbox report), so 16 never slows an honest one.
RECEIVE_QUEUE_MESSAGES = 16
#: ZeroMQ drops the connection of a peer whose frame is larger: far over
#: the cap, such a message would cost the broker its size before we could
#: refuse it.  Anything between the cap and this is ended by name (TOO_LARGE).
MAX_WIRE_BYTES = protocol.MAX_MESSAGE_BYTES + 64 * 1024
#: One drain turn reads at most this many messages and bytes, then yields to
#: the event loop, so that a burst from one renderer cannot hold up another
#: tab's answer for longer than this takes.
DRAIN_MESSAGES = 64
DRAIN_BYTES = 8 * 1024 * 1024
#: A handshake is a few dozen bytes; anything longer from an unbound peer is not one.
MAX_HELLO_BYTES = 4096
#: Smaller messages are copied into ZeroMQ (cheaper than tracking a zero-copy buffer).
ZERO_COPY_BYTES = 64 * 1024

# pyzmq's constants are enums, and enum arithmetic costs about a microsecond
# a time on the hot path: plain ints here.
_EVENTS, _POLLIN, _RCVMORE = int(zmq.EVENTS), int(zmq.POLLIN), int(zmq.RCVMORE)
_NOBLOCK, _SNDMORE = int(zmq.NOBLOCK), int(zmq.SNDMORE)
_ACCEPTED, _DISCONNECTED = int(zmq.EVENT_ACCEPTED), int(zmq.EVENT_DISCONNECTED)
#: The kernel's flag for a task in do_exit (``PF_EXITING``, /proc/PID/stat's 9th field).
_PF_EXITING = 0x4


class IpcHub:
    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        # A plain (not zmq.asyncio) socket driven by the event loop through
        # ZMQ_FD: on the IPC hot path this saves a future and a task per message.
        self.context = zmq.Context()
        self.socket = self.context.socket(zmq.ROUTER)
        self.socket.setsockopt(zmq.LINGER, 0)
        self.socket.setsockopt(zmq.MAXMSGSIZE, MAX_WIRE_BYTES)
        self.socket.setsockopt(zmq.RCVHWM, RECEIVE_QUEUE_MESSAGES)
        self.socket.setsockopt(zmq.ROUTER_HANDOVER, 0)
        self._by_token: dict[str, RendererHost] = {}
        self._by_routing_id: dict[bytes, RendererHost] = {}
        self._retired: dict[bytes, None] = {}  # routing ids of ended renderers, oldest first
        self._loop: asyncio.AbstractEventLoop | None = None
        self._fd: int | None = None
        self._drain_scheduled = False
        # Connections: ZeroMQ reports each one's descriptor in this process;
        # the kernel says which process is at its other end.
        self._monitor: zmq.Socket | None = None
        self._monitor_fd: int | None = None
        self._peer_pids: dict[int, int] = {}  # connection descriptor -> peer pid

    def start(self) -> None:
        self._monitor = self.socket.get_monitor_socket(zmq.EVENT_ACCEPTED | zmq.EVENT_DISCONNECTED)
        self._monitor.setsockopt(zmq.LINGER, 0)
        self.socket.bind(self.endpoint)
        self._loop = asyncio.get_running_loop()
        self._fd = self.socket.getsockopt(zmq.FD)
        self._loop.add_reader(self._fd, self._drain)
        self._monitor_fd = self._monitor.getsockopt(zmq.FD)
        self._loop.add_reader(self._monitor_fd, self._watch_connections)
        self._loop.call_soon(self._watch_connections)  # ZMQ_FD is edge-triggered: read what came before

    def send(self, routing_id: bytes, payload: bytes) -> None:
        # A ROUTER never blocks: past the high-water mark it drops, which
        # only happens to a renderer that stopped reading long ago.
        socket = self.socket
        socket.send(routing_id, _SNDMORE | _NOBLOCK)
        socket.send(payload, _NOBLOCK, copy=len(payload) < ZERO_COPY_BYTES)
        # ZMQ_FD is edge-triggered and a send can consume the edge of a
        # message that is already waiting: if one is, drain soon.
        if socket.get(_EVENTS) & _POLLIN:
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

    def _drain(self) -> None:
        """Handle the messages waiting on the socket, up to one turn's budget."""
        self._drain_scheduled = False
        socket = self.socket
        if socket.closed:
            return
        received = 0
        for _ in range(DRAIN_MESSAGES):
            try:
                if not socket.get(_EVENTS) & _POLLIN:
                    return
                frames = [socket.recv(_NOBLOCK)]
                while socket.get(_RCVMORE):
                    frames.append(socket.recv(_NOBLOCK))
            except zmq.Again:
                return
            except zmq.ZMQError as error:
                log.warning("IPC receive failed: %s", error)
                return
            try:
                self._handle(frames)
            except Exception as error:  # noqa: BLE001 - a broker bug: the hub must outlive it
                log.error("IPC hub error on a renderer message (a broker bug): %s: %s", type(error).__name__, error)
            received += len(frames[-1])
            if received >= DRAIN_BYTES:
                break
        self._schedule_drain()  # more waiting: let the loop breathe first

    def _handle(self, frames: list[bytes]) -> None:
        """Check one message from a peer and pass it on, or end its sender."""
        routing_id = frames[0]
        host = self._by_routing_id.get(routing_id)
        if host is None:
            if routing_id not in self._retired:
                self._handshake(routing_id, frames)
            return
        if host.bad_message is not None or not host.alive:
            return  # ended: what it still had in flight is not read
        if len(frames) != 2:  # a DEALER sending one message makes exactly two
            self._bad_message(host, BadMessage.MULTIPART)
            return
        payload = frames[1]
        if len(payload) > protocol.MAX_MESSAGE_BYTES:
            self._bad_message(host, BadMessage.TOO_LARGE)
            return
        if len(payload) > host.reply_budget():
            self._bad_message(host, BadMessage.FLOOD)
            return
        try:
            message = protocol.to_broker_decoder.decode(payload)
        except Exception as error:  # noqa: BLE001 - every failure has a name, none a traceback
            self._bad_message(host, classify_decode_failure(payload, error))
            return
        if type(message) is protocol.Hello:
            self._bad_message(host, BadMessage.HANDSHAKE_REPLAYED)
            return
        reason = host.deliver(message, len(payload))
        if reason is BadMessage.WRONG_DOCUMENT and self._frame_elsewhere(host, getattr(message, "document", None)):
            reason = BadMessage.WRONG_FRAME
        if reason is not None:
            self._bad_message(host, reason)

    def _frame_elsewhere(self, host: RendererHost, document: int | None) -> bool:
        """Whether ``document`` is a frame the broker committed to another renderer."""
        if document is None or document in host.documents:
            return False
        return any(other is not host and (record := other.documents.get(document)) is not None and record.frame
                   for other in self._by_routing_id.values())

    # -- connections -----------------------------------------------------------

    def _connection_events(self) -> list[tuple[int, int]]:
        """The (event, descriptor) pairs the monitor holds now."""
        events = []
        monitor = self._monitor
        try:
            while monitor.get(_EVENTS) & _POLLIN:
                head, _endpoint = monitor.recv_multipart(_NOBLOCK)
                event, value = struct.unpack("=hi", head)
                events.append((event, value))
        except zmq.ZMQError:
            pass
        return events

    def _watch_connections(self) -> None:
        """Learn the peer of each new connection; see a dropped one's end."""
        if self._monitor is None or self._monitor.closed:
            return
        pending = deque(self._connection_events())
        while pending:
            event, fd = pending.popleft()
            if event == _DISCONNECTED:
                pid = self._peer_pids.pop(fd, None)
                if pid is not None:
                    self._connection_dropped(pid)
            elif event == _ACCEPTED:
                self._peer_pids.pop(fd, None)
                if any(later == fd for _, later in pending):
                    continue  # already gone: the descriptor may hold a newer connection now
                pid = _peer_pid(fd)
                # ZeroMQ reports a connection's end before it closes the
                # descriptor: if this one ended before we asked, it says so now.
                pending.extend(self._connection_events())
                if pid and not any(later == fd for _, later in pending):
                    self._peer_pids[fd] = pid

    def _connection_dropped(self, pid: int) -> None:
        host = next((h for h in self._by_routing_id.values() if h.pid == pid), None)
        if host is None or host.bad_message is not None or not host.alive or not _running(pid):
            return  # not a renderer's, or it ended (or is ending), and its connection with it
        host.connection_dropped = True  # its exit tells why (RendererHost.mark_exited)

    def _bad_message(self, host: RendererHost, reason: BadMessage) -> None:
        host.received_bad_message(reason)
        self.forget(host)  # what it still has in flight is dropped unread

    def _handshake(self, routing_id: bytes, frames: list[bytes]) -> None:
        # An unbound peer has no tab yet, so there is nothing to end; a bad
        # first message is dropped.  Renderers cannot open a second
        # connection after lockdown, so a peer only gets one try.
        payload = frames[-1]
        hello = None
        if len(frames) == 2 and len(payload) <= MAX_HELLO_BYTES:
            try:
                hello = protocol.to_broker_decoder.decode(payload)
            except Exception:  # noqa: BLE001 - not a handshake, whatever it is
                hello = None
        if not isinstance(hello, protocol.Hello):
            log.warning("dropping a message from an unknown IPC peer")
            return
        host = self._by_token.pop(hello.token, None)
        if host is None:
            log.warning("dropping a handshake with an unknown or already used token")
            return
        if hello.renderer != host.id:
            host.received_bad_message(BadMessage.WRONG_RENDERER)
            return
        if host.pid and hello.pid != host.pid:
            host.received_bad_message(BadMessage.WRONG_PID)
            return
        host.routing_id = routing_id
        host.counters.messages_in += 1
        host.counters.bytes_in += len(payload)
        self._by_routing_id[routing_id] = host
        host.send(protocol.HelloAck(renderer=host.id))
        if not host.connected.done():
            host.connected.set_result(None)

    async def close(self) -> None:
        if self._loop is not None and self._fd is not None:
            self._loop.remove_reader(self._fd)
            self._fd = None
        if self._monitor is not None:
            if self._loop is not None and self._monitor_fd is not None:
                self._loop.remove_reader(self._monitor_fd)
                self._monitor_fd = None
            self.socket.disable_monitor()
            self._monitor.close(linger=0)
        self.socket.close(linger=0)
        self.context.term()


def _peer_pid(fd: int) -> int | None:
    """The pid of the process at the other end of UNIX socket ``fd``, as the kernel says."""
    try:
        with socket.socket(fileno=os.dup(fd)) as peer:
            pid, _uid, _gid = struct.unpack("3i", peer.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))
    except OSError:
        return None
    return pid or None


def _running(pid: int) -> bool:
    """The process runs (or is stopped) and is not exiting: /proc/PID/stat's
    state is not zombie or dead, and its flags lack PF_EXITING, which the
    kernel sets before it closes a dying process's descriptors."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            fields = stat.read().rpartition(b")")[2].split()
        return fields[0] not in (b"Z", b"X", b"x") and not int(fields[6]) & _PF_EXITING
    except (OSError, IndexError, ValueError):
        return False
