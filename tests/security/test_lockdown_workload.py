"""The whole lockdown around a real renderer-like workload.

A forked child does what a renderer does (fresh process state, lockdown,
ZeroMQ DEALER to a ROUTER on a pathname ipc:// socket, handshake, seccomp)
and then parses HTML with selectolax, grows and shrinks its heap, answers
over ZeroMQ, reports its sandbox from inside and exits 0.  As root: as root
and as nobody; as a normal user: as that user.
"""

from __future__ import annotations

import threading

import pytest

from renderer import sandbox
from renderer.protocol import SandboxPolicy
from lockdown import landlock
from forkrun import ROOT, SUMMARY, UNPRIVILEGED, report, run_in_child
from workload import run_workload


def layers_of(replies) -> dict[str, dict]:
    return {layer["name"]: layer for layer in replies[-1]}


@pytest.mark.parametrize("as_user", [
    pytest.param(None, id="root", marks=pytest.mark.needs_root("runs the workload as root (the [unprivileged] case runs it as this user)")),
    pytest.param(UNPRIVILEGED, id="unprivileged"),
])
def test_a_fully_locked_down_renderer_does_its_work(as_user):
    end, replies = run_workload(SandboxPolicy(), as_user=as_user, requests=5)
    assert end.code == 0, str(end)
    assert replies[0] == b"hello"
    answers = replies[1:-1]
    assert len(answers) == 5 and all(a["links"] == 200 for a in answers)
    assert end.reports["open_errno"] == 13  # EACCES: no filesystem
    layers = layers_of(replies)
    always = ("process", "namespaces", "limits", "no_new_privs", "landlock", "seccomp")
    assert all(layers[name]["active"] for name in always), layers
    as_root = as_user is None and ROOT
    if as_root:
        assert layers["privileges"]["active"] and layers["privileges"]["required"]
        assert "uid 65534" in layers["privileges"]["detail"]
    else:  # nothing to drop; the user namespace's capabilities were
        assert not layers["privileges"]["required"] and "n/a" in layers["privileges"]["detail"]
        assert "user" in layers["namespaces"]["detail"]
    SUMMARY.append(f"lockdown as {'root' if as_root else 'nobody' if as_user is not None else 'this user'}: "
                   f"before IPC {end.reports['before_ms']:.1f} ms, after IPC {end.reports['after_ms']:.1f} ms; "
                   f"active: {', '.join(n for n, l in layers.items() if l['active'])}")


def test_zeromq_works_with_few_descriptors():
    end, replies = run_workload(SandboxPolicy(open_files=16), requests=2)
    assert end.code == 0, str(end)


def test_no_sandbox_applies_nothing_and_says_so():
    end, replies = run_workload(SandboxPolicy(enabled=False), requests=1)
    assert end.code == 0, str(end)
    layers = layers_of(replies)
    assert layers["process"]["active"]
    assert not any(layers[n]["active"] for n in layers if n != "process")
    assert "open_errno" not in end.reports  # the file opened: nothing was locked


def test_a_missing_landlock_is_one_clear_line(monkeypatch):
    def body():
        monkeypatch.setattr(landlock, "abi_version", lambda: 0)
        try:
            sandbox.lockdown_before_ipc(SandboxPolicy())
        except sandbox.SandboxUnavailable as error:
            report(message=str(error))
        return 0

    end = run_in_child(body)
    message = end.reports["message"]
    assert message.startswith("Landlock is not available") and "--no-sandbox" in message
    assert "\n" not in message


def test_lockdown_refuses_a_multithreaded_process():
    def body():
        stop = threading.Event()
        threading.Thread(target=stop.wait, daemon=True).start()
        try:
            sandbox.lockdown_before_ipc(SandboxPolicy())
        except RuntimeError as error:
            report(refused=str(error))
        stop.set()
        return 0

    assert "single-threaded" in run_in_child(body).reports["refused"]


def test_kernel_capabilities_are_detected_without_applying_anything():
    caps = sandbox.capabilities_of_this_kernel()
    assert caps.root == ROOT and caps.seccomp_filter and caps.namespaces
    assert caps.landlock_abi == landlock.abi_version() >= 1
    with open("/proc/self/status") as f:
        assert "NoNewPrivs:\t0" in f.read()  # nothing applied to the test process
