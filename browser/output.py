"""What the command line prints, shared by its commands: a tab's text or
JSON line for ``open --dump``, its one-line problem, and how a command stops
when the reader of its output goes away (``... | head``).

Every string that came from a page, a renderer or a server is made safe for
the terminal here (``safe_line``), or was when it entered the tab's record.
"""

from __future__ import annotations

import os
import sys

from broker.safe_text import safe_line


def output_reader_gone() -> bool:
    """True when standard output is a pipe whose reader has closed it."""
    import select

    try:
        poller = select.poll()
        poller.register(sys.stdout.fileno(), select.POLLOUT)
        return any(events & select.POLLERR for _, events in poller.poll(0))
    except (OSError, ValueError):
        return False


def stop_like_unix_tools() -> int:
    """The reader went away (``... | head``): stop the way ``cat`` does, quietly,
    by dying of SIGPIPE once everything is cleaned up (the browser is shut
    down by then).  Python ignores SIGPIPE, so restore its default first; and
    point stdout at /dev/null so that nothing tries to flush into the pipe."""
    import signal

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGPIPE)
    return 128 + signal.SIGPIPE  # what a shell shows for it, should the signal be blocked


def dump_output(url: str, tab, *, index: int, count: int, as_json: bool,
                color: bool = False) -> tuple[str, str | None]:
    """What ``open --dump`` prints for the ``index``-th of ``count`` tabs: its
    standard output, and its line for standard error when it failed (the
    same whether the browser is the command's own or a running one that the
    URLs were handed to, ``browser/control_service.py``)."""
    problem = tab_problem(tab)
    text = ("" if index == 0 else "\n") + dump_header(tab) if count > 1 and not as_json else ""
    text += dump_text(url, tab, problem, as_json=as_json, color=color)
    return text, problem_line(url, problem) if problem else None


def tab_problem(tab) -> str | None:
    """What went wrong in ``tab``, in one line, or None when it shows its page.

    A tab with no frame did not get its page drawn (its renderer hung or never
    answered): that is a failure too, never an empty page printed as success.
    """
    if tab.error:
        return tab.error
    if tab.crash_cause:
        return f"tab {tab.id} {tab.crash_cause}"
    if tab.frame is None:
        return (f"tab {tab.id} has nothing to show: its renderer did not answer with the page "
                f"(the tab is {tab.state.value}); try again")
    return None


def problem_line(url: str, problem: str) -> str:
    """The one line on stderr for a tab that failed."""
    return f"minibrowser: {safe_line(url)}: {safe_line(problem)}"


def dump_header(tab) -> str:
    """The ``==> URL <==`` line before each tab's text when there are several."""
    return f"==> {safe_line(tab.final_url)} <==\n"


def dump_text(url: str, tab, problem: str | None, *, as_json: bool, color: bool = False) -> str:
    """What ``open --dump`` prints for one tab: its text, or one JSON line.
    The frame was made safe when it entered the tab's record; the other
    strings are made safe here.  ``color``: with SGR sequences made from
    the spans' styles (``broker/colors.py``), never bytes of the page."""
    if as_json:
        import json

        return json.dumps(tab_json(url, tab, problem), ensure_ascii=False) + "\n"
    if tab.frame is None:
        return ""
    if color:
        from broker.colors import sgr_dump

        return sgr_dump(tab.frame)
    return tab.frame.dump()


def tab_json(url: str, tab, problem: str | None) -> dict:
    frame = tab.frame
    return {
        "url": safe_line(url),
        "final_url": safe_line(tab.final_url),
        "title": safe_line(tab.title),
        "renderer_pid": tab.pid,
        "renderer_site": safe_line(tab.site) if tab.site else None,  # the site its renderer is locked to
        "state": tab.state.value,
        "error": safe_line(problem) if problem else None,
        "text": frame.text if frame is not None else "",
        "links": [{"number": link.number, "url": link.url} for link in (frame.links if frame else [])],
        "frames": [info.as_json() for info in tab.frames],
        "timings_ms": {
            "fetch": _round(tab.timings.fetch_ms),
            "spawn": _round(tab.timings.spawn_ms),
            "first_frame": _round(tab.timings.first_frame_ms),
        },
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)
