"""What a running browser does for its control clients (``broker/control.py``
carries the checked messages; this answers them through the public API).

* ``Describe``: pid, profile, start, what started it, tabs, renderers, memory
  (``minibrowser ps``);
* ``OpenUrls``: new tabs; with ``dump``, each tab's output exactly as
  ``minibrowser open --dump`` of a browser of its own prints it (the same
  function, ``browser.output.dump_output``), after which the tabs are closed;
* ``Attach``: the browser's state, then every change pushed as it happens,
  and ``Call``s carried out on the client's behalf (``tui --attach``, through
  ``browser.remote.RemoteBrowser``).  Several clients may attach at once;
  one leaving changes nothing for the browser.
"""

from __future__ import annotations

import asyncio
import logging
from broker import control_protocol as cp
from broker.control import ControlConnection, ControlServer
from broker.errors import BrowserError, LifecycleRefused

log = logging.getLogger("minibrowser.broker")

#: How often an attached client's view is brought up to date between events.
PUSH_INTERVAL_S = 0.25


class ControlService:
    """The control socket of one ``Browser`` (``browser.api``, which starts
    this; the names here are typed by what they are, not imported back)."""

    def __init__(self, browser, started_by: cp.StartedBy) -> None:
        self.browser = browser
        self.started_by = started_by
        self.server: ControlServer | None = None
        self._tasks: set[asyncio.Task] = set()

    async def start(self, runtime_dir: str) -> None:
        self.server = ControlServer(runtime_dir, self.handle, profile=self.browser.profile.path,
                                    started_by=self.started_by.value)
        await self.server.start()

    async def close(self, reason: str = "it quit") -> None:
        for task in list(self._tasks):
            task.cancel()
        if self.server is not None:
            await self.server.close(farewell=cp.Quitting(reason))
            self.server = None

    # -- requests ------------------------------------------------------------------

    async def handle(self, connection: ControlConnection) -> None:
        while (message := await connection.receive()) is not None:
            if isinstance(message, cp.Describe):
                connection.send(self.describe())
            elif isinstance(message, cp.OpenUrls):
                await self._open(connection, message)
            elif isinstance(message, cp.Attach):
                await AttachedClient(self.browser, connection).serve()
                return
            else:
                raise connection.drop(f"{type(message).__name__} needs an attached client: send Attach first")
            await connection.drain()

    def describe(self) -> cp.Description:
        browser = self.browser
        processes = browser.processes()
        return cp.Description(
            pid=processes[0].pid, profile=browser.profile.path, started=self.server.started,
            started_by=self.started_by, tabs=len(browser.tabs),
            renderers=sum(1 for p in processes if p.role == "renderer"),
            spare=any(p.role == "spare" for p in processes),
            memory_uss=browser.memory().total.uss or None)

    async def _open(self, connection: ControlConnection, request: cp.OpenUrls) -> None:
        from browser.output import dump_output

        if not self.started_by.takes_urls:
            raise connection.drop("this browser exits once its own work is done; start one of your own")
        browser = self.browser
        if not request.dump:
            before = set(browser.tabs)
            for index, url in enumerate(request.urls):
                self._background(browser.open(url, width=request.width, activate=index == 0))
            await asyncio.sleep(0)  # each open has made its tab
            connection.send(cp.Opened([tab.id for tab in browser.tabs if tab not in before]))
            return
        tabs = await asyncio.gather(*(browser.open(url, width=request.width, activate=False) for url in request.urls))
        failed = False
        try:
            for index, (url, tab) in enumerate(zip(request.urls, tabs)):
                text, problem = dump_output(url, tab, index=index, count=len(tabs), as_json=request.json,
                                            color=request.color)
                failed = failed or problem is not None
                connection.send(cp.TabOutput(text, problem or ""))
            connection.send(cp.Opened([tab.id for tab in tabs], 1 if failed else 0))  # the exit status of open --dump
            await connection.drain()  # the command is done: it need not wait for the tabs to close
        finally:
            # A dump is a question, not a visit: the tabs go once printed.
            await asyncio.gather(*(tab.close() for tab in tabs), return_exceptions=True)

    def _background(self, awaitable) -> None:
        task = asyncio.ensure_future(awaitable)
        self._tasks.add(task)
        task.add_done_callback(_finished)
        task.add_done_callback(self._tasks.discard)


class AttachedClient:
    """One attached client: what it has been sent, and what it asks for."""

    def __init__(self, browser, connection: ControlConnection) -> None:
        self.browser = browser
        self.connection = connection
        self._facts: dict[int, cp.TabFacts] = {}
        self._frames: dict[int, object] = {}  # tab id -> the frame object last sent
        self._order: list[int] = []
        self._active: int | None = None
        self._processes: list[cp.ProcessFacts] = []
        self._discards: list[cp.DiscardsFacts] = []
        self._network_layers: list = []
        self._wakeup = asyncio.Event()
        self._calls: set[asyncio.Task] = set()

    async def serve(self) -> None:
        browser, connection = self.browser, self.connection
        tabs = browser.tabs
        self._facts = {tab.id: tab_facts(tab) for tab in tabs}
        self._frames = {tab.id: tab.frame for tab in tabs}
        self._order = [tab.id for tab in tabs]
        self._active = browser.active_tab.id if browser.active_tab is not None else None
        self._processes = process_facts(browser)
        self._discards = discards_facts(browser)
        self._network_layers = browser.network_sandbox_layers
        connection.send(cp.Attached(
            browser=browser_facts(browser), tabs=list(self._facts.values()),
            frames={tab.id: tab.frame for tab in tabs if tab.frame is not None}, active=self._active,
            processes=self._processes, discards=self._discards, network_layers=browser.network_sandbox_layers))
        unsubscribe = [browser.subscribe(self._lifecycle), browser.subscribe_ipc(self._ipc)]
        pusher = asyncio.create_task(self._push_loop(), name="control-push")
        try:
            while (message := await connection.receive(timeout=None)) is not None:
                if not isinstance(message, cp.Call):
                    raise connection.drop(f"an attached client sends only Call, not {type(message).__name__}")
                if len(self._calls) >= cp.MAX_CALLS_IN_FLIGHT:
                    raise connection.drop(f"more than {cp.MAX_CALLS_IN_FLIGHT} calls at once")
                task = asyncio.create_task(self._call(message))
                self._calls.add(task)
                task.add_done_callback(self._calls.discard)
        finally:
            for stop in unsubscribe:
                stop()
            pusher.cancel()
            for task in list(self._calls):
                task.cancel()

    # -- what the client sees -----------------------------------------------------------

    def _lifecycle(self, event) -> None:
        self.connection.send(cp.LifecycleEvent(event.tab, event.old, event.new, event.reason))
        self._wakeup.set()

    def _ipc(self, event) -> None:
        self.connection.send(cp.IpcMessage(event.time, event.tab, event.direction, event.type, event.size,
                                           event.round_trip_ms))

    async def _push_loop(self) -> None:
        while not self.connection.closed:
            waiter = asyncio.ensure_future(self._wakeup.wait())
            try:
                await asyncio.wait({waiter}, timeout=PUSH_INTERVAL_S)
            finally:
                waiter.cancel()
            self._wakeup.clear()
            self.push()
            await self.connection.drain()

    def push(self) -> None:
        """Send what changed since the last push: tabs, frames, the process list."""
        browser, send = self.browser, self.connection.send
        tabs = browser.tabs
        order = [tab.id for tab in tabs]
        active = browser.active_tab.id if browser.active_tab is not None else None
        for gone in [tab_id for tab_id in self._facts if tab_id not in order]:
            del self._facts[gone]
            self._frames.pop(gone, None)
            send(cp.TabRemoved(gone, active))
        for tab in tabs:
            facts = tab_facts(tab)
            if self._facts.get(tab.id) != facts or order != self._order or active != self._active:
                self._facts[tab.id] = facts
                send(cp.TabUpdated(facts, order, active))
                self._order, self._active = order, active
            if self._frames.get(tab.id, False) is not tab.frame:
                self._frames[tab.id] = tab.frame
                send(cp.FrameUpdated(tab.id, tab.frame))
        processes = process_facts(browser)
        layers = browser.network_sandbox_layers
        if processes != self._processes or layers != self._network_layers:
            self._processes, self._network_layers = processes, layers
            send(cp.ProcessesUpdated(processes, layers))
        discards = discards_facts(browser)
        if discards != self._discards:
            self._discards = discards
            send(cp.DiscardsUpdated(discards))

    # -- what the client asks ------------------------------------------------------------

    async def _call(self, call: cp.Call) -> None:
        try:
            result = await self._carry_out(call)
        except LifecycleRefused as refused:
            result = cp.CallResult(call.id, error=str(refused), refusal=refused.reason)
        except BrowserError as error:
            result = cp.CallResult(call.id, error=str(error))
        self.push()  # the client sees the call's effect before its answer
        self.connection.send(result)
        await self.connection.drain()

    async def _carry_out(self, call: cp.Call) -> cp.CallResult:
        action, browser = call.action, self.browser
        if action is cp.Action.OPEN:
            tab = await browser.open(call.url or "about:blank", width=call.width, activate=call.activate)
            return cp.CallResult(call.id, tab=tab.id)
        tab = next((t for t in browser.tabs if t.id == call.tab), None)
        if tab is None:
            return cp.CallResult(call.id, error=f"there is no tab {call.tab}")
        A = cp.Action
        if action is A.NAVIGATE:
            await tab.navigate(_needed(call.url, "url"))
        elif action is A.FOLLOW:
            await tab.follow(_needed(call.number, "number"))
        elif action is A.SET_FIELD:
            await tab.set_field(_needed(call.number, "number"), value=call.text, checked=call.checked)
        elif action is A.PRESS:
            await tab.press(_needed(call.number, "number"))
        elif action is A.FIND:
            return cp.CallResult(call.id, matches=list(await tab.find(call.text or "")))
        elif action is A.RESIZE:
            await tab.resize(_needed(call.width, "width"))
        elif action is A.SCROLL_TO:
            tab.scroll_to(_needed(call.number, "number"))
        elif action is A.BACK:
            await tab.back()
        elif action is A.FORWARD:
            await tab.forward()
        elif action is A.RELOAD:
            await tab.reload()
        elif action is A.ACTIVATE:
            await tab.activate()
        elif action is A.CLOSE:
            await tab.close()
        elif action is A.FREEZE:
            await tab.freeze()
        elif action is A.UNFREEZE:
            await tab.unfreeze()
        elif action is A.DISCARD:
            if call.urgent:
                await tab.discard()
            else:
                await tab.discard(reason="discarded by the user (proactive)", urgent=False)
        elif action is A.END_PROCESS:
            tab.end_process()
        elif action is A.PIN:
            tab.pin(True if call.on is None else call.on)
        elif action is A.KEEP:
            tab.keep(True if call.on is None else call.on)
        elif action is A.AUTO_DISCARDABLE:
            tab.set_auto_discardable(True if call.on is None else call.on)
        elif action is A.SANDBOX_REPORT:
            return cp.CallResult(call.id, layers=list(await tab.sandbox_report()))
        return cp.CallResult(call.id)


def _needed(value, name: str):
    if value is None:
        raise BrowserError(f"this action needs a {name}")
    return value


def tab_facts(tab) -> cp.TabFacts:
    counters = tab.ipc
    memory = tab.memory
    frame = tab.frame
    return cp.TabFacts(
        id=tab.id, url=tab.url, final_url=tab.final_url, title=tab.title, state=tab.state, width=tab.width,
        navigation_id=tab.navigation_id, pid=tab.pid, site=tab.site, error=tab.error, crash_cause=tab.crash_cause,
        crash_loop=tab.crash_loop, pinned=tab.pinned, kept=tab.kept,
        memory=_memory(memory),
        cpu_percent=tab.cpu_percent, cpu_time=tab.cpu_time, snapshot_bytes=tab.snapshot_bytes,
        discard_refusal=tab.discard_refusal(), proactive_discard_refusal=tab.discard_refusal(urgent=False),
        freeze_refusal=tab.freeze_refusal(), auto_discardable=tab.auto_discardable,
        messages_out=counters.messages_out if counters else 0, bytes_out=counters.bytes_out if counters else 0,
        messages_in=counters.messages_in if counters else 0, bytes_in=counters.bytes_in if counters else 0,
        last_round_trip_ms=counters.last_round_trip_ms if counters else None, has_ipc=counters is not None,
        scroll=frame.scroll if frame is not None else 0)


def process_facts(browser) -> list[cp.ProcessFacts]:
    return [cp.ProcessFacts(p.pid, p.ppid, p.role, p.tab, p.state, p.title, list(p.tabs), p.site, p.over_limit,
                            _memory(p.memory))
            for p in browser.processes()]


def _memory(memory) -> cp.MemoryFacts | None:
    return cp.MemoryFacts(memory.uss, memory.pss, memory.rss) if memory is not None else None


def discards_facts(browser) -> list[cp.DiscardsFacts]:
    # last_active_s to the second: it changes all the time, and a push a second is enough
    return [cp.DiscardsFacts(r.tab, r.title, r.url, r.state, r.visibility, r.discard_refusal, r.freeze_refusal,
                             r.auto_discardable, r.discard_count, r.revisits, float(int(r.last_active_s)), r.renderer,
                             list(r.shared_with))
            for r in browser.discards()]


def browser_facts(browser) -> cp.BrowserFacts:
    sandbox = browser.sandbox
    processes = browser.processes()
    return cp.BrowserFacts(
        pid=processes[0].pid, profile=browser.profile.path, started_by=browser.started_by,
        sandbox_enabled=sandbox.enabled, sandbox_uid=sandbox.uid, sandbox_gid=sandbox.gid, width=browser.width,
        process_model=browser.process_model.value, process_limit=browser.process_limit,
        zygote_pid=browser.zygote_pid)


def _finished(task: asyncio.Future) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.info("a tab opened for a control client failed: %s", task.exception())
