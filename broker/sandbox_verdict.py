"""Is a renderer (or the network process) sandboxed enough?  The one place that judges it.

A renderer reports its sandbox layers from the inside, and the network
process in its handshake
(``protocol.SandboxLayer``: name, required, active, detail).  The verdict
depends on those layers and on whether the browser runs with the sandbox at
all (``--no-sandbox``).  ``minibrowser sandbox``, the about:sandbox page and
the terminal UI each say it in their own words, from this one judgement.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

from renderer import protocol


class Sandboxing(enum.Enum):
    SANDBOXED = "sandboxed"  # every required layer is on
    PARTIAL = "partly sandboxed"  # some required layer is off
    OFF = "NOT sandboxed"  # the browser runs with --no-sandbox


@dataclass(frozen=True)
class SandboxVerdict:
    sandboxing: Sandboxing
    missing: tuple[str, ...]  # required layers that are off
    not_applied: tuple[str, ...]  # every layer that is off, required or not

    @property
    def sandboxed(self) -> bool:
        """Sandboxed enough to run pages."""
        return self.sandboxing is Sandboxing.SANDBOXED


def judge_sandbox(layers: Iterable[protocol.SandboxLayer], *, enabled: bool = True) -> SandboxVerdict:
    """The verdict on a renderer that reported ``layers``, in a browser whose
    sandbox is ``enabled`` (False with ``--no-sandbox``)."""
    layers = list(layers)
    missing = tuple(layer.name for layer in layers if layer.required and not layer.active)
    not_applied = tuple(layer.name for layer in layers if not layer.active)
    if not enabled:
        sandboxing = Sandboxing.OFF
    elif missing:
        sandboxing = Sandboxing.PARTIAL
    else:
        sandboxing = Sandboxing.SANDBOXED
    return SandboxVerdict(sandboxing, missing, not_applied)
