"""RestartBackoff on an injected clock: how long a dead process waits before it is started again."""

from __future__ import annotations

import pytest

from broker.restart_backoff import RestartBackoff


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def test_no_death_no_wait(clock):
    backoff = RestartBackoff(clock=clock)
    assert (backoff.delay_now(), backoff.deaths) == (0.0, 0)


def test_deaths_in_a_row_double_the_delay_up_to_the_maximum_and_never_give_up(clock):
    backoff = RestartBackoff(initial=0.1, maximum=30.0, reset_after=60.0, clock=clock)
    delays = []
    for _ in range(12):
        delays.append(backoff.record_death())
        clock.now += delays[-1]  # it dies again as soon as it is started
    assert delays == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 6.4, 12.8, 25.6, 30.0, 30.0, 30.0])
    assert backoff.deaths == 12
    assert backoff.delay_now() == 0.0  # the twelfth delay is over: a start is allowed


def test_delay_now_counts_down_to_zero(clock):
    backoff = RestartBackoff(initial=2.0, clock=clock)
    assert backoff.record_death() == 2.0
    assert backoff.delay_now() == 2.0
    clock.now += 0.5
    assert backoff.delay_now() == 1.5
    clock.now += 1.5
    assert backoff.delay_now() == 0.0
    clock.now += 10
    assert backoff.delay_now() == 0.0


def test_deaths_far_apart_start_again_from_the_initial_delay(clock):
    backoff = RestartBackoff(initial=0.1, maximum=30.0, reset_after=60.0, clock=clock)
    for _ in range(5):
        backoff.record_death()
    assert backoff.delay_now() == pytest.approx(1.6)
    clock.now += 1.6 + 59.9  # started, then ran for less than reset_after
    assert backoff.record_death() == pytest.approx(3.2)
    clock.now += 3.2 + 60.0  # started, then ran for reset_after: it was healthy
    assert backoff.record_death() == pytest.approx(0.1)
    assert backoff.deaths == 1


@pytest.mark.parametrize(("arguments", "message"), [
    ({"initial": 0}, "need 0 < initial <= maximum, got initial=0, maximum=30.0"),
    ({"initial": 5, "maximum": 1}, "need 0 < initial <= maximum, got initial=5, maximum=1"),
    ({"reset_after": 0}, "reset_after must be positive, got 0"),
])
def test_impossible_settings_are_refused(arguments, message):
    with pytest.raises(ValueError) as refused:
        RestartBackoff(**arguments)
    assert str(refused.value) == message
