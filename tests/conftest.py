"""Fixtures and markers shared by the whole test suite.

Markers:

* ``needs_root(reason)``: the test can only show what it shows as root (for
  example, that an attack works outside the sandbox when only root may do
  it).  As a normal user it is skipped, and the skip says why.
* ``security``: every test under ``tests/security/`` and the sandbox layer
  tests.  As root, where every one of them can run, a skipped security test
  fails the run: a sandbox check that silently did not run is not a pass.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support.httpserver import LocalHTTPServer, closed_port

ROOT = os.geteuid() == 0
SECURITY_DIR = Path(__file__).parent / "security"

needs_root = pytest.mark.needs_root

pytest_plugins = ["pytester"]  # tests/test_markers.py runs pytest on small suites of its own


@pytest.fixture(autouse=True, scope="session")
def browsers_of_this_run(tmp_path_factory):
    """The browsers this run starts list themselves in a registry of its own
    (``MINIBROWSER_REGISTRY``, inherited by every process a test starts):
    ``minibrowser open`` in a test never hands its URLs to a browser of the
    user's, or of another run, and ``ps`` lists only this run's."""
    path = tmp_path_factory.mktemp("registry")
    path.chmod(0o700)
    os.environ["MINIBROWSER_REGISTRY"] = str(path)
    yield str(path)


def pytest_configure(config) -> None:
    config.addinivalue_line("markers", "needs_root(reason): only root can show this; skipped, saying why, otherwise")
    config.addinivalue_line("markers", "security: a sandbox or trust-boundary test; as root none may be skipped")


def pytest_collection_modifyitems(config, items) -> None:
    for item in items:
        if SECURITY_DIR in Path(item.path).parents:
            item.add_marker(pytest.mark.security)
        marker = item.get_closest_marker("needs_root")
        if marker is not None and not ROOT:
            reason = marker.args[0] if marker.args else marker.kwargs.get("reason", "")
            item.add_marker(pytest.mark.skip(reason=f"needs root: {reason}" if reason else "needs root"))


_skipped_security_tests: list[str] = []


def pytest_runtest_logreport(report) -> None:
    if ROOT and report.skipped and "security" in report.keywords and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        _skipped_security_tests.append(f"{report.nodeid}: {reason}")


def pytest_sessionfinish(session, exitstatus) -> None:
    if _skipped_security_tests and exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter) -> None:
    if _skipped_security_tests:
        terminalreporter.section("security tests skipped as root", red=True)
        terminalreporter.write_line(f"As root every security test must run; {len(_skipped_security_tests)} "
                                    "were skipped, so this run fails:")
        for line in _skipped_security_tests:
            terminalreporter.write_line(f"  {line}")


@pytest.fixture
def http_server():
    """A real HTTP server on 127.0.0.1, stopped (threads joined) after the test."""
    with LocalHTTPServer() as server:
        yield server


@pytest.fixture(scope="session")
def unreachable_url() -> str:
    """An http URL on a 127.0.0.1 port that nothing listens on."""
    return f"http://127.0.0.1:{closed_port()}/"
