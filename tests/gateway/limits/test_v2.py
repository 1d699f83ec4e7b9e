"""V2 limits (tenant-rate-limit-config/model, tenant-/team-budget-config): filters, windows,
applies_to and overrides, every matching rule must allow, modes, and V1 before V2."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.gateway.limits.conftest import SyncLimits, limiter
from tests.gateway.limits.test_budgets import PRICING, admitted, priced
from tests.gateway.routing.conftest import snapshot_of
from tfy_gateway.gateway.limits import LimitPolicies, LimitRequest, Refused, compile_policies

GPT = "openai-main/gpt-4o"
EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def policies(*manifests: dict[str, Any]) -> LimitPolicies:
    return compile_policies(snapshot_of(list(manifests)))


def rate(name: str, limits: dict[str, int], applies_to: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "type": "tenant-rate-limit-config/model",
        "limits": limits,
        "applies_to": applies_to or {"type": "aggregate"},
        "mode": extra.pop("mode", "enforce"),
        **extra,
    }


def budget(
    name: str, limits: dict[str, float], applies_to: dict[str, Any] | None = None, **extra: Any
) -> dict[str, Any]:
    return {
        "name": name,
        "type": extra.pop("type", "tenant-budget-config"),
        "limits": limits,
        "applies_to": applies_to or {"type": "aggregate"},
        "mode": extra.pop("mode", "enforce"),
        **extra,
    }


def ask(user: str = "a@x", model: str = GPT, **extra: Any) -> LimitRequest:
    request = priced(user, **extra)
    return LimitRequest(**{**request.__dict__, "model": model, "pricing": PRICING})


def test_every_window_of_a_rule_must_have_room() -> None:
    limits, clock = limiter()
    compiled = policies(rate("two-windows", {"requests_per_minute": 3, "requests_per_hour": 4}))
    assert admitted(limits, compiled, ask(), 10) == 3
    clock.advance(60)
    assert admitted(limits, compiled, ask(), 10) == 1, "the hour window holds 3 of its 4"


def test_every_matching_v2_rule_must_allow_and_is_charged() -> None:
    limits, _ = limiter()
    compiled = policies(
        rate("loose", {"requests_per_minute": 100}),
        rate("tight", {"requests_per_minute": 2}, when={"models": {"in": [GPT]}}),
    )
    assert admitted(limits, compiled, ask(), 5) == 2
    assert admitted(limits, compiled, ask(model="other/m"), 5) == 5  # only `loose` matches it
    reservation = limits.reserve(compiled, ask(model="other/m"))
    assert reservation is not None and [rule.rule_id for rule in reservation.applied] == ["loose"]
    with pytest.raises(Refused) as refused:
        limits.reserve(compiled, ask())
    assert refused.value.refusal.rule_id == "tight"


@pytest.mark.parametrize(
    ("when", "request_", "matches"),
    [
        ({"subjects": {"users": {"in": ["a@x"]}}}, ask("a@x"), True),
        ({"subjects": {"users": {"in": ["a@x"]}}}, ask("b@x"), False),
        ({"subjects": {"users": {"not_in": ["a@x"]}}}, ask("a@x"), False),
        ({"subjects": {"teams": {"in": ["backend"]}}}, ask("a@x", teams=("backend",)), True),
        ({"subjects": {"teams": {"not_in": ["ops"]}}}, ask("a@x", teams=("backend", "ops")), False),
        ({"subjects": {"users": {"in": ["a@x"]}}}, ask("virtualaccount:ci"), False),
        ({"subjects": {"virtual_accounts": {"in": ["ci"]}}}, ask("virtualaccount:ci"), True),
        ({"models": {"not_in": [GPT]}}, ask(), False),
        ({"provider_accounts": {"in": ["openai-main"]}}, ask(), True),
        ({"provider_accounts": {"in": ["azure"]}}, ask(), False),
        ({"metadata": {"env": {"in": ["prod"]}}}, ask(metadata={"env": "prod"}), True),
        ({"metadata": {"env": {"in": ["prod"]}}}, ask(), False),
        ({"metadata": {"env": {"not_in": ["dev"]}}}, ask(), True),
    ],
)
def test_in_and_not_in_filters(when: dict[str, Any], request_: LimitRequest, matches: bool) -> None:
    limits, _ = limiter()
    compiled = policies(rate("filtered", {"requests_per_minute": 0}, when=when))
    assert admitted(limits, compiled, request_, 1) == (0 if matches else 1)
    (rule,) = compiled.v2.rate_limits
    assert rule.match.matches(request_) is matches
    assert (rule.match.mismatch(request_) is None) is matches, "explain's reason agrees with admission"


def test_applies_to_per_user_with_an_override_and_virtual_accounts_not_counted() -> None:
    limits, _ = limiter()
    applies_to = {"type": "per-user", "overrides": [{"users": ["lead@x"], "limits": {"requests_per_minute": 4}}]}
    compiled = policies(rate("per-user", {"requests_per_minute": 1}, applies_to))
    assert admitted(limits, compiled, ask("a@x"), 5) == 1
    assert admitted(limits, compiled, ask("b@x"), 5) == 1
    assert admitted(limits, compiled, ask("lead@x"), 9) == 4, "the override replaces the rule's limits"
    assert admitted(limits, compiled, ask("virtualaccount:ci"), 9) == 9, "no user: not counted"


@pytest.mark.parametrize(
    ("applies_to", "first", "second", "separate"),
    [
        ({"type": "per-team"}, ask("a@x", teams=("t1",)), ask("b@x", teams=("t2",)), True),
        ({"type": "per-team"}, ask("a@x", teams=("t1",)), ask("b@x", teams=("t1",)), False),
        ({"type": "per-model"}, ask(model="m/1"), ask(model="m/2"), True),
        ({"type": "per-virtual-account"}, ask("virtualaccount:v1"), ask("virtualaccount:v2"), True),
        (
            {"type": "metadata", "metadata": "project"},
            ask(metadata={"project": "p1"}),
            ask(metadata={"project": "p2"}),
            True,
        ),
        ({"type": "aggregate"}, ask("a@x"), ask("b@x"), False),
    ],
)
def test_applies_to_gives_one_counter_per_entity(
    applies_to: dict[str, Any], first: LimitRequest, second: LimitRequest, separate: bool
) -> None:
    limits, _ = limiter()
    compiled = policies(rate("r", {"requests_per_minute": 2}, applies_to))
    assert admitted(limits, compiled, first, 5) == 2
    assert admitted(limits, compiled, second, 5) == (2 if separate else 0)


def test_audit_mode_counts_and_reports_without_refusing() -> None:
    limits, _ = limiter()
    compiled = policies(rate("watch", {"requests_per_minute": 1}, mode="audit"))
    assert admitted(limits, compiled, ask(), 3) == 3
    reservation = limits.reserve(compiled, ask())
    assert reservation is not None and [rule.rule_id for rule in reservation.would_block] == ["watch"]


def test_v1_is_checked_first_and_a_v1_refusal_holds_nothing_in_v2() -> None:
    limits, _ = limiter()
    v1 = {"name": "limits", "type": "gateway-rate-limiting-config", "rules": [
        {"id": "v1", "when": {}, "limit_to": 1, "unit": "requests_per_minute"}]}  # fmt: skip
    compiled = policies(v1, rate("v2", {"requests_per_minute": 2}))
    limits.reserve(compiled, ask())
    with pytest.raises(Refused) as refused:
        limits.reserve(compiled, ask())
    assert refused.value.refusal.rule_id == "v1"
    # Without the V1 rule the V2 counter holds only the one admitted request.
    assert admitted(limits, policies(rate("v2", {"requests_per_minute": 2})), ask(), 5) == 1


def test_a_v2_budget_checks_every_period_and_overrides_replace_them() -> None:
    limits, _ = limiter()
    applies_to = {"type": "per-user", "overrides": [{"users": ["lead@x"], "limits": {"cost_per_day": 0.5}}]}
    compiled = policies(budget("daily-weekly", {"cost_per_day": 0.3, "cost_per_week": 0.2}, applies_to))
    assert admitted(limits, compiled, ask("a@x"), 9) == 2  # the week's $0.20 binds first: holds of $0.10
    assert admitted(limits, compiled, ask("lead@x"), 9) == 5
    reservation = limits.reserve(compiled, ask("b@x"))
    assert reservation is not None and [rule.rule_id for rule in reservation.budgets] == ["daily-weekly"]


def test_a_soft_budget_yields_only_while_another_matching_budget_has_room() -> None:
    limits, _ = limiter()
    soft = budget("soft", {"cost_per_day": 0.1}, mode="soft_enforce")
    roomy = budget("roomy", {"cost_per_day": 0.3}, when={"models": {"in": [GPT]}})
    compiled = policies(soft, roomy)
    # gpt-4o: `roomy` allows the request, so the exhausted soft budget does not block it ...
    assert admitted(limits, compiled, ask(), 9) == 3
    # ... until roomy is spent too. Another model only matches the soft budget, which blocks.
    assert admitted(limits, compiled, ask(model="other/m"), 3) == 0
    with pytest.raises(Refused) as refused:
        limits.reserve(compiled, ask(model="other/m"))
    assert refused.value.refusal.rule_id == "soft" and refused.value.refusal.kind == "budget"
    # A soft refusal took its holds back: roomy still holds exactly its 3 admitted requests.
    probe = limits.reserve(
        policies(
            budget("roomy", {"cost_per_day": 9}),
        ),
        ask(),
    )
    assert probe is not None and limits.used(probe) == 400_000_000


def test_a_team_budget_counts_its_team_only_and_a_lifetime_never_resets() -> None:
    limits, clock = limiter()
    team = budget("team", {"cost_per_lifetime": 0.2}, type="team-budget-config", team_name="backend")
    compiled = policies(team)
    assert admitted(limits, compiled, ask("a@x", teams=("backend",)), 5) == 2
    assert admitted(limits, compiled, ask("b@x", teams=("frontend",)), 5) == 5
    clock.advance(400 * 86_400)
    with pytest.raises(Refused) as refused:
        limits.reserve(compiled, ask("a@x", teams=("backend",)))
    assert refused.value.refusal.retry_after_s is None and "never resets" in refused.value.refusal.message


def test_v2_budget_alerts_fire_per_period() -> None:
    limits, _ = limiter()
    alerts = {"thresholds": [50], "notification_target": [{"type": "slack-webhook", "notification_channel": "c"}]}
    compiled = policies(budget("alerted", {"cost_per_day": 1.0, "cost_per_month": 2.0}, alerts=alerts))
    reservation = limits.reserve(compiled, ask())
    assert reservation is not None
    limits.settle(reservation, release=False, tokens=10, cost=0.6)
    assert [(a.rule_id, a.unit, a.threshold) for a in limits.alerts] == [("alerted", "cost_per_day", 50.0)]


def test_the_examples_compile_and_behave_as_their_comments_say() -> None:
    documents = []
    for name in ("rate-limits-v2.yaml", "budgets-v2.yaml", "team-budget-v2.yaml"):
        documents += [doc for doc in yaml.safe_load_all((EXAMPLES / name).read_text()) if doc]
    compiled = policies(*documents)
    assert [rule.name for rule in compiled.v2.rate_limits] == ["gpt-4o-per-user"]
    assert {rule.name for rule in compiled.v2.budgets} == {
        "org-monthly-and-quarterly", "per-user-daily-weekly", "pilot-project-lifetime", "backend-virtual-accounts-monthly"
    }  # fmt: skip
    limits = SyncLimits(limiter()[1])
    batch = ask("batch-owner@example.com")
    assert admitted(limits, compiled, batch, 70) == 70, "the override allows 300 a minute"
    assert admitted(limits, compiled, ask("dev@example.com"), 70) == 60
    assert admitted(limits, compiled, ask("admin@example.com", teams=("platform-admins",)), 70) == 70
