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

from broker.safe_text import safe_line, safe_text, unsafe_characters
from browser import attacks
from browser.api import Browser, BrowserError, ProbeOutcome, Tab, judge_sandbox
from browser.output import dump_header, dump_text, tab_problem  # the CLI's own output, not a copy
from renderer import protocol

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

#: Attack renderers get a short CPU allowance so that a spin ends quickly.
ATTACK_CPU_SECONDS = 2
PROBE_TIMEOUT = 30.0


async def run_probe(browser: Browser, code: str, *, cpu_seconds: int | None = None,
                    timeout: float = PROBE_TIMEOUT, commit_document: bool = False) -> ProbeOutcome:
    """Run ``code`` inside a fresh, fully sandboxed renderer; report how it ended.

    With ``commit_document`` the broker first hands the renderer a document
    at ``attacks.COMMITTED_URL``, as it would a page renderer, so that the
    code can answer (or lie in answer to) a real request."""
    document = (attacks.COMMITTED_URL, COMMITTED_BODY) if commit_document else None
    return await browser.run_probe(code, cpu_seconds=cpu_seconds, timeout=timeout, document=document)


#: The document a probe renderer is handed before its code runs (``commit_document``).
COMMITTED_BODY = b"<title>committed</title><a href=/next>next</a>"


# ----------------------------------------------------------------------------
# minibrowser sandbox
# ----------------------------------------------------------------------------


async def sandbox_layers(browser: Browser) -> list[protocol.SandboxLayer]:
    tab = await browser.open("about:blank")
    try:
        return await tab.sandbox_report()
    finally:
        await tab.close()


async def _in_browser(work, **options):
    """Run ``work(browser)`` in a fresh browser (``options`` for ``Browser``);
    None (and one line on stderr) if it fails."""
    try:
        async with Browser(started_by="check", **options) as browser:
            return await work(browser)
    except BrowserError as error:
        print(f"minibrowser: {error}", file=sys.stderr)
        return None


def sandbox_verdict(layers: list[protocol.SandboxLayer]) -> tuple[bool, str]:
    """``(sandboxed, the verdict line)`` for ``minibrowser sandbox``."""
    judged = judge_sandbox(layers)
    if judged.missing:
        return False, f"NOT SANDBOXED: required layers missing: {', '.join(judged.missing)}"
    extra = f" (not applied: {', '.join(judged.not_applied)})" if judged.not_applied else ""
    return True, f"sandboxed: every required layer is on{extra}"


async def run_sandbox_report(*, as_json: bool, process_model: str = "per-tab", process_limit: int | None = None,
                             spare: bool = True) -> int:
    """``minibrowser sandbox``: the layers, from inside a real renderer and
    from inside the network process, and the process model in force (site
    isolation is the browser half of the sandbox)."""
    async def report(browser: Browser):
        uid = browser.sandbox.uid if browser.sandbox.uid is not None else os.getuid()
        note = f"renderer forked by zygote pid {browser.zygote_pid}, running as uid {uid}"
        layers = await sandbox_layers(browser)
        network = await browser.network_sandbox_report()
        network_pid = next((p.pid for p in browser.processes() if p.role == "network"), 0)
        network_note = f"pid {network_pid}, started by the broker, running as uid {uid}"
        return layers, note, browser.describe_process_model(), network, network_note

    answer = await _in_browser(report, process_model=process_model, process_limit=process_limit, spare=spare)
    if answer is None:
        return EXIT_FAILED
    layers, pid_note, model_line, network_layers, network_note = answer
    renderer_ok, verdict = sandbox_verdict(layers)
    network_ok, network_verdict = sandbox_verdict(network_layers)
    ok = renderer_ok and network_ok
    verdict = safe_line(verdict)  # it names the layers the renderer reported
    network_verdict = safe_line(network_verdict)
    if as_json:
        print(json.dumps({"layers": [_layer_json(layer) for layer in layers], "ok": ok, "verdict": verdict,
                          "network_layers": [_layer_json(layer) for layer in network_layers],
                          "network_verdict": network_verdict,
                          "process_model": process_model, "process_model_line": model_line}))
    else:
        print(f"Sandbox of a page renderer ({pid_note}; broker running as uid {os.getuid()})\n")
        _print_layers(layers)
        print(f"\nSandbox of the network process ({network_note})\n")
        _print_layers(network_layers)
        print(f"\nSite isolation: {model_line}")
        print(f"\nrenderer: {verdict}\nnetwork process: {network_verdict}")
    return EXIT_OK if ok else EXIT_FAILED


def _print_layers(layers: list) -> None:
    width = max(len(safe_line(layer.name)) for layer in layers)
    for layer in layers:
        mark = "on " if layer.active else ("OFF" if layer.required else "off")
        need = "required" if layer.required else "optional"
        print(f"  {safe_line(layer.name).ljust(width)}  {mark}  {need:8}  {safe_line(layer.detail)}")


def _layer_json(layer: protocol.SandboxLayer) -> dict:
    return {"name": safe_line(layer.name), "required": layer.required, "active": layer.active,
            "detail": safe_line(layer.detail)}


def _safe_strings(record: dict) -> dict:
    """``record`` with its string values made safe: probe output and attack
    details come from code running in a renderer."""
    return {key: safe_text(value) if isinstance(value, str) else value for key, value in record.items()}


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


def classify_network(attack: attacks.Attack, probe: ProbeOutcome) -> AttackResult:
    """How an attack from inside a network process ended: killed by the
    broker for a bad message or by seccomp, refused by the broker's policy
    (the page load it answered failed), blocked by an errno, or ALLOWED."""
    import errno as errno_names

    if probe.outcome == "killed":
        layer = ("broker (network checks)" if probe.bad_message
                 else "seccomp" if probe.signal == signal.SIGSYS else attack.layer)
        return AttackResult(attack.name, attack.category, "killed", probe.detail, layer)
    if probe.load_answer not in (None, "loaded"):
        return AttackResult(attack.name, attack.category, "blocked", probe.load_answer, attack.layer)
    if probe.outcome == "raised":
        detail = (f"{errno_names.errorcode.get(probe.errno, probe.errno)}: {probe.detail}" if probe.errno
                  else probe.detail)
        return AttackResult(attack.name, attack.category, "blocked", detail, attack.layer)
    if probe.outcome == "completed":
        return AttackResult(attack.name, attack.category, "ALLOWED", f"the action succeeded: {probe.detail[:80]}",
                            "none")
    return AttackResult(attack.name, attack.category, probe.outcome, probe.detail, "none")


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
            broker_socket=self.browser.broker_socket,
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
                if attack.process == "network":
                    probe = await browser.run_network_probe(source, load_page=attack.loads_page)
                    return classify_network(attack, probe)
                if attack.serves_tab:
                    return await run_tab_attack(browser, attack, source)
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


#: The page a tab attack's renderer is asked to load: its address carries the
#: escapes too, so that the frame's URL, the one the broker committed, is hostile.
TAB_ATTACK_URL = "data:text/html,address" + attacks.TERMINAL_ESCAPES
#: What every field must show of the escapes once the broker made them safe.
ESCAPES_SHOWN = safe_line(attacks.TERMINAL_ESCAPES)


async def run_tab_attack(browser: Browser, attack: attacks.Attack, source: str) -> AttackResult:
    """Run ``source`` as the renderer of a tab of its own, load a page and
    find text in it, and judge what the user would see: every line ``open
    --dump`` and ``--json`` print and the tab's title.  Blocked when the
    escapes arrived in every field (shown as pictures: the attack reached the
    user) and not one control character did."""
    tab = None
    try:
        tab = await browser.open_compromised(TAB_ATTACK_URL, source)
        await tab.find("text")
        problem = tab_problem(tab)  # before the renderer is ended: that would crash the tab
        seen = {
            "title": tab.title,
            "dump": dump_header(tab) + dump_text(TAB_ATTACK_URL, tab, problem, as_json=False),
            "json": dump_text(TAB_ATTACK_URL, tab, problem, as_json=True),
        }
    except BrowserError as error:
        return AttackResult(attack.name, attack.category, "failed", safe_line(str(error)), "none")
    finally:
        if tab is not None:
            await tab.close()
    leaked = sorted({f"U+{ord(c):04X}" for text in seen.values() for c in unsafe_characters(text)})
    if leaked:
        return AttackResult(attack.name, attack.category, "ALLOWED",
                            f"control characters reached the user: {', '.join(leaked)}", "none")
    shown = {name: text.count(ESCAPES_SHOWN) for name, text in seen.items()}
    if problem or not all(shown.values()):
        return AttackResult(attack.name, attack.category, "failed",
                            f"the hostile frame did not reach the user ({safe_line(problem or str(shown))})", "none")
    return AttackResult(attack.name, attack.category, "blocked",
                        f"escapes reached the user only as pictures ({sum(shown.values())} fields shown safe)",
                        attack.layer)


def print_attack_table(results: list[AttackResult]) -> None:
    headers = ("attack", "category", "outcome", "stopped by", "detail")
    rows = [(r.name, r.category, r.outcome, r.layer, safe_line(r.detail)) for r in results]
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
        for attack in attacks.by_name([]):
            print(f"{attack.name:28} {attack.category:10} {attack.description}")
        return EXIT_OK
    if probe_file is not None:
        return await _run_probe_file(probe_file, as_json=as_json)
    if names[:1] == ["frames"]:
        from browser.frame_attacks import run_frame_attack_table

        return await run_frame_attack_table(as_json=as_json, names=names[1:] or ["frame-read-child"])
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
        print(json.dumps({"attacks": [_safe_strings(asdict(r)) for r in results], "allowed": len(allowed),
                          "total": len(results)}, ensure_ascii=False))
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
        print(json.dumps(_safe_strings(outcome.to_json()), ensure_ascii=False))
    else:
        extra = f" (errno {outcome.errno})" if outcome.errno else f" (signal {outcome.signal})" if outcome.signal else ""
        print(f"{safe_line(outcome.outcome)}: {safe_text(outcome.detail)}{extra}")
    return EXIT_OK if outcome.outcome in ("completed", "raised", "killed") else EXIT_FAILED
