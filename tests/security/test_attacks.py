"""Compromise simulation: every attack in the catalogue, outside and inside.

For each attack we first run the very same code in a plain forked child of
this test, with nothing in the way, and show that it works.  Then we run it
inside a real renderer (broker, zygote, full sandbox, real ZeroMQ) and show
that it is blocked or killed, for the reason we expect.
"""

from __future__ import annotations

import errno
import os
import pty
import shutil
import signal
import socket
import tempfile
import time

import pytest

from browser import Browser, attacks
from browser.security import attack_source, run_attack_suite, run_probe


# What "for the right reason" means, per attack (default: any errno from the
# sandbox, or death by SIGSYS).
EXPECTED_BAD_MESSAGE = {
    "ipc-other-renderer": "WRONG_RENDERER",
    "ipc-oversized": "TOO_LARGE",
    "ipc-malformed": "DECODE_FAILED",
    "ipc-unknown-type": "UNKNOWN_TYPE",
    "ipc-replayed-hello": "HANDSHAKE_REPLAYED",
    "ipc-unsolicited-reply": "UNEXPECTED_REPLY",
}
EXPECTED_SIGNAL = {"cpu-spin": signal.SIGXCPU}
EXPECTED_ERRNO = {
    "memory-bomb": errno.ENOMEM,
    "huge-file": errno.EFBIG,
    "tiocsti": errno.ENOTTY,
}
SANDBOX_ERRNOS = {errno.EACCES, errno.EPERM}


# ----------------------------------------------------------------- outside


class _Sleeper:
    """A forked child of this test that only sleeps."""

    def __init__(self) -> None:
        self.pid = os.fork()
        if self.pid == 0:
            signal.pthread_sigmask(signal.SIG_BLOCK, [])
            while True:
                time.sleep(60)

    def kill(self) -> None:
        os.kill(self.pid, signal.SIGKILL)

    def wait(self) -> None:
        os.waitpid(self.pid, 0)


class OutsideRange:
    """Real targets for the unsandboxed runs: files, a listener, processes."""

    def __init__(self) -> None:
        self.directory = tempfile.mkdtemp(prefix="mb-outside-")
        self.scratch = os.path.join(self.directory, "scratch")
        os.mkdir(self.scratch)
        self.secret = os.path.join(self.directory, "secret.txt")
        self.profile = os.path.join(self.directory, "profile.sqlite3")
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(8)
        self.unix_path = os.path.join(self.directory, "broker.sock")
        self.unix_listener = socket.socket(socket.AF_UNIX)
        self.unix_listener.bind(self.unix_path)
        self.unix_listener.listen(8)
        # Stand-ins for the broker and a sibling renderer: forks of this
        # process (so memory addresses of the interpreter match, as they
        # would for a renderer reading the broker it was forked beside).
        self.broker = _Sleeper()
        self.sibling = _Sleeper()
        self.master, self.tty = pty.openpty()
        self.huge = open(os.path.join(self.directory, "huge"), "wb")

    def reset_files(self) -> None:
        for name in os.listdir(self.scratch):
            path = os.path.join(self.scratch, name)
            if os.path.isdir(path) and not os.path.islink(path):
                os.rmdir(path)
            else:
                os.unlink(path)
        with open(self.secret, "w") as f:
            f.write("secret\n")
        with open(self.profile, "wb") as f:
            f.write(b"SQLite format 3\x00")

    def target(self) -> attacks.Target:
        return attacks.Target(
            broker_pid=self.broker.pid, sibling_pid=self.sibling.pid, secret_path=self.secret,
            profile_path=self.profile, scratch_dir=self.scratch, broker_socket=self.unix_path,
            listener_port=self.listener.getsockname()[1],
        )

    def close(self) -> None:
        for process in (self.broker, self.sibling):
            process.kill()
            process.wait()
        self.listener.close()
        self.unix_listener.close()
        os.close(self.master)
        os.close(self.tty)
        self.huge.close()
        shutil.rmtree(self.directory, ignore_errors=True)


@pytest.fixture(scope="module")
def outside():
    arena = OutsideRange()
    yield arena
    arena.close()


def run_outside(source: str) -> tuple[str, str]:
    """Run ``source`` in a plain forked child; ('completed' | 'raised' | 'exec' | 'signal', detail)."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        try:
            exec(compile(source, "<attack>", "exec"), {"__name__": "__attack__"})  # noqa: S102
            os.write(write_end, b"completed")
        except BaseException as error:  # noqa: BLE001
            os.write(write_end, f"raised {type(error).__name__}: {error}"[:500].encode())
        os._exit(0)
    os.close(write_end)
    chunks = []
    while chunk := os.read(read_end, 4096):
        chunks.append(chunk)
    os.close(read_end)
    _, status = os.waitpid(pid, 0)
    message = b"".join(chunks).decode()
    if os.WIFSIGNALED(status):
        return "signal", signal.Signals(os.WTERMSIG(status)).name
    if not message:
        return "exec", f"the process became another program (exit {os.WEXITSTATUS(status)})"
    kind, _, detail = message.partition(" ")
    return kind, detail


OUTSIDE_ATTACKS = [a for a in attacks.CATALOGUE if not a.inside_only]


def _outside_param(attack: attacks.Attack):
    """Some attacks only work outside the sandbox for root (reading
    /etc/shadow, raw sockets, mounts...): a normal user cannot show them."""
    marks = [pytest.mark.needs_root(f"only root can {attack.description} outside the sandbox")] \
        if attack.root_only_outside else []
    return pytest.param(attack, id=attack.name, marks=marks)


@pytest.mark.parametrize("attack", [_outside_param(a) for a in OUTSIDE_ATTACKS])
def test_attack_works_outside_the_sandbox(attack, outside):
    outside.reset_files()
    source = attack_source(attack, outside.target(), inside=False,
                           huge_file_fd=outside.huge.fileno(), tty_fd=outside.tty)
    kind, detail = run_outside(source)
    if attack.name == "execve":
        assert kind == "exec", detail
    else:
        assert kind == "completed", f"{attack.name} failed even outside the sandbox: {detail}"


# ------------------------------------------------------------------ inside


@pytest.fixture(scope="module")
def inside_results():
    import asyncio

    async def run():
        async with Browser() as browser:
            results = await run_attack_suite(browser, list(attacks.CATALOGUE))
            # Broker unharmed: it still opens and renders a page afterwards.
            tab = await browser.open("about:version")
            assert "minibrowser" in tab.frame.text
            return {r.name: r for r in results}

    return asyncio.run(run())


def test_the_catalogue_is_large_enough():
    assert len(attacks.CATALOGUE) >= 40
    assert {a.category for a in attacks.CATALOGUE} == {
        "files", "network", "processes", "kernel", "resources", "ipc", "browser"}


@pytest.mark.parametrize("attack", attacks.CATALOGUE, ids=lambda a: a.name)
def test_attack_is_stopped_inside_the_sandbox(attack, inside_results):
    result = inside_results[attack.name]
    assert result.outcome in ("blocked", "killed"), f"{attack.name}: {result.outcome}: {result.detail}"
    expected_bad_message = EXPECTED_BAD_MESSAGE.get(attack.name, attack.expected_bad_message)
    if expected_bad_message is not None:
        assert result.outcome == "killed" and f"bad message {expected_bad_message}:" in result.detail
    elif attack.name in EXPECTED_SIGNAL:
        assert result.outcome == "killed" and signal.Signals(EXPECTED_SIGNAL[attack.name]).name in result.detail
    elif attack.name in EXPECTED_ERRNO:
        assert result.outcome == "blocked" and errno.errorcode[EXPECTED_ERRNO[attack.name]] in result.detail
    elif attack.name == "frame-escapes":
        assert (result.outcome, result.detail) == (
            "blocked", "escapes reached the user only as pictures (13 fields shown safe)")
    elif attack.name == "thread-bomb":
        assert result.outcome == "blocked" and "can't start new thread" in result.detail
    elif result.outcome == "killed":
        assert "SIGSYS" in result.detail, result.detail  # seccomp, not a crash for another reason
    else:
        assert any(errno.errorcode[e] in result.detail for e in SANDBOX_ERRNOS), result.detail


def test_sibling_tab_survives_every_attack(inside_results):
    assert "sibling-tab-unharmed" not in inside_results


async def test_control_probe_completes_and_is_not_ended():
    """The IPC attacks' control: a renderer that sends nothing bad is left alone."""
    async with Browser() as browser:
        outcome = await run_probe(browser, "result = 'nothing bad'")
    assert outcome.outcome == "completed"
    assert outcome.detail == "nothing bad"


async def test_probe_errors_are_reported_with_errno():
    async with Browser() as browser:
        outcome = await run_probe(browser, "open('/etc/hostname')")
    assert outcome.outcome == "raised"
    assert outcome.errno == errno.EACCES


def test_nothing_a_renderer_is_sent_can_carry_attack_code():
    """Probe code reaches a renderer only in the zygote's spawn request, which
    only the broker sends: no broker->renderer message has a field for code."""
    from renderer import protocol

    for message in protocol.ToRenderer.__args__:
        for name in message.__struct_fields__:
            assert name not in ("probe", "code", "source"), f"{message.__name__}.{name}"
    assert "probe" in protocol.SpawnRenderer.__struct_fields__
    assert protocol.SpawnRenderer not in protocol.ToRenderer.__args__
