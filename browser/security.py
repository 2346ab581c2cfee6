"""``minibrowser sandbox`` and ``minibrowser attack``: the sandbox, shown and tested.

``sandbox`` asks a real renderer, started through the zygote exactly as a
page's renderer is, to describe its sandbox from the inside (like
``chrome://sandbox``).

``attack`` is compromise simulation: each attack in ``browser/attacks.py``
runs as code inside a renderer of its own, forked by the zygote with the full
sandbox, after lockdown.  Probe code can only reach a renderer through the
zygote spawn request, which only the broker sends; nothing a page or a
renderer sends can turn it on.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import signal
import socket
import sys
import tempfile
from dataclasses import asdict, dataclass

from browser import attacks
from browser.api import Browser, BrowserError, Tab
from renderer import protocol

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

#: Attack renderers get a short CPU allowance so that a spin ends quickly.
ATTACK_CPU_SECONDS = 2
PROBE_TIMEOUT = 30.0


@dataclass
class ProbeOutcome:
    """How compromise-simulation code ended inside its renderer."""

    outcome: str  # completed, raised, killed, exited, timeout, failed
    detail: str = ""
    errno: int | None = None
    signal: int | None = None
    bad_message: str | None = None  # set when the broker ended it for a message
    pid: int = 0
    # With a committed document: how the broker's load request ended, as
    # "ExceptionName: text" or "answered: ReplyType".
    load_answer: str | None = None

    def to_json(self) -> dict:
        # A bad-message kill names its reason in ``detail``.
        return {"outcome": self.outcome, "detail": self.detail, "errno": self.errno, "signal": self.signal}


async def run_probe(browser: Browser, code: str, *, cpu_seconds: int | None = None,
                    timeout: float = PROBE_TIMEOUT, commit_document: bool = False) -> ProbeOutcome:
    """Run ``code`` inside a fresh, fully sandboxed renderer; report how it ended.

    With ``commit_document`` the broker first hands the renderer a document
    at ``attacks.COMMITTED_URL``, as it would a page renderer, so that the
    code can answer (or lie in answer to) a real request."""
    tab = Tab(browser, browser._new_tab_id(), browser.width)  # a tab of its own, never shown
    policy = browser.sandbox.policy(**({"cpu_seconds": cpu_seconds} if cpu_seconds else {}))
    try:
        host = await browser._spawn_renderer(tab, probe=code, policy=policy)
    except BrowserError as error:
        return ProbeOutcome("failed", str(error))
    load = None
    if commit_document:
        load = asyncio.ensure_future(host.request(_committed_document, timeout=timeout))
        load.add_done_callback(lambda done: done.cancelled() or done.exception())  # the probe's answer is the point
    outcome = await _probe_outcome(browser, host, timeout)
    if load is not None:
        if not load.done():
            load.cancel()
        elif load.exception() is not None:
            outcome.load_answer = f"{type(load.exception()).__name__}: {load.exception()}"
        else:
            outcome.load_answer = f"answered: {type(load.result()).__name__}"
    return outcome


def _committed_document(request: int) -> protocol.LoadDocument:
    return protocol.LoadDocument(request=request, url=attacks.COMMITTED_URL, content_type="text/html",
                                 charset="utf-8", body=b"<title>committed</title><a href=/next>next</a>",
                                 kind=protocol.DocumentKind.HTML, width=80)


async def _probe_outcome(browser: Browser, host, timeout: float) -> ProbeOutcome:
    done, _ = await asyncio.wait({host.probe_result, host.exited}, timeout=timeout,
                                 return_when=asyncio.FIRST_COMPLETED)
    if host.probe_result in done and host.probe_result.exception() is None:
        result = host.probe_result.result()
        await browser._end_renderer(host, grace=2.0)
        return ProbeOutcome(result.outcome, result.detail, result.errno, pid=host.pid)
    if not done:
        host.terminate("the probe did not finish in time")
        await asyncio.wait({host.exited}, timeout=5)
        return ProbeOutcome("timeout", f"did not finish within {timeout:g} s", pid=host.pid)
    info = host.exited.result()
    bad = host.bad_message.name if host.bad_message is not None else None
    if info.signal is not None or bad:
        return ProbeOutcome("killed", info.cause, signal=info.signal, bad_message=bad, pid=host.pid)
    return ProbeOutcome("exited", info.cause, pid=host.pid)


# ----------------------------------------------------------------------------
# minibrowser sandbox
# ----------------------------------------------------------------------------


async def sandbox_layers(browser: Browser) -> list[protocol.SandboxLayer]:
    tab = await browser.open("about:blank")
    try:
        return await tab.sandbox_report()
    finally:
        await tab.close()


async def _in_browser(work):
    """Run ``work(browser)`` in a fresh browser; None (and one line on stderr) if it fails."""
    try:
        async with Browser() as browser:
            return await work(browser)
    except BrowserError as error:
        print(f"minibrowser: {error}", file=sys.stderr)
        return None


def sandbox_verdict(layers: list[protocol.SandboxLayer]) -> tuple[bool, str]:
    missing = [layer.name for layer in layers if layer.required and not layer.active]
    if missing:
        return False, f"NOT SANDBOXED: required layers missing: {', '.join(missing)}"
    optional_off = [layer.name for layer in layers if not layer.active]
    extra = f" (not applied: {', '.join(optional_off)})" if optional_off else ""
    return True, f"sandboxed: every required layer is on{extra}"


async def run_sandbox_report(*, as_json: bool) -> int:
    async def report(browser: Browser):
        uid = browser.sandbox.uid if browser.sandbox.uid is not None else os.getuid()
        return await sandbox_layers(browser), f"renderer forked by zygote pid {browser.zygote.pid}, running as uid {uid}"

    answer = await _in_browser(report)
    if answer is None:
        return EXIT_FAILED
    layers, pid_note = answer
    ok, verdict = sandbox_verdict(layers)
    if as_json:
        print(json.dumps({"layers": [_layer_json(layer) for layer in layers], "ok": ok, "verdict": verdict}))
    else:
        print(f"Sandbox of a page renderer ({pid_note}; broker running as uid {os.getuid()})\n")
        width = max(len(layer.name) for layer in layers)
        for layer in layers:
            mark = "on " if layer.active else ("OFF" if layer.required else "off")
            need = "required" if layer.required else "optional"
            print(f"  {layer.name.ljust(width)}  {mark}  {need:8}  {layer.detail}")
        print(f"\n{verdict}")
    return EXIT_OK if ok else EXIT_FAILED


def _layer_json(layer: protocol.SandboxLayer) -> dict:
    return {"name": layer.name, "required": layer.required, "active": layer.active, "detail": layer.detail}


# ----------------------------------------------------------------------------
# minibrowser attack
# ----------------------------------------------------------------------------


@dataclass
class AttackResult:
    name: str
    category: str
    outcome: str  # blocked, killed, ALLOWED, timeout, failed
    detail: str
    layer: str

    @property
    def held(self) -> bool:
        return self.outcome in ("blocked", "killed")


def classify(attack: attacks.Attack, probe: ProbeOutcome) -> AttackResult:
    """Turn how the renderer ended into blocked / killed / ALLOWED, with the layer."""
    layer = attack.layer
    if probe.outcome == "raised":
        outcome = "blocked"
        if probe.errno:
            import errno as errno_names

            detail = f"{errno_names.errorcode.get(probe.errno, probe.errno)}: {probe.detail}"
        else:
            detail = probe.detail
        if "MemoryError" in probe.detail or (probe.errno in (11, 12) and attack.category == "resources"):
            layer = "limits"
    elif probe.outcome == "killed":
        outcome = "killed"
        detail = probe.detail
        if probe.bad_message:
            layer = "broker (IPC checks)"
        elif probe.signal == signal.SIGSYS:
            layer = "seccomp"
        elif probe.signal in (signal.SIGXCPU, signal.SIGXFSZ):
            layer = "limits"
    elif probe.outcome == "exited":
        outcome, detail = "blocked", probe.detail
        if "memory" in probe.detail:
            layer = "limits"
    elif probe.outcome == "completed":
        outcome, detail, layer = "ALLOWED", f"the action succeeded: {probe.detail[:80]}", "none"
    else:
        outcome, detail, layer = probe.outcome, probe.detail, "none"
    return AttackResult(attack.name, attack.category, outcome, detail, layer)


class AttackRange:
    """The real targets the attacks aim at, set up by the broker and torn down after."""

    def __init__(self, browser: Browser) -> None:
        self.browser = browser
        self.directory = tempfile.mkdtemp(prefix="minibrowser-attack-")
        # World-readable and world-writable on purpose: only the sandbox, not
        # file permissions, may stand between a renderer and these.
        os.chmod(self.directory, 0o777)
        self.scratch = os.path.join(self.directory, "scratch")
        os.mkdir(self.scratch)
        os.chmod(self.scratch, 0o777)
        self.secret = os.path.join(self.directory, "secret.txt")
        with open(self.secret, "w") as f:
            f.write("the broker's secret\n")
        os.chmod(self.secret, 0o666)
        profile = getattr(browser, "profile_path", None)
        self.profile = str(profile) if profile and os.path.exists(str(profile)) else self._fake_profile()
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(8)
        self.sibling: Tab | None = None

    def _fake_profile(self) -> str:
        path = os.path.join(self.directory, "profile.sqlite3")
        with open(path, "wb") as f:
            f.write(b"SQLite format 3\x00 (stand-in profile)")
        os.chmod(path, 0o666)
        return path

    async def open_sibling(self) -> None:
        self.sibling = await self.browser.open("about:blank", activate=False)

    def target(self) -> attacks.Target:
        return attacks.Target(
            broker_pid=os.getpid(),
            sibling_pid=self.sibling.pid if self.sibling and self.sibling.pid else 1,
            secret_path=self.secret,
            profile_path=self.profile,
            scratch_dir=self.scratch,
            broker_socket=self.browser.runtime.socket_path,
            listener_port=self.listener.getsockname()[1],
        )

    def close(self) -> None:
        self.listener.close()
        shutil.rmtree(self.directory, ignore_errors=True)


def attack_source(attack: attacks.Attack, target: attacks.Target, *, inside: bool,
                  huge_file_fd: int = 2, tty_fd: int = 0, spin_seconds: float | None = None) -> str:
    """The full source of one attack, for a renderer (inside) or a plain child."""
    spin = spin_seconds if spin_seconds is not None else (3600.0 if inside else 0.5)
    return (target.preamble() + attacks.constants(spin_seconds=spin, huge_file_fd=huge_file_fd, tty_fd=tty_fd)
            + attack.code + "\n")


async def run_attack_suite(browser: Browser, chosen: list[attacks.Attack], *,
                           parallel: int = 6) -> list[AttackResult]:
    arena = AttackRange(browser)
    try:
        await arena.open_sibling()
        target = arena.target()
        gate = asyncio.Semaphore(parallel)

        async def one(attack: attacks.Attack) -> AttackResult:
            async with gate:
                source = attack_source(attack, target, inside=True)
                probe = await run_probe(browser, source, cpu_seconds=ATTACK_CPU_SECONDS,
                                        commit_document=attack.commits_document)
                return classify(attack, probe)

        results = await asyncio.gather(*(one(attack) for attack in chosen))
        # The broker and the other tab are unharmed.
        if arena.sibling is not None:
            frame = await arena.sibling.navigate("about:blank")
            if arena.sibling.state.value == "crashed" or frame is None:
                results.append(AttackResult("sibling-tab-unharmed", "ipc", "ALLOWED",
                                            "another tab's renderer was harmed", "none"))
        return list(results)
    finally:
        arena.close()


def print_attack_table(results: list[AttackResult]) -> None:
    headers = ("attack", "category", "outcome", "stopped by", "detail")
    rows = [(r.name, r.category, r.outcome, r.layer, r.detail) for r in results]
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(headers[:4])]
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths)) + "  " + headers[4])
    print("  ".join("-" * w for w in widths) + "  " + "-" * 6)
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)) + "  " + row[4][:100])


async def run_attacks(names: list[str], *, as_json: bool, probe_file: str | None, sandbox: bool = True) -> int:
    if not sandbox:
        print("minibrowser: compromise simulation needs the sandbox; drop --no-sandbox", file=sys.stderr)
        return EXIT_USAGE
    if names == ["list"]:
        for attack in attacks.CATALOGUE:
            print(f"{attack.name:24} {attack.category:10} {attack.description}")
        return EXIT_OK
    if probe_file is not None:
        return await _run_probe_file(probe_file, as_json=as_json)
    # The broker logs each renderer it ends; here that is the point, and the table says it.
    logging.getLogger("minibrowser").setLevel(logging.ERROR)
    try:
        chosen = attacks.by_name(names)
    except KeyError as unknown:
        print(f"minibrowser: no attack or category named {unknown}; 'minibrowser attack list' lists them",
              file=sys.stderr)
        return EXIT_USAGE
    results = await _in_browser(lambda browser: run_attack_suite(browser, chosen))
    if results is None:
        return EXIT_FAILED
    allowed = [r for r in results if not r.held]
    if as_json:
        print(json.dumps({"attacks": [asdict(r) for r in results], "allowed": len(allowed),
                          "total": len(results)}))
    else:
        print_attack_table(results)
        counts = {}
        for r in results:
            counts[r.outcome] = counts.get(r.outcome, 0) + 1
        summary = ", ".join(f"{n} {outcome}" for outcome, n in sorted(counts.items()))
        print(f"\n{len(results)} attacks: {summary}")
        print("the sandbox held" if not allowed else
              f"THE SANDBOX FAILED: {', '.join(r.name for r in allowed)}")
    return EXIT_OK if not allowed else EXIT_FAILED


async def _run_probe_file(path: str, *, as_json: bool) -> int:
    try:
        with open(path, encoding="utf-8") as f:
            code = f.read()
        compile(code, path, "exec")
    except OSError as error:
        print(f"minibrowser: cannot read the probe file {path}: {error.strerror}", file=sys.stderr)
        return EXIT_USAGE
    except SyntaxError as error:
        print(f"minibrowser: the probe file {path} is not valid Python: {error.msg} (line {error.lineno})",
              file=sys.stderr)
        return EXIT_USAGE
    outcome = await _in_browser(lambda browser: run_probe(browser, code))
    if outcome is None:
        return EXIT_FAILED
    if outcome.outcome in ("exited",):
        outcome.outcome = "killed"  # ended without a result: from the reviewer's view it was stopped
    if as_json:
        print(json.dumps(outcome.to_json()))
    else:
        extra = f" (errno {outcome.errno})" if outcome.errno else f" (signal {outcome.signal})" if outcome.signal else ""
        print(f"{outcome.outcome}: {outcome.detail}{extra}")
    return EXIT_OK if outcome.outcome in ("completed", "raised", "killed") else EXIT_FAILED
