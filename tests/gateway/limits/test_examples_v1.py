"""examples/rate-limits.yaml and examples/budgets.yaml behave as their rules say (V1 semantics)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tests.gateway.limits.conftest import caller, limiter
from tests.gateway.limits.test_budgets import admitted
from tests.gateway.routing.conftest import snapshot_of
from tfy_gateway.gateway.accounting.cost import ModelPricing
from tfy_gateway.gateway.accounting.pricing import TokenPrice
from tfy_gateway.gateway.limits import LimitPolicies, LimitRequest, compile_policies

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
GPT = "openai-main/gpt-4o"
# $10 per 1000 tokens: a request holding 10 prompt + 990 output tokens holds $10.
DEAR = ModelPricing(TokenPrice(input=10.0, output=10.0))


def example(name: str) -> LimitPolicies:
    return compile_policies(snapshot_of([yaml.safe_load((EXAMPLES / name).read_text())]))


def ask(user: str, *, max_tokens: int = 990, model: str = GPT, **extra: Any) -> LimitRequest:
    body = {"model": model, "messages": [{"role": "user", "content": "x" * 40}], "max_tokens": max_tokens}
    request = caller(user, body=body, model=model, **extra)
    return LimitRequest(**{**request.__dict__, "pricing": DEAR})


def rule_of(policies: LimitPolicies, request: LimitRequest) -> str | None:
    limits, _ = limiter()
    reservation = limits.reserve(policies, request)
    return reservation.rate_limit.rule_id if reservation is not None and reservation.rate_limit else None


def test_rate_limit_examples_each_rule_limits_whom_it_says() -> None:
    policies = example("rate-limits.yaml")
    backend = ask("dev@x", teams=("backend",), max_tokens=1_990)  # holds 2,000 tokens
    assert rule_of(policies, backend) == "team-rpm-limit"
    assert rule_of(policies, ask("bob@example.com")) == "user-daily-limit"
    assert rule_of(policies, ask("dev@x", metadata={"project_id": "p1"})) == "per-project-hourly"
    assert rule_of(policies, ask("dev@x")) == "global-fallback"

    limits, _ = limiter()
    assert admitted(limits, policies, backend, 12) == 10, "team backend: 20,000 tokens a minute"
    assert admitted(limits, policies, ask("bob@example.com", max_tokens=1), 1_005) == 1_000, "bob: 1,000 a day"
    project = ask("dev@x", metadata={"project_id": "p1"}, max_tokens=4_990)  # 5,000 tokens each
    assert admitted(limits, policies, project, 12) == 10, "per project: 50,000 tokens an hour"
    assert admitted(limits, policies, ask("eve@x", metadata={"project_id": "p2"}, max_tokens=4_990), 1) == 1
    assert admitted(limits, policies, ask("carol@x", max_tokens=1), 510) == 500, "everyone else: 500 a minute each"
    assert admitted(limits, policies, ask("dan@x", max_tokens=1), 1) == 1


def test_budget_examples_each_rule_caps_whom_it_says() -> None:
    policies = example("budgets.yaml")
    limits, _ = limiter()
    # team:engineering: $5,000 a month per team (the first matching rule decides for its members).
    engineer = ask("eng@x", teams=("engineering",))
    assert admitted(limits, policies, engineer, 600) == 500
    # Everyone else: $100 a day per user.
    assert admitted(limits, policies, ask("dev@x"), 20) == 10
    assert admitted(limits, policies, ask("other@x"), 20) == 10
    # Production requests carrying project_id: $200 a day per project, charged besides the user's $100
    # (spend counts against every matching rule; the first one, the user's, decides).
    prod = ask("ops@x", metadata={"environment": "production", "project_id": "p9"})
    reservation = limits.reserve(policies, prod)
    assert reservation is not None
    assert [rule.rule_id for rule in reservation.budgets] == ["user-daily-budget", "project-daily-budget"]
