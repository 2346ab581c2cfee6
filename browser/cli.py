"""The ``minibrowser`` command.

    minibrowser open [URL ...] [--dump] [--width N] [--json | --color] [--no-sandbox] [--record-trace FILE]
                     [--discard-policy NAME] [--memory-budget SIZE]
    minibrowser URL ... [--dump ...]          (the same as ``open``)
    minibrowser sandbox [--json]
    minibrowser attack [NAME ...] [--json] [--probe-file FILE]
    minibrowser tui [URL ...] [--record-trace FILE] [--discard-policy NAME] [--memory-budget SIZE]
    minibrowser simulate generate|calibrate|run ...

Exit status: 0 when everything asked for worked, 1 when a page or check
failed (each with one line on stderr), 2 for bad arguments, 130 on Ctrl-C.
When the reader of the output goes away (``minibrowser open URL --dump |
head``) it stops quietly the way ``cat`` does: it cleans up, then dies of
SIGPIPE, which a shell reports as status 141.

Everything printed that came from a page, a renderer, a server or the
command line is made safe for the terminal first (``broker/safe_text.py``).
"""

from __future__ import annotations

# Only what parsing the arguments needs: the rest is imported after the
# zygote has been started (see main), so that its preload overlaps them.
import argparse
import errno
import os
import sys

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (the hand-off counts milliseconds)
if TYPE_CHECKING:
    from broker.zygote_launch import EarlyStart

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130

COMMANDS = ("open", "ps", "sandbox", "attack", "tui", "simulate")
MIN_WIDTH, MAX_WIDTH = 20, 1000


def safe_line(text: str) -> str:
    """``broker.safe_text.safe_line``, imported when first needed: it loads
    msgspec (~20 ms), which handing URLs to a running browser does without."""
    from broker.safe_text import safe_line as make_safe

    return make_safe(text)


def safe_text(text: str) -> str:
    from broker.safe_text import safe_text as make_safe

    return make_safe(text)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2
        # argparse says "argument --width: ..."; the option's name is enough.
        message = safe_line(message.removeprefix("argument "))
        self.exit(EXIT_USAGE, f"minibrowser: {message} (see 'minibrowser --help')\n")


#: The process models ``--process-model`` takes (``broker.process_model.ProcessModel``'s values,
#: spelled out so that parsing the command line imports nothing of the broker).
PROCESS_MODELS = ("per-tab", "site-per-process", "process-per-site", "single")
#: Far above any machine's Chromium limit; a typo of extra digits is refused.
MAX_PROCESS_LIMIT = 10_000


def _positive_width(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or not MIN_WIDTH <= value <= MAX_WIDTH:
        raise argparse.ArgumentTypeError(f"must be a whole number from {MIN_WIDTH} to {MAX_WIDTH}, not {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="minibrowser", description="A multi-process web browser for the terminal.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    open_cmd = commands.add_parser("open", help="open URLs, each in its own tab and renderer process")
    add_open_arguments(open_cmd)

    ps_cmd = commands.add_parser("ps", help="list the running minibrowsers of this user")
    ps_cmd.add_argument("--json", action="store_true", help="one JSON object per browser")

    sandbox_cmd = commands.add_parser("sandbox", help="report, from inside a real renderer, which sandbox layers are on")
    sandbox_cmd.add_argument("--json", action="store_true")
    _process_model_flags(sandbox_cmd)

    attack_cmd = commands.add_parser("attack", help="compromise simulation: run attacks inside sandboxed renderers")
    attack_cmd.add_argument("names", nargs="*", metavar="NAME", help="attacks to run (default: all); 'list' to list them")
    attack_cmd.add_argument("--json", action="store_true")
    attack_cmd.add_argument("--probe-file", metavar="FILE", help="run the Python code in FILE inside a sandboxed renderer")
    _sandbox_flag(attack_cmd)

    tui_cmd = commands.add_parser("tui", help="the terminal UI (the default for 'open' on a terminal)")
    tui_cmd.add_argument("urls", nargs="*", metavar="URL")
    tui_cmd.add_argument(
        "--attach", nargs="?", const=0, type=_pid, default=None, metavar="PID",
        help="open the window on a running browser (the newest, or the one with PID; see 'minibrowser ps'); "
             "quitting leaves it running",
    )
    _sandbox_flag(tui_cmd)
    _profile_flag(tui_cmd)
    _process_model_flags(tui_cmd)
    _record_trace_flag(tui_cmd)
    _discard_policy_flags(tui_cmd)

    from browser.simulate.command import add_parser as add_simulate_parser

    add_simulate_parser(commands)
    return parser


def add_open_arguments(open_cmd: argparse.ArgumentParser) -> None:
    """The arguments of ``minibrowser open`` (also parsed alone, for a fast hand-off to a running browser)."""
    open_cmd.add_argument("urls", nargs="*", metavar="URL", help="http(s):, file:, data: or about: URL (default about:welcome)")
    open_cmd.add_argument("--dump", action="store_true", help="print the rendered text and exit (no terminal UI)")
    open_cmd.add_argument("--width", type=_positive_width, default=None, help="layout width in cells (default: terminal width or 80)")
    open_cmd.add_argument("--json", action="store_true", help="with --dump: one JSON object per tab")
    open_cmd.add_argument("--color", action="store_true",
                          help="with --dump: the page's colours and emphasis as terminal escape sequences")
    open_cmd.add_argument(
        "--new-instance", action="store_true",
        help="start a browser of its own even when one with this profile is running (by default the URLs open there)",
    )
    _sandbox_flag(open_cmd)
    _profile_flag(open_cmd)
    _process_model_flags(open_cmd)
    _record_trace_flag(open_cmd)
    _discard_policy_flags(open_cmd)


def _pid(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or value < 1:
        raise argparse.ArgumentTypeError(f"must be a process id (a whole number, see 'minibrowser ps'), not {text!r}")
    return value


def _profile_flag(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--profile", metavar="DIR", default=None,
        help="profile directory: discarded tabs are kept here (default: $XDG_DATA_HOME/minibrowser)",
    )


def _process_limit(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or not 1 <= value <= MAX_PROCESS_LIMIT:
        raise argparse.ArgumentTypeError(f"must be a whole number from 1 to {MAX_PROCESS_LIMIT}, not {text!r}")
    return value


def _process_model(text: str) -> str:
    if text not in PROCESS_MODELS:
        raise argparse.ArgumentTypeError(f"must be one of {', '.join(PROCESS_MODELS)}, not {text!r}")
    return text


def _process_model_flags(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--process-model", type=_process_model, default="per-tab", metavar="MODEL",
        help="which renderer each page goes to: " + ", ".join(PROCESS_MODELS) + " (default per-tab)",
    )
    command.add_argument(
        "--process-limit", type=_process_limit, default=None, metavar="N",
        help="renderer process limit (default: Chromium's formula for this machine's memory)",
    )
    command.add_argument(
        "--no-spare", action="store_true", help="do not keep a spare renderer started ahead of need",
    )


def _discard_policy(text: str) -> str:
    from broker.discard_policies import POLICY_NAMES

    if text not in POLICY_NAMES:
        raise argparse.ArgumentTypeError(f"must be one of {', '.join(POLICY_NAMES)}, not {text!r}")
    return text


def _memory_size(text: str) -> int:
    """``browser.simulate.command.parse_size``, imported when an option needs it
    (it loads the discard policies: the hand-off to a running browser does without)."""
    from browser.simulate.command import parse_size

    return parse_size(text)


def _discard_policy_flags(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--discard-policy", type=_discard_policy, default=None, metavar="NAME",
        help="which policy freezes and discards background tabs: minibrowser (default), chrome-memory-saver, "
             "chrome-urgent, firefox-unloader, edge-sleeping-tabs, none, ... (as 'minibrowser simulate run --policy')",
    )
    command.add_argument(
        "--memory-budget", type=_memory_size, default=None, metavar="SIZE",
        help="memory the renderers may use (USS), such as 100M or 1G, for the policies that have a budget (default 1G)",
    )


def _record_trace_flag(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--record-trace", metavar="FILE", default=None,
        help="record the session (opens, switches, navigations, input, closes) as a trace for 'minibrowser simulate run'",
    )


def _sandbox_flag(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--no-sandbox", action="store_true", help="render without the sandbox (every page says so); for debugging only"
    )


def _setup_logging() -> None:
    import logging

    class SafeFormatter(logging.Formatter):
        """Log lines reach the terminal too: made safe like everything else printed."""

        def format(self, record: logging.LogRecord) -> str:
            return safe_text(super().format(record))

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(SafeFormatter("minibrowser: %(message)s"))
    logger = logging.getLogger("minibrowser")
    logger.addHandler(handler)
    logger.setLevel(logging.WARNING)
    logger.propagate = False


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0].startswith("-") and argv[0] not in ("-h", "--help"):
        argv = ["open", *argv]
    elif argv[0] not in COMMANDS and argv[0] not in ("-h", "--help"):
        if not _looks_like_an_address(argv[0]):
            word = safe_line(argv[0])
            print(f"minibrowser: {word!r} is neither a command ({', '.join(COMMANDS)}) nor an address; "
                  f"to open a host without a dot in its name, write http://{word}/", file=sys.stderr)
            return EXIT_USAGE
        argv = ["open", *argv]  # a bare URL or file path is opened, as browsers do
    if argv[0] == "open" and (status := _hand_off(argv[1:])) is not None:
        return status
    args = build_parser().parse_args(argv)
    if args.command is None:
        args = build_parser().parse_args(["open"])
    early = _start_zygote_early(args)
    try:
        import asyncio

        _setup_logging()
        return asyncio.run(_dispatch(args, early))
    except KeyboardInterrupt:
        print("minibrowser: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        from browser.output import output_reader_gone, stop_like_unix_tools

        if not output_reader_gone():
            raise
        return stop_like_unix_tools()
    finally:
        if early is not None:
            early.abandon()  # nothing to do once the browser that adopted it has shut down


def _hand_off(argv: list[str]) -> int | None:
    """``minibrowser open`` while a browser with the same profile runs: the
    URLs open there (``browser/control_client.py``) and this returns its exit
    status; None when there is no such browser, or the options ask for one
    of its own.  Parses only ``open``'s arguments and imports only the
    standard library's cheapest parts: this is the whole command then."""
    parser = _Parser(prog="minibrowser open")
    add_open_arguments(parser)
    args = parser.parse_args(argv)
    if args.new_instance or _browser_wide_options(args):
        return None
    if not args.dump and (args.json or args.color or not args.urls):
        return None  # the usual path says what is wrong; a bare 'minibrowser' opens a window of its own
    from browser.control_client import hand_off

    width = _dump_width(args) if args.dump else None
    return hand_off(args.urls or ["about:welcome"], profile=args.profile, dump=args.dump, as_json=args.json,
                    color=args.color, width=width)


def _dump_width(args: argparse.Namespace) -> int:
    """The layout width of ``--dump``: ``--width``, else the terminal's, else 80."""
    if args.width:
        return args.width
    if not sys.stdout.isatty():
        return 80
    import shutil

    return shutil.get_terminal_size((80, 24)).columns


def _browser_wide_options(args: argparse.Namespace) -> bool:
    """Options that only a new browser can honour: a running one keeps its own settings."""
    return (args.no_sandbox or args.process_model != "per-tab" or args.process_limit is not None or args.no_spare
            or args.record_trace is not None or args.discard_policy is not None or args.memory_budget is not None)


def _looks_like_an_address(word: str) -> bool:
    """``example.org``, ``localhost:8000``, ``about:blank``, ``./page.html``, an existing file."""
    return any(mark in word for mark in ".:/") or word == "localhost" or os.path.exists(word)


def _start_zygote_early(args: argparse.Namespace) -> EarlyStart | None:
    """For ``open --dump``: the runtime directory and the zygote, started
    before the broker's imports (about as long as the zygote's preload)."""
    if args.command != "open" or not args.dump:
        return None
    from broker.zygote_launch import start_early

    try:
        return start_early(sandbox=not args.no_sandbox)
    except OSError:
        return None  # the browser starts them itself, and reports what fails


async def _dispatch(args: argparse.Namespace, early: EarlyStart | None = None) -> int:
    if args.command == "open":
        return await _open(args, early)
    if args.command == "sandbox":
        from browser.security import run_sandbox_report

        return await run_sandbox_report(as_json=args.json, process_model=args.process_model,
                                        process_limit=args.process_limit, spare=not args.no_spare)
    if args.command == "attack":
        from browser.security import run_attacks

        return await run_attacks(args.names, as_json=args.json, probe_file=args.probe_file, sandbox=not args.no_sandbox)
    if args.command == "simulate":
        from browser.simulate.command import dispatch as simulate

        return await simulate(args)
    if args.command == "tui":
        return await _tui(args.urls, args)
    if args.command == "ps":
        from browser.control_client import list_browsers

        return list_browsers(as_json=args.json)
    return EXIT_USAGE


async def _tui(urls: list[str], args: argparse.Namespace) -> int:
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        print("minibrowser: the terminal UI needs a terminal; use 'minibrowser open URL --dump' instead", file=sys.stderr)
        return EXIT_USAGE
    from browser.frontends import FrontendMissing, find_frontend

    try:
        frontend = find_frontend()
    except FrontendMissing:
        print("minibrowser: the terminal UI is not available in this build; use --dump", file=sys.stderr)
        return EXIT_USAGE
    if args.record_trace is not None and (problem := _unwritable(args.record_trace)) is not None:
        print(problem, file=sys.stderr)
        return EXIT_USAGE
    attach = getattr(args, "attach", None)
    if attach is not None:
        return await _attach(frontend, urls, pid=attach or None)
    return await frontend.run(urls, browser_factory=lambda: _new_browser(args, started_by="tui"))


async def _attach(frontend, urls: list[str], *, pid: int | None) -> int:
    """``tui --attach [PID]``: the window on a running browser (``browser.remote``)."""
    if urls:
        print("minibrowser: --attach shows the running browser's own tabs; open URLs there with "
              "'minibrowser open URL'", file=sys.stderr)
        return EXIT_USAGE
    from broker.errors import BrowserError
    from browser.remote import RemoteBrowser, find_running

    try:
        find_running(pid)
    except BrowserError as error:
        print(f"minibrowser: {safe_line(str(error))}", file=sys.stderr)
        return EXIT_FAILED
    return await frontend.run([], browser_factory=lambda: RemoteBrowser(pid), attached=True)


def _new_browser(args: argparse.Namespace, **settings):
    """The browser the command line asks for (``settings``: more ``BrowserOptions``
    fields), recording the session when ``--record-trace`` says so."""
    from browser.api import Browser

    browser = Browser(sandbox=not args.no_sandbox, profile=args.profile, process_model=args.process_model,
                      process_limit=args.process_limit, spare=not args.no_spare,
                      discard_policy=args.discard_policy, memory_budget=args.memory_budget, **settings)
    if args.record_trace is not None:
        from browser.simulate.record import TraceRecorder

        TraceRecorder(args.record_trace).attach(browser)
    return browser


def _unwritable(path: str) -> str | None:
    """The one line to show when the trace file ``path`` cannot be written, or None (it is created, empty)."""
    try:
        with open(path, "w", encoding="utf-8"):
            return None
    except OSError as error:
        return f"minibrowser: {safe_line(path)}: cannot write the trace ({error.strerror or error})"


async def _open(args: argparse.Namespace, early: EarlyStart | None = None) -> int:
    import asyncio

    from browser.api import BrowserError
    from browser.output import dump_output, output_reader_gone

    urls = args.urls or ["about:welcome"]
    if not args.dump:
        if args.json or args.color:
            print(f"minibrowser: {'--json' if args.json else '--color'} goes with --dump", file=sys.stderr)
            return EXIT_USAGE
        return await _tui(urls, args)
    if args.record_trace is not None and (problem := _unwritable(args.record_trace)) is not None:
        print(problem, file=sys.stderr)
        return EXIT_USAGE
    width = _dump_width(args)
    try:
        async with _new_browser(args, width=width, started_early=early, started_by="open") as browser:
            tabs = await asyncio.gather(*(browser.open(url, activate=False) for url in urls))
            failed = False
            for index, (url, tab) in enumerate(zip(urls, tabs)):
                text, problem = dump_output(url, tab, index=index, count=len(urls), as_json=args.json,
                                            color=args.color)
                if problem:
                    failed = True
                    print(problem, file=sys.stderr)
                sys.stdout.write(text)
            sys.stdout.flush()
            if output_reader_gone():
                # A large write the reader cut short returns a partial count,
                # which Python's io accepts without a word: say it here.
                raise BrokenPipeError(errno.EPIPE, "the reader of standard output went away")
            return EXIT_FAILED if failed else EXIT_OK
    except BrowserError as error:
        print(f"minibrowser: {safe_line(str(error))}", file=sys.stderr)
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
