"""The ``minibrowser`` command.

    minibrowser open [URL ...] [--dump] [--width N] [--json] [--no-sandbox]
    minibrowser sandbox [--json]
    minibrowser attack [NAME ...] [--json] [--probe-file FILE]
    minibrowser tui [URL ...]
    minibrowser simulate generate|calibrate|run ...

Exit status: 0 when everything asked for worked, 1 when a page or check
failed (each with one line on stderr), 2 for bad arguments, 130 on Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import shutil
import sys

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2
        self.exit(EXIT_USAGE, f"minibrowser: {message} (see 'minibrowser --help')\n")


def _positive_width(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--width must be a whole number, not {text!r}") from None
    if not 20 <= value <= 1000:
        raise argparse.ArgumentTypeError(f"--width must be between 20 and 1000, not {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="minibrowser", description="A multi-process web browser for the terminal.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    open_cmd = commands.add_parser("open", help="open URLs, each in its own tab and renderer process")
    open_cmd.add_argument("urls", nargs="*", metavar="URL", help="http(s):, file:, data: or about: URL (default about:welcome)")
    open_cmd.add_argument("--dump", action="store_true", help="print the rendered text and exit (no terminal UI)")
    open_cmd.add_argument("--width", type=_positive_width, default=None, help="layout width in cells (default: terminal width or 80)")
    open_cmd.add_argument("--json", action="store_true", help="with --dump: one JSON object per tab")
    _sandbox_flag(open_cmd)
    _profile_flag(open_cmd)

    sandbox_cmd = commands.add_parser("sandbox", help="report, from inside a real renderer, which sandbox layers are on")
    sandbox_cmd.add_argument("--json", action="store_true")

    attack_cmd = commands.add_parser("attack", help="compromise simulation: run attacks inside sandboxed renderers")
    attack_cmd.add_argument("names", nargs="*", metavar="NAME", help="attacks to run (default: all); 'list' to list them")
    attack_cmd.add_argument("--json", action="store_true")
    attack_cmd.add_argument("--probe-file", metavar="FILE", help="run the Python code in FILE inside a sandboxed renderer")
    _sandbox_flag(attack_cmd)

    tui_cmd = commands.add_parser("tui", help="the terminal UI (the default for 'open' on a terminal)")
    tui_cmd.add_argument("urls", nargs="*", metavar="URL")
    _sandbox_flag(tui_cmd)
    _profile_flag(tui_cmd)

    from browser.simulate.command import add_parser as add_simulate_parser

    add_simulate_parser(commands)
    return parser


def _profile_flag(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--profile", metavar="DIR", default=None,
        help="profile directory: discarded tabs are kept here (default: $XDG_DATA_HOME/minibrowser)",
    )


def _sandbox_flag(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--no-sandbox", action="store_true", help="render without the sandbox (every page says so); for debugging only"
    )


def _setup_logging() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("minibrowser: %(message)s"))
    logger = logging.getLogger("minibrowser")
    logger.addHandler(handler)
    logger.setLevel(logging.WARNING)
    logger.propagate = False


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0].startswith("-") and argv[0] not in ("-h", "--help"):
        argv = ["open", *argv]
    args = build_parser().parse_args(argv)
    if args.command is None:
        args = build_parser().parse_args(["open"])
    _setup_logging()
    try:
        return asyncio.run(_dispatch(args))
    except KeyboardInterrupt:
        print("minibrowser: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


async def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "open":
        return await _open(args)
    if args.command == "sandbox":
        from browser.security import run_sandbox_report

        return await run_sandbox_report(as_json=args.json)
    if args.command == "attack":
        from browser.security import run_attacks

        return await run_attacks(args.names, as_json=args.json, probe_file=args.probe_file, sandbox=not args.no_sandbox)
    if args.command == "simulate":
        from browser.simulate.command import dispatch as simulate

        return await simulate(args)
    if args.command == "tui":
        return await _tui(args.urls, sandbox=not args.no_sandbox, profile=args.profile)
    return EXIT_USAGE


async def _tui(urls: list[str], *, sandbox: bool, profile: str | None = None) -> int:
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        print("minibrowser: the terminal UI needs a terminal; use 'minibrowser open URL --dump' instead", file=sys.stderr)
        return EXIT_USAGE
    try:
        from tui.app import run_app
    except ImportError:
        print("minibrowser: the terminal UI is not available in this build; use --dump", file=sys.stderr)
        return EXIT_USAGE
    import inspect

    if profile is not None and "profile" in inspect.signature(run_app).parameters:
        return await run_app(urls, sandbox=sandbox, profile=profile)
    return await run_app(urls, sandbox=sandbox)


async def _open(args: argparse.Namespace) -> int:
    from browser.api import Browser, BrowserError

    urls = args.urls or ["about:welcome"]
    if not args.dump:
        if args.json:
            print("minibrowser: --json goes with --dump", file=sys.stderr)
            return EXIT_USAGE
        return await _tui(urls, sandbox=not args.no_sandbox, profile=args.profile)
    width = args.width or (shutil.get_terminal_size((80, 24)).columns if sys.stdout.isatty() else 80)
    try:
        async with Browser(sandbox=not args.no_sandbox, width=width, profile=args.profile) as browser:
            tabs = await asyncio.gather(*(browser.open(url, activate=False) for url in urls))
            failed = False
            for index, (url, tab) in enumerate(zip(urls, tabs)):
                problem = tab.error or (f"tab {tab.id} {tab.crash_cause}" if tab.crash_cause else None)
                if problem:
                    failed = True
                    print(f"minibrowser: {url}: {problem}", file=sys.stderr)
                if args.json:
                    print(json.dumps(_tab_json(url, tab), ensure_ascii=False))
                else:
                    if len(urls) > 1:
                        print(f"{'' if index == 0 else chr(10)}==> {tab.final_url} <==")
                    sys.stdout.write(tab.frame.dump() if tab.frame is not None else "\n")
            sys.stdout.flush()
            return EXIT_FAILED if failed else EXIT_OK
    except BrowserError as error:
        print(f"minibrowser: {error}", file=sys.stderr)
        return EXIT_FAILED


def _tab_json(url: str, tab) -> dict:
    frame = tab.frame
    return {
        "url": url,
        "final_url": tab.final_url,
        "title": tab.title,
        "renderer_pid": tab.pid,
        "state": tab.state.value,
        "error": tab.error or tab.crash_cause,
        "text": frame.text if frame is not None else "",
        "links": [{"number": link.number, "url": link.url} for link in (frame.links if frame else [])],
        "timings_ms": {
            "fetch": _round(tab.timings.fetch_ms),
            "spawn": _round(tab.timings.spawn_ms),
            "first_frame": _round(tab.timings.first_frame_ms),
        },
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


if __name__ == "__main__":
    sys.exit(main())
