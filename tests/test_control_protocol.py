"""The control socket's contract: the command line's hand-off speaks it with
the standard library alone, and its messages are the protocol's own."""

from __future__ import annotations

import json
import subprocess
import sys

import msgspec
import pytest

from broker import control_protocol as cp
from browser.control_client import DESCRIBE, open_request


def test_the_hand_off_messages_decode_as_the_protocols_structs():
    assert cp.decode_client(json.dumps(DESCRIBE).encode()) == cp.Describe()
    request = open_request(["about:blank", "file:///tmp/x.html"], dump=True, as_json=False, width=100)
    assert cp.decode_client(json.dumps(request).encode()) == cp.OpenUrls(
        ["about:blank", "file:///tmp/x.html"], dump=True, json=False, width=100)
    assert cp.decode_client(json.dumps(open_request(["a"], dump=False, as_json=False, width=None)).encode()) == \
        cp.OpenUrls(["a"])


@pytest.mark.parametrize("message, error", [
    ({"type": "OpenUrls", "urls": []}, "Expected `array` of length >= 1 - at `$.urls`"),
    ({"type": "OpenUrls", "urls": ["x"], "width": 5}, "Expected `int` >= 20 - at `$.width`"),
    ({"type": "OpenUrls", "urls": ["x"], "extra": 1}, "Object contains unknown field `extra`"),
    ({"type": "Call", "id": -1, "action": "close"}, "Expected `int` >= 0 - at `$.id`"),
    ({"type": "Call", "id": 1, "action": "format_disk"}, "Invalid enum value 'format_disk' - at `$.action`"),
    ({"type": "Description", "pid": 1}, "Invalid value 'Description' - at `$.type`"),  # the broker's, not a client's
])
def test_what_a_client_may_not_send_is_refused_by_decoding(message, error):
    with pytest.raises(msgspec.ValidationError) as raised:
        cp.decode_client(json.dumps(message).encode())
    assert str(raised.value) == error


def test_the_hand_off_imports_nothing_heavy():
    """``minibrowser open`` with a browser running is only this: no msgspec, ZeroMQ, asyncio or Textual."""
    code = ("import sys, browser.cli, browser.control_client; "
            "print(sorted({m.split('.')[0] for m in sys.modules} & "
            "{'msgspec', 'zmq', 'asyncio', 'textual', 'httpx', 'psutil', 'selectolax', 'renderer', 'tui'}))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert (result.returncode, result.stdout, result.stderr) == (0, "[]\n", "")
