"""Integration fixtures: a real broker with its real zygote and renderers."""

from __future__ import annotations

import os
import sys

import psutil
import pytest

from browser import Browser

MINIBROWSER = [sys.executable, "-m", "browser.cli"]


def descendants() -> list[psutil.Process]:
    """Every live process below this test process."""
    return [p for p in psutil.Process(os.getpid()).children(recursive=True) if p.is_running()
            and p.status() != psutil.STATUS_ZOMBIE]


@pytest.fixture
async def browser():
    async with Browser() as b:
        yield b
    # Nothing may outlive the browser.
    leftovers = [p for p in descendants() if "renderer.zygote" in " ".join(p.cmdline())]
    assert leftovers == []


@pytest.fixture
def minibrowser_cmd():
    return list(MINIBROWSER)
