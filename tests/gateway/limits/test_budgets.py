"""`Limiter` (budgets, V1): spend on every matching rule, the first decides, holds settle to real cost."""

from __future__ import annotations

from typing import Any

import pytest

from tests.gateway.limits.conftest import T0, Clock, SyncLimits, caller, limiter
from tests.gateway.routing.conftest import snapshot_of
from tfy_gateway.gateway.accounting.cost import ModelPricing
from tfy_gateway.gateway.accounting.pricing import TokenPrice
from tfy_gateway.gateway.limits import LimitPolicies, LimitRequest, Refused, compile_budgets
from tfy_gateway.gateway.limits.bounds import MAX_AMOUNT, AmountTooLarge
from tfy_gateway.gateway.limits.calendar import DAY, MONTH

# $1 per 1000 input or output tokens: a request of 10 prompt tokens and max_tokens 90 holds $0.10.
PRICING = ModelPricing(TokenPrice(input=1.0, output=1.0))


def budgets(*specs: dict[str, Any]) -> LimitPolicies:
    manifest = {"name": "budgets", "type": "gateway-budget-config", "rules": list(specs)}
    return LimitPolicies(budgets=compile_budgets(snapshot_of([manifest])))


def budget(rule_id: str, limit: float, unit: str = "cost_per_day", **extra: Any) -> dict[str, Any]:
    return {"id": rule_id, "when": extra.pop("when", {}), "limit_to": limit, "unit": unit, **extra}


def priced(user: str = "a@x", max_tokens: int = 90, **extra: Any) -> LimitRequest:
    body = {"model": "fake/gpt-4o", "messages": [{"role": "user", "content": "x" * 40}], "max_tokens": max_tokens}
    request = caller(user, body=body, **extra)
    return LimitRequest(**{**request.__dict__, "pricing": PRICING})


def admitted(limits: SyncLimits, policies: LimitPolicies, request: LimitRequest, attempts: int) -> int:
    count = 0
    for _ in range(attempts):
        try:
            limits.reserve(policies, request)
            count += 1
        except Refused:
            pass
    return count


def test_a_budget_admits_while_spend_and_holds_are_below_its_limit() -> None:
    limits, _ = limiter()
    policies = budgets(budget("daily", 1.0))
    # Each request holds its estimate ($0.10): ten fit, the eleventh finds the budget spent.
    assert admitted(limits, policies, priced(), 20) == 10


def test_settling_replaces_the_estimate_with_the_real_cost() -> None:
    limits, _ = limiter()
    policies = budgets(budget("daily", 1.0))
    held = [limits.reserve(policies, priced()) for _ in range(10)]
    assert admitted(limits, policies, priced(), 1) == 0
    for reservation in held:
        assert reservation is not None
        limits.settle(reservation, release=False, tokens=20, cost=0.02)
    assert limits.used(held[0]) == 200_000_000  # 10 x $0.02 in nano-USD
    assert admitted(limits, policies, priced(), 20) == 8  # $0.20 spent: room for 8 holds of $0.10


def test_spend_counts_against_every_matching_rule_and_the_first_decides() -> None:
    limits, _ = limiter()
    policies = budgets(
        budget("alice", 10.0, when={"subjects": ["user:a@x"]}),
        budget("everyone", 0.25),
    )
    # Alice's rule decides for her: the $0.25 catch-all below it is charged but never refuses her.
    assert admitted(limits, policies, priced("a@x"), 5) == 5
    # Bob only matches the catch-all, which Alice's spend already exhausted.
    assert admitted(limits, policies, priced("b@x"), 1) == 0
    reservation = limits.reserve(policies, priced("a@x"))
    assert reservation is not None
    assert [rule.rule_id for rule in reservation.budgets] == ["alice", "everyone"]


def test_budget_applies_per_user_gives_each_user_a_budget() -> None:
    limits, _ = limiter()
    policies = budgets(budget("per-user", 0.2, budget_applies_per=["user"]))
    assert admitted(limits, policies, priced("a@x"), 5) == 2
    assert admitted(limits, policies, priced("b@x"), 5) == 2


def test_audit_mode_tracks_without_blocking_and_names_the_rule() -> None:
    limits, _ = limiter()
    policies = budgets(budget("watch", 0.1, audit_mode=True))
    assert admitted(limits, policies, priced(), 5) == 5
    reservation = limits.reserve(policies, priced())
    assert reservation is not None and [rule.rule_id for rule in reservation.would_block] == ["watch"]
    assert limits.used(reservation) == 600_000_000


def test_token_budgets_count_input_and_output_tokens() -> None:
    limits, _ = limiter()
    policies = budgets(budget("tokens", 250, "tokens_per_day"))
    assert admitted(limits, policies, priced(max_tokens=90), 5) == 3  # 100 tokens held each: 0, 100, 200 < 250


def test_the_refusal_says_spent_limit_scope_and_when_it_resets() -> None:
    limits, clock = limiter()
    policies = budgets(budget("per-user", 0.1, budget_applies_per=["user"]))
    limits.reserve(policies, priced())
    clock.now = T0 + 3_600
    with pytest.raises(Refused) as refused:
        limits.reserve(policies, priced())
    refusal = refused.value.refusal
    assert (refusal.kind, refusal.rule_id, refusal.limit, refusal.used) == ("budget", "per-user", 0.1, 0.1)
    ends = DAY.expires_at(DAY.index(clock.now))
    assert refusal.retry_after_s == pytest.approx(ends - clock.now)
    assert "Budget 'per-user' exhausted: it allows $0.1 per day for user user:a@x" in refusal.message
    assert "It resets at" in refusal.message


def test_a_new_period_starts_from_zero() -> None:
    limits, clock = limiter()
    daily, monthly = budgets(budget("d", 0.1)), budgets(budget("m", 0.1, "cost_per_month"))
    for policies in (daily, monthly):
        assert admitted(limits, policies, priced(), 3) == 1
    clock.now = DAY.expires_at(DAY.index(T0))  # midnight UTC
    assert admitted(limits, daily, priced(), 3) == 1
    assert admitted(limits, monthly, priced(), 3) == (1 if MONTH.index(clock.now) != MONTH.index(T0) else 0)
    clock.now = MONTH.expires_at(MONTH.index(T0))  # the 1st of next month
    assert admitted(limits, monthly, priced(), 3) == 1


def test_a_release_gives_the_hold_back() -> None:
    limits, _ = limiter()
    policies = budgets(budget("d", 0.1))
    reservation = limits.reserve(policies, priced())
    assert reservation is not None and admitted(limits, policies, priced(), 1) == 0
    limits.settle(reservation, release=True, tokens=None, cost=None)
    assert admitted(limits, policies, priced(), 1) == 1


def test_an_audited_budget_of_zero_is_watched_without_alerting() -> None:
    limits, _ = limiter()
    alerts = {"thresholds": [50], "notification_target": [{"type": "slack-webhook", "notification_channel": "c"}]}
    policies = budgets(budget("zero", 0, audit_mode=True, alerts=alerts))
    for _ in range(3):  # the second and third through the planned shape's path
        reservation = limits.reserve(policies, priced())
        assert reservation is not None and reservation.would_block
        limits.settle(reservation, release=False, tokens=10, cost=0.5)
    assert limits.alerts == [] and limits.at_once == 2


def test_each_threshold_alerts_once_per_period_and_entity() -> None:
    limits, clock = limiter()
    alerts = {
        "thresholds": [50, 90, 100],
        "notification_target": [{"type": "slack-webhook", "notification_channel": "c"}],
    }
    policies = budgets(budget("d", 1.0, budget_applies_per=["user"], alerts=alerts))

    def spend(user: str, cost: float) -> None:
        reservation = limits.reserve(policies, priced(user))
        assert reservation is not None
        limits.settle(reservation, release=False, tokens=10, cost=cost)

    spend("a@x", 0.4)
    assert limits.alerts == []
    spend("a@x", 0.2)  # 60%
    spend("a@x", 0.05)  # 65%: 50% already reported
    assert [(a.threshold, a.entity, a.used) for a in limits.alerts] == [(50.0, "user user:a@x", 0.6)]
    spend("a@x", 0.5)  # 115%: both remaining thresholds at once
    assert [a.threshold for a in limits.alerts] == [50.0, 90.0, 100.0]
    spend("b@x", 0.6)  # another user has thresholds of their own
    assert [a.entity for a in limits.alerts].count("user user:b@x") == 1
    alert = limits.alerts[-1]
    assert (alert.rule_id, alert.unit, alert.limit, alert.targets[0]["type"]) == (
        "d",
        "cost_per_day",
        1.0,
        "slack-webhook",
    )
    assert alert.period.startswith("day ")
    clock.now = DAY.expires_at(DAY.index(T0)) + 1  # next day: a@x may alert again
    spend("a@x", 0.6)
    assert [a.entity for a in limits.alerts].count("user user:a@x") == 4


def test_unpriced_models_hold_no_cost() -> None:
    limits, _ = limiter()
    policies = budgets(budget("d", 0.000001))
    assert admitted(limits, policies, caller(), 5) == 5


def test_the_limiter_uses_its_clock() -> None:
    clock = Clock(T0)
    limits = SyncLimits(clock)
    policies = budgets(budget("d", 0.1))
    assert admitted(limits, policies, priced(), 2) == 1
    clock.advance(86_400)
    assert admitted(limits, policies, priced(), 2) == 1


def test_a_request_whose_worst_case_cost_no_counter_can_hold_is_refused_naming_its_cap() -> None:
    limits, _ = limiter()
    policies = budgets(budget("daily", 1.0))
    dear = ModelPricing(TokenPrice(input=1.0, output=1e12))  # a manifest's price: $1e9 per output token
    request = LimitRequest(**{**priced(max_tokens=1000).__dict__, "pricing": dear})
    with pytest.raises(AmountTooLarge) as refused:
        limits.reserve(policies, request)
    assert refused.value.param == "max_tokens"
    assert "more than one budget counter can hold ($9,007,199): lower 'max_tokens'" in refused.value.message
    assert len(limits.state) == 0, "nothing was held"
    assert limits.reserve(policies, priced()) is not None, "the budget still admits"


def test_a_settlement_reporting_an_absurd_cost_keeps_spend_within_range() -> None:
    limits, _ = limiter()
    policies = budgets(budget("daily", 1.0))
    reservation = limits.reserve(policies, priced())
    assert reservation is not None
    limits.settle(reservation, release=False, tokens=20, cost=1e300)
    assert limits.used(reservation) == MAX_AMOUNT
    with pytest.raises(Refused):  # spent, not wrapped around to a negative spend that admits everybody
        limits.reserve(policies, priced())
