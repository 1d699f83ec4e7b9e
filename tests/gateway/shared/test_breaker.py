"""`CircuitBreaker`: opens after N consecutive failures, probes once after the cool-down."""

from __future__ import annotations

import pytest

from tests.gateway.routing.conftest import Clock
from tfy_gateway.gateway.shared.breaker import CircuitBreaker


def test_consecutive_failures_open_it_and_a_success_in_between_resets_the_count() -> None:
    breaker = CircuitBreaker(3, 1.0, Clock(0.0))
    assert not breaker.failure() and not breaker.failure()
    assert not breaker.success(), "closing an already closed breaker is no transition"
    assert not breaker.failure() and not breaker.failure()
    assert breaker.failure(), "the third consecutive failure opens it"
    assert breaker.state == "open" and not breaker.allow()


def test_after_the_cool_down_one_probe_goes_through_and_decides() -> None:
    clock = Clock(0.0)
    breaker = CircuitBreaker(1, 1.0, clock)
    assert breaker.failure()
    clock.now = 0.99
    assert not breaker.allow()
    clock.now = 1.0
    assert breaker.allow() and breaker.state == "half-open"
    assert not breaker.allow(), "one probe at a time"
    assert not breaker.failure(), "a failed probe is no new transition"
    assert breaker.state == "open" and not breaker.allow()
    clock.now = 2.0
    assert breaker.allow()
    assert breaker.success() and breaker.state == "closed" and breaker.allow()


def test_an_abandoned_probe_gives_its_turn_to_the_next_call() -> None:
    clock = Clock(0.0)
    breaker = CircuitBreaker(1, 1.0, clock)
    breaker.failure()
    clock.now = 5.0
    assert breaker.allow()
    breaker.abandon()
    assert breaker.allow() and breaker.state == "half-open"


def test_failures_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        CircuitBreaker(0)
