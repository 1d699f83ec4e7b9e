"""Tokens and cost: from the provider's usage, identical whether the answer was streamed or not."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from pydantic import TypeAdapter

from tests.gateway.data_plane.conftest import DataPlane
from tfy_gateway.gateway.accounting import ModelPricing, PriceTable, TokenPrice, price_from_cost, pricing_for
from tfy_gateway.gateway.providers import Usage
from tfy_gateway.manifests import OpenAIAccount, parse_manifest
from tfy_gateway.manifests.costs import ModelCost


def stream_chat(dp: DataPlane, model: str, metadata: dict[str, str], include_usage: bool) -> None:
    body = {
        "model": model,
        "messages": [{"role": "user", "content": "count the tokens of this prompt please"}],
        "max_tokens": 9,
        "stream": True,
    }
    if include_usage:
        body["stream_options"] = {"include_usage": True}
    headers = {**dp.auth(), "x-tfy-metadata": json.dumps(metadata)}
    with httpx.stream("POST", dp.base + "/chat/completions", json=body, headers=headers, timeout=30) as response:
        assert response.status_code == 200
        events = [line for line in response.iter_lines() if line.startswith("data: ")]
    assert events[-1] == "data: [DONE]"
    assert any('"usage":{' in event.replace(" ", "") for event in events) == include_usage


@pytest.mark.parametrize("model", ["fake/gpt-4o", "fake/cached", "discounted/gpt-4o"])
def test_streamed_and_non_streamed_account_the_same(dp: DataPlane, model: str) -> None:
    run = {"run": f"same-{model}"}
    plain = dp.chat(
        model,
        body={"messages": [{"role": "user", "content": "count the tokens of this prompt please"}], "max_tokens": 9},
        headers={"x-tfy-metadata": json.dumps(run)},
    )
    assert plain.status_code == 200
    stream_chat(dp, model, run, include_usage=True)
    stream_chat(dp, model, run, include_usage=False)
    records = [r for r in dp.logs(model=model, limit=50)["data"] if r["metadata"] == run]
    assert len(records) == 3 and sorted(r["stream"] for r in records) == [False, True, True]
    accounted = {(r["prompt_tokens"], r["completion_tokens"], r["cached_tokens"], r["cost"]) for r in records}
    assert len(accounted) == 1, accounted
    prompt, completion, cached, cost = accounted.pop()
    assert completion == 9 and prompt > 0 and cost > 0
    assert float(plain.headers["x-tfy-cost"]) == pytest.approx(cost)
    uncached = prompt - cached
    expected = (uncached * 0.0025 + cached * (0.00125 if model == "fake/cached" else 0.0025) + completion * 0.01) / 1000
    if model.startswith("discounted/"):
        expected *= 0.5
    if model == "fake/cached":
        assert cached == 4
    assert cost == pytest.approx(expected)


def test_public_price_table_prices_models_without_cost(dp: DataPlane) -> None:
    response = dp.chat("fake/public", body={"max_tokens": 4})
    usage = response.json()["usage"]
    expected = (usage["prompt_tokens"] * 0.00015 + usage["completion_tokens"] * 0.0006) / 1000
    assert float(response.headers["x-tfy-cost"]) == pytest.approx(expected)


def test_cost_formula_with_cache_tiers_and_discount() -> None:
    price = price_from_cost(
        cost(
            {
                "metric": "per_1000_tokens",
                "value": {
                    "input": 1.0,
                    "output": 2.0,
                    "cache_read": 0.1,
                    "cache_write": 1.5,
                    "output_tiers": [{"from": 1000, "cost_per_token": 0.001}],
                },
            }
        )
    )
    assert price is not None
    usage = Usage(prompt_tokens=1000, completion_tokens=500, cached_tokens=200, cache_write_tokens=100)
    base = (700 * 1.0 + 200 * 0.1 + 100 * 1.5 + 500 * 2.0) / 1000
    assert ModelPricing(price).cost(usage) == pytest.approx(base)
    assert ModelPricing(price, discount_percent=25).cost(usage) == pytest.approx(base * 0.75)
    long_answer = Usage(prompt_tokens=0, completion_tokens=2000)
    assert ModelPricing(price).cost(long_answer) == pytest.approx(2000 * 0.001)
    assert ModelPricing(None).cost(usage) is None


def test_pricing_sources() -> None:
    table = PriceTable.bundled()
    assert len(table) > 10
    assert table.lookup("gpt-4o-2024-08-06") == table.lookup("gpt-4o") == table.lookup("openai/gpt-4o")
    assert table.lookup("claude-3-5-sonnet-20241022") is not None
    assert table.lookup("my-own-finetune") is None
    embedding = price_from_cost(cost({"metric": "per_1000_embedding_tokens", "value": 0.02}))
    assert embedding == TokenPrice(input=0.02, output=0.0)
    account = parse_manifest(
        {
            "name": "openai-main",
            "type": "provider-account/openai",
            "discount_percent": 10,
            "integrations": [
                {
                    "name": "mini",
                    "type": "integration/model/openai",
                    "model_id": "gpt-4o-mini",
                    "model_types": ["chat"],
                    "cost": {"metric": "public_cost"},
                }
            ],
        }
    )
    assert isinstance(account, OpenAIAccount)
    public = pricing_for(account, account.integrations[0], table)
    assert public.price is not None and public.price.source == "public" and public.discount_percent == 10
    assert price_from_cost(cost({"metric": "per_minute_of_audio", "value": {"input": 0.006}})) is None


def cost(value: dict[str, Any]) -> ModelCost:
    """An integration's `cost` block as the gateway reads it: validated into its typed model."""
    return TypeAdapter(ModelCost).validate_python(value)
