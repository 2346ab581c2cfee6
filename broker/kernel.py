"""BrowserImpl: the broker assembled.

It owns the tabs, the network (the URL loader), the profile on disk, the
lifecycle policy and the renderer processes (``RendererProcesses``), and
carries out the process model (``broker/process_model.py``): which renderer
each document goes to, under the process limit.  The
public face is ``browser.api.Browser``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import logging
import os
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from broker import pages
from broker.errors import BrowserError, LifecycleRefused
from broker.host import IpcEvent, RendererHost
from broker.discard_policies import DiscardPolicy, MinibrowserPolicy, UnknownPolicy, make_policy
from broker.lifecycle import LOADING, Action, DiscardRefusal, LifecyclePolicy, TabFacts, discard_refusal, freeze_refusal
from broker.loader import CookieStore, LoadError, Loader
from broker.memory import ZERO, MemoryInfo, MemorySampler
from broker.network_host import NetworkHost, NetworkProcessLost
from broker.options import BrowserOptions
from broker.process_model import Placement, ProcessModel, RendererFacts, default_process_limit, place
from broker.processes import ProbeOutcome, RendererProcesses, SandboxSettings, default_drop_ids
from broker.profile import Profile
from broker.sites import site_of
from broker.tabs import TabEvent, TabImpl, TabState, discarded_frame
from renderer import protocol

log = logging.getLogger("minibrowser.broker")



@dataclass(frozen=True)
class MemoryTotals:
    """``Browser.memory()``: the last samples, added up."""

    renderers: MemoryInfo  # every live renderer (frozen ones included)
    broker: MemoryInfo | None
    zygote: MemoryInfo | None
    live_renderers: int
    frozen: int
    discarded: int
    snapshot_bytes: int  # what the discarded tabs still cost: their rows on disk

    @property
    def total(self) -> MemoryInfo:
        return self.renderers + (self.broker or ZERO) + (self.zygote or ZERO)


@dataclass(frozen=True)
class LifecycleRecord:
    """One policy decision and what came of it (for the UI's discards page)."""

    time: float
    tab: int
    action: str  # freeze, discard
    reason: str
    outcome: str  # done, or why not
    at: float = 0.0  # when, on the browser's clock (the one the policy sees)


#: What a renderer is estimated to cost before any has been measured (a
#: small page in a fresh renderer forked from the zygote, USS).
FIRST_RENDERER_ESTIMATE_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True)
class DiscardsRow:
    """One tab as ``about:discards`` and the task manager show it (Chrome's chrome://discards)."""

    tab: int
    title: str
    url: str
    state: str  # the lifecycle state (TabState's value)
    visibility: str  # "visible" (the active tab) or "hidden"
    discard_refusal: DiscardRefusal | None  # None: discardable (proactively, as the policy would)
    freeze_refusal: DiscardRefusal | None  # None: freezable
    auto_discardable: bool
    discard_count: int
    revisits: int
    last_active_s: float  # seconds since it was last the active tab (0 for the active tab)
    renderer: int | None  # the renderer process's pid (None: discarded, crashed)
    shared_with: tuple[int, ...]  # the other tabs in the same renderer

    @property
    def last_active(self) -> str:
        """When it was last active, for people: "now", "42 s ago", "3 min ago", "2 h ago"."""
        seconds = self.last_active_s
        if seconds < 1:
            return "now"
        if seconds < 120:
            return f"{seconds:.0f} s ago"
        if seconds < 7200:
            return f"{seconds / 60:.0f} min ago"
        return f"{seconds / 3600:.0f} h ago"


@dataclass(frozen=True)
class ProcessInfo:
    pid: int
    ppid: int
    role: str  # broker, network, zygote, renderer, spare (a renderer waiting for its first document)
    tab: int | None = None  # a renderer's first tab
    state: str = ""
    title: str = ""
    tabs: tuple[int, ...] = ()  # every tab with a document in this renderer
    site: str | None = None  # the site the renderer is locked to (None: unlocked)
    over_limit: bool = False  # it exists above the process limit (a cross-site document never shares)
    frames: tuple[str, ...] = ()  # the subframes it hosts, as Chromium's task manager names them: "Subframe: https://..."
    memory: MemoryInfo | None = None  # the spare's, at its last sample (a tab's renderer: see Tab.memory)


class BrowserImpl:
    """The broker: tabs, the network, policy, and the processes behind them."""

    #: Where a document goes (``broker.process_model.place``; the simulator's model engine runs it too).
    place = staticmethod(place)

    def __init__(self, options: BrowserOptions | None = None, /, **settings: Any) -> None:
        """``options``, or its fields as keywords: see ``BrowserOptions``."""
        options = BrowserOptions.of(options, **settings)
        sandbox, renderer_uid, renderer_gid = options.sandbox, options.renderer_uid, options.renderer_gid
        process_model, process_limit, policy, profile = (
            options.process_model, options.process_limit, options.policy, options.profile)
        discard_policy, memory_budget, clock = options.discard_policy, options.memory_budget, options.clock
        uid, gid = default_drop_ids()
        self.process_model = ProcessModel(process_model)
        if process_limit is not None and process_limit < 1:
            raise BrowserError(f"the process limit must be at least 1, not {process_limit}")
        self.process_limit = process_limit if process_limit is not None else default_process_limit()
        self._placing = asyncio.Lock()  # one placement at a time under the shared models
        self._over_limit: set[int] = set()  # renderers started over the limit
        self.sandbox = SandboxSettings(
            enabled=sandbox,
            uid=renderer_uid if renderer_uid is not None else uid,
            gid=renderer_gid if renderer_gid is not None else gid,
        )
        self.width = options.width
        self.request_timeout = options.request_timeout  # how long a renderer may take to answer
        self.tabs: list[TabImpl] = []
        self.active_tab: TabImpl | None = None
        # The network process: started by the first http(s) load, never by a
        # file:, data: or about: page; sandboxed like a renderer, as its uid.
        self.network = NetworkHost(sandbox=sandbox, uid=self.sandbox.uid, gid=self.sandbox.gid)
        self.processes = RendererProcesses(self.sandbox, cold=options.cold_renderers, spare=options.spare)
        self._tab_ids = itertools.count(1)
        self._subscribers: list[Callable[[TabEvent], None]] = []
        self.last_sandbox_report: list[protocol.SandboxLayer] = []
        # -- lifecycle
        self.policy = policy or LifecyclePolicy()
        if memory_budget is not None and memory_budget < 1:
            raise BrowserError(f"the memory budget must be a positive number of bytes, not {memory_budget}")
        self.discard_policy = _discard_policy(discard_policy, self.policy, memory_budget)
        # The clock the policy sees (seconds).  An injected clock is driven by
        # its owner, who also asks the policy (``run_policy``); the browser's
        # own ticks then only measure.
        self.clock: Callable[[], float] = clock or time.monotonic
        self._policy_ticks = clock is None
        self.profile = Profile(os.fspath(profile) if profile is not None else None)  # opened on first use
        self.cookies = CookieStore(self.profile.path)  # opened on first use too
        self.loader = Loader(timeout=options.load_timeout, about_pages=lambda url: pages.page(self, url),
                             network=self.network, cookies=self.cookies)
        self.sampler = MemorySampler(min_interval_s=self.policy.sample_interval_s)
        self.decisions: deque[LifecycleRecord] = deque(maxlen=500)
        self._settled_uss: deque[int] = deque(maxlen=32)  # renderers measured after their page loaded
        self._settled_at: dict[int, float] = {}  # pid -> the time of its sample in _settled_uss
        self._policy_task: asyncio.Task | None = None
        self._policy_wakeup = asyncio.Event()
        self._started_early = options.started_early

    @property
    def started(self) -> bool:
        return self.processes.started

    # -- start and stop -----------------------------------------------------------

    async def start(self) -> None:
        early, self._started_early = self._started_early, None
        await self.processes.start(
            heartbeat_interval_s=self.policy.heartbeat_interval_s,
            heartbeat_timeout_s=self.policy.heartbeat_timeout_s,
            started_early=early,
        )
        self.network.log_dir = self.processes.runtime.path  # network.log beside the renderers' logs
        self._policy_task = asyncio.create_task(self._policy_loop(), name="lifecycle-policy")

    async def shutdown(self) -> None:
        if self._policy_task is not None:
            self._policy_task.cancel()
            await asyncio.wait({self._policy_task}, timeout=5)
            self._policy_task = None
        for tab in list(self.tabs):
            tab.set_state(TabState.CLOSED, "browser shutdown")
        self.tabs.clear()
        try:
            await asyncio.to_thread(self.profile.close)  # this session's snapshots go
        except Exception as error:  # noqa: BLE001 - shutting down must finish
            log.warning("could not close the profile: %s", error)
        await self.processes.shutdown()
        await self.loader.aclose()
        await self.network.stop()
        await asyncio.to_thread(self.cookies.close)

    def sandbox_page(self) -> str:
        """about:sandbox, from the last report a renderer gave."""
        return pages.sandbox_html(self.last_sandbox_report, enabled=self.sandbox.enabled,
                                  process_model=self.describe_process_model())

    # -- tabs ---------------------------------------------------------------------

    async def open(self, url: str = "about:welcome", *, width: int | None = None, activate: bool = True) -> TabImpl:
        """Open ``url`` in a new tab with its own renderer process."""
        tab = TabImpl(self, next(self._tab_ids), width or self.width)
        self.tabs.append(tab)
        if activate or self.active_tab is None:
            self.activate(tab)
        await tab.navigate(url)
        self._policy_wakeup.set()  # a new renderer to measure
        return tab

    async def open_from_page(self, url: str, *, initiator: str) -> TabImpl:
        """A page (at ``initiator``, the URL the broker committed) opens ``url``
        in a new tab (``target=_blank``), by the navigation policy's rules
        for that page, not the user's."""
        tab = TabImpl(self, next(self._tab_ids), self.width)
        self.tabs.append(tab)
        if self.active_tab is None:
            self.activate(tab)
        await tab.open_from_page(url, initiator=initiator)
        self._policy_wakeup.set()
        return tab

    def activate(self, tab: TabImpl) -> None:
        """Make ``tab`` the active tab.  A frozen tab is thawed at once; a
        discarded (or crashed) one is brought back in the background."""
        self.make_active(tab)
        if tab.state is TabState.DISCARDED or (tab.state is TabState.CRASHED and not tab.crash_loop):
            task = asyncio.ensure_future(tab.wake())
            task.add_done_callback(_log_task_failure)

    def make_active(self, tab: TabImpl) -> None:
        previous, self.active_tab = self.active_tab, tab
        now = self.clock()
        if previous is not tab and tab.shown:
            tab.revisits += 1  # back to a tab that was hidden (Chrome's TabRevisitTracker)
        tab.shown = True
        tab.last_active = now
        if previous is not None and previous is not tab:
            previous.last_active = now  # idle from now on
            if previous.state is TabState.ACTIVE:
                previous.set_state(TabState.BACKGROUND, "another tab was activated")
        if tab.state is TabState.FROZEN:
            tab.resume_renderer()
            tab.set_state(TabState.ACTIVE, "activated: thawed")
        elif tab.state is TabState.BACKGROUND:
            tab.set_state(TabState.ACTIVE, "activated")
        self._policy_wakeup.set()

    async def close_tab(self, tab: TabImpl) -> None:
        if tab in self.tabs:
            self.tabs.remove(tab)
        if self.active_tab is tab:
            self.active_tab = self.tabs[-1] if self.tabs else None
            if self.active_tab is not None:
                self.activate(self.active_tab)
        # A heartbeat in flight ends with the renderer; cancelling it would
        # make its Pong an answer to nothing, which is a bad message.
        host, tab.host = tab.host, None
        if host is not None:
            host.remove_tab(tab.id)
            await self.release(host)
        if tab.snapshot_bytes is not None or self.profile.opened:
            await tab.forget_snapshot()  # snapshots of closed tabs are deleted

    # -- the process model ------------------------------------------------------------

    async def renderer_for(self, tab: TabImpl, url: str | None) -> RendererHost:
        """The renderer ``tab``'s next document (at ``url``; None when the URL
        does not matter) goes to, as the process model decides: the tab's
        own, another live one, or a new one (the spare when there is one).
        A new renderer is locked to the document's site under the site models."""
        if tab.compromised_by is not None:
            # Compromise simulation: the attacker's renderer is the tab's own,
            # locked as the model would lock it, so that the test is the lock.
            site = site_of(url) if url is not None and self.process_model.locks_sites else None
            if tab.host is not None and tab.host.alive and tab.host.lock in (None, site):
                return tab.host
            host = await self.processes.launch(observer=tab, probe=tab.compromised_by)
            host.lock = site
            return host
        if self.process_model is ProcessModel.PER_TAB:
            return await self._carry_out_placement(tab, url)
        async with self._placing:  # two tabs of a new site must not both start its renderer
            return await self._carry_out_placement(tab, url)

    async def _carry_out_placement(self, tab: TabImpl, url: str | None) -> RendererHost:
        current = tab.host if tab.host is not None and tab.host.alive else None
        site = site_of(url) if url is not None else (current.lock if current is not None else None)
        hosts = {host.id: host for host in self._renderers()}
        decision = self.place(self.process_model, tab=tab.id, site=site,
                              current=_facts(current) if current is not None else None,
                              live=[_facts(host) for host in hosts.values()], limit=self.process_limit)
        if decision.placement is Placement.STAY:
            return current
        if decision.placement is Placement.SHARE:
            host = hosts[decision.renderer]
            if tab not in host.observers:
                host.observers.append(tab)
            return host
        await self.make_room()
        host = await self.processes.take(observer=tab)
        host.lock = decision.lock
        if decision.over_limit:
            self._over_limit.add(host.id)
        return host

    async def frame_renderer_for(self, tab: TabImpl, parent: RendererHost, site: str | None,
                                 parent_site: str | None) -> RendererHost:
        """The renderer a subframe of ``tab`` at ``site`` goes to, its parent
        being in ``parent`` (of ``parent_site``): the one placement function
        decides, as for a tab's document."""
        async with self._placing:
            hosts = {host.id: host for host in self._renderers()}
            decision = self.place(self.process_model, tab=tab.id, site=site, current=None,
                                  live=[_facts(host) for host in hosts.values()], limit=self.process_limit,
                                  parent=_facts(parent), parent_site=parent_site)
            if decision.placement is Placement.STAY:
                host = parent
            elif decision.placement is Placement.SHARE:
                host = hosts[decision.renderer]
            else:
                await self.make_room()
                host = await self.processes.take(observer=tab)
                host.lock = decision.lock
            if tab not in host.observers:
                host.observers.append(tab)
            return host

    def _renderers(self) -> list[RendererHost]:
        """The live renderers that count for the process model and the limit
        (the spare and compromise-simulation probes do not)."""
        return [host for host in self.processes.hosts if host.alive and not host.spare and not host.probe]

    async def release(self, host: RendererHost, *, cause: str = "the tab was closed") -> None:
        """A tab's document left ``host``: end the process if it hosts nothing now."""
        if host.documents and host.alive:
            return
        self._over_limit.discard(host.id)
        self.sampler.forget(host.pid)
        await self.processes.end(host, cause=cause)

    def describe_process_model(self) -> str:
        """One line: the model in force and the limit (for about: pages and ``sandbox``)."""
        spare = "on" if self.processes.spare_enabled else "off"
        return (f"process model {self.process_model.value} ({self.process_model.describe()}); "
                f"process limit {self.process_limit}; spare renderer {spare}")

    # -- compromise simulation ------------------------------------------------------

    async def open_compromised(self, url: str, code: str) -> TabImpl:
        """Open ``url`` in a tab whose renderer runs attacker ``code`` in place
        of its message loop, after full lockdown: the broker treats it as it
        treats any renderer, and the test is that nothing it sends gets
        past the broker."""
        tab = TabImpl(self, next(self._tab_ids), self.width)
        tab.compromised_by = code
        self.tabs.append(tab)
        if self.active_tab is None:
            self.activate(tab)
        await tab.navigate(url)
        return tab

    async def compromised_outcome(self, tab: TabImpl, *, timeout: float = 15.0) -> tuple[str | None, str | None]:
        """How a compromised tab's renderer ended its attack: (the result it
        reported, None) or (None, the bad message the broker ended it for);
        (None, None) when neither came within ``timeout``."""
        host = tab.host
        if host is None:
            return None, None
        await asyncio.wait({host.probe_result, host.exited}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        result = host.probe_result
        if result.done() and not result.cancelled() and result.exception() is None:
            return result.result().detail, None
        if host.bad_message is not None:
            return None, host.bad_message.name
        return None, None

    async def run_probe(self, code: str, *, cpu_seconds: int | None = None, timeout: float = 30.0,
                        document: tuple[str, bytes] | None = None) -> ProbeOutcome:
        """Run attacker ``code`` inside a fresh, fully sandboxed renderer."""
        if not self.started:
            raise BrowserError("the browser is not started")
        return await self.processes.run_probe(code, cpu_seconds=cpu_seconds, timeout=timeout, document=document)

    async def run_network_probe(self, code: str, *, load_page: bool = False, timeout: float = 30.0) -> ProbeOutcome:
        """Run attacker ``code`` inside a network process of its own, started
        with the full sandbox for this purpose (never the browser's own).
        With ``load_page`` the broker loads a page through it meanwhile, so
        that the code can answer (or lie in answer to) a real request; the
        load's failure, if any, is ``load_answer``."""
        host = NetworkHost(sandbox=True, uid=self.sandbox.uid, gid=self.sandbox.gid, probes=True,
                           log_dir=self.processes.runtime.path if self.processes.runtime else None)
        loader = Loader(timeout=5.0, network=host, cookies=CookieStore(None))
        load_answer = None
        try:
            await host.start()
            pid = host.pid
            probe = host.start_probe(code)
            load = asyncio.ensure_future(loader.load("http://attacker.invalid/")) if load_page else None
            try:
                result = await asyncio.wait_for(asyncio.shield(probe), timeout)
                outcome = ProbeOutcome(result.outcome, result.detail, errno=result.errno, pid=pid)
            except NetworkProcessLost as lost:
                outcome = ProbeOutcome("killed", str(lost), signal=host.last_signal, pid=pid,
                                       bad_message=host.last_bad_message.name if host.last_bad_message else None)
            except asyncio.TimeoutError:
                outcome = ProbeOutcome("timeout", f"no answer within {timeout:g} s", pid=pid)
            if load is not None:
                try:
                    await asyncio.wait_for(load, timeout)
                except LoadError as error:
                    load_answer = f"{error.short}: {error}"
                except asyncio.TimeoutError:
                    load_answer = "timeout"
                else:
                    load_answer = "loaded"
            outcome.load_answer = load_answer
            return outcome
        finally:
            host.kill()
            await host.stop()

    # -- events -------------------------------------------------------------------

    def subscribe(self, callback: Callable[[TabEvent], None]) -> Callable[[], None]:
        """Call ``callback`` on every lifecycle transition; returns an unsubscribe."""
        self._subscribers.append(callback)
        return lambda: self._subscribers.remove(callback)

    def subscribe_ipc(self, callback: Callable[[IpcEvent], None]) -> Callable[[], None]:
        """Call ``callback`` for every IPC message (for the IPC inspector)."""
        return self.processes.subscribe_ipc(callback)

    def publish(self, event: TabEvent) -> None:
        for callback in list(self._subscribers):
            try:
                callback(event)
            except Exception:  # noqa: BLE001
                log.exception("lifecycle subscriber failed")

    # -- inspection -----------------------------------------------------------------

    def processes_info(self) -> list[ProcessInfo]:
        """The live process tree: broker, zygote, each renderer with the tabs
        it hosts and its site lock, and the spare."""
        result = [ProcessInfo(os.getpid(), os.getppid(), "broker", state="running", title="minibrowser")]
        zygote_pid = self.processes.zygote_pid
        if zygote_pid:
            result.append(ProcessInfo(zygote_pid, os.getpid(), "zygote", state="running", title="zygote"))
        if self.network.pid:
            result.append(ProcessInfo(self.network.pid, os.getpid(), "network", state="running", title="network"))
        by_id = {tab.id: tab for tab in self.tabs}
        hosted_frames: dict[int, list[str]] = {}
        for tab in self.tabs:
            for node in tab.frames:
                if node.host is not None and node.host.alive:
                    hosted_frames.setdefault(node.host.id, []).append(f"Subframe: {node.origin}")
        seen: set[int] = set()
        for tab in self.tabs:
            host = tab.host
            if not tab.pid or host.id in seen:
                continue
            seen.add(host.id)
            hosted = tuple(t for t in dict.fromkeys([tab.id, *host.tabs]) if t in by_id and by_id[t].host is host)
            states = {by_id[t].state.value for t in hosted}
            result.append(ProcessInfo(
                host.pid, zygote_pid, "renderer", tab=hosted[0], state=states.pop() if len(states) == 1 else "shared",
                title=tab.title if len(hosted) == 1 else f"{len(hosted)} tabs", tabs=hosted, site=host.lock,
                over_limit=host.id in self._over_limit, frames=tuple(hosted_frames.get(host.id, ()))))
        for host in self._renderers():  # renderers that host only subframes (out-of-process iframes)
            if host.id in seen or not host.pid or host.id not in hosted_frames:
                continue
            seen.add(host.id)
            tabs = tuple(t for t in host.tabs if t in by_id)
            result.append(ProcessInfo(
                host.pid, zygote_pid, "renderer", tab=tabs[0] if tabs else None, state="subframes",
                title=f"subframes of {host.lock or '(unlocked)'}", tabs=tabs, site=host.lock,
                over_limit=host.id in self._over_limit, frames=tuple(hosted_frames[host.id])))
        spare = self.processes.spare
        if spare is not None:
            sample = self.sampler.last(spare.pid)
            result.append(ProcessInfo(spare.pid, zygote_pid, "spare", state="waiting", title="spare renderer",
                                      memory=sample.memory if sample is not None else None))
        return result

    # -- lifecycle ------------------------------------------------------------------

    def memory(self) -> MemoryTotals:
        """Memory of the renderers, the broker and the zygote at their last samples."""
        renderers = ZERO
        live = frozen = discarded = snapshot_bytes = 0
        counted: set[int] = set()  # a shared renderer counts once
        for tab in self.tabs:
            if tab.state is TabState.DISCARDED:
                discarded += 1
                snapshot_bytes += tab.snapshot_bytes or 0
            elif tab.pid and tab.pid not in counted:
                counted.add(tab.pid)
                live += 1
                frozen += tab.host.stopped
                renderers = renderers + (tab.memory or ZERO)
        for host in self._renderers():  # renderers that host only subframes
            if host.pid and host.pid not in counted and host.documents:
                counted.add(host.pid)
                live += 1
                sample = self.sampler.last(host.pid)
                renderers = renderers + (sample.memory if sample is not None and sample.memory else ZERO)
        broker = self.sampler.last(os.getpid())
        zygote = self.sampler.last(self.processes.zygote_pid)
        return MemoryTotals(
            renderers=renderers,
            broker=broker.memory if broker else None,
            zygote=zygote.memory if zygote else None,
            live_renderers=live,
            frozen=frozen,
            discarded=discarded,
            snapshot_bytes=snapshot_bytes,
        )

    async def sample_now(self) -> None:
        """Measure every process whose last sample is over a second old (off the event loop)."""
        pids = list(dict.fromkeys([*(tab.pid for tab in self.tabs if tab.pid),
                                   *(host.pid for host in self._renderers() if host.pid)]))
        if self.processes.spare is not None:
            pids.append(self.processes.spare.pid)  # it counts against the budget too
        pids.append(os.getpid())
        if self.processes.spare is not None:  # a live process too (the process tree shows it)
            pids.append(self.processes.spare.pid)
        if self.processes.zygote_pid:
            pids.append(self.processes.zygote_pid)
        # Renderers that can answer for themselves where the kernel will not
        # show their memory to this broker (not root); a stopped one keeps
        # its last figures.
        renderers = {host.pid: host for host in self.processes.hosts
                     if host.routing_id is not None and not host.stopped and not host.probe}
        await self.sampler.sample(pids, renderers=renderers)
        self._remember_settled()

    async def restore_session(self) -> list[TabImpl]:
        """Bring back, as discarded tabs, the snapshots a broker that was
        killed left in this profile.  Each is restored when activated."""
        rows = await asyncio.to_thread(self.profile.orphaned)
        tabs = []
        for row in rows:
            tab = TabImpl(self, next(self._tab_ids), self.width)
            await asyncio.to_thread(self.profile.adopt, row.session, row.tab, tab.id)
            tab.url, tab.title, tab.snapshot_bytes = row.url, row.title, row.size
            tab.frame = discarded_frame(row.url, row.title, tab.width)
            self.tabs.append(tab)
            tab.set_state(TabState.DISCARDED, "saved by a previous session")
            tabs.append(tab)
        await asyncio.to_thread(self.profile.forget_dead_sessions)
        return tabs

    async def _policy_loop(self) -> None:
        """Measure the renderers (in a thread) and carry out the policy's decisions
        (the decisions only on the browser's own clock: an injected clock's
        owner asks with ``run_policy``)."""
        while True:
            # asyncio.wait, not wait_for: on 3.11 wait_for can swallow a
            # cancellation that races with the event, and shutdown would hang.
            waiter = asyncio.ensure_future(self._policy_wakeup.wait())
            try:
                await asyncio.wait({waiter}, timeout=self.policy.tick_interval_s)
            finally:
                waiter.cancel()
            self._policy_wakeup.clear()
            try:
                await self.sample_now()
                if self._policy_ticks:
                    self._start(self.discard_policy.decide(self.policy_facts(), self.clock()))
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - the policy must outlive one bad tick
                log.exception("lifecycle policy tick failed")

    # -- the policy's view of the tabs -------------------------------------------------

    def renderer_estimate(self) -> int:
        """What the next renderer is expected to cost (USS): the largest of the
        last renderers measured after their page loaded (kept after they end;
        the largest because a renderer forked from the zygote goes on touching
        copy-on-write pages after it has drawn its page); before there is one,
        the largest renderer measured; before any, a first guess."""
        if self._settled_uss:
            return max(self._settled_uss)
        measured = [uss for tab in self.tabs if tab.pid and (uss := tab.measured_uss())]
        return max(measured) if measured else FIRST_RENDERER_ESTIMATE_BYTES

    def _remember_settled(self) -> None:
        """Keep the figures of renderers measured since they last worked (for the estimate)."""
        for tab in self.tabs:
            if not tab.pid or not tab.measured_since_work():
                continue
            sample = self.sampler.last(tab.pid)
            if self._settled_at.get(tab.pid) != sample.time and sample.memory.uss:
                self._settled_at[tab.pid] = sample.time
                self._settled_uss.append(sample.memory.uss)
        if len(self._settled_at) > 4 * len(self.tabs) + 64:
            live = {tab.pid for tab in self.tabs}
            self._settled_at = {pid: at for pid, at in self._settled_at.items() if pid in live}

    def _untracked_renderers(self, estimate: int) -> list[TabFacts]:
        """Live renderers whose memory no tab's facts carry: the spare (or one
        being started) and renderers still ending (a tab being discarded
        included), at their last sample or the estimate.  The policy sees each
        as a tab it can do nothing with (loading, no document), so that the
        budget covers every renderer."""
        counted = {tab.pid for tab in self.tabs if tab.pid and not tab.discarding}
        untracked = []
        for host in self.processes.hosts:
            if host.alive and host.pid not in counted and not host.probe:
                sample = self.sampler.last(host.pid)
                uss = sample.memory.uss if sample is not None and sample.memory is not None else None
                untracked.append(TabFacts(id=-host.id, state=LOADING, has_document=False, busy=True,
                                          uss=uss or estimate, renderer=host.pid))
        return untracked

    def policy_facts(self, now: float | None = None) -> list[TabFacts]:
        """What the policy is asked about: every tab, and every renderer no tab counts."""
        return self.tab_facts(now) + self._untracked_renderers(self.renderer_estimate())

    def tab_facts(self, now: float | None = None) -> list[TabFacts]:
        """What the policy knows of every tab at ``now`` (default: the browser's
        clock).  A renderer shared by several tabs is split between them in
        equal shares; one not measured yet counts at the estimate."""
        now = self.clock() if now is None else now
        hosted: dict[int, int] = {}
        for tab in self.tabs:
            if tab.pid:
                hosted[tab.pid] = hosted.get(tab.pid, 0) + 1
        estimate = self.renderer_estimate()
        return [tab.facts(now, sharing=hosted.get(tab.pid, 1), estimate=estimate) for tab in self.tabs]

    def discards_rows(self) -> list[DiscardsRow]:
        """Every tab as chrome://discards shows it (``about:discards``, the task manager)."""
        now = self.clock()
        by_pid: dict[int, list[int]] = {}
        for tab in self.tabs:
            if tab.pid:
                by_pid.setdefault(tab.pid, []).append(tab.id)
        rows = []
        for tab, facts in zip(self.tabs, self.tab_facts(now)):
            rows.append(DiscardsRow(
                tab=tab.id, title=tab.title, url=tab.committed_url, state=tab.state.value,
                visibility="visible" if facts.active else "hidden",
                discard_refusal=discard_refusal(facts),
                freeze_refusal=freeze_refusal(facts, pinned_may_freeze=True),
                auto_discardable=tab.auto_discardable, discard_count=tab.discard_count, revisits=tab.revisits,
                last_active_s=facts.idle_s, renderer=tab.pid,
                shared_with=tuple(other for other in by_pid.get(tab.pid, ()) if other != tab.id),
            ))
        return rows

    def next_policy_check(self) -> float | None:
        """When, on the browser's clock, the policy wants to be asked again (None: nothing pending)."""
        return self.discard_policy.next_check(self.policy_facts(), self.clock())

    async def run_policy(self) -> list[LifecycleRecord]:
        """Measure, ask the policy now, and carry out what it decides; the records of this round."""
        await self.sample_now()
        tasks = self._start(self.discard_policy.decide(self.policy_facts(), self.clock()))
        return list(await asyncio.gather(*tasks)) if tasks else []

    async def make_room(self) -> list[LifecycleRecord]:
        """Before a new renderer starts: the policy discards what it must so
        that every renderer (the tabs', the spare, those still ending), with
        the new one at its estimate, stays under the budget."""
        policy = self.discard_policy
        if policy.memory_budget_bytes is None:
            return []
        # The new renderer (or, when the spare becomes it, the spare started after it) at the estimate.
        tasks = self._start(policy.make_room(self.policy_facts(), self.clock(), self.renderer_estimate()))
        return list(await asyncio.gather(*tasks)) if tasks else []

    def _start(self, decisions) -> list[asyncio.Task]:
        by_id = {tab.id: tab for tab in self.tabs}
        tasks = []
        for decision in decisions:
            tab = by_id.get(decision.tab)
            if tab is None or tab.policy_busy:
                continue
            tab.policy_busy = True
            task = asyncio.ensure_future(self._carry_out(tab, decision.action, decision.reason))
            task.add_done_callback(_log_task_failure)
            tasks.append(task)
        return tasks

    async def _carry_out(self, tab: TabImpl, action: Action, reason: str) -> LifecycleRecord:
        outcome = "done"
        at = self.clock()
        try:
            if action is Action.DISCARD:
                await tab.discard(reason=reason, urgent=False)
            else:
                await tab.freeze(reason=reason)
        except LifecycleRefused as refused:
            outcome = refused.reason.describe()
        except BrowserError as error:
            outcome = str(error)
        finally:
            tab.policy_busy = False
        record = LifecycleRecord(time.time(), tab.id, action.value, reason, outcome, at)
        self.decisions.append(record)
        return record


def _discard_policy(policy: str | DiscardPolicy | None, settings: LifecyclePolicy,
                    memory_budget: int | None) -> DiscardPolicy:
    """The policy object the kernel runs: by name (``broker.discard_policies``), as given,
    or (None) the minibrowser policy with ``settings``."""
    if isinstance(policy, DiscardPolicy):
        return policy
    if policy in (None, "minibrowser"):
        if memory_budget is not None:
            settings = dataclasses.replace(settings, memory_budget_bytes=memory_budget)
        return MinibrowserPolicy(settings)
    try:
        return make_policy(policy, budget_bytes=memory_budget)
    except UnknownPolicy as error:
        raise BrowserError(str(error)) from None


def _facts(host: RendererHost) -> RendererFacts:
    return RendererFacts(id=host.id, lock=host.lock, tabs=frozenset(host.tabs))


def _log_task_failure(task: asyncio.Future) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("lifecycle task failed: %s", task.exception())


