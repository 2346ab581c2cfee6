"""Fixtures shared by the whole test suite."""

from __future__ import annotations

import pytest

from support.httpserver import LocalHTTPServer, closed_port


@pytest.fixture
def http_server():
    """A real HTTP server on 127.0.0.1, stopped (threads joined) after the test."""
    with LocalHTTPServer() as server:
        yield server


@pytest.fixture(scope="session")
def unreachable_url() -> str:
    """An http URL on a 127.0.0.1 port that nothing listens on."""
    return f"http://127.0.0.1:{closed_port()}/"
