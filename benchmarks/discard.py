"""Memory given back by discarding a tab.

For each page: the renderer's USS just before the discard (what ending the
process gives back) against what the discarded tab still costs (its
compressed row in the profile).  Target: at least 95 % given back.

    .venv/bin/python benchmarks/discard.py [--page FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile

from _common import documentation_page, page_of_size, serve
from broker.memory import measure_now
from browser import Browser, LifecyclePolicy


FORM = (b"<!doctype html><title>Small form</title><h1>Sign in</h1><form action=/x>"
        b"<input name=user><input type=password name=pw><textarea name=note></textarea><input type=submit></form>")


async def run(routes: dict[str, bytes]) -> None:
    with serve(routes) as base, tempfile.TemporaryDirectory() as profile:
        async with Browser(policy=LifecyclePolicy.manual(), profile=profile) as browser:
            print(f"{'page':<12} {'HTML KB':>8} {'USS before MB':>14} {'snapshot KB':>12} {'given back':>11}")
            for path, body in routes.items():
                tab = await browser.open(base + path)
                if tab.frame.fields:
                    await tab.set_field(tab.frame.fields[0].id, value="typed by the user")
                tab.scroll_to(10)
                await browser.open("about:blank")  # the tab goes to the background
                await asyncio.sleep(0.5)
                uss = measure_now(tab.pid).uss
                await tab.discard()
                cost = tab.snapshot_bytes
                print(f"{path:<12} {len(body) / 1024:8.0f} {uss / 1024**2:14.2f} {cost / 1024:12.1f} "
                      f"{(1 - cost / uss) * 100:10.2f}%")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--page", help="a large real-world HTML file (default: a generated 500 KB page)")
    args = parser.parse_args()
    routes = {"/form": FORM, "/synthetic": page_of_size(100_000)}
    if args.page:
        with open(args.page, "rb") as page:
            routes["/doc"] = page.read()
    else:
        routes["/doc"] = documentation_page(500_000)
    asyncio.run(run(routes))


if __name__ == "__main__":
    main()
