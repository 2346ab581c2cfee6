"""The network process: ``python -m network.main --fd N --broker-pid P``.

Started by the broker (``broker/network_host.py``) with one end of a
socketpair as its channel.  It loads everything it will need (TLS context
and CA bundle, the HTTP parser, the decoders, the resolver's configuration),
locks itself down (``network/sandbox.py``), sends its :class:`Hello`, and
then answers :class:`Fetch` requests until the broker says
:class:`Shutdown` or goes away (its channel ends, or its parent-death signal).
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import encodings.idna  # noqa: F401 - host names are IDNA-encoded on connect: loaded before lockdown
import os
import socket
import ssl
import sys
import traceback

import msgspec

from network import protocol, sandbox
from network.http import FetchFailed, HttpClient

#: Threads that run blocking name lookups (glibc's getaddrinfo).
RESOLVER_THREADS = 4
#: The exit status when a required sandbox layer cannot be applied (the log says which).
SANDBOX_UNAVAILABLE_EXIT = protocol.SANDBOX_UNAVAILABLE_EXIT


def _ca_paths() -> tuple[str, ...]:
    """The CA bundle TLS verifies servers against: certifi's, and the system's."""
    paths = []
    try:
        import certifi

        paths.append(certifi.where())
    except ImportError:
        pass
    defaults = ssl.get_default_verify_paths()
    for path in (defaults.cafile, defaults.capath, "/etc/ssl/certs"):
        if path and os.path.exists(path) and path not in paths:
            paths.append(path)
    return tuple(paths)


def _tls_context(ca_paths: tuple[str, ...]) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=ca_paths[0] if ca_paths and os.path.isfile(ca_paths[0]) else None)
    context.set_alpn_protocols(["http/1.1"])
    return context


def _warm_resolver() -> None:
    """One lookup before lockdown: glibc reads its configuration and sets up
    the resolver state the worker threads share."""
    for host in ("localhost", "127.0.0.1"):
        try:
            socket.getaddrinfo(host, 80, type=socket.SOCK_STREAM)
        except OSError:
            pass


class NetworkService:
    """The message loop: one task per fetch, replies written in order."""

    def __init__(self, channel: socket.socket, client: HttpClient, *, probes: bool) -> None:
        self.channel = channel
        self.client = client
        self.probes = probes
        self._writer: asyncio.StreamWriter | None = None
        self._fetches: dict[int, asyncio.Task] = {}
        self.loop: asyncio.AbstractEventLoop | None = None
        self.probe_fetches: asyncio.Queue[protocol.Fetch] = asyncio.Queue()  # probes answer fetches themselves

    async def send(self, message: msgspec.Struct) -> None:
        self._writer.write(protocol.frame_message(message))
        await self._writer.drain()

    async def send_raw(self, data: bytes) -> None:
        self._writer.write(data)
        await self._writer.drain()

    async def run(self, hello: protocol.Hello) -> None:
        self.loop = asyncio.get_running_loop()
        reader, self._writer = await asyncio.open_unix_connection(sock=self.channel,
                                                                  limit=protocol.MAX_MESSAGE_BYTES)
        await self.send(hello)
        try:
            while True:
                header = await reader.readexactly(protocol.LENGTH_BYTES)
                length = protocol.frame_length(header)
                if length > protocol.MAX_MESSAGE_BYTES:
                    return
                message = protocol.to_network_decoder.decode(await reader.readexactly(length))
                match message:
                    case protocol.Fetch() if 0 in self._fetches:  # a probe runs: it answers
                        self.probe_fetches.put_nowait(message)
                    case protocol.Fetch():
                        task = asyncio.create_task(self._fetch(message))
                        self._fetches[message.request] = task
                    case protocol.Cancel(request=request):
                        task = self._fetches.get(request)
                        if task is not None:
                            task.cancel()
                    case protocol.RunProbe(code=code) if self.probes:
                        self._fetches[0] = asyncio.create_task(self._probe(code))
                    case protocol.Shutdown():
                        return
                    case _:
                        return
        except (asyncio.IncompleteReadError, ConnectionError, msgspec.MsgspecError):
            return  # the broker is gone or broke the contract: nothing to do but end
        finally:
            for task in self._fetches.values():
                task.cancel()
            self.client.close()

    async def _probe(self, code: str) -> None:
        # In a thread of its own, so that the loop goes on reading the broker's
        # requests for the probe to answer (next_fetch) and writing what it sends.
        try:
            await self.send(await asyncio.to_thread(_run_probe, code, self))
        finally:
            self._fetches.pop(0, None)

    async def _fetch(self, fetch: protocol.Fetch) -> None:
        try:
            await self.client.fetch(fetch, self.send)
        except FetchFailed as failure:
            await self.send(failure.message(fetch.request))
        except asyncio.CancelledError:
            await self.send(protocol.Failed(request=fetch.request, kind=protocol.FailureKind.CANCELLED))
        except Exception as error:  # noqa: BLE001 - one fetch's bug must not end the others
            print(f"network: fetch {fetch.request} failed: {type(error).__name__}", file=sys.stderr)
            traceback.print_exc(limit=5)
            await self.send(protocol.Failed(request=fetch.request, kind=protocol.FailureKind.BROKEN,
                                            detail="internal error"))
        finally:
            self._fetches.pop(fetch.request, None)


def _run_probe(code: str, service: NetworkService) -> protocol.ProbeResult:
    """Compromise simulation: ``code`` runs as an attacker in this process
    would, with ``send(message)``, ``send_raw(bytes)`` (anything, to the
    broker) and ``next_fetch()`` (the next request the broker makes)."""
    loop = service.loop

    def wait(coroutine):
        return asyncio.run_coroutine_threadsafe(coroutine, loop).result()

    scope = {"send": lambda message: wait(service.send(message)),
             "send_raw": lambda data: wait(service.send_raw(data)),
             "next_fetch": lambda: wait(service.probe_fetches.get()),
             "protocol": protocol, "channel": service.channel, "result": None}
    try:
        exec(compile(code, "<attack>", "exec"), scope)  # noqa: S102 - the point of a probe
    except BaseException as error:  # noqa: BLE001 - how it ended is the result
        number = error.errno if isinstance(error, OSError) and isinstance(error.errno, int) else None
        return protocol.ProbeResult(outcome="raised", detail=f"{type(error).__name__}: {error}"[:400], errno=number)
    return protocol.ProbeResult(outcome="completed", detail=repr(scope.get("result"))[:400])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="network.main")
    parser.add_argument("--fd", type=int, required=True)
    parser.add_argument("--broker-pid", type=int, required=True)
    parser.add_argument("--no-sandbox", action="store_true")
    parser.add_argument("--uid", type=int)
    parser.add_argument("--gid", type=int)
    parser.add_argument("--probes", action="store_true")
    args = parser.parse_args(argv)

    sandbox.fresh_process_state(broker_pid=args.broker_pid, keep_fds=(args.fd,))
    channel = socket.socket(fileno=args.fd)
    ca_paths = _ca_paths()
    client = HttpClient(_tls_context(ca_paths))
    _warm_resolver()
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    loop.set_default_executor(concurrent.futures.ThreadPoolExecutor(RESOLVER_THREADS, "resolver"))
    try:
        state = sandbox.lockdown(enabled=not args.no_sandbox, uid=args.uid, gid=args.gid, ca_paths=ca_paths)
    except sandbox.SandboxUnavailable as error:
        print(f"network: {error}", file=sys.stderr)
        return SANDBOX_UNAVAILABLE_EXIT
    service = NetworkService(channel, client, probes=args.probes)
    hello = protocol.Hello(pid=os.getpid(), layers=state.describe())
    try:
        loop.run_until_complete(service.run(hello))
    finally:
        loop.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
