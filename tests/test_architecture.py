"""The import rules of the architecture, read from the source with ``ast``.

Each rule is a wall the security model relies on (the trust diagram drawn by
the folders):

* ``renderer/`` imports nothing of ``broker/``, ``browser/``, ``tui/`` or ``network/``;
* ``broker/`` imports nothing of ``browser/`` or ``tui/``, of the renderer only
  its contract ``renderer.protocol``, and of ``network/`` only its contract
  ``network.protocol``;
* ``network/`` imports nothing of ``broker/``, ``browser/`` or ``tui/``, and of
  the renderer only the shared contract ``renderer.protocol``;
* ``lockdown/``, the sandbox's building blocks that the renderer and the
  network process share, imports nothing of the project;
* ``tui/`` uses ``browser/``'s public API only: the ``browser`` package's
  names and ``browser.api`` (never ``broker/``, ``renderer/``, ``network/``
  or another ``browser.*`` module);
* ``browser/`` imports nothing of ``tui/``: the command line finds its
  windows through the ``minibrowser.frontends`` entry points, and the public
  API (``browser``, ``browser.api``) nothing of the simulator built on it;
* no module outside ``tests/`` imports ``tests/``;
* no import cycles between modules;
* no private names across modules: nothing imports a name that starts with
  ``_`` from another module, and a private module (``broker.loader._http``)
  is imported only from inside its own package (and by the tests, which
  test it, as httpx's tests do).

Every import counts: at the top of a module, inside a function, and under
``if TYPE_CHECKING:``.  A violation is reported as ``path:line: what``.
"""

from __future__ import annotations

import ast
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: Top-level folders that are Python packages of the product, and the others read too.
PRODUCT = ("browser", "broker", "renderer", "tui", "network", "lockdown")
OTHERS = ("tests", "benchmarks")
#: What ``tui/`` may import of ``browser/``: its public API.
BROWSER_PUBLIC_API = frozenset({"browser", "browser.api"})
RULE = "(import rules in ARCHITECTURE.md)"


@dataclass(frozen=True)
class Import:
    path: str  # the importing file, relative to the tree
    line: int
    importer: str  # the importing module: broker.kernel
    target: str  # the module imported: broker.tabs (a submodule when one is named)
    name: str | None  # the name taken from it (from target import name), None for a module


def module_name(path: Path) -> str:
    parts = list(path.with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def python_files(root: Path) -> Iterator[Path]:
    for folder in (*PRODUCT, *OTHERS):
        base = root / folder
        if base.is_dir():
            for path in sorted(base.rglob("*.py")):
                if ".venv" not in path.parts and "__snapshots__" not in path.parts:
                    yield path.relative_to(root)


def read_imports(root: Path) -> tuple[set[str], list[Import]]:
    """Every module of the tree, and every import of a module of the tree."""
    files = list(python_files(root))
    modules = {module_name(path) for path in files}
    imports: list[Import] = []
    for path in files:
        importer = module_name(path)
        package = importer if path.name == "__init__.py" else importer.rpartition(".")[0]
        tree = ast.parse((root / path).read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    target = _first_party(alias.name, importer, modules)
                    if target is not None:
                        imports.append(Import(str(path), node.lineno, importer, target, None))
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")
                    anchor = anchor[: len(anchor) - (node.level - 1)]
                    base = ".".join([*anchor, *([base] if base else [])])
                base_module = _first_party(base, importer, modules)
                if base_module is None:
                    continue
                for alias in node.names:
                    submodule = f"{base_module}.{alias.name}"
                    if submodule in modules:
                        imports.append(Import(str(path), node.lineno, importer, submodule, None))
                    else:
                        imports.append(Import(str(path), node.lineno, importer, base_module, alias.name))
    return modules, imports


def _first_party(name: str, importer: str, modules: set[str]) -> str | None:
    """The module of the tree that ``name`` is, or None for a library.
    The tests run with ``tests/`` on the path too: there ``support`` is ``tests.support``."""
    if name in modules:
        return name
    if importer.startswith("tests.") and f"tests.{name}" in modules:
        return f"tests.{name}"
    if name.split(".")[0] in (*PRODUCT, *OTHERS):
        return name  # a module that does not exist: the import fails on its own; the rules still apply
    return None


def _top(module: str) -> str:
    return module.split(".")[0]


def layer_violation(item: Import) -> str | None:
    """Why ``item`` crosses a wall between folders, or None."""
    source, target = _top(item.importer), _top(item.target)
    if item.importer in BROWSER_PUBLIC_API and item.target.startswith("browser.simulate"):
        return f"{item.importer} imports {item.target}: the public API does not depend on the simulator built on it"
    if source == target:
        return None
    if target == "tests" and source != "tests":
        return f"{source}/ imports {item.target}: no module imports tests/"
    if source == "renderer" and target in ("broker", "browser", "tui", "network"):
        return f"renderer/ imports {item.target}: renderer/ imports nothing of broker/, browser/, tui/ or network/"
    if source == "broker":
        if target in ("browser", "tui"):
            return f"broker/ imports {item.target}: broker/ imports nothing of browser/ or tui/"
        if target == "renderer" and item.target != "renderer.protocol":
            return f"broker/ imports {item.target}: broker/ uses the renderer only through renderer.protocol"
        if target == "network" and item.target != "network.protocol":
            return f"broker/ imports {item.target}: broker/ uses the network process only through network.protocol"
    if source == "network":
        if target in ("broker", "browser", "tui"):
            return f"network/ imports {item.target}: network/ imports nothing of broker/, browser/ or tui/"
        if target == "renderer" and item.target != "renderer.protocol":
            return f"network/ imports {item.target}: network/ shares only renderer.protocol with the renderer"
    if source == "lockdown":
        return f"lockdown/ imports {item.target}: the shared sandbox blocks import nothing of the project"
    if source == "browser" and target == "tui":
        return (f"browser/ imports {item.target}: browser/ imports nothing of tui/ "
                "(front ends are found through the minibrowser.frontends entry points)")
    if source == "tui":
        if target == "browser" and item.target not in BROWSER_PUBLIC_API:
            return f"tui/ imports {item.target}: tui/ uses only browser's public API (the browser package, browser.api)"
        if target in ("broker", "renderer", "network"):
            return f"tui/ imports {item.target}: tui/ uses only browser's public API (the browser package, browser.api)"
    return None


def private_violation(item: Import) -> str | None:
    """Why ``item`` uses another module's private name, or None."""
    if item.name is not None and item.name.startswith("_") and not item.name.startswith("__"):
        return f"{item.importer} imports the private name {item.name} of {item.target}"
    parts = item.target.split(".")
    for index, part in enumerate(parts):
        if part.startswith("_") and not part.startswith("__"):
            owner = ".".join(parts[:index])
            inside = item.importer == owner or item.importer.startswith(owner + ".")
            if not inside and _top(item.importer) != "tests":
                return (f"{item.importer} imports the private module {'.'.join(parts[: index + 1])}: "
                        f"only {owner} and the modules in it may")
            break
    return None


def cycles(modules: set[str], imports: list[Import]) -> list[list[Import]]:
    """Each import cycle between modules, as the imports that close it (Tarjan's
    strongly connected components, then one cycle through each)."""
    edges: dict[str, dict[str, Import]] = {}
    for item in imports:
        if item.target in modules and item.target != item.importer:
            edges.setdefault(item.importer, {}).setdefault(item.target, item)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(edges.get(node, {})):
            if nxt not in index:
                connect(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            connect(node)
    found = []
    for component in components:
        members = set(component)
        path, seen, node = [], {component[0]: 0}, component[0]
        while True:  # walk inside the component until a module comes round again
            nxt = min(n for n in edges[node] if n in members)
            path.append(edges[node][nxt])
            if nxt in seen:
                found.append(path[seen[nxt]:])
                break
            seen[nxt] = len(path)
            node = nxt
    return found


def violations(root: Path) -> list[str]:
    """Every broken rule in the tree at ``root``, one line each, ``path:line: what``."""
    modules, imports = read_imports(root)
    problems = []
    for item in imports:
        for check in (layer_violation, private_violation):
            if (why := check(item)) is not None:
                problems.append(f"{item.path}:{item.line}: {why} {RULE}")
    for cycle in cycles(modules, imports):
        chain = " -> ".join([cycle[0].importer, *(item.target for item in cycle)])
        where = ", ".join(f"{item.path}:{item.line}" for item in cycle)
        problems.append(f"{cycle[0].path}:{cycle[0].line}: import cycle {chain} ({where}) {RULE}")
    return sorted(dict.fromkeys(problems))


# -- the tree itself -----------------------------------------------------------------


def test_the_tree_keeps_the_import_rules():
    found = violations(ROOT)
    assert found == [], "import rules broken:\n" + "\n".join(found)


def test_the_checker_reads_the_whole_tree():
    """It sees every folder, and imports inside functions and under TYPE_CHECKING."""
    modules, imports = read_imports(ROOT)
    assert {_top(m) for m in modules} >= {"browser", "broker", "renderer", "tui", "tests", "benchmarks"}
    arrows = {(item.importer, item.target) for item in imports}
    assert ("browser.cli", "browser.security") in arrows  # inside a function
    assert ("broker.kernel", "broker.tabs") in arrows  # at the top
    assert ("tui.app", "browser.api") in arrows  # inside a function


# -- the checker fails when it should --------------------------------------------------


def make_tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return root


PACKAGES = {f"{name}/__init__.py": "" for name in ("browser", "broker", "renderer", "tui", "tests")}


def test_a_clean_fake_tree_has_no_violations(tmp_path):
    tree = make_tree(tmp_path, {
        **PACKAGES,
        "broker/kernel.py": "from renderer import protocol\nfrom broker.loader import load\n",
        "broker/loader/__init__.py": "from broker.loader._http import fetch as load\n",
        "broker/loader/_http.py": "def fetch(): pass\n",
        "renderer/protocol.py": "",
        "browser/api.py": "from broker import kernel\n",
        "tui/app.py": "from browser import safe_line\nfrom browser.api import Browser\n",
        "tests/test_x.py": "from broker.loader._http import fetch\nfrom support.server import run\n",
        "tests/support/__init__.py": "",
        "tests/support/server.py": "def run(): pass\n",
    })
    assert violations(tree) == []


def test_each_wall_is_reported_with_its_file_and_line(tmp_path):
    tree = make_tree(tmp_path, {
        **PACKAGES,
        "renderer/protocol.py": "",
        "renderer/page.py": "import os\n\ndef f():\n    from broker import kernel\n",
        "broker/kernel.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from browser.api import Browser\n",
        "broker/host.py": "from renderer.page import Page\nfrom renderer import protocol\n",
        "browser/api.py": "",
        "browser/cli.py": "",
        "tui/app.py": "from browser.cli import main\nfrom renderer.protocol import Frame\n",
        "benchmarks/run.py": "from tests.support import server\n",
        "tests/support/__init__.py": "",
        "tests/support/server.py": "",
    })
    assert violations(tree) == [
        "benchmarks/run.py:1: benchmarks/ imports tests.support.server: no module imports tests/ " + RULE,
        "broker/host.py:1: broker/ imports renderer.page: broker/ uses the renderer only through renderer.protocol "
        + RULE,
        "broker/kernel.py:3: broker/ imports browser.api: broker/ imports nothing of browser/ or tui/ " + RULE,
        "renderer/page.py:4: renderer/ imports broker.kernel: renderer/ imports nothing of broker/, browser/, "
        "tui/ or network/ " + RULE,
        "tui/app.py:1: tui/ imports browser.cli: tui/ uses only browser's public API (the browser package, "
        "browser.api) " + RULE,
        "tui/app.py:2: tui/ imports renderer.protocol: tui/ uses only browser's public API (the browser package, "
        "browser.api) " + RULE,
    ]


def test_the_product_does_not_import_its_front_ends_or_the_api_its_simulator(tmp_path):
    tree = make_tree(tmp_path, {
        **PACKAGES,
        "browser/api.py": "def record():\n    from browser.simulate.record import Recorder\n",
        "browser/cli.py": "def tui():\n    from tui.app import run_app\n",
        "browser/simulate/__init__.py": "",
        "browser/simulate/record.py": "from browser.api import Browser\n",
        "tui/app.py": "",
    })
    assert violations(tree) == [
        "browser/api.py:2: browser.api imports browser.simulate.record: the public API does not depend on the "
        "simulator built on it " + RULE,
        "browser/api.py:2: import cycle browser.api -> browser.simulate.record -> browser.api "
        "(browser/api.py:2, browser/simulate/record.py:1) " + RULE,
        "browser/cli.py:2: browser/ imports tui.app: browser/ imports nothing of tui/ (front ends are found "
        "through the minibrowser.frontends entry points) " + RULE,
    ]


def test_the_network_folder_is_held_to_its_contract(tmp_path):
    tree = make_tree(tmp_path, {
        **PACKAGES,
        "network/__init__.py": "",
        "network/protocol.py": "from renderer.protocol import MAX_DOCUMENT_BYTES\n",
        "network/http.py": "from broker.sites import site_of\n",
        "broker/sites.py": "",
        "broker/net.py": "from network import protocol\nfrom network.http import get\n",
        "renderer/protocol.py": "",
    })
    assert violations(tree) == [
        "broker/net.py:2: broker/ imports network.http: broker/ uses the network process only through "
        "network.protocol " + RULE,
        "network/http.py:1: network/ imports broker.sites: network/ imports nothing of broker/, browser/ or tui/ "
        + RULE,
    ]


def test_the_shared_sandbox_blocks_import_nothing_of_the_project(tmp_path):
    tree = make_tree(tmp_path, {
        **PACKAGES,
        "lockdown/__init__.py": "",
        "lockdown/seccomp.py": "from lockdown import landlock\nfrom renderer.protocol import SandboxPolicy\n",
        "lockdown/landlock.py": "",
        "renderer/protocol.py": "",
        "renderer/sandbox.py": "from lockdown import seccomp\n",
    })
    assert violations(tree) == [
        "lockdown/seccomp.py:2: lockdown/ imports renderer.protocol: the shared sandbox blocks import nothing "
        "of the project " + RULE,
    ]


def test_private_names_and_modules_stay_home(tmp_path):
    tree = make_tree(tmp_path, {
        **PACKAGES,
        "browser/cli.py": "def _reader_gone(): pass\n",
        "browser/command.py": "def f():\n    from browser.cli import _reader_gone\n",
        "broker/loader/__init__.py": "",
        "broker/loader/_http.py": "",
        "broker/tabs.py": "from broker.loader import _http\n",
    })
    assert violations(tree) == [
        "broker/tabs.py:1: broker.tabs imports the private module broker.loader._http: only broker.loader and "
        "the modules in it may " + RULE,
        "browser/command.py:2: browser.command imports the private name _reader_gone of browser.cli " + RULE,
    ]


def test_an_import_cycle_is_reported_once_with_every_arrow(tmp_path):
    tree = make_tree(tmp_path, {
        **PACKAGES,
        "broker/kernel.py": "from broker.tabs import Tab\n",
        "broker/tabs.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from broker.kernel import Kernel\n",
    })
    assert violations(tree) == [
        "broker/kernel.py:1: import cycle broker.kernel -> broker.tabs -> broker.kernel "
        "(broker/kernel.py:1, broker/tabs.py:3) " + RULE,
    ]
