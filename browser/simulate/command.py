"""``minibrowser simulate``: generate traces, calibrate costs, run designs.

    minibrowser simulate generate --users N --days D --seed S [--open-tabs N] -o FILE
    minibrowser simulate calibrate [-o FILE] [--no-sandbox]
    minibrowser simulate run TRACE [--engine model|real] [--policy A,B] [--process-model X,Y]
                                   [--budget SIZE[,SIZE...]] [--param NAME=VALUES ...]
                                   [--costs minibrowser|chrome|firefox|FILE] [--speed X] [--json | --csv]
                                   [--plot PREFIX] [--format png|svg] [--chart] [--workers N]
                                   [--cluster tcp://HOST:PORT] [--tui]
    minibrowser simulate validate [--users N] [--json]

Bad input (a missing or bad trace, an unknown policy or process model, a
bad size) gives one line on stderr and exit status 2; a failed run, 1.
"""

from __future__ import annotations

import argparse
import errno
import os
import re
import sys

from broker.discard_policies import DISTINCT_POLICY_NAMES, POLICY_NAMES, UnknownPolicy, make_policy

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b)?\s*$", re.IGNORECASE)


def parse_size(text: str) -> int:
    """``512M``, ``1G``, ``1.5GiB``, ``200MB`` or bytes; binary units."""
    match = _SIZE.match(text)
    if not match:
        raise argparse.ArgumentTypeError(f"must be a size such as 512M or 2G, not {text!r}")
    number, unit = float(match.group(1)), match.group(2).lower()
    value = int(number * 1024 ** " kmgt".index(unit or " "))
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, not {text!r}")
    return value


def parse_sizes(text: str) -> list[int]:
    """``256M,512M,1G``: one or more sizes (a sweep of budgets)."""
    sizes = [parse_size(part) for part in text.split(",")]
    return list(dict.fromkeys(sizes))


def _whole(low: int, high: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a whole number, not {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be from {low} to {high}, not {value}")
        return value
    return parse


def _positive():
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a number, not {text!r}") from None
        if not 0 < value < float("inf"):
            raise argparse.ArgumentTypeError(f"must be more than 0, not {text!r}")
        return value
    return parse


def add_parser(commands) -> None:
    """Register ``simulate`` and its subcommands on the CLI's subparsers."""
    simulate = commands.add_parser("simulate", help="replay browsing traces to compare discard policies and process models")
    actions = simulate.add_subparsers(dest="simulate_command", metavar="ACTION")

    generate = actions.add_parser("generate", help="write a synthetic trace from published browsing figures")
    generate.add_argument("--users", type=_whole(1, 100_000), default=1)
    generate.add_argument("--days", type=_whole(1, 366), default=1)
    generate.add_argument("--seed", type=_whole(0, 2**63), default=0)
    generate.add_argument("--open-tabs", type=_whole(1, 300), default=None,
                          help="every user keeps about N tabs open (default: drawn per user from published figures)")
    generate.add_argument("-o", "--output", metavar="FILE", required=True)

    calibrate = actions.add_parser("calibrate", help="measure the model engine's costs from the real browser")
    calibrate.add_argument("-o", "--output", metavar="FILE", default=None,
                           help="where to save them (default: simulate-costs.json in the profile directory)")
    calibrate.add_argument("--no-sandbox", action="store_true")

    run = actions.add_parser("run", help="run every combination of policies and process models on a trace")
    run.add_argument("trace", metavar="TRACE")
    run.add_argument("--engine", choices=("model", "real"), default="model")
    run.add_argument("--policy", default="minibrowser,none", help=f"comma-separated, or 'all' ({', '.join(POLICY_NAMES)})")
    run.add_argument("--process-model", default="per-tab", help="comma-separated, or 'all' (per-tab, site-per-process, process-per-site, single)")
    run.add_argument("--budget", type=parse_sizes, default=[parse_size("1G")],
                     help="renderer memory budget (default 1G); several, comma-separated, are swept")
    run.add_argument("--param", metavar="NAME=VALUES", action="append", default=[],
                     help="sweep a policy parameter: a list (memory-saver.revisits=5,15) or a range "
                          "(memory-saver.hidden=1h..8h/1h); repeatable")
    run.add_argument("--costs", metavar="PROFILE|FILE", default=None,
                     help="minibrowser (calibrated, the default), chrome or firefox (from published figures), "
                          "or a cost file from 'simulate calibrate'")
    run.add_argument("--speed", type=_positive(), default=600.0, help="real engine: trace seconds per wall second")
    output = run.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true")
    output.add_argument("--csv", action="store_true")
    run.add_argument("--plot", metavar="PREFIX", default=None, help="write PREFIX-memory.FMT and PREFIX-tradeoff.FMT")
    run.add_argument("--format", choices=("png", "svg"), default="png")
    run.add_argument("--chart", action="store_true", help="draw the charts in the terminal")
    run.add_argument("--workers", type=_whole(1, 256), default=None)
    run.add_argument("--cluster", metavar="tcp://HOST:PORT", default=None,
                     help="run designs x users on a Dask cluster (pip install 'minibrowser[cluster]')")
    run.add_argument("--tui", action="store_true",
                     help="real engine: show the browser window, process tree and task manager while the trace plays")
    run.add_argument("--no-sandbox", action="store_true")

    validate = actions.add_parser("validate", help="hold the model engine against published browser figures")
    validate.add_argument("--users", type=_whole(10, 100_000), default=None,
                          help="users in the population studies (default: each figure's own)")
    validate.add_argument("--json", action="store_true")


def _fail(message: str, status: int = EXIT_USAGE) -> int:
    print(f"minibrowser: {message}", file=sys.stderr)
    return status


async def dispatch(args: argparse.Namespace) -> int:
    match args.simulate_command:
        case "generate":
            return _generate(args)
        case "calibrate":
            return await _calibrate(args)
        case "run":
            return await _run(args)
        case "validate":
            return _validate(args)
    return _fail("simulate needs an action: generate, calibrate, run or validate (see 'minibrowser simulate --help')")


def _generate(args) -> int:
    from browser.simulate.generate import generate
    from browser.simulate.trace import write_trace

    trace = generate(users=args.users, days=args.days, seed=args.seed, open_tabs=args.open_tabs)
    try:
        write_trace(trace, args.output)
    except OSError as error:
        return _fail(f"{args.output}: cannot write the trace ({error.strerror or error})", EXIT_FAILED)
    print(f"minibrowser: wrote {len(trace.events)} events of {args.users} user(s) over {args.days} day(s) to {args.output}",
          file=sys.stderr)
    return EXIT_OK


async def _calibrate(args) -> int:
    from browser.simulate.costs import CostsError, calibrate, default_costs_path

    path = args.output or default_costs_path()
    try:
        costs = await calibrate(sandbox=not args.no_sandbox)
        costs.save(path)
    except CostsError as error:
        return _fail(str(error), EXIT_FAILED)
    except OSError as error:
        return _fail(f"{path}: cannot save the costs ({error.strerror or error})", EXIT_FAILED)
    mb = 1024**2
    pages = ", ".join(f"{k} {v / mb:.1f} MB" for k, v in costs.page_bytes.items())
    print(f"renderer {costs.renderer_base_bytes / mb:.1f} MB; pages: {pages}; spawn {costs.spawn_ms:.0f} ms")
    print(f"minibrowser: saved the costs to {path}", file=sys.stderr)
    return EXIT_OK


def _names(text: str, every: tuple[str, ...], kind: str) -> list[str]:
    names = list(every) if text.strip() == "all" else [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise ValueError(f"--{kind} needs at least one name")
    return list(dict.fromkeys(names))


class _ProgressBar:
    """A progress bar on standard error when it is a terminal (rich.progress); nothing on a pipe.

    Used as ``with _ProgressBar(label) as show: run(..., progress=show)``; ``show`` is None on a pipe."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.bar = None

    def __enter__(self):
        if not sys.stderr.isatty():
            return None
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

        self.bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                            TimeRemainingColumn(), console=Console(file=sys.stderr), transient=False)
        self.bar.start()
        task = self.bar.add_task(self.label, total=None)

        def show(done: int, total: int) -> None:
            self.bar.update(task, completed=done, total=total)
        return show

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.stop()


async def _run(args) -> int:
    from browser.simulate import results as output
    from browser.simulate.costs import CostsError
    from browser.simulate.profiles import load_costs
    from browser.simulate.model import Design, ProcessModel, run_designs
    from browser.simulate.params import ParamError, parse_param, settings_for
    from browser.simulate.trace import TraceError, read_trace

    try:
        policies = _names(args.policy, DISTINCT_POLICY_NAMES, "policy")
        for name in policies:
            make_policy(name, budget_bytes=args.budget[0])
        models_text = _names(args.process_model, tuple(m.value for m in ProcessModel), "process-model")
        models = []
        for name in models_text:
            try:
                models.append(ProcessModel(name))
            except ValueError:
                raise ValueError(f"unknown process model {name!r}; the process models are: "
                                 f"{', '.join(m.value for m in ProcessModel)}") from None
        swept = [parse_param(text) for text in args.param]
        trace = read_trace(args.trace)
        costs = load_costs(args.costs)
    except (UnknownPolicy, ValueError, TraceError, CostsError, ParamError) as error:
        return _fail(str(error))
    budgets = args.budget
    designs = [Design(p, m, budget, settings, budget_in_label=len(budgets) > 1)
               for p in policies for settings in settings_for(p, swept) for m in models for budget in budgets]
    if args.tui and args.engine != "real":
        return _fail("--tui shows the real engine's browser; add --engine real")
    if args.tui and not (sys.stdin.isatty() and sys.stdout.isatty()):
        return _fail("--tui needs a terminal")
    if args.engine == "real" and (swept or args.cluster):
        return _fail("--param and --cluster work with the model engine; leave out --engine real")
    if args.cluster:
        from browser.simulate.cluster import ClusterError, check_address

        try:
            check_address(args.cluster)
        except ClusterError as error:
            return _fail(str(error))
    if args.engine == "real":
        from browser.frontends import FrontendMissing, SimulationStopped, find_frontend
        from browser.simulate.real import run_real

        try:
            frontend = find_frontend() if args.tui else None
        except FrontendMissing:
            return _fail("the terminal UI is not available in this build; leave out --tui")
        results = []
        try:
            for design in designs:
                with _ProgressBar(design.label) as show:
                    results.append(await run_real(trace, design, speed=args.speed, sandbox=not args.no_sandbox,
                                                  progress=None if args.tui else show,
                                                  window=frontend.trace_window() if frontend else None))
        except SimulationStopped as error:
            return _fail(str(error), EXIT_FAILED)
    elif args.cluster:
        from browser.simulate.cluster import ClusterError, run_designs_on_cluster

        try:
            with _ProgressBar(f"{len(designs)} designs x {trace.users} users on {args.cluster}") as show:
                results = run_designs_on_cluster(trace, designs, costs, args.cluster, progress=show)
        except ClusterError as error:
            return _fail(str(error), EXIT_FAILED)
    else:
        with _ProgressBar(f"{len(designs)} designs x {trace.users} users") as show:
            results = run_designs(trace, designs, costs, workers=args.workers, progress=show)
    if args.json:
        sys.stdout.write(output.to_json(results, trace=os.fspath(args.trace), engine=args.engine, costs=costs.source))
    elif args.csv:
        sys.stdout.write(output.to_csv(results))
    else:
        sys.stdout.write(output.table(results))
    if args.plot:
        if output.matplotlib_available():
            try:
                paths = output.plot_files(results, args.plot, fmt=args.format)
            except OSError as error:
                return _fail(f"{args.plot}: cannot write the plots ({error.strerror or error})", EXIT_FAILED)
            print(f"minibrowser: wrote {', '.join(paths)}", file=sys.stderr)
        else:
            print("minibrowser: matplotlib is not installed (pip install 'minibrowser[plots]'); "
                  "charts drawn in the terminal instead", file=sys.stderr)
            sys.stdout.write("\n" + output.terminal_charts(results))
    elif args.chart:
        sys.stdout.write("\n" + output.terminal_charts(results))
    _stop_if_the_reader_left()
    return EXIT_OK


def _stop_if_the_reader_left() -> None:
    """``simulate run ... | head``: a reader that left before the end makes the command stop
    quietly, as ``open --dump`` does (the CLI's handling of a broken pipe)."""
    from browser.output import output_reader_gone

    sys.stdout.flush()
    if output_reader_gone():
        raise BrokenPipeError(errno.EPIPE, "the reader of standard output went away")


def _validate(args) -> int:
    from browser.simulate.validate import report, run_validation

    with _ProgressBar("published figures") as show:
        rows = run_validation(users=args.users, progress=show)
    sys.stdout.write(report(rows, as_json=args.json))
    _stop_if_the_reader_left()
    return EXIT_OK
