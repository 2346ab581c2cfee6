"""``BrowserOptions``: how a browser is set up, written once.

The public ``browser.api.Browser`` and the kernel's ``BrowserImpl`` both take
these; either as an object or as keywords that name its fields
(``Browser(sandbox=False)`` is ``Browser(BrowserOptions(sandbox=False))``).
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from collections.abc import Callable
from typing import Any

from broker.discard_policies import DiscardPolicy
from broker.lifecycle import LifecyclePolicy
from broker.process_model import ProcessModel
from broker.zygote_launch import EarlyStart

DEFAULT_WIDTH = 80


@dataclass(frozen=True)
class BrowserOptions:
    """How a browser is set up.

    ``started_early``: a runtime directory and zygote that the command line
    started before its imports (``broker.zygote_launch.start_early``).

    ``process_model``: which renderer each document goes to (``per-tab``,
    ``site-per-process``, ``process-per-site``, ``single``: see
    ``ProcessModel``); ``process_limit``: the renderer process limit (default:
    Chromium's formula for this machine); ``spare``: keep a renderer forked,
    sandboxed and connected ahead of need.

    ``discard_policy``: which lifecycle policy decides what is frozen and
    discarded, by name (``broker.discard_policies.POLICY_NAMES``:
    minibrowser's own, Chrome's, Firefox's, Edge's, none) or a
    ``DiscardPolicy`` object (default: the minibrowser policy with
    ``policy``'s settings); ``memory_budget``: bytes the renderers (USS) may
    use, for the policies that have a budget.  An unknown name or a budget
    under 1 byte raises ``BrowserError``.

    ``clock``: the seconds the policy sees (default ``time.monotonic``).
    With a clock of its own the browser no longer asks the policy by itself:
    its owner calls ``run_policy`` when the clock has moved.
    """

    sandbox: bool = True
    width: int = DEFAULT_WIDTH
    load_timeout: float = 15.0  # each network step of a load
    request_timeout: float = 30.0  # how long a renderer may take to answer
    renderer_uid: int | None = None  # renderers drop to these ids when the browser runs as root
    renderer_gid: int | None = None
    cold_renderers: bool = False  # start each renderer as a fresh interpreter, not from the zygote
    policy: LifecyclePolicy | None = None
    profile: str | os.PathLike | None = None
    started_early: EarlyStart | None = None
    process_model: ProcessModel | str = ProcessModel.PER_TAB
    process_limit: int | None = None
    spare: bool = True
    discard_policy: str | DiscardPolicy | None = None
    memory_budget: int | None = None
    clock: Callable[[], float] | None = None
    started_by: str = "script"  # what started it, as 'minibrowser ps' shows it (control_protocol.StartedBy)

    @classmethod
    def of(cls, options: BrowserOptions | None = None, /, **settings: Any) -> BrowserOptions:
        """``options`` (default: the defaults) with the fields named in ``settings`` changed;
        an unknown name raises ``TypeError``."""
        return dataclasses.replace(options if options is not None else cls(), **settings)
