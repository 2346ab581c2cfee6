"""``minibrowser open --dump`` handed to a running browser, against lynx.

A browser runs (started through the Python API, on a profile of its own);
each timed run is a whole new ``minibrowser open --dump`` process, client
included, that hands a local 100 KB documentation page (a ``file:`` URL) to
it and prints the page as rendered there.  ``lynx -dump`` (``w3m -dump``
when lynx is missing) of the same page is the baseline, measured in the
same run, interleaved.  Target: the median at most 2x the baseline's (a
cold ``open --dump``, ``benchmarks/cold_start.py``, is 12-19x).

Also prints what the client process imports (``python -X importtime``).

    .venv/bin/python benchmarks/open_running.py [--runs N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

from _common import documentation_page
from cold_start import baseline_command, check, minibrowser_command

TARGET_RATIO = 2.0

RUNNING_BROWSER = """
import asyncio, signal, sys
from browser import Browser

async def main():
    async with Browser(profile=sys.argv[1]) as browser:
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        print("ready", flush=True)
        await stop.wait()

asyncio.run(main())
"""

HEAVY = ("msgspec", "zmq", "textual", "httpx", "asyncio", "psutil", "selectolax", "renderer", "tui")


def client_imports(command: list[str], env: dict) -> tuple[int, list[str], list[str]]:
    """How many modules the client imports, which of them are the project's, and which heavy ones."""
    result = subprocess.run([sys.executable, "-X", "importtime", *command[1:]] if command[0] == sys.executable
                            else [sys.executable, "-X", "importtime", command[0], *command[1:]],
                            capture_output=True, text=True, env=env, timeout=60)
    names = [line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines() if line.startswith("import time:")]
    names = [name for name in names if name != "package"]
    ours = [name for name in names if name.split(".")[0] in ("browser", "broker", "renderer", "tui")]
    heavy = sorted({name.split(".")[0] for name in names if name.split(".")[0] in HEAVY})
    return len(names), ours, heavy


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    baseline = baseline_command()
    if baseline is None:
        print("open_running: neither lynx nor w3m is installed, so there is no baseline to measure against: "
              "install one (apt-get install lynx) and run again")
        sys.exit(1)
    baseline_name, baseline_cmd = baseline
    with tempfile.TemporaryDirectory(prefix="open-running-") as scratch:
        page_path = os.path.join(scratch, "reference.html")
        page = documentation_page(100 * 1024)
        with open(page_path, "wb") as f:
            f.write(page)
        url = "file://" + page_path
        profile = os.path.join(scratch, "profile")
        env = dict(os.environ, XDG_RUNTIME_DIR=scratch)  # a registry of its own: only this browser is found
        running = subprocess.Popen([sys.executable, "-c", RUNNING_BROWSER, profile], env=env,
                                   stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
        try:
            if running.stdout.readline().strip() != "ready":
                sys.exit("open_running: the running browser did not start")
            ours = minibrowser_command() + ["open", "--dump", "--profile", profile, url]
            theirs = baseline_cmd + [url]
            cold = minibrowser_command() + ["open", "--dump", "--new-instance", "--profile", profile, url]
            for name, command in (("minibrowser", ours), (baseline_name, theirs)):  # untimed: warm the caches
                check(name, timed_run_env(command, env)[1])
            handed = timed_run_env(ours, env)[1].stdout
            own = timed_run_env(cold, env)[1].stdout
            same = "the same" if handed == own else "DIFFERENT"
            tiny = minibrowser_command() + ["open", "--dump", "--profile", profile, "data:text/html,tiny"]
            bare = [sys.executable, "-c", "pass"]
            ours_ms, theirs_ms, tiny_ms, bare_ms = [], [], [], []
            for _ in range(args.runs):
                for name, command, times in (("minibrowser", ours, ours_ms), (baseline_name, theirs, theirs_ms)):
                    elapsed, result = timed_run_env(command, env)
                    check(name, result)
                    times.append(elapsed)
                tiny_ms.append(timed_run_env(tiny, env)[0])
                bare_ms.append(timed_run_env(bare, env)[0])
            count, project, heavy = client_imports(ours, env)
        finally:
            running.terminate()
            running.wait(timeout=30)
    print(f"open --dump handed to a running browser: whole process, a local {len(page) // 1024} KB page, "
          f"{args.runs} runs each (ms)")
    for name, times in (("minibrowser open --dump", ours_ms), (f"{baseline_name} -dump", theirs_ms),
                        ("  the same, a tiny page", tiny_ms), ("  python -c pass", bare_ms)):
        print(f"  {name:24} median {statistics.median(times):7.1f}  min {min(times):7.1f}  max {max(times):7.1f}")
    ratio = statistics.median(ours_ms) / statistics.median(theirs_ms)
    verdict = "met" if ratio <= TARGET_RATIO else "NOT met"
    print(f"  ratio minibrowser/{baseline_name} (medians): {ratio:.1f}x  (target <= {TARGET_RATIO:g}x: {verdict})")
    print(f"  output: {same} as a browser of its own ('open --dump --new-instance'), {len(handed)} bytes")
    print(f"  the client imports {count} modules; the project's: {', '.join(project)}; "
          f"heavy ones: {', '.join(heavy) or 'none'} (of {', '.join(HEAVY)})")


def timed_run_env(command: list[str], env: dict) -> tuple[float, subprocess.CompletedProcess]:
    started = time.perf_counter()
    result = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, timeout=120, env=env)
    return (time.perf_counter() - started) * 1000, result


if __name__ == "__main__":
    main()
