"""Policy parameters a sweep can vary, and the sweep syntax.

A design names a policy of ``broker.discard_policies`` and, optionally,
values for some of that policy's parameters::

    --param memory-saver.hidden=1h..8h/1h     # 1 h, 2 h, ... 8 h
    --param memory-saver.revisits=5,15
    --param edge.sleep=30m,2h
    --budget 256M,512M,1G

Each parameter belongs to a family of policies (``memory-saver`` to the
three Chrome Memory Saver modes, ``edge`` to Edge's sleeping tabs,
``minibrowser`` to minibrowser's own); a design whose policy is not of the
family ignores it.  The policy object is the broker's own, made by
``make_policy`` and then given the value (a Memory Saver mode with another
time, an Edge policy with another sleep time, a ``LifecyclePolicy`` with
another rule): no copy of any policy lives here.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from dataclasses import dataclass

from broker.discard_policies import ChromeMemorySaver, DiscardPolicy, EdgeSleepingTabs, MinibrowserPolicy, make_policy

_UNITS = {"": 1.0, "s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "d": 86400.0}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|min|h|d)?\s*$")
MAX_VALUES = 1000


class ParamError(ValueError):
    """A ``--param`` that cannot be used; ``str()`` is one line."""


@dataclass(frozen=True)
class Parameter:
    """One sweepable parameter: its family, its name and how its values read."""

    family: str
    name: str
    kind: str  # "duration" (seconds) or "count"
    help: str

    @property
    def key(self) -> str:
        return f"{self.family}.{self.name}"

    def applies_to(self, policy_name: str) -> bool:
        return policy_name.startswith(_FAMILY_PREFIX[self.family])

    def parse_value(self, text: str) -> float:
        if self.kind == "count":
            if not text.strip().isdigit():
                raise ParamError(f"--param {self.key}: {text!r} is not a whole number")
            return float(int(text))
        match = _DURATION.match(text)
        if not match:
            raise ParamError(f"--param {self.key}: {text!r} is not a duration such as 90s, 30m or 2h")
        return float(match.group(1)) * _UNITS[match.group(2) or ""]

    def show(self, value: float) -> str:
        if self.kind == "count":
            return str(int(value))
        for unit, size in (("d", 86400.0), ("h", 3600.0), ("m", 60.0)):
            if value >= size and value % size == 0:
                return f"{int(value // size)}{unit}"
        return f"{value:g}s"


PARAMETERS = {p.key: p for p in (
    Parameter("memory-saver", "hidden", "duration", "time hidden before Memory Saver discards a tab (modes: 6h, 4h, 2h)"),
    Parameter("memory-saver", "revisits", "count", "revisits above which Memory Saver keeps a tab (modes: 15, 15, 5)"),
    Parameter("edge", "sleep", "duration", "inactivity before Edge puts a tab to sleep (default 2h)"),
    Parameter("minibrowser", "freeze", "duration", "time hidden before minibrowser freezes a tab (default 5m)"),
    Parameter("minibrowser", "discard", "duration", "time hidden before minibrowser discards a tab (default 1h)"),
)}
_FAMILY_PREFIX = {"memory-saver": "chrome-memory-saver", "edge": "edge-sleeping-tabs", "minibrowser": "minibrowser"}

Setting = tuple[str, float]  # (parameter key, value)


def parse_param(text: str) -> tuple[str, list[float]]:
    """``NAME=VALUES``: a list (``a,b,c``) or a range (``low..high/step``), in the parameter's units."""
    name, equals, values = text.partition("=")
    name = name.strip()
    if not equals or not values.strip():
        raise ParamError(f"--param needs NAME=VALUES, such as memory-saver.hidden=1h..8h/1h, not {text!r}")
    parameter = PARAMETERS.get(name)
    if parameter is None:
        raise ParamError(f"unknown parameter {name!r}; the parameters are: {', '.join(PARAMETERS)}")
    if ".." in values:
        low_text, _, rest = values.partition("..")
        high_text, slash, step_text = rest.partition("/")
        if not slash:
            raise ParamError(f"--param {name}: a range needs a step, such as 1h..8h/1h")
        low, high, step = (parameter.parse_value(v) for v in (low_text, high_text, step_text))
        if step <= 0 or high < low:
            raise ParamError(f"--param {name}: the range {values!r} is empty (low..high/step, step above 0)")
        count = int((high - low) / step + 1e-9) + 1
        if count > MAX_VALUES:
            raise ParamError(f"--param {name}: {count} values; at most {MAX_VALUES}")
        chosen = [low + i * step for i in range(count)]
    else:
        chosen = [parameter.parse_value(v) for v in values.split(",")]
    return name, list(dict.fromkeys(chosen))


def settings_for(policy_name: str, swept: Sequence[tuple[str, list[float]]]) -> list[tuple[Setting, ...]]:
    """Every combination of the swept parameters that apply to ``policy_name`` (one empty one if none does)."""
    combinations: list[tuple[Setting, ...]] = [()]
    for name, values in swept:
        if PARAMETERS[name].applies_to(policy_name):
            combinations = [c + ((name, v),) for c in combinations for v in values]
    return combinations


def describe(settings: Sequence[Setting]) -> str:
    """``hidden=2h revisits=5``: how a design's settings read in its label."""
    return " ".join(f"{PARAMETERS[name].name}={PARAMETERS[name].show(value)}" for name, value in settings)


def build_policy(policy_name: str, budget_bytes: int, settings: Sequence[Setting] = ()) -> DiscardPolicy:
    """The broker's policy ``policy_name`` with ``settings`` applied."""
    policy = make_policy(policy_name, budget_bytes=budget_bytes)
    for name, value in settings:
        if not PARAMETERS[name].applies_to(policy_name):
            continue
        match name, policy:
            case "memory-saver.hidden", ChromeMemorySaver():
                policy.mode = dataclasses.replace(policy.mode, hidden_s=value)
            case "memory-saver.revisits", ChromeMemorySaver():
                policy.mode = dataclasses.replace(policy.mode, max_revisits=int(value))
            case "edge.sleep", EdgeSleepingTabs():
                policy.sleep_after_s = value
            case "minibrowser.freeze", MinibrowserPolicy():
                policy.settings = dataclasses.replace(policy.settings, freeze_after_s=value)
            case "minibrowser.discard", MinibrowserPolicy():
                policy.settings = dataclasses.replace(policy.settings, discard_after_s=value)
    return policy
