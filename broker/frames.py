"""Frames: a tab's frame tree, its limits, and the page the broker composes.

A page's ``<iframe>`` and ``<frame>`` elements are frames of its tab, each
committed by the broker like a navigation (Chromium's ``FrameTreeNode``):
the parent's renderer lays out a *slot* (``protocol.FrameSlot``: a
placeholder line and a size in cells) and reports the frame's ``src`` as a
claim; the broker decides whether and what to load there (the navigation
policy, ``file:`` rules, size caps and redirects of the loader), where the
frame's document goes (``broker/process_model.place``), and composes the
child's lines into the slot under a one-line label naming the frame's
origin.  Under ``site-per-process`` a cross-site child lives in a renderer
locked to its site and its parent's renderer never receives its content:
only the broker sees both.

This module holds what does not touch a process: the tree's nodes, the
limits (data, not code), the frames the broker draws itself (a frame that
was not loaded, a "sad frame"), and :func:`compose`.  Loading and placing
frames is the tab's work (``broker/tabs.py``).

Links and form controls are numbered across the composed page in the order
they appear, so that ``[7]`` means the same thing on screen, in ``--dump``
and to ``follow``; :class:`Composed` maps each number back to the frame and
the number its own renderer knows.
"""

from __future__ import annotations

import textwrap
import urllib.parse
from dataclasses import dataclass, field

from broker.safe_text import safe_line
from broker.sites import site_of
from renderer import protocol


@dataclass(frozen=True)
class FrameLimits:
    """How far a page may go with frames (written as data, as Chromium's are)."""

    #: Frames below the top one: a frame in a frame in a frame is as deep as it goes.
    max_depth: int = 3
    #: Frames one page may have, at every level (later slots show why they are empty).
    max_frames: int = 16
    #: A frame may not load the URL of one of its ancestors (ignoring the
    #: fragment): a page that embeds itself stops at once, as in browsers
    #: (HTML's "nested navigables" rule against recursive frames).
    allow_self_embedding: bool = False


DEFAULT_LIMITS = FrameLimits()

#: URLs that inherit their parent's origin and stay in its renderer (Chromium
#: commits ``about:srcdoc`` and ``about:blank`` subframes in the parent's
#: SiteInstance); ``data:`` frames have an opaque origin of their own but are
#: also committed in the process of the frame that navigated them.
INHERITING_URLS = frozenset({"about:srcdoc", "about:blank"})


class FrameState:
    LOADED = "loaded"
    BLOCKED = "blocked"  # refused by a limit or the navigation policy, or failed to load
    CRASHED = "crashed"  # its renderer ended: a sad frame


@dataclass(eq=False)
class FrameNode:
    """One subframe of a tab: its place in the page and its committed document."""

    id: int  # the broker's frame id: the document id its renderer knows it by (0 until committed)
    index: int  # the slot it fills in its parent, 1-based
    url: str  # the URL the broker committed (or tried to)
    depth: int  # 1 for a child of the top frame
    parent: FrameNode | None = None  # None: a child of the top frame
    site: str | None = None  # the site it counts as for placement (its parent's when it inherits)
    host: object | None = None  # the RendererHost it lives in (None: nothing committed)
    frame: protocol.Frame | None = None  # its last frame (safe), or one the broker drew
    state: str = FrameState.LOADED
    cause: str = ""  # why it is blocked or crashed, one line
    sandboxed: bool = False
    inherited_origin: str | None = None  # the parent's origin, for srcdoc and about:blank frames
    children: dict[int, FrameNode] = field(default_factory=dict)

    @property
    def origin(self) -> str:
        return self.inherited_origin or origin_of(self.url)

    def walk(self):
        """This frame and every frame below it, parents first."""
        yield self
        for child in self.children.values():
            yield from child.walk()


@dataclass(frozen=True)
class FrameInfo:
    """One subframe as the API, ``--json`` and about:processes show it."""

    id: int  # the broker's frame id (0: nothing committed)
    parent: int | None  # the parent frame's id; None: the top frame
    index: int  # its slot in the parent, 1-based
    depth: int
    url: str
    origin: str
    site: str | None
    pid: int | None  # its renderer; None when it has none (blocked, crashed)
    state: str
    cause: str
    sandboxed: bool

    def as_json(self) -> dict:
        return {"id": self.id, "parent": self.parent, "index": self.index, "url": safe_line(self.url),
                "site": safe_line(self.site) if self.site else None, "renderer_pid": self.pid,
                "state": self.state, "cause": self.cause or None, "sandboxed": self.sandboxed}


def describe(children: dict[int, FrameNode]) -> list[FrameInfo]:
    """Every subframe, parents first."""
    return [
        FrameInfo(id=node.id, parent=node.parent.id if node.parent is not None else None, index=node.index,
                  depth=node.depth, url=node.url, origin=node.origin, site=node.site,
                  pid=node.host.pid if node.host is not None and node.host.alive else None, state=node.state,
                  cause=node.cause, sandboxed=node.sandboxed)
        for node in walk(children)
    ]


def walk(children: dict[int, FrameNode]):
    for child in children.values():
        yield from child.walk()


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of ``url``, as the label shows it (the URL
    itself when it has no host: ``about:srcdoc``, ``data:``)."""
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return url[:80]
    if parts.scheme in ("http", "https") and parts.netloc:
        return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"
    if parts.scheme == "file":
        return "file://"
    if parts.scheme == "data":
        return "data:"
    return url[:80]


def refusal(url: str, *, depth: int, count: int, ancestors: list[str], limits: FrameLimits) -> str | None:
    """Why a frame at ``url`` may not load (one line), or None: the limits,
    checked from the broker's own record of the tree."""
    if depth > limits.max_depth:
        return f"frames nest at most {limits.max_depth} deep: this one was not loaded"
    if count >= limits.max_frames:
        return f"a page may have at most {limits.max_frames} frames: this one was not loaded"
    if not limits.allow_self_embedding and url not in INHERITING_URLS:
        bare = urllib.parse.urldefrag(url).url
        if any(urllib.parse.urldefrag(a).url == bare for a in ancestors):
            return "the frame would load a page that embeds it (a page embedding itself): not loaded"
    return None


def inherits_origin(url: str) -> bool:
    return url in INHERITING_URLS or url.startswith("data:")


def placement_site(url: str, parent_site: str | None) -> str | None:
    """The site a frame at ``url`` counts as for placement: its own, or its
    parent's for a frame that stays with its parent (srcdoc, about:blank, data:)."""
    return parent_site if inherits_origin(url) else site_of(url)


def drawn_frame(url: str, width: int, heading: str, lines: list[str], *, error: bool = True) -> protocol.Frame:
    """A frame the broker draws itself (no renderer, no page content): a
    frame that was not loaded, or a sad frame."""
    S = protocol.Style
    out = [protocol.Line([protocol.Span(heading, S.ERROR if error else S.PLAIN)])]
    for text in lines:
        for piece in textwrap.wrap(safe_line(text), max(10, width)) or [""]:
            out.append(protocol.Line([protocol.Span(piece)]))
    return protocol.Frame(url=safe_line(url), title=safe_line(url), width=max(1, width), lines=out, kind="error")


def sad_frame(url: str, cause: str, width: int) -> protocol.Frame:
    return drawn_frame(url, width, "Aw, snap! This frame's renderer stopped.", [f"Cause: {cause}"])


@dataclass
class Composed:
    """The composed page, and where each of its numbers comes from."""

    frame: protocol.Frame
    #: composed link number -> (the frame that holds it: None for the top frame, its own number)
    links: dict[int, tuple[FrameNode | None, int]]
    fields: dict[int, tuple[FrameNode | None, int]]
    #: composed line -> the frame it shows (None: the top frame; lines of a label count as the child's)
    line_owner: list[FrameNode | None]


def compose(top: protocol.Frame, children: dict[int, FrameNode]) -> Composed:
    """Splice each child's lines into its slot in ``top``, recursively, and
    number links and fields across the whole page."""
    rows: list[tuple[protocol.Line, FrameNode | None]] = []
    top_line_at: list[int] = []  # the top frame's line -> its composed line
    _splice(top, None, children, rows, top_line_at)
    links: dict[tuple[int, int], int] = {}
    fields: dict[tuple[int, int], int] = {}
    link_back: dict[int, tuple[FrameNode | None, int]] = {}
    field_back: dict[int, tuple[FrameNode | None, int]] = {}
    first_line: dict[int, int] = {}
    first_field_line: dict[int, int] = {}
    lines: list[protocol.Line] = []
    for number, (line, owner) in enumerate(rows):
        key = id(owner)
        spans = line.spans
        if any(span.link or span.field for span in spans):
            new = []
            for span in spans:
                link, fld = span.link, span.field
                if link:
                    if (key, link) not in links:
                        links[(key, link)] = len(links) + 1
                        link_back[len(links)] = (owner, span.link)
                        first_line[len(links)] = number
                    link = links[(key, link)]
                if fld:
                    if (key, fld) not in fields:
                        fields[(key, fld)] = len(fields) + 1
                        field_back[len(fields)] = (owner, span.field)
                        first_field_line[len(fields)] = number
                    fld = fields[(key, fld)]
                text = span.text
                marker = f"[{span.link}]"
                if span.link and link != span.link and text.endswith(marker):  # the renderer's "[n]" after a link
                    text = f"{text[: -len(marker)]}[{link}]"
                new.append(protocol.Span(text, span.style, link, fld, span.color, span.background))
            line = protocol.Line(new)
        lines.append(line)
    # Links and fields no line shows keep their place after the shown ones.
    sources: list[tuple[FrameNode | None, protocol.Frame]] = [(None, top)]
    sources += [(node, node.frame) for node in walk(children) if node.frame is not None]
    out_links: list[protocol.Link] = []
    out_fields: list[protocol.FormField] = []
    for owner, frame in sources:
        key = id(owner)
        for link in frame.links:
            if (key, link.number) not in links:
                links[(key, link.number)] = len(links) + 1
                link_back[len(links)] = (owner, link.number)
        for fld in frame.fields:
            if (key, fld.id) not in fields:
                fields[(key, fld.id)] = len(fields) + 1
                field_back[len(fields)] = (owner, fld.id)
    by_owner_link = {(id(owner), link.number): link for owner, frame in sources for link in frame.links}
    by_owner_field = {(id(owner), f.id): f for owner, frame in sources for f in frame.fields}
    for number in range(1, len(links) + 1):
        owner, local = link_back[number]
        link = by_owner_link.get((id(owner), local))
        if link is not None:
            out_links.append(protocol.Link(number=number, url=link.url, text=link.text,
                                           line=first_line.get(number, 0), target=link.target))
    for number in range(1, len(fields) + 1):
        owner, local = field_back[number]
        f = by_owner_field.get((id(owner), local))
        if f is not None:
            out_fields.append(protocol.FormField(id=number, kind=f.kind, name=f.name, value=f.value,
                                                 checked=f.checked, options=f.options,
                                                 line=first_field_line.get(number, 0)))
    last = max(0, len(lines) - 1)
    anchors = {name: top_line_at[line] if line < len(top_line_at) else last for name, line in top.anchors.items()}
    scroll = top_line_at[top.scroll] if top.scroll < len(top_line_at) else 0
    frame = protocol.Frame(url=top.url, title=top.title, width=top.width, lines=lines, links=out_links,
                           fields=out_fields, scroll=min(scroll, last), kind=top.kind, anchors=anchors)
    return Composed(frame, link_back, field_back, [owner for _, owner in rows])


def _splice(frame: protocol.Frame, owner: FrameNode | None, children: dict[int, FrameNode],
            rows: list, line_at: list[int] | None) -> None:
    slots = {slot.line: slot for slot in frame.slots if slot.index in children}
    for number, line in enumerate(frame.lines):
        if line_at is not None:
            line_at.append(len(rows))
        slot = slots.get(number)
        if slot is None:
            rows.append((line, owner))
            continue
        child = children[slot.index]
        indent = len(line.text) - len(line.text.lstrip(" "))
        label = f"-- frame {slot.index}: {child.origin} " + ("(sandboxed) " if child.sandboxed else "") + "--"
        rows.append((protocol.Line(_indented([protocol.Span(label, protocol.Style.IMAGE)], indent)), child))
        inner: list = []
        if child.frame is not None:
            _splice(child.frame, child, child.children, inner, None)
        shown = inner[: slot.rows]
        for inner_line, inner_owner in shown:
            rows.append((protocol.Line(_indented(list(inner_line.spans), indent)), inner_owner))
        if len(inner) > len(shown):
            more = len(inner) - len(shown)
            note = f"[the frame continues: {more} more line{'s' if more != 1 else ''}]"
            rows.append((protocol.Line(_indented([protocol.Span(note, protocol.Style.IMAGE)], indent)), child))


def _indented(spans: list[protocol.Span], indent: int) -> list[protocol.Span]:
    return [protocol.Span(" " * indent), *spans] if indent and spans else spans


def find_in_lines(lines: list[str], query: str) -> list[tuple[int, int, int]]:
    """Case-insensitive matches of ``query`` as ``(line, column, length)``
    (columns in characters: the composed page is searched in the broker)."""
    needle = query.lower()
    if not needle.strip():
        return []
    matches = []
    for number, text in enumerate(lines):
        hay = text.lower()
        start = hay.find(needle)
        while start >= 0:
            matches.append((number, start, len(needle)))
            start = hay.find(needle, start + len(needle))
    return matches
