"""The public Python API: ``Browser`` and ``Tab``.

The CLI, the TUI and the tests all drive minibrowser through this::

    async with Browser() as browser:
        tab = await browser.open("about:welcome")
        print(tab.title, tab.pid)
        print(tab.frame.text)
        await tab.follow(1)

Both classes are a façade over the broker (``broker/``): ``Browser`` over
``BrowserImpl`` (tabs, network, profile, policy) and its
``RendererProcesses`` (the zygote and one sandboxed renderer per tab),
``Tab`` over ``TabImpl``.  They expose what a user of the browser needs and
nothing of the machinery: renderer processes are reached only through the
broker's own calls.

Errors (all with a one-line ``str()`` for a person)::

    BrowserError
     ├── TabClosed           the tab was closed
     ├── NoSuchLink          there is no link with that number
     ├── TabCrashed          the tab's renderer ended while answering
     └── LifecycleRefused    a freeze or discard that may not happen now (``reason``)
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from broker import frames as frame_tree
from broker.errors import BrowserError, LifecycleRefused, NoSuchLink, TabClosed, TabCrashed
from broker.host import IpcCounters, IpcEvent
from broker.discard_policies import POLICY_NAMES, DiscardPolicy
from broker.frames import FrameInfo, FrameLimits
from broker.kernel import BrowserImpl, DiscardsRow, LifecycleRecord, MemoryTotals, ProcessInfo
from broker.lifecycle import DiscardRefusal, LifecyclePolicy
from broker.memory import MemoryInfo
from broker.network_host import NetworkProcessLost
from broker.options import BrowserOptions
from broker.process_model import ProcessModel
from broker.processes import ProbeOutcome
from broker.profile import Profile
from broker.sandbox_verdict import Sandboxing, SandboxVerdict, judge_sandbox
from broker.tabs import HistoryEntry, TabEvent, TabImpl, TabState, Timings
from browser.actions import UserAction
from browser.frontends import SimulationStopped
from renderer import protocol

__all__ = [
    "POLICY_NAMES", "Browser", "BrowserError", "BrowserOptions", "DiscardPolicy", "DiscardRefusal", "DiscardsRow",
    "FrameInfo", "FrameLimits", "HistoryEntry", "IpcCounters", "IpcEvent", "LifecyclePolicy",
    "LifecycleRecord", "LifecycleRefused", "MemoryInfo", "MemoryTotals", "NoSuchLink", "ProbeOutcome",
    "ProcessInfo", "ProcessModel", "SandboxInfo", "SandboxVerdict", "Sandboxing", "SimulationStopped", "Tab",
    "TabClosed", "TabCrashed", "TabEvent", "TabState", "Timings", "UserAction", "judge_sandbox",
]


# Each browser's action listeners, found from a tab's broker object (the façades hold nothing else).
_action_listeners: weakref.WeakKeyDictionary[BrowserImpl, list[Callable]] = weakref.WeakKeyDictionary()
# Each browser's shutdown listeners.
_shutdown_listeners: weakref.WeakKeyDictionary[BrowserImpl, list[Callable[[], None]]] = weakref.WeakKeyDictionary()


def _tell(impl: TabImpl, action: UserAction) -> None:
    """Report ``action`` on a tab to its browser's listeners, with the active tab after it."""
    listeners = _action_listeners.get(impl.browser)
    if listeners:
        active = impl.browser.active_tab
        for listener in list(listeners):
            listener(action, _public(impl), _public(active) if active is not None else None)


@dataclass(frozen=True)
class SandboxInfo:
    """The sandbox the browser asks of every renderer."""

    enabled: bool  # False with --no-sandbox
    uid: int | None  # renderers drop to this uid when the browser runs as root
    gid: int | None


class Tab:
    """One tab: what it shows, its history and lifecycle, and what you can do in it."""

    __slots__ = ("_impl",)

    def __init__(self, impl: TabImpl) -> None:
        self._impl = impl

    def __repr__(self) -> str:
        return f"<Tab {self.id} {self.state.value} {self.url!r}>"

    # -- what it shows --------------------------------------------------------------

    @property
    def id(self) -> int:
        return self._impl.id

    @property
    def url(self) -> str:
        """The address being shown or loaded (as typed or followed)."""
        return self._impl.url

    @property
    def final_url(self) -> str:
        """The address of the document the browser committed (after redirects)."""
        return self._impl.committed_url

    @property
    def title(self) -> str:
        return self._impl.title

    @property
    def frame(self) -> protocol.Frame | None:
        """The laid-out page: ``frame.text``, ``frame.links``, ``frame.fields``."""
        return self._impl.frame

    @property
    def width(self) -> int:
        return self._impl.width

    @property
    def state(self) -> TabState:
        return self._impl.state

    @property
    def error(self) -> str | None:
        """The last load error, one line (None when the page loaded)."""
        return self._impl.error

    @property
    def crash_cause(self) -> str | None:
        """Why the renderer ended, when the tab is crashed."""
        return self._impl.crash_cause

    @property
    def crash_loop(self) -> bool:
        """Crashed too often: it is not restarted on its own."""
        return self._impl.crash_loop

    @property
    def pid(self) -> int | None:
        """The renderer process's pid (None when the tab has none)."""
        return self._impl.pid

    @property
    def site(self) -> str | None:
        """The site its renderer is locked to (None: unlocked, or no renderer)."""
        host = self._impl.host
        return host.lock if host is not None and host.alive else None

    @property
    def frames(self) -> list[FrameInfo]:
        """The page's subframes, parents first: URL, site, the renderer pid
        that hosts each (the broker's record)."""
        return frame_tree.describe(self._impl.subframes)

    @property
    def history(self) -> list[HistoryEntry]:
        return [HistoryEntry(e.url, e.method, e.form_body, e.title, e.scroll) for e in self._impl.history]

    @property
    def history_index(self) -> int:
        return self._impl.history_index

    @property
    def navigation_id(self) -> int:
        """Changes with every navigation (a new page, a #fragment, Back,
        Forward, a restore): a UI then shows the frame at ``frame.scroll``."""
        return self._impl.navigation_id

    @property
    def timings(self) -> Timings:
        return self._impl.timings

    @property
    def ipc(self) -> IpcCounters | None:
        """Message and byte counts of the renderer's IPC (None without a renderer)."""
        host = self._impl.host
        return host.counters if host is not None else None

    # -- page actions -------------------------------------------------------------------

    async def navigate(self, url: str) -> protocol.Frame:
        """Go to ``url`` as if the user typed it in the address bar."""
        answer = await self._impl.navigate(url)
        _tell(self._impl, UserAction.NAVIGATE)
        return answer

    async def follow(self, number: int) -> protocol.Frame:
        """Follow link ``[number]``.  A navigation the page may not make (a web
        page opening a local file) shows an error page."""
        answer = await self._impl.follow(number)
        _tell(self._impl, UserAction.NAVIGATE)
        return answer

    async def set_field(self, field_id: int, *, value: str | None = None, checked: bool | None = None) -> protocol.Frame:
        """Type into, tick or choose in form control ``field_id`` (a checkbox
        or radio with neither ``value`` nor ``checked`` toggles)."""
        answer = await self._impl.set_field(field_id, value=value, checked=checked)
        _tell(self._impl, UserAction.INPUT)
        return answer

    async def press(self, field_id: int) -> protocol.Frame:
        """Press button ``field_id``: a submit button sends its form."""
        answer = await self._impl.press(field_id)
        _tell(self._impl, UserAction.INPUT)
        return answer

    async def find(self, query: str) -> list[tuple[int, int, int]]:
        """Find ``query`` in the page: (line, column, length) of each match."""
        answer = await self._impl.find(query)
        _tell(self._impl, UserAction.INPUT)
        return answer

    async def resize(self, width: int) -> protocol.Frame:
        return await self._impl.resize(width)

    def scroll_to(self, line: int) -> None:
        self._impl.scroll_to(line)
        _tell(self._impl, UserAction.INPUT)

    async def back(self) -> protocol.Frame | None:
        frame = await self._impl.back()
        if frame is not None:
            _tell(self._impl, UserAction.NAVIGATE)
        return frame

    async def forward(self) -> protocol.Frame | None:
        frame = await self._impl.forward()
        if frame is not None:
            _tell(self._impl, UserAction.NAVIGATE)
        return frame

    async def reload(self) -> protocol.Frame | None:
        frame = await self._impl.reload()
        if frame is not None:
            _tell(self._impl, UserAction.NAVIGATE)
        return frame

    async def sandbox_report(self) -> list[protocol.SandboxLayer]:
        """The sandbox of this tab's renderer, layer by layer, as it sees it."""
        return await self._impl.sandbox_report()

    async def ping(self, *, timeout: float = 5.0) -> float:
        """One heartbeat round trip to the renderer, in milliseconds."""
        return await self._impl.ping(timeout=timeout)

    # -- lifecycle ----------------------------------------------------------------------

    @property
    def pinned(self) -> bool:
        return self._impl.pinned

    @property
    def kept(self) -> bool:
        return self._impl.kept

    def pin(self, on: bool = True) -> None:
        """Pinned tabs are never discarded (nor frozen by the policy)."""
        self._impl.pin(on)

    def keep(self, on: bool = True) -> None:
        """The user asks to keep this tab: never frozen or discarded."""
        self._impl.keep(on)

    @property
    def memory(self) -> MemoryInfo | None:
        """The renderer's memory at the last sample (None before one, or without a renderer)."""
        return self._impl.memory

    @property
    def cpu_percent(self) -> float | None:
        return self._impl.cpu_percent

    @property
    def cpu_time(self) -> float | None:
        """User + system CPU seconds of the renderer, at the last sample."""
        return self._impl.cpu_time

    @property
    def snapshot_bytes(self) -> int | None:
        """Size of its snapshot in the profile while discarded."""
        return self._impl.snapshot_bytes

    def discard_refusal(self, *, urgent: bool = True) -> DiscardRefusal | None:
        """Why this tab may not be discarded now, or None (``urgent=False``: why
        the policy may not, which also respects :attr:`auto_discardable`)."""
        return self._impl.discard_refusal(urgent=urgent)

    @property
    def auto_discardable(self) -> bool:
        """Whether the policy may discard this tab on its own (chrome://discards' toggle)."""
        return self._impl.auto_discardable

    def set_auto_discardable(self, on: bool) -> None:
        self._impl.auto_discardable = on

    @property
    def revisits(self) -> int:
        """How often the user came back to this tab after it was hidden."""
        return self._impl.revisits

    @property
    def discard_count(self) -> int:
        """How often it was discarded."""
        return self._impl.discard_count

    def freeze_refusal(self) -> DiscardRefusal | None:
        """Why this tab may not be frozen now, or None."""
        return self._impl.freeze_refusal()

    async def freeze(self, *, reason: str = "frozen by the user") -> None:
        """Stop the renderer (SIGSTOP): no CPU; messages for it wait until it is thawed."""
        await self._impl.freeze(reason=reason)

    async def unfreeze(self, *, reason: str = "thawed by the user") -> None:
        await self._impl.unfreeze(reason=reason)

    async def discard(self, *, reason: str = "discarded by the user", urgent: bool = True) -> None:
        """Swap the tab out to the profile; its renderer process ends.
        ``urgent=False`` is a proactive discard: refused, as the policy's own
        are, when the tab is not :attr:`auto_discardable`."""
        await self._impl.discard(reason=reason, urgent=urgent)

    async def activate(self) -> protocol.Frame | None:
        """Make this the active tab: a discarded tab is restored from its
        snapshot (no network), a frozen one thawed, a crashed one reloaded
        (unless it keeps crashing)."""
        _tell(self._impl, UserAction.SWITCH)
        return await self._impl.activate()

    def end_process(self) -> None:
        """End this tab's renderer (hung or not): the tab becomes crashed with
        the cause "ended by the user" and can be reloaded."""
        self._impl.end_process()

    async def close(self) -> None:
        _tell(self._impl, UserAction.CLOSE)
        await self._impl.close()


class Browser:
    """The browser: tabs and the sandboxed renderer processes behind them
    (one per tab by default; see ``process_model``)."""

    __slots__ = ("_control", "_impl", "_started_by")

    def __init__(self, options: BrowserOptions | None = None, /, **settings: Any) -> None:
        """``options``, or its fields as keywords (``Browser(sandbox=False)``):
        see ``BrowserOptions``.  An unknown keyword raises ``TypeError``.

        Every browser listens on a control socket in its runtime directory
        while it runs (``browser/control_service.py``), for its own user only:
        ``minibrowser open`` hands it URLs, ``ps`` lists it, ``tui --attach``
        drives it (``options.started_by`` says what started it)."""
        from broker.control_protocol import StartedBy

        options = BrowserOptions.of(options, **settings)
        self._started_by = StartedBy(options.started_by)
        self._impl = BrowserImpl(options)
        self._control = None

    async def __aenter__(self) -> Browser:
        await self.start()
        return self

    async def __aexit__(self, *exc_info) -> None:
        await self.shutdown()

    async def start(self) -> None:
        """Start the zygote, the IPC hub and the control socket (``async with`` does this)."""
        await self._impl.start()
        from browser.control_service import ControlService

        control = ControlService(self, self._started_by)
        try:
            await control.start(self.runtime_dir)
        except OSError as error:  # the browser works without it: only other programs cannot reach it
            logging.getLogger("minibrowser.broker").warning("no control socket: %s", error)
        else:
            self._control = control

    async def shutdown(self) -> None:
        """Close every tab and end every process the browser started, then
        call the ``subscribe_shutdown`` callbacks."""
        try:
            if self._control is not None:
                control, self._control = self._control, None
                await control.close()
            await self._impl.shutdown()
        finally:
            for callback in list(_shutdown_listeners.pop(self._impl, ())):
                callback()

    @property
    def started(self) -> bool:
        return self._impl.started

    @property
    def started_by(self) -> str:
        """What started this browser: ``script``, ``tui``, ``simulator``, ``open`` or ``check``."""
        return self._started_by.value

    @property
    def control_socket(self) -> str | None:
        """The path of the control socket, while the browser runs (None without one)."""
        return self._control.server.path if self._control is not None and self._control.server else None

    # -- tabs --------------------------------------------------------------------------

    async def open(self, url: str = "about:welcome", *, width: int | None = None, activate: bool = True) -> Tab:
        """Open ``url`` in a new tab with its own renderer process."""
        tab = await self._impl.open(url, width=width, activate=activate)
        _tell(tab, UserAction.OPEN)
        return _public(tab)

    @property
    def tabs(self) -> list[Tab]:
        return [_public(tab) for tab in self._impl.tabs]

    @property
    def active_tab(self) -> Tab | None:
        tab = self._impl.active_tab
        return _public(tab) if tab is not None else None

    def activate(self, tab: Tab) -> None:
        """Make ``tab`` the active tab.  A frozen tab is thawed at once; a
        discarded (or crashed) one is brought back in the background; use
        ``await tab.activate()`` to wait for it."""
        _tell(tab._impl, UserAction.SWITCH)
        self._impl.activate(tab._impl)

    async def restore_session(self) -> list[Tab]:
        """Bring back, as discarded tabs, the snapshots a browser that was
        killed left in this profile.  Each is restored when activated."""
        return [_public(tab) for tab in await self._impl.restore_session()]

    # -- settings ------------------------------------------------------------------------

    @property
    def width(self) -> int:
        return self._impl.width

    @property
    def sandbox(self) -> SandboxInfo:
        settings = self._impl.sandbox
        return SandboxInfo(settings.enabled, settings.uid, settings.gid)

    @property
    def process_model(self) -> ProcessModel:
        return self._impl.process_model

    @property
    def process_limit(self) -> int:
        """The renderer process limit in force (see ``ProcessModel``)."""
        return self._impl.process_limit

    def describe_process_model(self) -> str:
        """One line: the process model, the limit and the spare."""
        return self._impl.describe_process_model()

    @property
    def policy(self) -> LifecyclePolicy:
        return self._impl.policy

    @property
    def discard_policy(self) -> DiscardPolicy:
        """The lifecycle policy in force (``discard_policy.name``)."""
        return self._impl.discard_policy

    @property
    def memory_budget(self) -> int | None:
        """The renderers' memory budget in bytes (None: the policy has none)."""
        return self._impl.discard_policy.memory_budget_bytes

    @property
    def profile(self) -> Profile:
        """The profile on disk, where discarded tabs are kept."""
        return self._impl.profile

    # -- processes, memory, lifecycle --------------------------------------------------------

    def processes(self) -> list[ProcessInfo]:
        """The live process tree: broker, network process (once an http(s)
        page started it), zygote, each renderer with the tabs it hosts and
        the site it is locked to, and the spare renderer."""
        return self._impl.processes_info()

    @property
    def network_sandbox_layers(self) -> list:
        """The network process's sandbox layers as it reported them in its
        handshake (``network.protocol.SandboxLayer``); empty until an
        http(s) page started it."""
        return list(self._impl.network.layers)

    async def network_sandbox_report(self) -> list:
        """The network process's sandbox layers, starting it if no page has."""
        try:
            await self._impl.network.start()
        except NetworkProcessLost as lost:
            raise BrowserError(f"the network process did not start: {lost}") from None
        return list(self._impl.network.layers)

    @property
    def zygote_pid(self) -> int:
        return self._impl.processes.zygote_pid

    @property
    def runtime_dir(self) -> str | None:
        """The private runtime directory (sockets and renderer logs), while started."""
        runtime = self._impl.processes.runtime
        return runtime.path if runtime is not None else None

    @property
    def broker_socket(self) -> str | None:
        """The path of the broker's ipc:// socket, while started."""
        runtime = self._impl.processes.runtime
        return runtime.socket_path if runtime is not None else None

    def memory(self) -> MemoryTotals:
        """Memory of the renderers, the broker and the zygote at their last samples."""
        return self._impl.memory()

    async def sample_now(self) -> None:
        """Measure every process whose last sample is over a second old (off the event loop)."""
        await self._impl.sample_now()

    async def run_policy(self) -> list[LifecycleRecord]:
        """Measure the renderers, ask the policy now (on the browser's clock)
        and carry out its decisions; what came of each."""
        return await self._impl.run_policy()

    def next_policy_check(self) -> float | None:
        """When, on the browser's clock, the policy wants to be asked again (None: nothing pending)."""
        return self._impl.next_policy_check()

    def discards(self) -> list[DiscardsRow]:
        """Every tab's lifecycle as ``about:discards`` shows it: state,
        visibility, discardable and freezable (with the reason when not),
        discard count, revisits, last active."""
        return self._impl.discards_rows()

    @property
    def decisions(self) -> list[LifecycleRecord]:
        """The lifecycle policy's recent decisions and what came of them."""
        return list(self._impl.decisions)

    @property
    def last_sandbox_report(self) -> list[protocol.SandboxLayer]:
        return list(self._impl.last_sandbox_report)

    def subscribe(self, callback: Callable[[TabEvent], None]) -> Callable[[], None]:
        """Call ``callback`` on every lifecycle transition; returns an unsubscribe."""
        return self._impl.subscribe(callback)

    def subscribe_actions(self, callback: Callable[[UserAction, Tab, Tab | None], None]) -> Callable[[], None]:
        """Call ``callback(action, tab, active_tab)`` for everything the user does
        through this API (see :class:`UserAction`); returns an unsubscribe."""
        listeners = _action_listeners.setdefault(self._impl, [])
        listeners.append(callback)
        return lambda: listeners.remove(callback)

    def subscribe_shutdown(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Call ``callback()`` once the browser has shut down (a trace recorder
        writes its file then); returns an unsubscribe."""
        listeners = _shutdown_listeners.setdefault(self._impl, [])
        listeners.append(callback)
        return lambda: listeners.remove(callback) if callback in listeners else None

    def subscribe_ipc(self, callback: Callable[[IpcEvent], None]) -> Callable[[], None]:
        """Call ``callback`` for every IPC message (for the IPC inspector)."""
        return self._impl.subscribe_ipc(callback)

    # -- compromise simulation ------------------------------------------------------------

    async def compromised_outcome(self, tab: Tab, *, timeout: float = 15.0) -> tuple[str | None, str | None]:
        """How the attacker code in ``tab``'s renderer ended: (its result,
        None), or (None, the named bad message the broker ended it for)."""
        return await self._impl.compromised_outcome(tab._impl, timeout=timeout)

    async def open_compromised(self, url: str, code: str) -> Tab:
        """Compromise simulation for a page: open ``url`` in a tab whose
        renderer runs attacker ``code`` in place of its message loop, after
        full lockdown (``sock``, ``renderer`` and ``protocol`` are in scope, as for
        ``run_probe``).  Drive the tab as usual and see what the broker lets
        through."""
        return _public(await self._impl.open_compromised(url, code))

    async def run_probe(self, code: str, *, cpu_seconds: int | None = None, timeout: float = 30.0,
                        document: tuple[str, bytes] | None = None) -> ProbeOutcome:
        """Run attacker ``code`` inside a fresh, fully locked-down renderer (as
        a compromised renderer would run it) and report how it ended.  With
        ``document`` (URL, HTML body) the renderer is first handed that
        document, so the code can answer, or lie in answer to, a real request."""
        return await self._impl.run_probe(code, cpu_seconds=cpu_seconds, timeout=timeout, document=document)

    async def run_network_probe(self, code: str, *, load_page: bool = False, timeout: float = 30.0) -> ProbeOutcome:
        """Run attacker ``code`` inside a network process of its own, fully
        locked down, as code a hostile server got running there would run
        (``send``, ``send_raw``, ``next_fetch`` and ``protocol`` are in scope).
        With ``load_page`` a page load is asked of it meanwhile; how that
        ended is ``load_answer``."""
        return await self._impl.run_network_probe(code, load_page=load_page, timeout=timeout)


def _public(impl: TabImpl) -> Tab:
    """The one façade object of a tab (so that ``tab in browser.tabs`` works)."""
    public = impl.public
    if public is None:
        public = impl.public = Tab(impl)
    return public
