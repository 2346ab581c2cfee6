"""The Textual app: the browser window, the process tree, the task manager
and the IPC inspector.

The app hosts the broker in its own event loop, the way Chrome's browser
process hosts its UI: ``Browser`` starts in a worker once the screen is up,
and is shut down when the app quits (q, Ctrl+Q, the terminal closing).
Everything it shows comes from the public API in ``browser.api``; every
lifecycle decision (may this tab be discarded?) is the API's, and the app
only shows the answer and its reason.

The app composes small widgets, each with one job, that post messages up to
it: the tab strip and info bar (``tab_strip``), the address bar
(``address_bar``: ``Navigate``), the page (``page_view``: ``Activated``,
``NumberTyped``, ``Resized``), the find bar (``find_bar``: ``Search``,
``Closed``), the status line (``status_line``), the process tree
(``process_tree``) fed by the sampler (``process_sampler``: ``Sampled``,
``SandboxReported``), and the screens on top (``task_manager``,
``ipc_inspector``, ``field_editor``).  Running it in a terminal is
``tui/frontend.py``'s job.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical

from browser import safe_line
from tui.address_bar import AddressBar
from tui.field_editor import FieldEditor
from tui.find_bar import FindBar
from tui.ipc_inspector import IpcInspector, IpcLog
from tui.key_bar import KeyBar, key_name
from tui.page_view import PageView
from tui.process_sampler import ProcessSampler
from tui.process_tree import ProcessTree, SandboxStatus
from tui.processes import MemoryHistory, ProcessRow, ProcessSource
from tui.status_line import StatusLine
from tui.tab_strip import NEW_TAB_URL, InfoBar, TabStrip
from tui.task_manager import TaskManager

log = logging.getLogger("minibrowser.tui")

SAMPLE_SECONDS = 1.0
RESIZE_SETTLE_SECONDS = 0.15
PROGRESS_SECONDS = 0.25  # how often the status line's loading time moves on
SCROLLBAR_COLUMNS = 1  # the page view's vertical scrollbar (app.tcss)

# The page comes first: the process tree opens by itself only when the page
# keeps this many columns beside it; opened by hand in a narrower terminal
# it takes a share of the width instead of its full width.
PAGE_COLUMNS = 80
TREE_COLUMNS = 52
TREE_NARROW_SHARE = 0.4
TREE_MIN_COLUMNS = 36

# The footer keeps these when it cannot show every key, the first ones first.
KEY_PRIORITY = [
    "wait", "end_process", "focus_address", "new_tab", "close_tab", "find", "toggle_tree", "quit",
    "task_manager", "next_tab", "previous_tab", "ipc_inspector",
]
TEXT_FIELDS = {"text", "password", "search", "email", "url", "tel", "number", "textarea", "select", "date"}


def default_browser_factory(options=None, /, **settings) -> Callable[[], object]:
    """Makes a ``Browser`` with ``options`` (a ``BrowserOptions``) or its fields as keywords."""
    def make():
        from browser.api import Browser

        return Browser(options, **settings)

    return make


class BrowserApp(App[int]):
    """A terminal web browser window with a live view of its processes."""

    CSS_PATH = Path(__file__).with_name("app.tcss")  # absolute: subclasses live elsewhere
    TITLE = "minibrowser"
    ENABLE_COMMAND_PALETTE = False

    BINDINGS = [
        Binding("ctrl+t", "new_tab", "New tab", priority=True),
        Binding("ctrl+w", "close_tab", "Close", priority=True),
        Binding("ctrl+pagedown,ctrl+tab", "next_tab", "Next tab", priority=True),
        Binding("ctrl+pageup,ctrl+shift+tab", "previous_tab", "Prev tab", priority=True),
        Binding("ctrl+l", "focus_address", "Address", priority=True),
        Binding("slash,ctrl+f", "find", "Find"),
        Binding("alt+left", "back", "Back", show=False),
        Binding("alt+right", "forward", "Forward", show=False),
        Binding("f5,ctrl+r", "reload", "Reload", show=False),
        Binding("n", "find_next", "Next match", show=False),
        Binding("N", "find_previous", "Previous match", show=False),
        Binding("w", "wait", "Wait"),
        Binding("k", "end_process", "End process"),
        Binding("f2,shift+escape", "task_manager", "Tasks"),
        Binding("f3", "toggle_tree", "Processes"),
        Binding("f4", "ipc_inspector", "IPC log"),
        Binding("q", "quit", "Quit"),
        Binding("ctrl+q", "quit", "Quit", show=False, priority=True),
    ]

    def __init__(
        self,
        urls: list[str] | None = None,
        *,
        browser_factory: Callable[[], object] | None = None,
        process_source: ProcessSource | None = None,
        sample_seconds: float = SAMPLE_SECONDS,
        follow_active: bool = False,
        attached: bool = False,
    ) -> None:
        """``follow_active``: the window shows whichever tab the browser makes
        active, as when something else drives it (a trace being played).

        ``attached``: the factory makes a ``RemoteBrowser``, a browser that
        runs in another process (``minibrowser tui --attach``): the window
        shows its tabs and opens no URL of its own; quitting detaches and
        leaves it running."""
        super().__init__()
        self.attached = attached
        self.gone_message: str | None = None  # the one line to show when the attached browser went away
        self.follow_active = follow_active
        self.urls = list(urls or ["about:welcome"])
        self.browser_factory = browser_factory or default_browser_factory()
        self.sampler = ProcessSampler(self, process_source or ProcessSource())
        self.sample_seconds = sample_seconds
        self.browser = None
        self.current = None  # the tab on screen
        self.ready = asyncio.Event()  # the browser is up and the first tabs are open
        self.startup_error: str | None = None
        self.ipc_log = IpcLog()
        self._waited: set[int] = set()  # unresponsive tabs the user chose to wait for
        self._chrome_pending = False
        self._reflow_timer = None
        self._shut_down = False
        self._hung_up = False
        self._unsubscribe: list[Callable[[], None]] = []
        self._placed: tuple[int, int] | None = None  # (tab, navigation) whose scroll the view took
        self._tree_wanted: bool | None = None  # the user's F3 choice; None: as the width allows
        self._loading_since: dict[int, float] = {}  # tab id -> when the UI saw it start loading
        self._progress_text = ""
        self._asked_widths: dict[int, int] = {}  # tab id -> the width its renderer was last asked for

    # -- layout ---------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield TabStrip("", id="tab-strip")
        yield AddressBar(id="address")
        with Horizontal(id="main"):
            with Vertical(id="page-column"):
                yield InfoBar("", id="info-bar")
                yield PageView(id="page")
                yield FindBar(id="find")
            yield ProcessTree(id="process-tree")
        yield StatusLine("Starting the browser…", id="status")
        yield KeyBar(priority=KEY_PRIORITY)

    @property
    def window(self):
        """The browser window's screen, under any task manager or inspector on top."""
        return self.screen_stack[0] if self.screen_stack else self.screen

    @property
    def has_window(self) -> bool:
        """False while the app starts or closes: timers that fire then have nothing to update."""
        return self.is_running and bool(self.screen_stack) and bool(self.screen_stack[0].query("#page"))

    @property
    def page(self) -> PageView:
        return self.window.query_one("#page", PageView)

    @property
    def address(self) -> AddressBar:
        return self.window.query_one("#address", AddressBar)

    @property
    def find_bar(self) -> FindBar:
        return self.window.query_one("#find", FindBar)

    @property
    def status_line(self) -> StatusLine:
        return self.window.query_one("#status", StatusLine)

    # What the process tree and the task manager show (the sampler's).
    @property
    def process_rows(self) -> list[ProcessRow]:
        return self.sampler.rows

    @property
    def sandbox_status(self) -> dict[str, SandboxStatus]:
        return self.sampler.statuses

    @property
    def history(self) -> MemoryHistory:
        return self.sampler.history

    @property
    def samples_taken(self) -> int:
        return self.sampler.samples_taken

    @property
    def find_matches(self) -> list[tuple[int, int, int]]:
        return self.find_bar.matches

    def get_key_display(self, binding: Binding) -> str:
        """Every key named one way, in every footer: ^T, F3, Esc, /."""
        return binding.key_display or key_name(binding.key)

    def on_mount(self) -> None:
        self.window.query_one("#info-bar").display = False
        self.window.query_one("#find").display = False
        self._fit_panels()
        self.page.focus()
        self.run_worker(self._start_browser(), name="start-browser", exit_on_error=False)
        self.set_interval(self.sample_seconds, self.sampler.sample)
        self.set_interval(0.5, self._sync_scroll)
        self.set_interval(PROGRESS_SECONDS, self._show_progress)

    def _fit_panels(self) -> None:
        """The page comes first: the process tree opens by itself only where the
        page keeps PAGE_COLUMNS beside it, and takes a share of a narrower terminal."""
        width = self.size.width
        roomy = width >= PAGE_COLUMNS + TREE_COLUMNS
        tree = self.window.query_one(ProcessTree)
        tree.styles.width = TREE_COLUMNS if roomy else max(TREE_MIN_COLUMNS, int(width * TREE_NARROW_SHARE))
        shown = roomy if self._tree_wanted is None else self._tree_wanted
        compact = not roomy
        if tree.display != shown or tree.compact != compact:
            tree.display = shown
            tree.compact = compact
            if shown and self.process_rows:
                tree.update_rows(self.process_rows, self.sandbox_status, self.history)

    async def _start_browser(self) -> None:
        if self._hung_up:
            self.exit(0)
            return
        try:
            self.browser = self.browser_factory()
            await self.browser.start()
        except Exception as error:  # noqa: BLE001 - one line for a person, never a traceback
            self.startup_error = f"could not start the browser: {error}"
            await self.shutdown_browser()
            self.exit(1)
            return
        self.sampler.browser = self.browser
        self._unsubscribe = [self.browser.subscribe(self._tab_event), self.browser.subscribe_ipc(self.ipc_log)]
        if self.attached:
            self.browser.on_gone(self._browser_gone)
            self.current = self.browser.active_tab or (self.browser.tabs[0] if self.browser.tabs else None)
            self._set_status("")
            self.ready.set()
            self._refresh_chrome()
            self.sampler.sample()
            return
        width = self._page_width()
        first, *rest = self.urls
        # The tab is in the strip, loading, from the moment it exists (the
        # progress timer draws it), not only once its page has arrived.
        self._set_status("")
        tab = await self._guarded(self.browser.open(first, width=width))
        if tab is not None:
            self.current = tab
        self._refresh_chrome()
        await asyncio.gather(*(self._guarded(self.browser.open(url, width=width, activate=False)) for url in rest))
        self.ready.set()
        self._refresh_chrome()
        self.sampler.sample()

    def _browser_gone(self, why: str) -> None:
        """The browser this window is attached to quit (or cannot be reached): say so and close."""
        self.gone_message = f"detached from the browser (pid {self.browser.pid}): {safe_line(why)}"
        self.exit(0)

    async def shutdown_browser(self) -> None:
        if self._shut_down:
            return
        self._shut_down = True
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        if self.browser is not None:
            try:
                await self.browser.shutdown()
            except Exception:  # noqa: BLE001
                log.exception("browser shutdown failed")

    async def on_unmount(self) -> None:
        await self.shutdown_browser()

    # -- running work without tracebacks -----------------------------------------

    async def _guarded(self, awaitable: Awaitable):
        """Await an API call; a failure becomes one line in the status bar."""
        try:
            return await awaitable
        except Exception as error:  # noqa: BLE001
            message = safe_line(str(error) or type(error).__name__)
            log.debug("action failed", exc_info=True)
            self._set_status(message, error=True)
            self.notify(message, severity="error", timeout=4)
            return None
        finally:
            self._schedule_chrome()

    def _tab_work(self, awaitable: Awaitable, *, status: str = "") -> None:
        """Run a tab action in a worker; ``status`` shows while it runs."""
        self._sync_scroll()  # the browser knows where the user is before it acts (Back comes back here)
        if status:
            self._set_status(status)
        self.run_worker(self._after(awaitable, status), group="tab", exit_on_error=False)

    async def _after(self, awaitable: Awaitable, status: str) -> None:
        result = await self._guarded(awaitable)
        if result is not None and status and self.status_line.text == status:
            self._set_status("")

    def _set_status(self, text: str, *, error: bool = False) -> None:
        self.status_line.show(text, error=error)

    # -- keeping the window in step with the tabs ---------------------------------

    def _tab_event(self, event) -> None:
        """Lifecycle transitions from the API (called on this loop)."""
        if event.new.value != "unresponsive":
            self._waited.discard(event.tab)
        if event.new.value == "loading":
            self._loading_since[event.tab] = time.monotonic()
        self._schedule_chrome()

    def _show_progress(self) -> None:
        """While the tab on screen loads, the status line says what and for how long."""
        if self.browser is None or not self.has_window:
            return
        tab = self.current if self.current in self.browser.tabs else self.browser.active_tab
        loading = {t.id for t in self.browser.tabs if t.state.value == "loading"}
        for tab_id in list(self._loading_since):
            if tab_id not in loading:
                del self._loading_since[tab_id]
        if tab is not None and tab.id in loading:
            if self.current is not tab:
                self._refresh_chrome()  # a tab the window has not shown yet: the first one
            since = self._loading_since.setdefault(tab.id, time.monotonic())
            self._progress_text = f"Loading {tab.url}… {time.monotonic() - since:.0f} s"
            if self.status_line.text != self._progress_text:
                self._set_status(self._progress_text)
        elif self._progress_text:
            if self.status_line.text == self._progress_text:
                self._set_status("")
            self._progress_text = ""

    def _schedule_chrome(self) -> None:
        if not self._chrome_pending:
            self._chrome_pending = True
            self.call_later(self._refresh_chrome)

    def show_current_state(self) -> None:
        """Draw the tab strip, info bar, address and page as the browser has
        them now, without waiting for the refresh already scheduled (a trace
        window calls it once the trace has played, before it reports)."""
        self._refresh_chrome()

    def _refresh_chrome(self) -> None:
        self._chrome_pending = False
        if self.browser is None or not self.has_window:
            return
        tabs = list(self.browser.tabs)
        active = self.browser.active_tab
        if self.current not in tabs or (self.follow_active and active in tabs and active is not self.current):
            self.current = active if active in tabs else (tabs[-1] if tabs else None)
            if self.current is not None:
                self._show_tab(self.current)
        tab = self.current
        self.window.query_one(TabStrip).show(tabs, tab)
        info = self.window.query_one(InfoBar)
        if tab is not None and tab.id in self._waited:
            info.display = False
        else:
            info.show(tab, sandboxed=self.sampler.tab_sandboxed(tab))
        self.address.show(tab)
        page = self.page
        if tab is None:
            page.show(None)
        elif tab.frame is not page.frame or self._placed != (tab.id, tab.navigation_id):
            # A navigation (a new page, a #fragment, Back) puts the view where the
            # browser says; a new frame of the same page (a reflow) keeps it.
            placed = self._placed != (tab.id, tab.navigation_id) or page.frame is None
            self._placed = (tab.id, tab.navigation_id)
            if tab.frame is not None and placed:
                scroll = tab.frame.scroll
            else:
                scroll = self._same_place(page.frame, tab.frame, int(page.scroll_y))
            page.show(tab.frame, scroll=scroll)
        self.sub_title = safe_line(tab.title) if tab is not None else ""
        self.refresh_bindings()

    @staticmethod
    def _same_place(old, new, line: int) -> int | None:
        """Where the user's view goes when the page is laid out at another
        width: as far through the new lines as it was through the old ones."""
        if old is None or new is None or old.width == new.width or not old.lines:
            return None
        return round(line * len(new.lines) / len(old.lines))

    def _show_tab(self, tab) -> None:
        """Put ``tab`` on screen, at its own scroll position."""
        self.current = tab
        self.find_bar.forget()
        page = self.page
        page.focused = None
        page.frame = None
        self._placed = (tab.id, tab.navigation_id)
        page.show(tab.frame, scroll=tab.frame.scroll if tab.frame is not None else 0)
        self._reflow()
        self._schedule_chrome()

    def _page_width(self) -> int:
        """The width pages are laid out at: the page view less its scrollbar,
        whether or not the scrollbar shows now, so that it does not change
        when a page grows long enough to need one."""
        width = self.page.size.width
        return max(20, width - SCROLLBAR_COLUMNS) if width else 80

    def on_page_view_resized(self) -> None:
        """The terminal or a panel changed size: fit the panels to the terminal,
        then lay the page out again once things have settled."""
        if not self.has_window:  # a resize that arrives while the app closes
            return
        self._fit_panels()
        if self._reflow_timer is not None:
            self._reflow_timer.stop()
        self._reflow_timer = self.set_timer(RESIZE_SETTLE_SECONDS, self._reflow)

    def _reflow(self) -> None:
        """The page view changed width: the renderer lays the page out again,
        once per new width (a change of height alone costs nothing)."""
        if not self.has_window:  # a timer that fires while the app is closing
            return
        tab, width = self.current, self._page_width()
        if tab is None or tab.frame is None or not tab.pid:
            return
        if self._asked_widths.get(tab.id, tab.width) != width:  # a reflow before the answer asks nothing more
            self._asked_widths[tab.id] = width
            self._tab_work(tab.resize(width))

    def _sync_scroll(self) -> None:
        """Tell the renderer where the user is (kept when the tab is discarded)."""
        if not self.has_window:
            return
        tab = self.current
        if tab is None or tab.frame is None or tab.frame is not self.page.frame:
            return
        if self._placed != (tab.id, tab.navigation_id):
            return  # the browser just moved the view (a #fragment, Back): that is not the user's scroll
        line = int(self.page.scroll_y)
        if tab.frame.scroll != line:
            try:
                tab.scroll_to(line)
            except Exception:  # noqa: BLE001 - the renderer went away; the tab shows why
                pass

    # -- tabs -------------------------------------------------------------------

    def action_new_tab(self) -> None:
        """A blank tab with the address bar ready to type in, as browsers do."""
        if self.browser is None:
            return

        async def open_tab():
            tab = await self.browser.open(NEW_TAB_URL, width=self._page_width())
            self._show_tab(tab)
            return tab

        self._tab_work(open_tab())
        self.address.start_typing("")

    def action_close_tab(self) -> None:
        tab = self.current
        if tab is None:
            return
        if len(self.browser.tabs) <= 1:
            self.run_worker(self.action_quit(), exit_on_error=False)  # like a browser closing its last tab
            return
        index = self.browser.tabs.index(tab)

        async def close():
            await tab.close()
            if self.browser.tabs:
                self._switch_to(self.browser.tabs[min(index, len(self.browser.tabs) - 1)])
            return True

        self._tab_work(close())

    def action_next_tab(self) -> None:
        self._step_tab(+1)

    def action_previous_tab(self) -> None:
        self._step_tab(-1)

    def _step_tab(self, step: int) -> None:
        if self.browser is None or not self.browser.tabs:
            return
        tabs = self.browser.tabs
        index = tabs.index(self.current) if self.current in tabs else 0
        self._switch_to(tabs[(index + step) % len(tabs)])

    def action_select_tab(self, number: int) -> None:
        if self.browser is not None and 1 <= number <= len(self.browser.tabs):
            self._switch_to(self.browser.tabs[number - 1])

    def _switch_to(self, tab) -> None:
        """Make ``tab`` the active tab; the API restores it if it was discarded or frozen."""
        self._show_tab(tab)
        restoring = tab.state.value in ("frozen", "discarded")
        self._tab_work(tab.activate(), status="Restoring the tab…" if restoring else "")

    # -- address bar, navigation --------------------------------------------------

    def action_focus_address(self) -> None:
        self.address.start_typing()

    def on_address_bar_navigate(self, event: AddressBar.Navigate) -> None:
        if self.browser is None:
            return
        self.page.focus()
        tab = self.current
        if tab is None:
            self._tab_work(self.browser.open(event.url, width=self._page_width()))
        else:
            self._tab_work(tab.navigate(event.url))

    def on_address_bar_done(self) -> None:
        self.page.focus()

    def action_back(self) -> None:
        if self.current is not None:
            self._tab_work(self.current.back(), status="Back…")

    def action_forward(self) -> None:
        if self.current is not None:
            self._tab_work(self.current.forward(), status="Forward…")

    def action_reload(self) -> None:
        tab = self.current
        if tab is None:
            return
        if tab.state.value in ("frozen", "discarded"):
            self._tab_work(tab.activate(), status="Restoring the tab…")
        else:
            self._tab_work(tab.reload(), status="Reloading…")

    # -- the page ---------------------------------------------------------------

    def on_page_view_number_typed(self, event: PageView.NumberTyped) -> None:
        if event.digits:
            self._set_status(f"Follow link [{event.digits}]: Enter to follow, Esc to cancel")
        else:
            self._set_status("")

    def on_page_view_activated(self, event: PageView.Activated) -> None:
        tab, target = self.current, event.target
        if tab is None:
            return
        if target.kind == "link":
            self._tab_work(tab.follow(target.number), status=f"Following link [{target.number}]…")
            return
        field = next((f for f in (tab.frame.fields if tab.frame else []) if f.id == target.number), None)
        if field is None:
            return
        if field.kind == "checkbox":
            self._tab_work(tab.set_field(field.id, checked=not field.checked))
        elif field.kind == "radio":
            self._tab_work(tab.set_field(field.id, checked=True))
        elif field.kind in TEXT_FIELDS:
            def typed(value: str | None) -> None:
                if value is not None:
                    self._tab_work(tab.set_field(field.id, value=value))

            self.push_screen(FieldEditor(field), typed)
        else:
            self._tab_work(tab.press(field.id), status="Submitting…")

    # -- find in page ---------------------------------------------------------------

    def action_find(self) -> None:
        self.find_bar.open()

    def on_find_bar_search(self, event: FindBar.Search) -> None:
        tab, query = self.current, event.query
        if tab is None:
            return

        async def find():
            matches = await tab.find(query)
            self.find_bar.found(matches)
            self._refresh_chrome()
            if matches:
                self._show_match()
            else:
                self._set_status(f"No matches for “{query}”" if query else "")
            self.page.focus()
            return matches

        self._tab_work(find())

    def on_find_bar_closed(self) -> None:
        self.page.focus()

    def _show_match(self) -> None:
        matches, index = self.find_bar.matches, self.find_bar.index
        line, column, _ = matches[index]
        page = self.page
        top, height = int(page.scroll_y), page.scrollable_content_region.height
        if not top <= line < top + height:
            page.scroll_to(y=max(0, line - height // 3), animate=False, immediate=True)
        self._set_status(f"Match {index + 1} of {len(matches)} (line {line + 1}); n/N for the next/previous")

    def action_find_next(self) -> None:
        if self.find_bar.step(+1) is not None:
            self._show_match()

    def action_find_previous(self) -> None:
        if self.find_bar.step(-1) is not None:
            self._show_match()

    # -- unresponsive and crashed renderers -----------------------------------------

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        state = self.current.state.value if self.current is not None else ""
        if action == "wait":
            return state == "unresponsive" and self.current.id not in self._waited
        if action == "end_process":
            return state == "unresponsive"
        if action in ("find_next", "find_previous"):
            return bool(self.find_matches)
        return True

    def action_wait(self) -> None:
        if self.current is not None:
            self._waited.add(self.current.id)
            self._set_status("Waiting for the page to answer…")
            self._schedule_chrome()

    def action_end_process(self) -> None:
        if self.current is not None:
            self.lifecycle_action("end", self.current.id)

    # -- lifecycle actions (the task manager's buttons) -----------------------------

    def on_task_manager_lifecycle_requested(self, event: TaskManager.LifecycleRequested) -> None:
        self.lifecycle_action(event.action, event.tab)

    def lifecycle_action(self, action: str, tab_id: int) -> None:
        """Ask the API to freeze, discard (urgent or proactive), restore, end, pin,
        keep a tab or switch its auto-discardable flag; it may refuse, with a
        reason.  Pin, keep and auto-discardable toggle."""
        tab = next((t for t in self.browser.tabs if t.id == tab_id), None) if self.browser else None
        if tab is None:
            return
        method = {"freeze": "freeze", "discard": "discard", "proactive-discard": "discard", "restore": "activate",
                  "end": "end_process", "pin": "pin", "keep": "keep", "auto-discardable": "set_auto_discardable"}[action]
        if action == "restore" and tab.state.value == "frozen":
            method = "unfreeze"  # thaw it where it is; restoring a discarded tab also brings it to the front
        call = getattr(tab, method)
        if action == "pin":
            call = functools.partial(tab.pin, not tab.pinned)
        elif action == "keep":
            call = functools.partial(tab.keep, not tab.kept)
        elif action == "auto-discardable":
            call = functools.partial(tab.set_auto_discardable, not tab.auto_discardable)
        elif action == "proactive-discard":
            call = functools.partial(tab.discard, reason="discarded by the user (proactive)", urgent=False)

        async def run():
            try:
                result = call()
                if asyncio.iscoroutine(result):
                    result = await result
            except Exception as error:  # noqa: BLE001 - LifecycleRefused and friends: show the reason
                reason = getattr(error, "reason", None)
                text = reason.describe() if hasattr(reason, "describe") else safe_line(str(error))
                self.notify(f"Cannot {action} tab {tab_id}: {text}", severity="warning", timeout=5)
                return None
            self.notify(f"Tab {tab_id}: {action} done ({tab.state.value})", timeout=2)
            if method == "activate" and tab in self.browser.tabs:
                self._show_tab(tab)
            self.sampler.sample()
            return True

        self._tab_work(run())

    # -- the process tree and the task manager's data --------------------------------

    def on_process_sampler_sampled(self, sample: ProcessSampler.Sampled) -> None:
        if not self.has_window:
            return
        self.sampler.apply(sample)
        tree = self.window.query_one(ProcessTree)
        if tree.display:
            tree.update_rows(self.process_rows, self.sandbox_status, self.history)

    def on_process_sampler_sandbox_reported(self) -> None:
        self._schedule_chrome()

    def action_toggle_tree(self) -> None:
        """Show or hide the process tree; the page view's resize lays the page
        out again at its new width (once, after the layout has settled)."""
        self._tree_wanted = not self.window.query_one(ProcessTree).display
        self._fit_panels()

    def action_task_manager(self) -> None:
        if not isinstance(self.screen, TaskManager):
            self.push_screen(TaskManager())

    def action_ipc_inspector(self) -> None:
        if not isinstance(self.screen, IpcInspector):
            self.push_screen(IpcInspector(self.ipc_log))

    # -- quitting -----------------------------------------------------------------

    def hang_up(self) -> None:
        """The terminal closed (SIGHUP) or we were asked to stop (SIGTERM): quit cleanly."""
        self._hung_up = True
        self.exit(0)

    async def action_quit(self) -> None:
        self._set_status("Detaching; the browser keeps running…" if self.attached else "Closing every tab…")
        await self.shutdown_browser()
        self.exit(0)
