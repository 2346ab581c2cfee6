"""The pure parts of the process models: sites and the placement policy."""

from __future__ import annotations

import pytest

from broker.process_model import (
    PlacementDecision, Placement, ProcessModel, RendererFacts, default_process_limit, place,
)
from broker.sites import FILE_SITE, site_of

MiB = 1024 * 1024


@pytest.mark.parametrize(("url", "site"), [
    ("https://a.b.example.co.uk:8443/x?y#z", "https://example.co.uk"),
    ("https://example.co.uk/", "https://example.co.uk"),
    ("http://example.co.uk/", "http://example.co.uk"),
    ("https://foo.github.io/", "https://foo.github.io"),  # a private suffix of the list
    ("http://127.0.0.2:8000/page", "http://127.0.0.2"),
    ("http://127.0.0.3:8000/page", "http://127.0.0.3"),
    ("http://localhost:8080/", "http://localhost"),
    ("file:///etc/passwd", FILE_SITE),
    ("file:///home/user/a.html", FILE_SITE),
    ("about:welcome", None),
    ("data:text/html,<p>x", None),
])
def test_the_site_of_a_url_is_its_scheme_and_registrable_domain(url, site):
    assert site_of(url) == site


def test_the_process_limit_follows_chromiums_formula():
    gib = 1024 * MiB
    # 16 GiB / 2 / 85 MB = 96; half of RLIMIT_NPROC caps it; never below 3.
    assert default_process_limit(physical_memory=16 * gib, max_user_processes=None) == 96
    assert default_process_limit(physical_memory=16 * gib, max_user_processes=100) == 50
    assert default_process_limit(physical_memory=256 * MiB, max_user_processes=None) == 3


A, B = "http://127.0.0.2", "http://127.0.0.3"


def renderer(id_, lock, *tabs):
    return RendererFacts(id=id_, lock=lock, tabs=frozenset(tabs))


def test_per_tab_keeps_a_tabs_renderer_across_sites_and_never_shares():
    mine = renderer(1, None, 1)
    assert place(ProcessModel.PER_TAB, tab=1, site=B, current=mine, live=[mine], limit=1) == \
        PlacementDecision(Placement.STAY, 1)
    assert place(ProcessModel.PER_TAB, tab=2, site=None, current=None, live=[mine], limit=1) == \
        PlacementDecision(Placement.NEW)


def test_single_puts_every_tab_in_one_renderer():
    only = renderer(1, None, 1)
    assert place(ProcessModel.SINGLE, tab=2, site=B, current=None, live=[only], limit=3) == \
        PlacementDecision(Placement.SHARE, 1)


def test_site_per_process_moves_a_cross_site_navigation_and_shares_only_over_the_limit():
    a1, b1 = renderer(1, A, 1), renderer(2, B, 2)
    model = ProcessModel.SITE_PER_PROCESS
    # same site: stays; cross-site: a new renderer locked to the new site
    assert place(model, tab=1, site=A, current=a1, live=[a1, b1], limit=9) == PlacementDecision(Placement.STAY, 1)
    assert place(model, tab=1, site=B, current=a1, live=[a1, b1], limit=9) == PlacementDecision(Placement.NEW, lock=B)
    # a new tab of A: its own renderer below the limit, A's renderer at it
    assert place(model, tab=3, site=A, current=None, live=[a1, b1], limit=3) == PlacementDecision(Placement.NEW, lock=A)
    assert place(model, tab=3, site=A, current=None, live=[a1, b1], limit=2) == PlacementDecision(Placement.SHARE, 1)
    # a site with no renderer at the limit: a new one all the same, marked over the limit
    assert place(model, tab=3, site="http://127.0.0.4", current=None, live=[a1, b1], limit=2) == \
        PlacementDecision(Placement.NEW, lock="http://127.0.0.4", over_limit=True)
    # an opaque document gets an unlocked renderer
    assert place(model, tab=3, site=None, current=None, live=[a1, b1], limit=9) == PlacementDecision(Placement.NEW)


def test_process_per_site_shares_the_sites_renderer_whatever_the_limit():
    a1 = renderer(1, A, 1)
    model = ProcessModel.PROCESS_PER_SITE
    assert place(model, tab=2, site=A, current=None, live=[a1], limit=99) == PlacementDecision(Placement.SHARE, 1)
    assert place(model, tab=2, site=B, current=None, live=[a1], limit=99) == PlacementDecision(Placement.NEW, lock=B)
