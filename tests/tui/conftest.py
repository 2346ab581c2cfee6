"""TUI fixtures."""

from __future__ import annotations

import os

import pytest

from tuihelpers import RUNTIME_DIRS, descendants


@pytest.fixture(autouse=True)
def nothing_left_behind():
    """Every TUI test must leave no renderer, no zygote and no runtime directory."""
    RUNTIME_DIRS.clear()
    yield
    leftovers = [p for p in descendants() if "renderer" in " ".join(p.cmdline())]
    assert leftovers == []
    assert [path for path in RUNTIME_DIRS if os.path.exists(path)] == []
