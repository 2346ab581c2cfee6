"""A compromised page's renderer against its cross-site child frame, under
every process model, with real sandboxed renderers and loopback sites.

What each model allows is the point: under site-per-process the parent's
renderer never receives the child (blocked, or ended by name); without site
isolation it hosts the child and reads or forges it, as documented in
``browser/frame_attacks.py``."""

from __future__ import annotations

import pytest

from broker.process_model import ProcessModel
from browser import attacks
from browser.frame_attacks import FrameAttackResult, run_frame_attack

ATTACKS = {attack.name: attack for attack in attacks.FRAME_ATTACKS}
EXPECTED = {
    ("frame-read-child", "site-per-process"): (
        "blocked", "the child is in a renderer locked to its site: nothing of the child reached this renderer"),
    ("frame-read-child", "per-tab"): ("succeeded", "the parent's renderer received the child's page and read its secret"),
    ("frame-forge-child", "site-per-process"): (
        "killed", "the broker ended the parent's renderer: bad message WRONG_FRAME"),
    ("frame-forge-child", "process-per-site"): (
        "succeeded", "the parent's renderer hosts the child and drew it as it liked"),
    ("frame-claim-child", "site-per-process"): (
        "killed", "the broker ended the parent's renderer: bad message SITE_LOCK_VIOLATION"),
    ("frame-claim-child", "single"): ("killed", "the broker ended the parent's renderer: bad message URL_MISMATCH"),
}


@pytest.mark.parametrize(("name", "model"), list(EXPECTED))
async def test_a_frame_attack_ends_as_its_model_allows(name, model):
    result = await run_frame_attack(ProcessModel(model), ATTACKS[name])
    assert result == FrameAttackResult(model, name, *EXPECTED[(name, model)])


async def test_a_compromised_page_cannot_load_a_local_file_into_its_frame():
    result = await run_frame_attack(ProcessModel.SITE_PER_PROCESS, ATTACKS["frame-child-to-file"])
    assert result.outcome == "blocked"
    assert result.detail.startswith("navigation policy: the page at http://127.0.0.2:")
    assert result.detail.endswith("/page.html tried to open a local file (file:///etc/passwd): "
                                  "only a URL you type can open local files")
