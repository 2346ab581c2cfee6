"""Compromise simulation of the network process: ``minibrowser attack network``'s
attacks run inside a real, locked-down network process.

As for renderers, the attacks on the machine (files, sockets, signals, new
programs) first run in a plain forked child of this test, to show that they
work when nothing is in the way.  The attacks on the broker (forged
redirects, bodies past their length, replies to nothing, floods) speak the
network protocol, which only exists inside: there the broker's named
refusal is the result.
"""

from __future__ import annotations

import asyncio

import pytest

from broker.bad_message import BadMessage
from browser import Browser, attacks
from browser.security import attack_source, run_attack_suite
from test_attacks import OutsideRange, run_outside

ON_THE_MACHINE = [a for a in attacks.NETWORK_PROCESS_ATTACKS if not a.loads_page and not a.expected_bad_message]

#: attack -> (outcome, stopped by, how the detail starts)
EXPECTED = {
    "netproc-read-secret": ("blocked", "landlock", "EACCES: "),
    "netproc-read-profile": ("blocked", "landlock", "EACCES: "),
    "netproc-write-file": ("blocked", "landlock", "EACCES: "),
    "netproc-unix-socket": ("blocked", "seccomp", "EACCES: PermissionError: [Errno 13] Permission denied"),
    "netproc-kill-broker": ("blocked", "seccomp+landlock", "EPERM: PermissionError: [Errno 1] Operation not permitted"),
    "netproc-kill-renderer": ("blocked", "seccomp+landlock",
                              "EPERM: PermissionError: [Errno 1] Operation not permitted"),
    "netproc-execve": ("killed", "seccomp", "killed by SIGSYS"),
    "netproc-fork": ("killed", "seccomp", "killed by SIGSYS"),
    "netproc-bind": ("killed", "seccomp", "killed by SIGSYS"),
    "netproc-redirect-to-file": (
        "blocked", "broker (navigation policy)",
        "navigation-refused: the server at http://attacker.invalid/ redirected to a file: address, "
        "which a web page may not open: the redirect was refused"),
    "netproc-longer-than-declared": ("killed", "broker (network checks)",
                                     BadMessage.LONGER_THAN_DECLARED.describe()),
    "netproc-unrequested-reply": ("killed", "broker (network checks)", BadMessage.UNEXPECTED_REPLY.describe()),
    "netproc-flood": ("killed", "broker (network checks)", BadMessage.OVER_BUDGET.describe()),
    "netproc-oversized-message": ("killed", "broker (network checks)", BadMessage.TOO_LARGE.describe()),
}


def test_every_network_attack_has_an_expectation():
    assert set(EXPECTED) == {a.name for a in attacks.NETWORK_PROCESS_ATTACKS}
    assert attacks.NETWORK_PROCESS_ATTACKS == tuple(a for a in attacks.by_name(["network"]) if a.process == "network")


@pytest.fixture(scope="module")
def outside():
    arena = OutsideRange()
    yield arena
    arena.close()


@pytest.mark.parametrize("attack", ON_THE_MACHINE, ids=lambda a: a.name)
def test_attack_works_outside_the_sandbox(attack, outside):
    outside.reset_files()
    kind, detail = run_outside(attack_source(attack, outside.target(), inside=False))
    assert kind == ("exec" if attack.name == "netproc-execve" else "completed"), detail


@pytest.fixture(scope="module")
def inside_results():
    async def run():
        async with Browser() as browser:
            results = await run_attack_suite(browser, list(attacks.NETWORK_PROCESS_ATTACKS))
            # The broker is unharmed, and its own network process still loads pages.
            tab = await browser.open("about:version")
            assert "minibrowser" in tab.frame.text
            return {r.name: r for r in results}

    return asyncio.run(run())


@pytest.mark.parametrize("name", list(EXPECTED))
def test_attack_is_stopped_inside_the_network_process(name, inside_results):
    result = inside_results[name]
    outcome, layer, detail = EXPECTED[name]
    assert (result.outcome, result.layer) == (outcome, layer), result
    assert result.detail.startswith(detail), result.detail
