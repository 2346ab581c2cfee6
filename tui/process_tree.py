"""The process tree panel: broker → network process, zygote → one node per
renderer, and the spare renderer (started ahead of need, waiting for its first tab).

Under the shared and site-locked process models a renderer that hosts
several tabs, or is locked to a site, is a node of its own (pid, site, USS)
with its tabs below it.

Each node shows pid, tab title, state, memory (USS), CPU % and a sandbox
mark; the selected node's memory history is drawn as a sparkline and its
details (command line, uid/gid, sandbox layers, IPC counters) below it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Sparkline, Static, Tree
from textual.widgets.tree import TreeNode

from browser import safe_line
from tui.processes import ProcessRow, format_bytes, format_percent, format_seconds
from tui.tab_strip import STATE_MARKS


NEUTRAL_MARKS = ("privileged", "n/a", "checking", "no process")
#: A renderer that hosts only other pages' frames (out-of-process iframes).
SUBFRAMES_MARK = ("◇", "cyan")


@dataclass(frozen=True)
class SandboxStatus:
    """How sandboxed one process is, as the API reported it."""

    mark: str  # "sandboxed", "NOT sandboxed", "partly sandboxed", or one of NEUTRAL_MARKS
    layers: list = field(default_factory=list)  # protocol.SandboxLayer

    @property
    def style(self) -> str:
        if self.mark in NEUTRAL_MARKS:
            return "bright_black"
        return "green" if self.mark == "sandboxed" else "bold red"

    @property
    def short(self) -> str:
        if self.mark in NEUTRAL_MARKS:
            return "…   " if self.mark == "checking" else "    "
        return "✓sbx" if self.mark == "sandboxed" else "✗sbx"


UNKNOWN = SandboxStatus("checking")


TITLE_CELLS = 14
COMPACT_TITLE_CELLS = 10


def group_key(row: ProcessRow) -> str | None:
    """The node of the renderer a tab lives in, when that renderer is shared
    or locked to a site (None: the tab's row is its renderer's node)."""
    t = row.target
    if t.role != "renderer" or not t.pid or not (t.shares_with or t.site):
        return None
    return f"renderer-{t.pid}"


def group_label(row: ProcessRow, *, compact: bool = False) -> Text:
    """A renderer hosting tabs: pid, USS and the site it is locked to."""
    t, m = row.target, row.measurement
    label = Text()
    label.append(f"{t.pid:>7} ", style="bold")
    label.append(f"{format_bytes(m.uss):>7} ", style="cyan")
    label.append(safe_line(t.site or "unlocked"), style="bold #61afef")
    if t.over_limit and not compact:
        label.append(" (over the limit)", style="yellow")
    return label


def node_label(row: ProcessRow, sandbox: SandboxStatus, *, compact: bool = False, in_group: bool = False) -> Text:
    """One process: pid, role or tab title, USS, CPU and sandbox mark; a
    compact label (a narrow panel) keeps pid, title and USS only.  A tab
    under its (shared) renderer's node shows its tab number, not the pid."""
    t, m = row.target, row.measurement
    label = Text()
    title_cells = COMPACT_TITLE_CELLS if compact else TITLE_CELLS
    if t.role == "renderer":
        mark, colour = STATE_MARKS.get(t.state, SUBFRAMES_MARK if t.state == "subframes" else ("?", "white"))
        title = safe_line(t.title or "untitled")[:title_cells]
        if in_group:
            label.append(f"{'tab ' + str(t.tab) if t.tab is not None else 'frames':>7} ", style="bold")
            label.append(mark, style=colour)
            label.append(f" {title:<{title_cells}}", style="")
            return label
        label.append(f"{t.pid or '—':>7} ", style="bold" if t.pid else "dim")
        label.append(mark, style=colour)
        label.append(f" {title:<{title_cells}} ", style="" if t.pid else "dim")
    else:
        label.append(f"{t.pid:>7} ", style="bold")
        name = ("spare" if compact else "spare renderer") if t.role == "spare" else t.role
        label.append(f"{name[:title_cells + 2]:<{title_cells + 2}} ", style="bold #61afef")
    label.append(f"{format_bytes(m.uss):>7}", style="cyan")
    if not compact:
        label.append(f" {format_percent(m.cpu_percent):>6} ", style="magenta")
        label.append(sandbox.short, style=sandbox.style)
    return label


def details_text(row: ProcessRow, sandbox: SandboxStatus) -> Text:
    t, m = row.target, row.measurement
    text = Text()

    def line(name: str, value: str, style: str = "") -> None:
        text.append(f"{name:<10}", style="bold")
        text.append(value + "\n", style=style)

    line("Process", f"{row.task}")
    line("PID", str(t.pid) if t.pid else "none (no renderer running)")
    if t.state:
        line("State", t.state)
    line("Memory", f"USS {format_bytes(m.uss)}  PSS {format_bytes(m.pss)}  RSS {format_bytes(m.rss)}")
    line("CPU", f"{format_percent(m.cpu_percent)}  time {format_seconds(m.cpu_time)}")
    if m.cmdline:
        line("Command", m.cmdline)
    if m.uids:
        line("uid", m.uids + "  (real/effective/saved)")
        line("gid", m.gids)
    if m.threads is not None:
        line("Threads", str(m.threads))
    line("Sandbox", sandbox.mark, sandbox.style)
    for layer in sandbox.layers:
        on = "on " if layer.active else "OFF"
        style = "green" if layer.active else ("bold red" if layer.required else "yellow")
        text.append(f"  {on} ", style=style)
        text.append(safe_line(layer.name), style="bold")
        if layer.detail:
            text.append(f": {safe_line(layer.detail)}", style="dim")
        text.append("\n")
    if t.role == "renderer":
        rtt = f"{t.last_round_trip_ms:.2f} ms" if t.last_round_trip_ms is not None else "–"
        line("IPC out", f"{t.messages_out} messages, {format_bytes(t.bytes_out)}")
        line("IPC in", f"{t.messages_in} messages, {format_bytes(t.bytes_in)}")
        line("Last RTT", rtt)
        line("Discard", t.discardable)
    return text


class ProcessTree(Vertical):
    """The toggled side panel."""

    compact = False  # narrow: shorter labels (the app sets it with the panel's width)

    def compose(self) -> ComposeResult:
        tree: Tree[str] = Tree("minibrowser", id="process-tree-nodes")
        tree.show_root = True
        tree.guide_depth = 2
        yield tree
        yield Static("Memory (USS), last minute", id="sparkline-title")
        yield Sparkline([], id="memory-sparkline")
        yield Static("", id="process-details")

    def on_mount(self) -> None:
        self._tree_nodes: dict[str, TreeNode[str]] = {}
        self._parents: dict[str, str] = {}  # node key -> the key of the node it hangs under
        self._row_map: dict[str, ProcessRow] = {}
        self._sandbox_map: dict[str, SandboxStatus] = {}
        self._memory_history = None
        self.selected = "broker"

    @property
    def node_tree(self) -> Tree[str]:
        return self.query_one("#process-tree-nodes", Tree)

    def update_rows(self, rows: list[ProcessRow], sandbox: dict[str, SandboxStatus], history) -> None:
        """Bring the tree in line with ``rows``, keeping selection and expansion."""
        self._row_map = {row.key: row for row in rows}
        self._sandbox_map = sandbox
        self._memory_history = history
        tree = self.node_tree
        broker = self._row_map.get("broker")
        zygote = self._row_map.get("zygote")
        if broker is not None:
            tree.root.set_label(node_label(broker, sandbox.get("broker", UNKNOWN), compact=self.compact))
            tree.root.data = "broker"
        parent = tree.root
        network = self._row_map.get("network")  # started by the first http(s) page; restarted if it dies
        node = self._tree_nodes.get("network")
        if network is not None:
            label = node_label(network, sandbox.get("network", UNKNOWN), compact=self.compact)
            if node is None:
                self._tree_nodes["network"] = tree.root.add_leaf(label, data="network")
            else:
                node.set_label(label)
        elif node is not None:
            node.remove()
            del self._tree_nodes["network"]
        if zygote is not None:
            node = self._tree_nodes.get("zygote")
            if node is None:
                node = self._tree_nodes["zygote"] = tree.root.add(node_label(zygote, UNKNOWN), data="zygote", expand=True)
            node.set_label(node_label(zygote, sandbox.get("zygote", UNKNOWN), compact=self.compact))
            parent = node
        # Under a shared or site-locked process model a renderer may host
        # several tabs: it gets a node of its own with its tabs below it.
        groups = {group_key(row): row for row in rows if group_key(row) is not None}
        wanted_parent = {row.key: group_key(row) or "zygote" for row in rows if row.target.role == "renderer"}
        for key, node in list(self._tree_nodes.items()):
            keep = key in self._row_map or key in groups
            if key in wanted_parent and self._parents.get(key) != wanted_parent[key]:
                keep = False  # the tab moved to another renderer
            if key in ("zygote", "network") or keep or key not in self._tree_nodes:
                continue
            node.remove()  # and every node below it
            gone = [key] + [child for child, under in self._parents.items() if under == key]
            for dropped in gone:
                self._tree_nodes.pop(dropped, None)
                self._parents.pop(dropped, None)
        # The spare renderer stays the zygote's last child: new renderers go above it.
        spare = next((node for key, node in self._tree_nodes.items() if key.startswith("spare-")), None)
        for key, row in groups.items():
            label = group_label(row, compact=self.compact)
            node = self._tree_nodes.get(key)
            if node is None:
                self._tree_nodes[key] = parent.add(label, data=row.key, expand=True, before=spare)
                self._parents[key] = "zygote"
            else:
                node.set_label(label)
        for row in sorted(rows, key=lambda row: row.target.role == "spare"):
            if row.target.role not in ("renderer", "spare"):
                continue
            grouped = group_key(row)
            label = node_label(row, sandbox.get(row.key, UNKNOWN), compact=self.compact, in_group=grouped is not None)
            node = self._tree_nodes.get(row.key)
            if node is None:
                under = self._tree_nodes[grouped] if grouped is not None else parent
                above = spare if grouped is None and row.target.role != "spare" else None
                self._tree_nodes[row.key] = node = under.add_leaf(label, data=row.key, before=above)
                if row.target.role == "spare":
                    spare = node
                self._parents[row.key] = grouped or "zygote"
            else:
                node.set_label(label)
        tree.root.expand()
        self.show_details()

    def on_tree_node_highlighted(self, event: Tree.NodeHighlighted) -> None:
        event.stop()
        if event.node.data:
            self.selected = event.node.data
            self.show_details()

    def show_details(self) -> None:
        row = self._row_map.get(self.selected)
        details = self.query_one("#process-details", Static)
        sparkline = self.query_one("#memory-sparkline", Sparkline)
        if row is None:
            details.update("")
            sparkline.data = []
            return
        details.update(details_text(row, self._sandbox_map.get(row.key, UNKNOWN)))
        points = self._memory_history.of(row.key) if self._memory_history is not None else []
        sparkline.data = points or [0]
        title = self.query_one("#sparkline-title", Static)
        title.update(f"USS of {row.task[:28]}: {format_bytes(row.measurement.uss)}")
