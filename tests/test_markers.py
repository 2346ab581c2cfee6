"""The suite's own rules (tests/conftest.py): root-only tests say so when
skipped, and as root a skipped security test fails the run."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = os.geteuid() == 0
SUITE_CONFTEST = Path(__file__).parent / "conftest.py"

# The inner suite's conftest takes the hooks of ours (loaded under another
# name, so that it does not clash with the inner conftest module).
INNER_CONFTEST = f"""
import importlib.util, sys
sys.path.insert(0, {str(SUITE_CONFTEST.parent.parent)!r})  # tests.support.httpserver, as in the real suite
spec = importlib.util.spec_from_file_location("suite_conftest", {str(SUITE_CONFTEST)!r})
suite = importlib.util.module_from_spec(spec)
spec.loader.exec_module(suite)
pytest_configure = suite.pytest_configure
pytest_runtest_logreport = suite.pytest_runtest_logreport
pytest_sessionfinish = suite.pytest_sessionfinish
pytest_terminal_summary = suite.pytest_terminal_summary
pytest_collection_modifyitems = suite.pytest_collection_modifyitems
"""


@pytest.fixture
def inner(pytester):
    pytester.makeconftest(INNER_CONFTEST)
    return pytester


def test_a_root_only_test_says_why_it_is_skipped_for_a_normal_user(inner):
    inner.makepyfile(test_inner="""
        import os, pytest
        @pytest.mark.needs_root("shows that only root may do it")
        def test_root_only():
            assert os.geteuid() == 0
    """)
    result = inner.runpytest_subprocess("-rs")
    if ROOT:
        result.assert_outcomes(passed=1)
    else:
        result.assert_outcomes(skipped=1)
        result.stdout.fnmatch_lines(["SKIPPED [[]1[]] *: needs root: shows that only root may do it"])
        assert result.ret == pytest.ExitCode.OK


def test_a_skipped_security_test_fails_the_run_as_root(inner):
    inner.makepyfile(test_inner="""
        import pytest
        @pytest.mark.security
        def test_layer():
            pytest.skip("the kernel has no such layer")
        def test_other():
            pass
    """)
    result = inner.runpytest_subprocess()
    result.assert_outcomes(passed=1, skipped=1)
    if ROOT:
        assert result.ret == pytest.ExitCode.TESTS_FAILED
        result.stdout.fnmatch_lines([
            "*security tests skipped as root*",
            "As root every security test must run; 1 were skipped, so this run fails:",
            "  test_inner.py::test_layer: Skipped: the kernel has no such layer",
        ])
    else:
        assert result.ret == pytest.ExitCode.OK


def test_a_security_test_that_runs_does_not_fail_the_run(inner):
    inner.makepyfile(test_inner="""
        import pytest
        @pytest.mark.security
        def test_layer():
            pass
    """)
    result = inner.runpytest_subprocess()
    result.assert_outcomes(passed=1)
    assert result.ret == pytest.ExitCode.OK
