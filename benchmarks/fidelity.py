"""Fidelity: our text against the text headless Chromium shows (``innerText``).

For each page of local documentation corpora (Debian ``-doc`` packages:
Python's manual, Sphinx with its own theme; git's manual pages, asciidoc;
Node.js's API reference; valgrind's manual, DocBook),
the text of the page as Chromium renders it (``document.body.innerText``,
page scripts off, as none of the three terminal browsers runs them) is
compared with the text of minibrowser (the real browser, sandboxed
renderers, ``file:`` URLs), ``w3m -dump`` and ``lynx -dump``, all at a
width of 1000 cells so that no word is broken by wrapping.

Measures, over the whole corpus (counts added up over pages):

* tokens: maximal runs of letters, digits and ``_`` (``\\w+``), as a
  multiset per page;
* recall = |ours ∩ Chromium's| / |Chromium's|: how much of what Chromium
  shows we show;
* precision = |ours ∩ Chromium's| / |ours|: how much of what we show
  Chromium shows (text that style sheets hide lowers it);
* link numbers (``[12]``), which minibrowser and lynx add, are left out.

Target (issue 18): minibrowser's recall at least 0.995 and precision at
least 0.99, and ahead of both w3m and lynx: a higher precision and a recall
no lower (all three often show everything Chromium shows: recall 1.0).

Chromium is a development tool here, not a dependency of minibrowser:

    apt-get install chromium w3m lynx python3-doc git-doc nodejs-doc valgrind
    .venv/bin/python benchmarks/fidelity.py [--pages N] [--corpus DIR ...]

Without Chromium the script says so in one line and exits 0 (nothing to
measure against); a missing w3m or lynx is left out of the table.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RECALL_TARGET = 0.995
PRECISION_TARGET = 0.99
WIDTH = 1000
CORPORA = ["/usr/share/doc/python3.11/html", "/usr/share/doc/git-doc", "/usr/share/doc/nodejs/api",
           "/usr/share/doc/valgrind/html"]
TOKEN = re.compile(r"\w+")


def corpus_pages(directories: list[str], per_corpus: int) -> list[Path]:
    """Up to ``per_corpus`` HTML pages of each directory, spread evenly over
    its sorted list (the same pages every run)."""
    chosen: list[Path] = []
    for directory in directories:
        pages = sorted(p for p in Path(directory).rglob("*.html") if p.is_file() and p.stat().st_size > 2000)
        if not pages:
            print(f"fidelity: no HTML pages under {directory}; skipped")
            continue
        step = max(1, len(pages) // per_corpus)
        chosen += pages[::step][:per_corpus]
    return chosen


# ---------------------------------------------------------------------------
# Chromium over the DevTools protocol on a pipe (--remote-debugging-pipe:
# commands on fd 3, answers on fd 4, NUL-terminated JSON): no websocket
# library, no network.
# ---------------------------------------------------------------------------


class Chromium:
    def __init__(self, binary: str) -> None:
        self.profile = tempfile.mkdtemp(prefix="fidelity-chromium-")
        to_chrome_r, self.to_chrome = os.pipe()
        self.from_chrome, from_chrome_w = os.pipe()
        flags = ["--headless", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync", "--disable-extensions", "--mute-audio",
                 f"--user-data-dir={self.profile}", "--remote-debugging-pipe", f"--window-size={WIDTH * 8},2000"]
        if os.geteuid() == 0:
            flags.append("--no-sandbox")  # Chromium refuses to run as root otherwise

        def plumbing() -> None:
            # Out of the way first: either pipe end may itself be fd 3 or 4.
            high_r = fcntl.fcntl(to_chrome_r, fcntl.F_DUPFD, 10)
            high_w = fcntl.fcntl(from_chrome_w, fcntl.F_DUPFD, 10)
            os.dup2(high_r, 3)
            os.dup2(high_w, 4)

        self.process = subprocess.Popen([binary, *flags, "about:blank"], preexec_fn=plumbing,
                                        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                        close_fds=False)
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self.buffer = b""
        self.next_id = 0
        self.events: list[dict] = []
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        self.call("Page.enable", session=True)
        self.call("Emulation.setScriptExecutionDisabled", {"value": True}, session=True)

    def _read_message(self, deadline: float) -> dict:
        while b"\0" not in self.buffer:
            if time.monotonic() > deadline:
                raise TimeoutError("Chromium did not answer")
            chunk = os.read(self.from_chrome, 1 << 20)
            if not chunk:
                raise RuntimeError("Chromium closed its pipe")
            self.buffer += chunk
        message, self.buffer = self.buffer.split(b"\0", 1)
        return json.loads(message)

    def call(self, method: str, params: dict | None = None, *, session: bool = False, timeout: float = 60) -> dict:
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = self.session
        os.write(self.to_chrome, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            answer = self._read_message(deadline)
            if answer.get("id") == self.next_id:
                if "error" in answer:
                    raise RuntimeError(f"{method}: {answer['error']}")
                return answer.get("result", {})
            self.events.append(answer)

    def wait_event(self, name: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while True:
            for index, event in enumerate(self.events):
                if event.get("method") == name:
                    del self.events[: index + 1]
                    return
            self.events.clear()
            self.events.append(self._read_message(deadline))

    def inner_text(self, url: str) -> str:
        self.events.clear()
        self.call("Page.navigate", {"url": url}, session=True)
        self.wait_event("Page.loadEventFired")
        result = self.call("Runtime.evaluate", {"expression": "document.body ? document.body.innerText : ''",
                                                "returnByValue": True}, session=True)
        return result["result"].get("value") or ""

    def close(self) -> None:
        try:
            self.call("Browser.close", timeout=10)
        except (RuntimeError, TimeoutError, OSError):
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self.to_chrome)
        os.close(self.from_chrome)
        shutil.rmtree(self.profile, ignore_errors=True)


# ---------------------------------------------------------------------------
# The terminal browsers.
# ---------------------------------------------------------------------------


def w3m_text(path: Path) -> str:
    return subprocess.run(["w3m", "-dump", "-cols", str(WIDTH), "-O", "UTF-8", "-T", "text/html", str(path)],
                          capture_output=True, timeout=120).stdout.decode("utf-8", "replace")


def lynx_text(path: Path) -> str:
    return subprocess.run(["lynx", "-dump", "-nolist", "-nonumbers", f"-width={WIDTH}", "-display_charset=utf-8",
                           "-assume_charset=utf-8", str(path)],
                          capture_output=True, timeout=120).stdout.decode("utf-8", "replace")


async def minibrowser_texts(paths: list[Path]) -> list[str]:
    """Each page through the real browser, without the link numbers it adds."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from browser import Browser

    texts = []
    async with Browser(width=WIDTH) as browser:
        for path in paths:
            tab = await browser.open(path.as_uri())
            frame = tab.frame
            lines = []
            for line in frame.lines if frame is not None else []:
                parts = []
                for span in line.spans:
                    text = span.text
                    suffix = f"[{span.link}]"
                    if span.link and text.endswith(suffix):
                        text = text[: -len(suffix)]
                    parts.append(text)
                lines.append("".join(parts))
            texts.append("\n".join(lines))
            await tab.close()
    return texts


def tokens(text: str) -> collections.Counter:
    return collections.Counter(TOKEN.findall(text))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=30, help="pages per corpus (default 30)")
    parser.add_argument("--corpus", action="append", help="a directory of HTML pages (default: Python's and git's manuals)")
    parser.add_argument("--worst", type=int, default=0, help="also list the N pages where minibrowser's precision is lowest")
    args = parser.parse_args()
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        print("fidelity: skipped: headless Chromium is not installed (as root: apt-get install chromium)")
        return 0
    pages = corpus_pages(args.corpus or [c for c in CORPORA if os.path.isdir(c)], args.pages)
    if not pages:
        print("fidelity: skipped: no corpus (as root: apt-get install python3-doc git-doc)")
        return 0
    browsers = {"minibrowser": None}
    for name, function in (("w3m", w3m_text), ("lynx", lynx_text)):
        if shutil.which(name):
            browsers[name] = function
        else:
            print(f"fidelity: {name} is not installed (apt-get install {name}); left out")
    started = time.monotonic()
    reference = Chromium(chromium)
    try:
        chrome = [tokens(reference.inner_text(page.as_uri())) for page in pages]
    finally:
        reference.close()
    print(f"{len(pages)} pages from {len(args.corpus or [c for c in CORPORA if os.path.isdir(c)])} corpora; "
          f"Chromium's innerText in {time.monotonic() - started:.1f} s")
    ours = asyncio.run(minibrowser_texts(pages))
    results = {}
    per_page = {}
    for name, function in browsers.items():
        texts = ours if function is None else [function(page) for page in pages]
        common = shown = wanted = 0
        for page, text, want in zip(pages, texts, chrome):
            got = tokens(text)
            overlap = sum((got & want).values())
            common += overlap
            shown += sum(got.values())
            wanted += sum(want.values())
            if name == "minibrowser":
                per_page[page] = (overlap / max(1, sum(got.values())), overlap / max(1, sum(want.values())))
        results[name] = (common / max(1, wanted), common / max(1, shown))
    print()
    print("| browser | recall | precision |")
    print("|---|---|---|")
    for name, (recall, precision) in results.items():
        print(f"| {name} | {recall:.5f} | {precision:.5f} |")
    recall, precision = results["minibrowser"]
    others = [value for name, value in results.items() if name != "minibrowser"]
    ahead = all(recall >= r and precision > p for r, p in others)  # recall is often 1.0 for all
    print()
    for name, (r, p) in results.items():
        if name != "minibrowser":
            print(f"minibrowser vs {name}: recall x{recall / max(r, 1e-9):.4f}, precision x{precision / max(p, 1e-9):.4f}")
    met = recall >= RECALL_TARGET and precision >= PRECISION_TARGET and ahead
    print(f"target recall >= {RECALL_TARGET}, precision >= {PRECISION_TARGET}, ahead of "
          f"{' and '.join(n for n in results if n != 'minibrowser') or 'nobody'}: {'met' if met else 'NOT met'}")
    if args.worst:
        print()
        for page, (p, r) in sorted(per_page.items(), key=lambda item: item[1][0])[: args.worst]:
            print(f"  precision {p:.3f} recall {r:.3f}  {page}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
