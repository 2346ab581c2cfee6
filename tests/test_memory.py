"""broker/memory.py: how the broker judges a renderer's report of its own memory."""

from __future__ import annotations

import os

import msgspec
import pytest

from broker.bad_message import BadMessage
from broker.memory import RESIDENT_SLACK_BYTES, MemoryInfo, check_memory_report, peak_resident
from renderer import protocol

MiB = 1024 * 1024
PEAK = 40 * MiB


def report(*, renderer=3, uss=10 * MiB, pss=12 * MiB, rss=30 * MiB):
    return protocol.MemoryReport(renderer=renderer, request=1, rss=rss, pss=pss, uss=uss)


def test_a_consistent_report_is_taken_as_it_is():
    assert check_memory_report(report(), renderer=3, peak_resident=PEAK) == MemoryInfo(10 * MiB, 12 * MiB, 30 * MiB)


def test_a_report_at_the_peak_within_rounding_is_taken():
    at_peak = report(uss=PEAK, pss=PEAK, rss=PEAK + RESIDENT_SLACK_BYTES)
    assert check_memory_report(at_peak, renderer=3, peak_resident=PEAK) == MemoryInfo(PEAK, PEAK, PEAK + RESIDENT_SLACK_BYTES)


def test_a_renderer_that_cannot_measure_itself_gives_no_figures():
    assert check_memory_report(report(uss=None, pss=None, rss=None), renderer=3, peak_resident=PEAK) is None


def test_a_report_for_a_process_that_is_gone_is_not_held_against_it():
    assert check_memory_report(report(), renderer=3, peak_resident=None) is None


@pytest.mark.parametrize(
    "claim",
    [
        report(rss=PEAK + RESIDENT_SLACK_BYTES + 1, pss=PEAK, uss=PEAK),  # more resident than ever was
        report(uss=13 * MiB),  # more unique than proportional
        report(pss=31 * MiB),  # more proportional than resident
        report(uss=None),  # some figures but not all
    ],
    ids=["over-the-peak", "uss-over-pss", "pss-over-rss", "partial"],
)
def test_an_impossible_report_is_a_bad_message(claim):
    assert check_memory_report(claim, renderer=3, peak_resident=PEAK) is BadMessage.MEMORY_REPORT_OUT_OF_BOUNDS


def test_a_report_for_another_tab_or_of_another_type_answers_nothing_asked():
    assert check_memory_report(report(renderer=4), renderer=3, peak_resident=PEAK) is BadMessage.UNEXPECTED_REPLY
    pong = protocol.Pong(renderer=3, seq=1)
    assert check_memory_report(pong, renderer=3, peak_resident=PEAK) is BadMessage.UNEXPECTED_REPLY


@pytest.mark.parametrize("value", [-1, protocol.MAX_MEMORY_BYTES + 1])
def test_figures_out_of_the_protocol_range_do_not_decode(value):
    encoded = protocol.encode(report(rss=value))
    with pytest.raises(msgspec.ValidationError):
        protocol.to_broker_decoder.decode(encoded)


def test_the_peak_is_read_from_the_kernel():
    with open("/proc/self/status") as status:
        expected = next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmHWM:"))
    assert peak_resident(os.getpid()) >= expected > 0
    assert peak_resident(2**22 + 1) is None  # above pid_max: no such process
