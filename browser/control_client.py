"""Control clients of the command line: ``minibrowser open`` handing URLs
to a running browser, and ``minibrowser ps``.

The hand-off is the whole command while a browser runs, so it imports
only the standard library's cheapest parts and ``broker/control_wire.py``
(no msgspec, no ZeroMQ, no asyncio): the broker checks what it is sent
against ``broker/control_protocol.py``, and the messages built here are
that module's ``OpenUrls`` and ``Describe`` in its JSON form.
"""

from __future__ import annotations

import sys
import time

from broker.control_wire import VERSION, ControlError, connect, profile_key, receive_message, running_browsers, send_message

EXIT_OK, EXIT_FAILED = 0, 1
#: What started the browsers that take URLs (``control_protocol.StartedBy.takes_urls``).
TAKES_URLS = ("tui", "script", "simulator")
#: How long ``ps`` waits for each browser, and the hand-off for an answer
#: that is not a page being loaded.
ANSWER_TIMEOUT_S = 5.0
#: A dump waits for the pages, like ``open --dump`` of its own browser.
DUMP_TIMEOUT_S = 120.0


#: ``control_protocol.Describe``.
DESCRIBE = {"type": "Describe"}


def open_request(urls: list[str], *, dump: bool, as_json: bool, width: int | None, color: bool = False) -> dict:
    """``control_protocol.OpenUrls``, as JSON.  A relative path is made
    absolute here: the browser runs in another directory."""
    request = {"type": "OpenUrls", "urls": [_from_here(url) for url in urls], "dump": dump, "json": as_json,
               "color": color}
    if width is not None:
        request["width"] = width
    return request


def _from_here(url: str) -> str:
    """``./a.html`` -> ``/where/this/runs/a.html`` (the loader's ``normalize_url``
    reads these forms as paths from the current directory)."""
    if url.startswith(("./", "../")) or url in (".", ".."):
        import os

        return os.path.abspath(url)
    return url


def find_browser(profile: str | None) -> dict | None:
    """The newest running browser of this user on ``profile`` that takes URLs
    (a browser started by ``open --dump`` prints its pages and exits)."""
    key = profile_key(profile)
    candidates = [entry for entry in running_browsers()
                  if entry.get("version") == VERSION and entry.get("started_by") in TAKES_URLS
                  and profile_key(entry["profile"]) == key]
    return candidates[-1] if candidates else None


def hand_off(urls: list[str], *, profile: str | None, dump: bool, as_json: bool, width: int | None,
             color: bool = False) -> int | None:
    """Open ``urls`` in the running browser on ``profile``, printing what
    ``open --dump`` prints when ``dump``; returns the exit status, or None
    when no browser took them (then the caller starts one of its own)."""
    entry = find_browser(profile)
    if entry is None:
        return None
    try:
        sock = connect(entry["socket"], timeout=ANSWER_TIMEOUT_S)
    except ControlError:
        return None  # it has just quit
    with sock:
        try:
            send_message(sock, open_request(urls, dump=dump, as_json=as_json, width=width, color=color))
            if dump:
                sock.settimeout(DUMP_TIMEOUT_S)
            while True:
                message = receive_message(sock)
                if message["type"] == "TabOutput":
                    if message.get("stderr"):
                        print(message["stderr"], file=sys.stderr)
                    sys.stdout.write(message["stdout"])
                elif message["type"] == "Opened":
                    sys.stdout.flush()
                    if not dump:
                        count = len(message["tabs"])
                        print(f"minibrowser: opened {count} tab{'s' if count != 1 else ''} in the running browser "
                              f"(pid {entry['pid']})", file=sys.stderr)
                    return int(message.get("status", EXIT_FAILED))
                elif message["type"] == "Quitting":
                    raise ControlError(f"it quit before it answered ({message.get('reason')})")
                else:
                    raise ControlError(f"unexpected answer {message['type']!r}")
        except ControlError as error:
            print(f"minibrowser: the running browser (pid {entry['pid']}): {_printable(str(error))}", file=sys.stderr)
            return EXIT_FAILED


def describe_all() -> list[dict]:
    """Every running browser of this user, each as ``ps --json`` prints it."""
    result = []
    for entry in running_browsers():
        row = {"pid": entry["pid"], "profile": entry["profile"], "started": entry.get("started"),
               "started_by": entry.get("started_by"), "socket": entry["socket"], "tabs": None, "renderers": None,
               "spare": None, "memory_uss": None, "error": None}
        try:
            with connect(entry["socket"], timeout=ANSWER_TIMEOUT_S) as sock:
                send_message(sock, DESCRIBE)
                answer = receive_message(sock)
            if answer["type"] != "Description":
                raise ControlError(f"unexpected answer {answer['type']!r}")
            for name in ("tabs", "renderers", "spare", "memory_uss"):
                row[name] = answer.get(name)
        except ControlError as error:
            row["error"] = _printable(str(error))
        result.append(row)
    return result


def list_browsers(*, as_json: bool) -> int:
    """``minibrowser ps``: one line (or JSON object) per running browser."""
    rows = describe_all()
    if as_json:
        import json

        for row in rows:
            print(json.dumps(row, ensure_ascii=False))
        return EXIT_OK
    if not rows:
        print("no minibrowser is running")
        return EXIT_OK
    print(f"{'PID':>7}  {'STARTED':19}  {'BY':9}  {'TABS':>4}  {'RENDERERS':>9}  {'MEMORY':>8}  PROFILE")
    for row in rows:
        started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(row["started"] or 0))
        if row["error"]:
            print(f"{row['pid']:>7}  {started:19}  {row['started_by']:9}  not answering: {row['error']}")
            continue
        renderers = f"{row['renderers']}{' +spare' if row['spare'] else ''}"
        print(f"{row['pid']:>7}  {started:19}  {row['started_by']:9}  {row['tabs']:>4}  {renderers:>9}  "
              f"{_megabytes(row['memory_uss']):>8}  {_printable(row['profile'])}")
    return EXIT_OK


def _megabytes(value: int | None) -> str:
    return "-" if value is None else f"{value / 1024 / 1024:.1f}M"


def _printable(text: str) -> str:
    """No control or format characters reach the terminal (a profile path can hold any)."""
    return "".join(c if c.isprintable() else "\ufffd" for c in text)
