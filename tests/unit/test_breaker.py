"""The circuit breaker shared by the typed clients and the gateway (pure logic, a fake clock)."""

from __future__ import annotations

import pytest

from contracts.kit.breaker import CircuitBreaker, CircuitOpen


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def opened(clock: Clock) -> CircuitBreaker:
    breaker = CircuitBreaker("erp", threshold=3, cooldown=10, clock=clock)
    for _ in range(3):
        assert breaker.allow()
        breaker.failed()
    return breaker


def test_consecutive_failures_open_the_circuit_and_a_success_resets_the_count() -> None:
    clock = Clock()
    breaker = CircuitBreaker("erp", threshold=3, cooldown=10, clock=clock)
    breaker.failed()
    breaker.failed()
    breaker.succeeded()
    breaker.failed()
    breaker.failed()
    assert breaker.allow()
    breaker.failed()
    assert not breaker.allow()
    with pytest.raises(CircuitOpen) as refused:
        breaker.before_call()
    assert refused.value.retry_in == 10


def test_after_the_cooldown_exactly_one_trial_call_goes_through() -> None:
    clock = Clock()
    breaker = opened(clock)
    clock.now += 4
    assert breaker.retry_after() == 6
    clock.now += 6
    assert breaker.allow()
    assert not breaker.allow()  # the trial is out; others wait for its answer
    breaker.succeeded()
    assert breaker.allow()
    assert breaker.allow()


def test_a_failed_trial_opens_the_circuit_for_another_cooldown() -> None:
    clock = Clock()
    breaker = opened(clock)
    clock.now += 10
    assert breaker.allow()
    breaker.failed()
    assert not breaker.allow()
    clock.now += 9.5
    assert not breaker.allow()
    assert breaker.retry_after() == 1
    clock.now += 0.5
    assert breaker.allow()


def test_a_trial_that_never_answers_is_replaced_after_a_cooldown() -> None:
    clock = Clock()
    breaker = opened(clock)
    clock.now += 10
    assert breaker.allow()  # this caller is cancelled and never reports back
    clock.now += 5
    assert not breaker.allow()
    clock.now += 5
    assert breaker.allow()
