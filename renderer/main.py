"""A renderer process, forked by the zygote: one per tab, or shared by
several tabs under the shared process models (``broker/process_model.py``).

``run_forked`` is the whole life of a renderer.  In order, before it reads a
byte of page content, it puts on the sandbox (``renderer/sandbox``), connects
its ZeroMQ DEALER to the broker, finishes the handshake and applies seccomp.
Then it serves the broker's requests until told to stop.  It never opens a
file or a socket of its own: every byte of content comes from the broker.
"""

from __future__ import annotations

import os
import signal
import sys
import time
import traceback

import msgspec
import zmq

from renderer import protocol, sandbox
from renderer.own_memory import OwnMemory
from renderer.page import Page, decode_sheet, linked_sheets, preload as preload_engine
from renderer.protocol import MAX_SHEET_ROUNDS, ExitCode
from renderer.style import PX_PER_CELL, sheet_imports

HANDSHAKE_TIMEOUT_MS = 10_000


def preload() -> None:
    """Import and warm everything a renderer needs; called by the zygote."""
    # Modules that compromise-simulation code may use (an attacker in the
    # renderer would have them too); importing after lockdown is impossible.
    import _thread  # noqa: F401
    import ctypes  # noqa: F401
    import errno  # noqa: F401
    import socket  # noqa: F401
    import traceback  # noqa: F401

    preload_engine()
    sandbox.preload()
    # Warm the decoders for every message type once.
    for message in (protocol.Ping(seq=0), protocol.Shutdown()):
        protocol.to_renderer_decoder.decode(protocol.encode(message))
    protocol.to_broker_decoder.decode(protocol.encode(protocol.Pong(renderer=0, seq=0)))
    traceback.format_exception(ValueError("warm"))


def _log(message: str) -> None:
    try:
        os.write(2, f"renderer[{os.getpid()}]: {message}\n".encode("utf-8", "replace"))
    except OSError:
        pass


def run_forked(request: protocol.SpawnRenderer, *, zygote_pid: int) -> None:
    """Entry point in the freshly forked child.  Never returns."""
    code = ExitCode.INTERNAL_ERROR
    try:
        signal.set_wakeup_fd(-1)
        sandbox.process.fresh_process_state(request.log_path, parent_pid=zygote_pid)
        code = _run(request)
    except sandbox.SandboxUnavailable as error:
        _log(f"sandbox unavailable: {error}")
        code = ExitCode.SANDBOX_UNAVAILABLE
    except MemoryError:
        code = ExitCode.OUT_OF_MEMORY
    except BaseException:  # noqa: BLE001 - the log is the only place it can go
        try:
            _log("internal error:\n" + traceback.format_exc())
        except BaseException:  # noqa: BLE001
            pass
    os._exit(code)


def _run(request: protocol.SpawnRenderer) -> int:
    own_memory = OwnMemory()  # after the descriptors are closed, before Landlock
    state = sandbox.lockdown_before_ipc(request.policy)

    context = zmq.Context(io_threads=1)
    sock = context.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.MAXMSGSIZE, protocol.MAX_MESSAGE_BYTES + 4096)
    # After lockdown a reconnect is a socket() that seccomp refuses (SIGSYS):
    # a lost broker ends the renderer.  Not at once: when the broker drops this
    # connection for an oversized frame, it gets a second to end the renderer
    # by that name first (broker/ipc.py).
    sock.setsockopt(zmq.RECONNECT_IVL, 1000)
    sock.connect(request.endpoint)
    sock.send(protocol.encode(protocol.Hello(renderer=request.renderer, token=request.token, pid=os.getpid())))
    if not sock.poll(HANDSHAKE_TIMEOUT_MS):
        _log("no answer to the handshake")
        return ExitCode.HANDSHAKE_FAILED
    ack = protocol.to_renderer_decoder.decode(sock.recv())
    if not isinstance(ack, protocol.HelloAck) or ack.renderer != request.renderer:
        _log("handshake refused")
        return ExitCode.HANDSHAKE_FAILED

    sandbox.lockdown_after_ipc(state)

    if request.probe is not None:
        return _run_probe(request, sock, state)
    Renderer(sock, request.renderer, state, own_memory).serve()
    return ExitCode.OK


def _run_probe(request: protocol.SpawnRenderer, sock: zmq.Socket, state) -> int:
    """Compromise simulation: run attacker code inside the locked-down renderer.

    Only reachable when the broker asked the zygote for a probe renderer;
    nothing a page or a renderer can send turns it on.
    """
    namespace = {"sock": sock, "renderer": request.renderer, "protocol": protocol, "__name__": "__probe__"}
    try:
        exec(compile(request.probe, "<probe>", "exec"), namespace)  # noqa: S102
    except OSError as error:
        result = protocol.ProbeResult(
            renderer=request.renderer, outcome="raised", detail=f"{type(error).__name__}: {error}", errno=error.errno
        )
    except BaseException as error:  # noqa: BLE001
        result = protocol.ProbeResult(renderer=request.renderer, outcome="raised", detail=f"{type(error).__name__}: {error}")
    else:
        result = protocol.ProbeResult(renderer=request.renderer, outcome="completed", detail=str(namespace.get("result", "")))
    sock.send(protocol.encode(result))
    # Wait for the broker to say goodbye, so the result is not lost in flight.
    sock.poll(5000)
    return ExitCode.OK


class _Document:
    """One document this renderer holds: its source, its linked style
    sheets, its parsed page, the width it is laid out at."""

    __slots__ = ("source", "sheets", "page", "width")

    def __init__(self, source: protocol.LoadDocument, sheets: list[protocol.StyleSheet], page: Page) -> None:
        self.source = source
        self.sheets = sheets
        self.page = page
        self.width = source.width


class Renderer:
    """Serves the broker: it asks, the renderer answers.

    One renderer may hold several documents (several tabs share it under
    the shared process models); each request names its document, each
    answer names it back, and documents never see each other: one
    ``Page`` per document.  A request for a document this renderer does
    not hold is a broker bug: the renderer exits with INTERNAL_ERROR."""

    def __init__(self, sock: zmq.Socket, renderer_id: int, sandbox_state, own_memory: OwnMemory) -> None:
        self.sock = sock
        self.id = renderer_id
        self.sandbox_state = sandbox_state
        self.own_memory = own_memory
        self.documents: dict[int, _Document] = {}
        # Documents whose sheets the broker is fetching: the load, the sheets
        # so far, the URLs asked for, the rounds of asking.
        self.waiting_for_sheets: dict[int, tuple[protocol.LoadDocument, list, set[str], int]] = {}

    def reply(self, message: msgspec.Struct) -> None:
        self.sock.send(protocol.encode(message))

    def frame_ready(self, document: int, request: int) -> None:
        held = self.documents[document]
        frame = within_bounds(held.page.layout(held.width))
        self.reply(protocol.FrameReady(document=document, request=request, frame=frame))

    def serve(self) -> None:
        while True:
            message = protocol.to_renderer_decoder.decode(self.sock.recv())
            if isinstance(message, protocol.Shutdown):
                return
            self.handle(message)

    def handle(self, message) -> None:  # noqa: C901 - one branch per message type
        match message:
            case protocol.Ping(seq=seq):
                self.reply(protocol.Pong(renderer=self.id, seq=seq))
            case protocol.LoadDocument(document=document, request=request):
                urls = linked_sheets(message.body, url=message.url, charset=message.charset, kind=message.kind,
                                     width=message.width)
                if urls:  # the broker fetches them; LoadSheets brings them and gets the frame
                    self.waiting_for_sheets[document] = (message, [], set(urls), 1)
                    self.reply(protocol.SheetsWanted(document=document, request=request, urls=urls))
                else:
                    self.open(message)
                    self.frame_ready(document, request)
            case protocol.LoadSheets(document=document, request=request, sheets=sheets):
                source, have, asked, rounds = self.waiting_for_sheets.pop(document)
                have = have + list(sheets)
                wanted = []
                if rounds < MAX_SHEET_ROUNDS:
                    for sheet in sheets:  # what these sheets @import, not asked for yet
                        for url in sheet_imports(decode_sheet(sheet.body), sheet.url, source.width * PX_PER_CELL):
                            if url not in asked and len(asked) < protocol.MAX_SHEETS * MAX_SHEET_ROUNDS \
                                    and len(wanted) < protocol.MAX_SHEETS and len(url) <= protocol.MAX_SHEET_URL_CHARS:
                                asked.add(url)
                                wanted.append(url)
                if wanted:
                    self.waiting_for_sheets[document] = (source, have, asked, rounds + 1)
                    self.reply(protocol.SheetsWanted(document=document, request=request, urls=wanted))
                else:
                    self.open(source, have)
                    self.frame_ready(document, request)
            case protocol.Resize(document=document, request=request, width=width):
                self.documents[document].width = width
                self.frame_ready(document, request)
            case protocol.ScrollTo(document=document, line=line):
                held = self.documents.get(document)
                if held is not None:
                    held.page.scroll = min(max(0, line), protocol.MAX_FRAME_LINES)
            case protocol.FollowLink(document=document, request=request, number=number):
                url = self.documents[document].page.link_url(number)
                if url is None:
                    self.frame_ready(document, request)
                else:
                    self.reply(protocol.NavigateRequest(document=document, request=request, url=url))
            case protocol.SetField(document=document, request=request, field=field, value=value, checked=checked):
                page = self.documents[document].page
                page.set_field(field, value=value, checked=checked)
                page.focused_field = field
                self.frame_ready(document, request)
            case protocol.PressField(document=document, request=request, field=field):
                page = self.documents[document].page
                page.focused_field = field
                submission = page.activate(field)
                if submission is None:
                    self.frame_ready(document, request)
                else:
                    method, url, body = submission
                    self.reply(protocol.NavigateRequest(document=document, request=request, url=url,
                                                        method=method, form_body=body))
            case protocol.Find(document=document, request=request, query=query):
                matches, frame = self.documents[document].page.find(query)
                self.reply(protocol.FindResult(document=document, request=request,
                                               matches=matches[: protocol.MAX_FIND_MATCHES],
                                               frame=within_bounds(frame)))
            case protocol.TakeSnapshot(document=document, request=request):
                self.reply(protocol.SnapshotReady(document=document, request=request,
                                                  snapshot=self.snapshot(document)))
            case protocol.RestoreSnapshot(document=document, request=request, snapshot=snapshot,
                                          unsandboxed=unsandboxed):
                frame = snapshot.frame
                if frame is not None and frame.width == snapshot.width:
                    # The user sees the page as it was at once; parsing the
                    # document again (for links, forms, find) comes after.
                    frame.scroll = snapshot.scroll
                    self.reply(protocol.FrameReady(document=document, request=request, frame=frame))
                    self.restore(document, snapshot, unsandboxed=unsandboxed)
                else:
                    self.restore(document, snapshot, unsandboxed=unsandboxed)
                    self.frame_ready(document, request)
            case protocol.CloseDocument(document=document):
                self.documents.pop(document, None)
                self.waiting_for_sheets.pop(document, None)
            case protocol.ReportSandbox(request=request):
                self.reply(protocol.SandboxReport(renderer=self.id, request=request,
                                                  layers=sandbox.describe(self.sandbox_state)))
            case protocol.MeasureMemory(request=request):
                rss, pss, uss = self.own_memory.read() or (None, None, None)
                self.reply(protocol.MemoryReport(renderer=self.id, request=request, rss=rss, pss=pss, uss=uss))
            case protocol.DebugAction(action=action):
                debug_action(action)
            case protocol.HelloAck():
                pass

    def snapshot(self, document: int) -> protocol.Snapshot:
        held = self.documents[document]
        source, page = held.source, held.page
        values, checked = page.form_state()
        return protocol.Snapshot(
            url=source.url,
            title=page.title,
            content_type=source.content_type,
            charset=source.charset,
            body=source.body,
            kind=source.kind,
            width=held.width,
            scroll=page.scroll,
            focused_field=page.focused_field,
            form_values=values,
            form_checked=checked,
            frame=within_bounds(page.layout(held.width)),
            sheets=held.sheets,
        )

    def open(self, source: protocol.LoadDocument, sheets: list[protocol.StyleSheet] = ()) -> _Document:
        """Parse ``source`` with its linked ``sheets``: a document this renderer now holds."""
        page = Page(
            source.body,
            url=source.url,
            content_type=source.content_type,
            charset=source.charset,
            kind=source.kind,
            unsandboxed=source.unsandboxed,
            width=source.width,
            sheets={sheet.url: sheet.body for sheet in sheets},
        )
        held = self.documents[source.document] = _Document(source, list(sheets), page)
        return held

    def restore(self, document: int, snapshot: protocol.Snapshot, *, unsandboxed: bool = False) -> None:
        held = self.open(
            protocol.LoadDocument(
                document=document,
                request=0,
                url=snapshot.url,
                content_type=snapshot.content_type,
                charset=snapshot.charset,
                body=snapshot.body,
                kind=snapshot.kind,
                width=snapshot.width,
                unsandboxed=unsandboxed,
            ),
            snapshot.sheets,
        )
        page = held.page
        page.restore_form_state(snapshot.form_values, snapshot.form_checked)
        page.scroll = snapshot.scroll
        page.focused_field = snapshot.focused_field
        page.layout(held.width)  # warm the layout cache at the tab's width


def within_bounds(frame: protocol.Frame) -> protocol.Frame:
    """``frame``, cut to ``protocol.MAX_FRAME_LINES`` lines if it is longer.

    Only pathological documents get there (8 MB of newlines, a page laid out
    a few columns wide); the broker would end a renderer that sent more.
    The last line says the rest was cut."""
    limit = protocol.MAX_FRAME_LINES
    if len(frame.lines) <= limit:
        return frame
    note = protocol.Line([protocol.Span(f"[the rest of this page is cut: it is longer than {limit - 1} lines]",
                                        protocol.Style.ERROR)])
    return protocol.Frame(
        url=frame.url,
        title=frame.title,
        width=frame.width,
        lines=frame.lines[: limit - 1] + [note],
        links=[link if link.line < limit else msgspec.structs.replace(link, line=limit - 1) for link in frame.links],
        fields=[field if field.line < limit else msgspec.structs.replace(field, line=limit - 1)
                for field in frame.fields],
        scroll=min(frame.scroll, limit - 1),
        kind=frame.kind,
    )


def debug_action(action: str) -> None:
    """The debug URLs a user can type: about:crash, about:kill, about:hang,
    about:memory-exhaust.  The broker only forwards them when typed."""
    if action == "crash":
        os.kill(os.getpid(), signal.SIGSEGV)
    elif action == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    elif action == "hang":
        deadline = float("inf")
        while time.monotonic() < deadline:
            pass
    elif action == "memory-exhaust":
        hoard = []
        while True:
            hoard.append(bytearray(64 * 1024 * 1024))


if __name__ == "__main__":
    sys.exit("the renderer is started by the zygote (python -m renderer.zygote), not directly")
