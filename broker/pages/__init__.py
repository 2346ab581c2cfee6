"""The browser's own pages (about:welcome, about:version, ...) and the
error page of a load that failed, all in this one place.

The broker writes these as HTML and a renderer lays them out, like any page.
Static pages are package data beside this module (``welcome.html``).
"""

from __future__ import annotations

import html
import importlib.metadata
import os
import platform
from collections.abc import Iterable
from importlib import resources
from typing import Protocol

from broker.discard_policies import DiscardPolicy
from broker.sandbox_verdict import Sandboxing, judge_sandbox


class ProcessRow(Protocol):
    """What about:processes shows of one process (``broker.kernel.ProcessInfo``)."""

    pid: int
    ppid: int
    role: str
    tabs: Iterable[int]
    tab: int | None
    site: str | None
    state: str
    title: str
    frames: tuple[str, ...]


class Browser(Protocol):
    """What the live pages (about:processes, about:sandbox, about:discards) ask
    of the browser kernel that serves them."""

    discard_policy: DiscardPolicy

    def processes_info(self) -> Iterable[ProcessRow]: ...

    def discards_rows(self) -> Iterable: ...  # broker.kernel.DiscardsRow

    def describe_process_model(self) -> str: ...

    def sandbox_page(self) -> str: ...


#: An error page's heading, by the ``short`` name of the load error's class
#: (``broker/loader``): what kind of failure it was, in a few words.
ERROR_HEADINGS = {
    "host-unreachable": "This site can't be reached",
    "network-error": "The connection failed",
    "timeout": "This site took too long to answer",
    "invalid-url": "This address is not valid",
    "unsupported-scheme": "This kind of address can't be opened",
    "navigation-refused": "This page may not open that address",
    "too-large": "This page is too large to show",
    "too-many-redirects": "This page redirects too many times",
    "file-not-readable": "This file can't be opened",
    "bad-data-url": "This data: address is not valid",
}
DEFAULT_ERROR_HEADING = "Can't open this page"
NO_SUCH_ABOUT_PAGE_HEADING = "No such page"
#: Longer addresses (data: URLs can be megabytes) are cut to this many characters.
ERROR_ADDRESS_LIMIT = 200

def _welcome() -> str:
    return resources.files("broker.pages").joinpath("welcome.html").read_text(encoding="utf-8")


def _version() -> str:
    rows = [("minibrowser", _version_of("minibrowser")), ("Python", platform.python_version()),
            ("kernel", f"{platform.system()} {platform.release()}")]
    for name in ("pyzmq", "msgspec", "selectolax", "h11", "psutil", "pyseccomp", "textual"):
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
        f"<td>{', '.join(map(str, p.tabs)) or (p.tab or '')}</td>"
        f"<td>{html.escape(p.site or ('(unlocked)' if p.role == 'renderer' else ''))}</td>"
        f"<td>{html.escape(p.state)}</td><td>{html.escape(p.title)}</td>"
        f"<td>{html.escape(', '.join(p.frames))}</td></tr>"
        for p in browser.processes_info()
    )
    return (
        "<!doctype html><title>Processes</title><h1>Processes</h1>"
        f"<p>{html.escape(_sentence(browser.describe_process_model()))}</p>"
        "<table><tr><th>PID</th><th>Parent</th><th>Role</th><th>Tabs</th><th>Site</th><th>State</th><th>Title</th><th>Frames</th></tr>"
        f"{rows}</table><p>Broker pid {os.getpid()}.</p>"
    )


def _discards(browser: Browser) -> str:
    """about:discards: what chrome://discards shows, per tab, and the policy in force."""
    policy = browser.discard_policy
    budget = policy.memory_budget_bytes
    heading = (f"Policy {policy.name}; memory budget "
               + (f"{budget / 1024**2:.0f} MB (renderers' USS)" if budget is not None else "none"))
    rows = "".join(
        f"<tr><td>{row.tab}</td><td>{html.escape(row.title or row.url)}</td><td>{row.state}</td>"
        f"<td>{row.visibility}</td><td>{_yes_or_why(row.discard_refusal)}</td>"
        f"<td>{_yes_or_why(row.freeze_refusal)}</td><td>{'yes' if row.auto_discardable else 'no'}</td>"
        f"<td>{row.discard_count}</td><td>{row.revisits}</td><td>{row.last_active}</td></tr>"
        for row in browser.discards_rows()
    )
    return (
        "<!doctype html><title>Discards</title><h1>Discards</h1>"
        f"<p>{html.escape(heading)}.</p>"
        "<table><tr><th>Tab</th><th>Title</th><th>State</th><th>Visibility</th><th>Discardable</th>"
        "<th>Freezable</th><th>Auto-discardable</th><th>Discards</th><th>Revisits</th><th>Last active</th></tr>"
        f"{rows}</table>"
    )


def _yes_or_why(refusal) -> str:
    return "yes" if refusal is None else f"no: {html.escape(refusal.value)}"


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
        return browser.sandbox_page()
    if name == "about:discards":
        return _discards(browser)
    return None


def sandbox_html(layers, *, enabled: bool, process_model: str = "") -> str:
    """about:sandbox: each layer of a renderer's sandbox, as it reported it."""
    rows = "".join(
        f"<tr><td>{html.escape(layer.name)}</td><td>{'on' if layer.active else 'OFF' if layer.required else 'off'}"
        f"</td><td>{'required' if layer.required else 'optional'}</td><td>{html.escape(layer.detail)}</td></tr>"
        for layer in layers
    )
    judged = judge_sandbox(layers, enabled=enabled)
    if judged.sandboxing is Sandboxing.OFF:
        verdict = "This browser runs with --no-sandbox: pages are NOT sandboxed."
    elif judged.missing:
        verdict = f"NOT sandboxed: required layers missing: {', '.join(judged.missing)}."
    else:
        verdict = "Sandboxed: every required layer is on."
    return (
        "<!doctype html><title>Sandbox</title><h1>Sandbox</h1>"
        "<p>Reported from inside this tab's renderer process.</p>"
        "<table><tr><th>Layer</th><th>State</th><th>Need</th><th>Detail</th></tr>"
        f"{rows}</table><p><strong>{html.escape(verdict)}</strong></p>"
        + (f"<p>Site isolation: {html.escape(_sentence(process_model, capital=False))}</p>" if process_model else "")
    )


def error_html(url: str, error: Exception) -> str:
    """The page a failed load shows: a heading that says what kind of failure
    it was, what happened, the address, and what to do.

    A load error's message is one line, "what happened: what to do" (see
    ``LoadError``); it is split at its last ": " into the two paragraphs.
    """
    heading = ERROR_HEADINGS.get(getattr(error, "short", ""), DEFAULT_ERROR_HEADING)
    if url.lower().startswith("about:") and getattr(error, "short", "") == "invalid-url":
        heading = NO_SUCH_ABOUT_PAGE_HEADING
    happened, _, advice = str(error).rpartition(": ")
    if not happened:
        happened, advice = advice, ""
    address = url if len(url) <= ERROR_ADDRESS_LIMIT else url[: ERROR_ADDRESS_LIMIT - 1] + "\u2026"
    what_to_do = f"<p>What to do: {html.escape(_sentence(advice, capital=False))}</p>" if advice else ""
    return (
        f'<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(heading)}</title></head><body>'
        f"<h1>{html.escape(heading)}</h1>"
        f"<p>{html.escape(_sentence(happened))}</p>"
        f"<p>Address: {html.escape(address)}</p>"
        f"{what_to_do}</body></html>"
    )


def _sentence(text: str, *, capital: bool = True) -> str:
    """``text`` as a sentence: a capital first letter, a full stop unless it ends in a mark or a URL."""
    if capital and text[:1].islower():
        text = text[0].upper() + text[1:]
    return text + "." if text[-1:].isalnum() or text.endswith(")") else text
