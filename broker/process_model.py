"""Process models: which renderer process a new document goes to.

A pure policy (no processes, no I/O), so that the browser and the workload
simulator run the same code.  The broker asks :func:`place` each time a tab
is about to commit a document (after its response arrived, so that a
redirect's final URL decides), with the renderers that are alive now, and
carries out the answer: keep the tab's renderer, move the tab into another
live one, or give it a new one (the spare if there is one).

The models are those Chromium has shipped (``docs/process_model_and_site_isolation.md``,
and the older "Process Models" design document):

* ``per-tab``: a tab keeps one renderer for its life, whatever sites it
  visits; no renderer is locked (minibrowser's default, and Chromium's
  ``--process-per-tab``).
* ``site-per-process``: a renderer is locked to one site (``broker/sites.py``);
  a cross-site navigation moves the tab to another renderer; unrelated tabs
  of a site get their own renderers below the process limit and share one
  of that site above it.  A cross-site document never shares, even over the
  limit (Chrome's default since 67: site isolation trumps the limit).
* ``process-per-site``: every tab of a site shares that site's one renderer
  (``--process-per-site``).
* ``single``: one renderer hosts every tab (``--single-process``: what
  isolation buys, shown by its absence).

Subframes (``parent`` given) are placed as Chromium places out-of-process
iframes: a frame of its parent's site (or one that inherits its parent's
origin: ``about:srcdoc``, ``about:blank``, ``data:``; the caller passes the
parent's site for those) stays in its parent's renderer under every model,
and so does every frame under ``per-tab``, ``single`` and ``process-per-site``
(whose renderer is the page's site's: Chromium's process-per-site without
site isolation keeps cross-site iframes in the page's process, which is
what makes a compromised page able to read them).  Under
``site-per-process`` a cross-site frame goes to a renderer locked to its site, reusing a live one of
that site if there is one (Chromium's subframe process reuse,
``ProcessReusePolicy::REUSE_PENDING_OR_COMMITTED_SITE_SUBFRAME``), else a new
one whatever the limit (isolation trumps the limit).

Documents with an opaque origin (``about:``, ``data:``: no site) go to an
unlocked renderer of their own under the site models, as Chromium gives
them a process that is not locked to a site.

The process limit is Chromium's ``GetMaxRendererProcessCount``
(``content/browser/renderer_host/render_process_host_impl.cc``): half the
physical memory divided by the estimated 85 MB a renderer uses (on 64-bit),
at least 3, and at most half of ``RLIMIT_NPROC`` (the Linux cap, so that
the browser leaves room for the user's other processes).  It counts live
renderers, the spare excepted.  It only matters to the site models:
``per-tab`` and ``single`` never share by limit.
"""

from __future__ import annotations

import enum
import os
import resource
from collections.abc import Sequence
from dataclasses import dataclass


class ProcessModel(enum.Enum):
    PER_TAB = "per-tab"
    SITE_PER_PROCESS = "site-per-process"
    PROCESS_PER_SITE = "process-per-site"
    SINGLE = "single"

    @property
    def locks_sites(self) -> bool:
        """Whether renderers of this model are locked to one site."""
        return self in (ProcessModel.SITE_PER_PROCESS, ProcessModel.PROCESS_PER_SITE)

    @property
    def places_by_site(self) -> bool:
        """Whether where a document goes depends on its URL (so the broker
        must know the final URL, after redirects, before it chooses)."""
        return self.locks_sites

    def describe(self) -> str:
        return _DESCRIPTIONS[self]


_DESCRIPTIONS = {
    ProcessModel.PER_TAB: "one renderer per tab, whatever sites it visits; no site lock",
    ProcessModel.SITE_PER_PROCESS: "each renderer locked to one site; a cross-site navigation moves the tab",
    ProcessModel.PROCESS_PER_SITE: "every tab of a site shares that site's one renderer",
    ProcessModel.SINGLE: "one renderer hosts every tab",
}

#: Chromium's estimate of one renderer's memory on 64-bit systems
#: (``kEstimatedWebContentsMemoryUsage``).
ESTIMATED_RENDERER_BYTES = 85 * 1024 * 1024
#: The limit never falls below this (Chromium: at least 3 renderers).
MIN_RENDERER_PROCESSES = 3


def default_process_limit(*, physical_memory: int | None = None, max_user_processes: int | None = None) -> int:
    """Chromium's renderer process limit for this machine (see the module doc)."""
    if physical_memory is None:
        physical_memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    if max_user_processes is None:
        soft, _ = resource.getrlimit(resource.RLIMIT_NPROC)
        max_user_processes = soft if soft != resource.RLIM_INFINITY else None
    limit = max(MIN_RENDERER_PROCESSES, physical_memory // 2 // ESTIMATED_RENDERER_BYTES)
    if max_user_processes is not None:
        limit = min(limit, max(1, max_user_processes // 2))
    return limit


@dataclass(frozen=True)
class RendererFacts:
    """What the policy knows of one live renderer."""

    id: int
    lock: str | None  # the site it is locked to; None: unlocked
    tabs: frozenset[int]  # the tabs with a document in it


class Placement(enum.Enum):
    STAY = "stay"  # keep the tab's current renderer
    SHARE = "share"  # move into another live renderer
    NEW = "new"  # a new renderer (the spare if there is one)


@dataclass(frozen=True)
class PlacementDecision:
    placement: Placement
    renderer: int | None = None  # for STAY and SHARE
    lock: str | None = None  # for NEW: the site to lock it to (None: unlocked)
    over_limit: bool = False  # the limit is reached: NEW only because the document may share with no one

    def describe(self) -> str:
        if self.placement is Placement.NEW:
            return "a new renderer" + (" (over the process limit: a cross-site document never shares)"
                                       if self.over_limit else "")
        return f"{self.placement.value} in renderer {self.renderer}"


def place(model: ProcessModel, *, tab: int, site: str | None, current: RendererFacts | None,
          live: Sequence[RendererFacts], limit: int, parent: RendererFacts | None = None,
          parent_site: str | None = None) -> PlacementDecision:
    """Where tab ``tab``'s next document, of ``site`` (None: opaque), goes.

    ``current``: the renderer the tab's document is in now (None if it has
    none); ``live``: every live renderer (``current`` among them), the spare
    not counted; ``limit``: the process limit.  For a subframe, ``parent``
    is its parent's renderer and ``parent_site`` the parent's site (see the
    module doc); ``current`` is then ignored."""
    if parent is not None:
        return _place_subframe(model, site=site, parent=parent, parent_site=parent_site, live=live)
    if model is ProcessModel.PER_TAB:
        if current is not None:
            return PlacementDecision(Placement.STAY, current.id)
        return PlacementDecision(Placement.NEW)
    if model is ProcessModel.SINGLE:
        if current is not None:
            return PlacementDecision(Placement.STAY, current.id)
        if live:
            return PlacementDecision(Placement.SHARE, min(live, key=lambda r: r.id).id)
        return PlacementDecision(Placement.NEW)
    # The site models.
    alone = current is not None and current.tabs <= {tab}
    if site is None:
        # An opaque document: an unlocked renderer of its own.
        if current is not None and current.lock is None and alone:
            return PlacementDecision(Placement.STAY, current.id)
        return PlacementDecision(Placement.NEW)
    if current is not None and current.lock == site:
        return PlacementDecision(Placement.STAY, current.id)
    same_site = sorted((r for r in live if r.lock == site), key=lambda r: (len(r.tabs), r.id))
    others = [r for r in live if r is not current or not alone]  # current goes if the tab leaves it alone
    if model is ProcessModel.PROCESS_PER_SITE:
        if same_site:
            return PlacementDecision(Placement.SHARE, same_site[0].id)
        return PlacementDecision(Placement.NEW, lock=site)
    # site-per-process: share a renderer of the same site only over the limit.
    if len(others) < limit:
        return PlacementDecision(Placement.NEW, lock=site)
    if same_site:
        return PlacementDecision(Placement.SHARE, same_site[0].id)
    return PlacementDecision(Placement.NEW, lock=site, over_limit=True)


def _place_subframe(model: ProcessModel, *, site: str | None, parent: RendererFacts, parent_site: str | None,
                    live: Sequence[RendererFacts]) -> PlacementDecision:
    if model is not ProcessModel.SITE_PER_PROCESS or site is None or site == parent_site:
        return PlacementDecision(Placement.STAY, parent.id)
    same_site = sorted((r for r in live if r.lock == site), key=lambda r: (len(r.tabs), r.id))
    if same_site:
        return PlacementDecision(Placement.SHARE, same_site[0].id)
    return PlacementDecision(Placement.NEW, lock=site)
