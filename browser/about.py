"""The browser's own pages (about:welcome, about:version, ...).

The broker writes these as HTML and a renderer lays them out, like any page.
"""

from __future__ import annotations

import html
import importlib.metadata
import os
import platform
from importlib import resources
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from browser.api import Browser

PAGES = ("about:blank", "about:welcome", "about:version", "about:processes", "about:sandbox")


def _welcome() -> str:
    return resources.files("browser").joinpath("pages/welcome.html").read_text(encoding="utf-8")


def _version() -> str:
    rows = [("minibrowser", _version_of("minibrowser")), ("Python", platform.python_version()),
            ("kernel", f"{platform.system()} {platform.release()}")]
    for name in ("pyzmq", "msgspec", "selectolax", "httpx", "psutil", "pyseccomp", "textual"):
        rows.append((name, _version_of(name)))
    body = "".join(f"<tr><td>{html.escape(k)}</td><td>{html.escape(v)}</td></tr>" for k, v in rows)
    return f"<!doctype html><title>About minibrowser</title><h1>minibrowser</h1><table>{body}</table>"


def _version_of(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _processes(browser: Browser) -> str:
    rows = "".join(
        f"<tr><td>{p.pid}</td><td>{p.ppid}</td><td>{html.escape(p.role)}</td>"
        f"<td>{p.tab or ''}</td><td>{html.escape(p.state)}</td><td>{html.escape(p.title)}</td></tr>"
        for p in browser.processes()
    )
    return (
        "<!doctype html><title>Processes</title><h1>Processes</h1>"
        "<table><tr><th>PID</th><th>Parent</th><th>Role</th><th>Tab</th><th>State</th><th>Title</th></tr>"
        f"{rows}</table><p>Broker pid {os.getpid()}.</p>"
    )


def page(browser: Browser, url: str) -> str | None:
    """The HTML of an about: page, or None if there is no such page."""
    name = url.split("#", 1)[0].split("?", 1)[0].lower()
    if name == "about:blank":
        return "<!doctype html><title>about:blank</title>"
    if name == "about:welcome":
        return _welcome()
    if name == "about:version":
        return _version()
    if name == "about:processes":
        return _processes(browser)
    if name == "about:sandbox":
        return browser.sandbox_page() if hasattr(browser, "sandbox_page") else None
    return None
