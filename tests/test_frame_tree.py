"""The frame tree's pure parts: placement of subframes per process model,
the limits, and composition (splicing, numbering across frames)."""

from __future__ import annotations

from broker.frames import DEFAULT_LIMITS, FrameNode, compose, find_in_lines, refusal
from broker.process_model import Placement, PlacementDecision, ProcessModel, RendererFacts, place
from renderer.page import Page

PARENT = RendererFacts(id=1, lock="http://a.test", tabs=frozenset({1}))
B = RendererFacts(id=2, lock="http://b.test", tabs=frozenset({2}))


def place_frame(model, site, live=(PARENT,)):
    return place(model, tab=1, site=site, current=None, live=list(live), limit=10, parent=PARENT,
                 parent_site="http://a.test")


def test_subframe_placement_per_model():
    stay = PlacementDecision(Placement.STAY, 1)
    for model in ProcessModel:
        assert place_frame(model, "http://a.test") == stay  # same site: with its parent, always
    for model in (ProcessModel.PER_TAB, ProcessModel.SINGLE, ProcessModel.PROCESS_PER_SITE):
        assert place_frame(model, "http://b.test", live=(PARENT, B)) == stay
    spp = ProcessModel.SITE_PER_PROCESS
    assert place_frame(spp, "http://b.test") == PlacementDecision(Placement.NEW, lock="http://b.test")
    assert place_frame(spp, "http://b.test", live=(PARENT, B)) == PlacementDecision(Placement.SHARE, 2)


def test_limits_are_data():
    assert refusal("http://a.test/x", depth=4, count=0, ancestors=[], limits=DEFAULT_LIMITS) == (
        "frames nest at most 3 deep: this one was not loaded")
    assert refusal("http://a.test/x", depth=1, count=16, ancestors=[], limits=DEFAULT_LIMITS) == (
        "a page may have at most 16 frames: this one was not loaded")
    assert refusal("http://a.test/x#y", depth=1, count=0, ancestors=["http://a.test/x"], limits=DEFAULT_LIMITS) == (
        "the frame would load a page that embeds it (a page embedding itself): not loaded")
    assert refusal("about:srcdoc", depth=1, count=0, ancestors=["about:srcdoc"], limits=DEFAULT_LIMITS) is None


def layout(html: bytes, url: str, width: int):
    return Page(html, url=url, content_type="text/html", charset=None, kind="html").layout(width)


def test_composition_splices_the_child_and_numbers_links_across_the_page():
    top = layout(b'<p>Before <a href=x>x</a>.</p><iframe src="//b.test/in" width=160 height=32></iframe>'
                 b'<p>After <a href=y>y</a>.</p>', "http://a.test/", 40)
    assert [(s.index, s.src, s.line, s.columns, s.rows) for s in top.slots] == [(1, "http://b.test/in", 2, 20, 2)]
    child = layout(b"<p>One <a href=z>z</a>.</p><p>Two.</p><p>Three.</p>", "http://b.test/in", 20)
    node = FrameNode(id=7, index=1, url="http://b.test/in", depth=1, frame=child)
    composed = compose(top, {1: node})
    assert composed.frame.dump() == (
        "Before x[1].\n\n-- frame 1: http://b.test --\nOne z[2].\n\n[the frame continues: 3 more lines]\n\n"
        "After y[3].\n\nReferences\n\n   1. http://a.test/x\n   2. http://b.test/z\n   3. http://a.test/y\n")
    assert composed.links == {1: (None, 1), 2: (node, 1), 3: (None, 2)}
    assert find_in_lines(composed.frame.text.split("\n"), "one") == [(3, 0, 3)]
