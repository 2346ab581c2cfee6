"""The whole browser run by a user who is not root: the sandbox must hold too.

As root (CI), the browser is started inside a user namespace that maps uid
and gid 1000 (``unshare --user --map-user=1000``): it runs with euid 1000 and
no capabilities in the initial namespace, so it cannot drop privileges and
must build its renderers' namespaces from a user namespace, as an ordinary
user's browser does.  (Its files stay reachable because the mapped uid is
root's outside; the kernel also exempts that uid from RLIMIT_NPROC, which is
why the seccomp filter itself refuses new threads.)  Run by a user who is
not root, the command is started as it is.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys


CLI = [sys.executable, "-m", "browser.cli"]


def as_unprivileged(args: list[str]) -> subprocess.CompletedProcess:
    prefix: list[str] = []
    if os.geteuid() == 0:
        unshare = shutil.which("unshare")
        assert unshare, "util-linux unshare is needed to run the browser as a non-root user"
        prefix = [unshare, "--user", "--map-user=1000", "--map-group=1000"]
    env = dict(os.environ)
    env.pop("XDG_RUNTIME_DIR", None)
    return subprocess.run(prefix + CLI + args, capture_output=True, text=True, timeout=180,
                          stdin=subprocess.DEVNULL, env=env)


def test_unprivileged_sandbox_report_says_which_layers_apply():
    result = as_unprivileged(["sandbox", "--json"])
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    layers = {layer["name"]: layer for layer in report["layers"]}
    assert report["ok"]
    for name in ("process", "namespaces", "limits", "no_new_privs", "landlock", "seccomp"):
        assert layers[name]["active"], layers[name]
    assert not layers["privileges"]["active"] and not layers["privileges"]["required"]
    assert "user" in layers["namespaces"]["detail"]  # built from a user namespace
    applied = ", ".join(name for name, layer in layers.items() if layer["active"])
    print(f"as a non-root user the renderer has: {applied}")


def test_unprivileged_attacks_are_all_stopped():
    result = as_unprivileged(["attack", "--json"])
    report = json.loads(result.stdout)
    allowed = [a for a in report["attacks"] if a["outcome"] not in ("blocked", "killed")]
    assert allowed == []
    assert result.returncode == 0
    assert report["total"] >= 40
