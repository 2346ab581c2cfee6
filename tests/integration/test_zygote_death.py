"""The zygote dies (kill -9): its renderers die with it, their tabs show
why and reload, new tabs open in a new zygote, and nothing outlives the
browser.  A zygote that keeps dying is started again later and later, never
given up; a new tab opened while it waits says when it comes back."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys

import psutil

from browser import Browser, TabState
from tests.support.processes import gone
from tests.support.waiting import wait_for

CLI = [sys.executable, "-m", "browser.cli"]


def sad_tab_text(url: str, cause: str) -> str:
    return "\n".join([
        "Aw, snap! This tab's renderer stopped.",
        "",
        f"Cause: {cause}",
        f"Page:  {url}",
        "",
        "Reload the tab to start a new renderer for it.",
    ])


async def test_after_the_zygote_dies_tabs_crash_reload_and_new_tabs_open(http_server):
    url = http_server.url("/hello")
    async with Browser() as browser:
        runtime_dir = browser.runtime_dir
        tabs = [await browser.open(url), await browser.open(url, activate=False)]
        page_text = tabs[0].frame.text
        first_zygote = browser.zygote_pid
        first_renderers = [tab.pid for tab in tabs]
        assert [psutil.Process(pid).ppid() for pid in first_renderers] == [first_zygote] * 2

        os.kill(first_zygote, signal.SIGKILL)

        await wait_for(lambda: all(tab.state is TabState.CRASHED for tab in tabs), what="both tabs to crash")
        for tab in tabs:
            assert tab.crash_cause == "the zygote process died"
            assert tab.frame.text == sad_tab_text(url, "the zygote process died")
        # The renderers died with their zygote (their parent-death signal).
        await wait_for(lambda: all(gone(pid) for pid in first_renderers), what="the renderers to die")

        frame = await tabs[0].reload()
        assert tabs[0].state is TabState.ACTIVE
        assert frame.text == page_text
        second_zygote = browser.zygote_pid
        assert second_zygote != first_zygote
        assert psutil.Process(tabs[0].pid).ppid() == second_zygote

        new_tab = await browser.open(url)
        assert new_tab.state is TabState.ACTIVE and new_tab.error is None
        assert new_tab.frame.text == page_text
        assert psutil.Process(new_tab.pid).ppid() == second_zygote
        last_renderers = [tabs[0].pid, new_tab.pid]
        roles = sorted((p.role, p.pid) for p in browser.processes() if p.role != "spare")
        network = [pid for role, pid in roles if role == "network"]  # not the zygote's: it lived on
        assert roles == sorted([("broker", os.getpid()), ("zygote", second_zygote), *[("network", pid) for pid in network],
                                ("renderer", tabs[0].pid), ("renderer", new_tab.pid)])
        assert len(network) == 1

    everything = [first_zygote, second_zygote, *first_renderers, *last_renderers]
    assert [pid for pid in everything if not gone(pid)] == []
    assert not os.path.exists(runtime_dir)


async def test_a_zygote_that_keeps_dying_is_started_again_later_and_new_tabs_say_when(http_server):
    """kill -9 of the zygote five times in a row: each time it is started
    again, later and later (0.1, 0.2, 0.4, 0.8, then 1.6 s).  A tab opened
    during the last wait says in one line when the zygote comes back; once
    it is back, that tab reloads and new tabs open: it is never given up."""
    url = http_server.url("/hello")
    async with Browser() as browser:
        first = await browser.open(url)
        page_text = first.frame.text
        zygotes = []
        for death in range(1, 6):
            zygote = await wait_for(lambda: browser.zygote_pid not in (0, *zygotes) and browser.zygote_pid,
                                    what=f"zygote number {death}")
            zygotes.append(zygote)
            os.kill(zygote, signal.SIGKILL)
            await wait_for(lambda: gone(zygote) and browser.zygote_pid != zygote,
                           what=f"zygote number {death} to die, and the browser to notice")
        assert first.state is TabState.CRASHED and first.crash_cause == "the zygote process died"

        refused = await browser.open(url)
        assert refused.state is TabState.CRASHED
        said = re.fullmatch(r"could not start a renderer: the zygote process died 5 times in a row and is started "
                            r"again in (\d+\.\d) s; open the tab or reload it then", refused.error)
        assert said, refused.error
        assert 1.0 <= float(said[1]) <= 1.6  # longer than a new tab waits for a restart, at most the fifth delay
        assert refused.crash_cause == refused.error

        sixth = await wait_for(lambda: browser.zygote_pid not in (0, *zygotes) and browser.zygote_pid,
                               what="the zygote to be started again after its backoff")
        await refused.reload()
        assert (refused.state, refused.error, refused.crash_cause) == (TabState.ACTIVE, None, None)
        assert refused.frame.text == page_text
        await first.reload()
        assert first.state is TabState.BACKGROUND and first.frame.text == page_text
        new_tab = await browser.open(url)
        assert new_tab.state is TabState.ACTIVE and new_tab.frame.text == page_text
        assert {psutil.Process(tab.pid).ppid() for tab in (refused, first, new_tab)} == {sixth}
    assert [pid for pid in [*zygotes, sixth] if not gone(pid)] == []


def test_inside_a_renderer_the_parent_death_signal_is_set(tmp_path):
    """Read from a locked-down renderer (dropped from root to nobody when
    run as root): PR_GET_PDEATHSIG says SIGKILL, and the sandbox report
    says the same."""
    probe = tmp_path / "pdeathsig.py"
    probe.write_text(
        "import ctypes\n"
        "value = ctypes.c_int(-1)\n"
        "ctypes.CDLL(None).prctl(2, ctypes.byref(value), 0, 0, 0)  # PR_GET_PDEATHSIG\n"
        "result = value.value\n"
    )
    env = dict(os.environ)
    env.pop("XDG_RUNTIME_DIR", None)
    result = subprocess.run(CLI + ["attack", "--probe-file", str(probe), "--json"], capture_output=True,
                            text=True, timeout=120, env=env, stdin=subprocess.DEVNULL)
    assert json.loads(result.stdout) == {"outcome": "completed", "detail": str(int(signal.SIGKILL)),
                                         "errno": None, "signal": None}
    report = subprocess.run(CLI + ["sandbox", "--json"], capture_output=True, text=True, timeout=120,
                            env=env, stdin=subprocess.DEVNULL)
    process_layer = next(layer for layer in json.loads(report.stdout)["layers"] if layer["name"] == "process")
    assert process_layer == {"name": "process", "required": True, "active": True,
                             "detail": "own session: True, not dumpable: True, dies with its parent (SIGKILL)"}
