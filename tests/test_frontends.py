"""browser/frontends.py: the command line finds its window through entry points, never by import."""

from __future__ import annotations

import importlib.metadata
import sys

import pytest

from browser.frontends import GROUP, FrontendMissing, find_frontend


def test_the_terminal_window_is_the_installed_frontend():
    import tui.frontend

    assert find_frontend() is tui.frontend
    assert callable(tui.frontend.run) and callable(tui.frontend.trace_window)


def test_a_frontend_that_is_not_installed_is_one_line():
    with pytest.raises(FrontendMissing) as caught:
        find_frontend("no-such-window")
    assert str(caught.value) == "the no-such-window window is not available in this build"


def test_a_declared_frontend_that_cannot_be_imported_is_one_line(tmp_path, monkeypatch):
    """A distribution that declares a window whose module is missing (a broken build)."""
    info = tmp_path / "brokenwindow-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: brokenwindow\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[{GROUP}]\nbroken = no_such_module_anywhere.window\n")
    monkeypatch.setattr(sys, "path", [str(tmp_path), *sys.path])
    assert [entry.value for entry in importlib.metadata.entry_points(group=GROUP, name="broken")] == [
        "no_such_module_anywhere.window"]  # declared, so the lookup reaches the import and its failure
    with pytest.raises(FrontendMissing) as caught:
        find_frontend("broken")
    assert str(caught.value) == "the broken window is not available in this build"
