"""Virtual models (`provider-account/virtual-model`, called as `<group>/<name>`) route like rules."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

from tests.gateway.routing.conftest import RouterUnderTest, Sleeps, Upstream, request
from tfy_gateway.gateway.routing import Outcome

A, B = "openai-main/gpt-4o", "azure-backup/gpt-4o"


def virtual_models(**routing_configs: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": "smart",
        "type": "provider-account/virtual-model",
        "integrations": [
            {"type": "integration/model/virtual", "name": name, "model_types": ["chat"], "routing_config": config}
            for name, config in routing_configs.items()
        ],
    }


WEIGHTED = {
    "type": "weight-based-routing",
    "load_balance_targets": [{"target": A, "weight": 80}, {"target": B, "weight": 20}],
}
PRIORITY = {
    "type": "priority-based-routing",
    "load_balance_targets": [{"target": B, "priority": 1}, {"target": A, "priority": 0}],
}
GATEWAY_RULE = {
    "name": "routing",
    "type": "gateway-load-balancing-config",
    "rules": [
        {
            "id": "grab-everything",
            "type": "priority-based-routing",
            "when": {"models": ["*"]},
            "load_balance_targets": [{"target": "anthropic-main/claude-sonnet"}],
        }
    ],
}


def test_virtual_model_uses_its_own_routing_config(make_router: Callable[..., RouterUnderTest]) -> None:
    router = make_router(virtual_models(chat=WEIGHTED, fast=PRIORITY), GATEWAY_RULE)
    plan = router.plan(request("smart/fast"))
    assert plan.virtual_model and plan.config_name == "smart/fast" and plan.rule_id is None
    assert [a.target for a in plan.attempts] == [A, B]
    counts = Counter(router.plan(request("smart/chat")).attempts[0].target for _ in range(2000))
    assert abs(counts[A] / 2000 - 0.8) <= 0.03
    # A gateway rule matching every model does not capture virtual models ...
    assert all(router.plan(request("smart/chat")).rule_id is None for _ in range(10))
    # ... but still routes everything else.
    assert router.plan(request("openai-main/gpt-4o")).rule_id == "grab-everything"


async def test_virtual_model_falls_back(make_router: Callable[..., RouterUnderTest]) -> None:
    router = make_router(virtual_models(fast=PRIORITY))
    upstream = Upstream({A: [Outcome(502)]})
    result = await router.execute(router.plan(request("smart/fast")), upstream, sleep=Sleeps())
    assert result.tries == [(A, 502)] * 3 + [(B, 200)] and result.fallbacks == 1


def test_unknown_virtual_model_passes_through(make_router: Callable[..., RouterUnderTest]) -> None:
    router = make_router(virtual_models(fast=PRIORITY))
    plan = router.plan(request("smart/nope"))
    assert not plan.virtual_model and [a.target for a in plan.attempts] == ["smart/nope"]
