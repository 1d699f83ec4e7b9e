"""`Router.unrouted`: a model no virtual model and no rule can route has one plan, whoever asks, so
the data plane plans it without describing the request; a model a rule might route is left to `plan`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.gateway.routing.conftest import RouterUnderTest
from tfy_gateway.gateway.routing import RouteRequest


def rules(*rules: dict[str, Any]) -> dict[str, Any]:
    return {"name": "lb", "type": "gateway-load-balancing-config", "rules": list(rules)}


def weighted(rule_id: str, models: list[str], target: str, **when: Any) -> dict[str, Any]:
    return {
        "id": rule_id,
        "type": "weight-based-routing",
        "when": {"models": models, **when},
        "load_balance_targets": [{"target": target, "weight": 100}],
    }


def test_a_model_no_rule_names_gets_the_plan_plan_gives_every_caller(
    make_router: Callable[..., RouterUnderTest],
) -> None:
    tested = make_router(rules(weighted("alias", ["openai/gpt-4o"], "azure-backup/gpt-4o", subjects=["team:a"])))
    model = "openai-main/gpt-4o"
    plan = tested.router.unrouted(tested.routing, model)
    assert plan is not None and plan.rule_id is None and [a.target for a in plan.attempts] == [model]
    for subjects in [(), ("team:a",), ("user:x", "team:b")]:
        assert tested.plan(RouteRequest(model, subjects, {"env": "prod"}, {"x-h": "1"})) == plan


def test_a_model_a_rule_might_route_is_left_to_plan(make_router: Callable[..., RouterUnderTest]) -> None:
    tested = make_router(rules(weighted("alias", ["openai/gpt-4o"], "azure-backup/gpt-4o", subjects=["team:a"])))
    # Named by a rule that matches only team:a: unrouted cannot answer for every caller.
    assert tested.router.unrouted(tested.routing, "openai/gpt-4o") is None
    assert tested.plan(RouteRequest("openai/gpt-4o", ("team:a",))).rule_id == "alias"
    everything = make_router(rules(weighted("catch-all", ["*"], "azure-backup/gpt-4o")))
    assert everything.router.unrouted(everything.routing, "openai-main/gpt-4o") is None
