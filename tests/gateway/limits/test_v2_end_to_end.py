"""V2 rate limits and budgets through a gateway and the fake provider, both in the test's event loop."""

from __future__ import annotations

import json
from typing import Any

from tests.gateway.data_plane.conftest import DataPlane
from tests.gateway.limits.test_budgets_end_to_end import explain, pricey_account
from tests.gateway.limits.test_end_to_end import applied, unique


async def test_a_v2_rate_limit_and_budget_refuse_name_themselves_and_show_in_explain_and_usage(dp: DataPlane) -> None:
    marker = unique("v2")
    model = await pricey_account(dp, unique("v2acct"))  # about $0.023 a request: 3 prompt + 20 answer tokens
    metadata = {"run": marker}
    when = {"metadata": {"run": {"in": [marker]}}}
    await dp.apply(
        {
            "name": f"{marker}-rpm",
            "type": "tenant-rate-limit-config/model",
            "when": when,
            "limits": {"requests_per_minute": 4, "requests_per_hour": 100},
            "applies_to": {"type": "per-user"},
            "mode": "enforce",
        },
    )
    await dp.apply(
        {
            "name": f"{marker}-spend",
            "type": "tenant-budget-config",
            "when": when,
            "limits": {"cost_per_day": 0.04, "cost_per_month": 10},
            "applies_to": {"type": "aggregate"},
            "mode": "enforce",
        },
    )
    headers = {"x-tfy-metadata": json.dumps(metadata)}
    answers = [await dp.chat(model, headers=headers) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    first, refused = applied(answers[0]), answers[2].json()
    assert first["rate_limit"] == {"config": f"{marker}-rpm", "rule_id": f"{marker}-rpm"}
    assert first["budgets"] == [{"config": f"{marker}-spend", "rule_id": f"{marker}-spend"}]
    assert answers[0].headers["x-ratelimit-remaining-requests"] == "3"
    assert refused["error_origin_level"] == "budget" and f"Budget '{marker}-spend' exhausted" in refused["message"]

    limits = await explain(dp, "user:admin@local", model, metadata)
    (rpm,) = [rule for rule in limits["rate_limits_v2"] if rule["name"] == f"{marker}-rpm"]
    assert rpm["matched"] and set(rpm["entities"][0]["periods"]) == {"requests_per_minute", "requests_per_hour"}
    assert rpm["entities"][0]["periods"]["requests_per_minute"]["used"] == 2
    (spend,) = [rule for rule in limits["budgets_v2"] if rule["name"] == f"{marker}-spend"]
    assert spend["would_refuse"] and limits["refused_by"] == f"{marker}-spend"
    other = await explain(dp, "user:admin@local", model, {})
    (unmatched,) = [rule for rule in other["budgets_v2"] if rule["name"] == f"{marker}-spend"]
    assert not unmatched["matched"] and "metadata.run" in unmatched["reason"]

    async def usage(kind: str, name: str) -> dict[str, Any]:
        response = await dp.http.get(
            f"/api/svc/v1/llm-gateway/config/{kind}/usage", params={"rule": name}, headers=dp.auth()
        )
        assert response.status_code == 200, response.text
        (entry,) = response.json()["matched"]
        return dict(entry)

    listed = await usage("rate-limit", f"{marker}-rpm")
    assert listed["type"] == "tenant-rate-limit-config/model" and listed["applies_to"] == "per-user"
    assert listed["entities"][0]["entity"] == "user:admin@local"
    assert listed["entities"][0]["periods"]["requests_per_hour"]["used"] == 2
    spent = (await usage("budget", f"{marker}-spend"))["entities"][0]["periods"]
    assert spent["cost_per_day"]["used"] == spent["cost_per_month"]["used"] > 0.04
