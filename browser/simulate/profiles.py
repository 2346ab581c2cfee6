"""Cost profiles of other browsers, built from published figures.

``--costs minibrowser`` is this browser's own profile (calibrated on this
machine by ``simulate calibrate``, or the defaults of ``costs.CostModel``).
``--costs chrome`` and ``--costs firefox`` answer "what would this policy do
with Chrome's (Firefox's) memory?".  Every value below says where it comes
from: a published figure (source, what it measures, the number), or, where
nothing is published, how it is derived.  Nothing is fitted to the figures
that ``simulate validate`` checks, except where a row of that table says so.

What is published and what is not:

* Published: whole-browser or per-tab memory for a fixed page set
  (Rahm's TP5 measurements), per-process base overhead (Mozilla's Fission
  MemShrink figure), the memory a slept or discarded tab gives back (Edge,
  Chrome), relative savings of whole features (Edge, Chrome, Site Isolation).
* Not published, anywhere we could find: a per-page memory split by page
  size, a Chromium renderer's empty-process base, and spawn, first-frame
  and restore times in a form a model can use.  Those are derived below, and
  the derivation is named where the value is set.
"""

from __future__ import annotations

import os

from browser.simulate.costs import CostModel, chromium_process_limit, default_costs_path
from browser.simulate.trace import SizeClass

MIB = 1024**2

# -- Firefox ----------------------------------------------------------------------------------
#: Eric Rahm, "Memory Usage of Firefox with e10s Enabled" (erahm.org, 2016-02-11): AWSY,
#: 100 URLs of the TP5 page set in 30 tabs, Linux 64-bit, total = RSS(parent) + sum USS(content),
#: in MiB, by number of content processes.  "Start": just started; "TabsOpen": 30 tabs open.
RAHM_2016_START_MIB = {0: 190, 1: 232, 2: 223, 4: 223, 8: 229}
RAHM_2016_TABS_OPEN_MIB = {0: 457, 1: 544, 2: 586, 4: 714, 8: 871}
RAHM_TABS = 30
#: Mozilla, Fission MemShrink announcement (2018), as quoted by securityonline.info: a content
#: process's base overhead is 17-21 MB on Windows 10 and "between 25 and 35MB" on Linux and macOS.
FISSION_BASE_LINUX_MIB = (25, 35)
#: Rahm, "Doubling the Number of Content Processes in Firefox" (erahm.org, 2019): Firefox 66
#: raised the default number of content processes from 4 to 8.
FIREFOX_CONTENT_PROCESSES = 8

_FIREFOX_BASE_MIB = sum(FISSION_BASE_LINUX_MIB) / 2  # 30: the middle of the published Linux range
# Per page, derived: Rahm 2016 with one content process, (TabsOpen - Start - one process base) / 30 tabs
# = (544 - 232 - 30) / 30 = 9.4 MiB.  The TP5 pages are taken as our "medium" class.
_FIREFOX_PAGE_MIB = (RAHM_2016_TABS_OPEN_MIB[1] - RAHM_2016_START_MIB[1] - _FIREFOX_BASE_MIB) / RAHM_TABS

# -- Chrome -----------------------------------------------------------------------------------
#: Microsoft Edge Dev (June 2022; reported by ghacks.net and techspot.com): "over the past 28 days
#: ... we slept 6 billion tabs resulting in a savings of 273.7 Petabytes of RAM ... roughly 39.1
#: megabytes saved per tab".  Edge is Chromium: this is a Chromium tab's memory.
EDGE_2022_SAVED_PER_TAB_MB = 39.1
#: Microsoft, Edge 100 (2022; reported by windowscentral.com): "each sleeping tab saves 85% of
#: memory ... on average".
EDGE_100_SLEEPING_SHARE_SAVED = 0.85
#: Addy Osmani, "Tab Discarding in Chrome: A Memory-Saving Experiment" (developer.chrome.com, 2015):
#: "our renderer process usually takes around 50MB per tab"; "10 tabs open ... at least 450MB
#: ... to keep your background tab state".  Kept for ``simulate validate``, not used below.
OSMANI_2015_MB_PER_TAB = 50
OSMANI_2015_TABS = 10
OSMANI_2015_BACKGROUND_MB = 450

# A Chromium tab alone in its renderer, derived: 39.1 MB saved is 85% of the tab, so the tab is
# 39.1 / 0.85 = 46.0 MB (megabytes taken as MiB: within the figures' own rounding).
_CHROME_TAB_MIB = EDGE_2022_SAVED_PER_TAB_MB / EDGE_100_SLEEPING_SHARE_SAVED
# Its split into the process's base and the page is not published for Chromium.  Derived: the share
# of a one-tab content process that is base in the Firefox figures above, 30 / (30 + 9.4) = 0.76.
# This is an assumption about Chrome; the Site Isolation row of ``simulate validate`` tests it.
_BASE_SHARE = _FIREFOX_BASE_MIB / (_FIREFOX_BASE_MIB + _FIREFOX_PAGE_MIB)
_CHROME_BASE_MIB = _CHROME_TAB_MIB * _BASE_SHARE
_CHROME_PAGE_MIB = _CHROME_TAB_MIB - _CHROME_BASE_MIB

# -- both ---------------------------------------------------------------------------------------
# Small and large pages: no browser publishes memory by page size.  Derived: the medium page scaled
# by the ratios of minibrowser's own defaults (small 0.7 / 3.5 = 0.2, large 25 / 3.5 = 7.1 times medium).
_DEFAULTS = CostModel(process_limit=1)
_SMALL_RATIO = _DEFAULTS.page_bytes[SizeClass.SMALL.value] / _DEFAULTS.page_bytes[SizeClass.MEDIUM.value]
_LARGE_RATIO = _DEFAULTS.page_bytes[SizeClass.LARGE.value] / _DEFAULTS.page_bytes[SizeClass.MEDIUM.value]


def _pages(medium_mib: float) -> dict[str, float]:
    return {SizeClass.SMALL.value: medium_mib * _SMALL_RATIO * MIB, SizeClass.MEDIUM.value: medium_mib * MIB,
            SizeClass.LARGE.value: medium_mib * _LARGE_RATIO * MIB}


def _times(model: CostModel) -> dict:
    """Times: no usable published spawn or first-frame figures, so minibrowser's own defaults; a
    discarded tab reloads in both browsers (Osmani 2015: "it'll reload when clicked"; Firefox's
    TabUnloader unloads the tab's document), so a restore costs a first frame (plus a spawn, which
    the engine adds when a renderer must start)."""
    return dict(spawn_ms=model.spawn_ms, first_frame_ms=dict(model.first_frame_ms), restore_ms=dict(model.first_frame_ms))


def chrome() -> CostModel:
    """Chrome's memory: a 46 MB tab, of which 35 MB is its renderer's base (see above)."""
    return CostModel(renderer_base_bytes=int(_CHROME_BASE_MIB * MIB), page_bytes=_pages(_CHROME_PAGE_MIB),
                     process_limit=chromium_process_limit(), source="published figures: Chrome", **_times(_DEFAULTS))


def firefox() -> CostModel:
    """Firefox's memory: a 30 MiB content process base, 9.4 MiB per TP5 page (see above)."""
    return CostModel(renderer_base_bytes=int(_FIREFOX_BASE_MIB * MIB), page_bytes=_pages(_FIREFOX_PAGE_MIB),
                     process_limit=FIREFOX_CONTENT_PROCESSES, source="published figures: Firefox", **_times(_DEFAULTS))


PROFILES = {"chrome": chrome, "firefox": firefox}
PROFILE_NAMES = ("minibrowser", *PROFILES)


def load_costs(path: str | None) -> CostModel:
    """The costs ``--costs`` names: ``chrome`` or ``firefox`` (the profiles
    above, built from published figures), a cost file, or ``minibrowser`` or
    nothing: the calibrated file in the profile directory if there is one,
    else the defaults."""
    if path in PROFILES:
        return PROFILES[path]()
    if path is not None and path != "minibrowser":
        return CostModel.load(path)
    default = default_costs_path()
    return CostModel.load(default) if os.path.exists(default) else CostModel()
