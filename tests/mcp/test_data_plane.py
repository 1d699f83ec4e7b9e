"""smoke_test, explain and usage: real requests through a gateway to a fake provider."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator

import pytest
import yaml

from tests.mcp.conftest import call, call_error, connect
from tfy_gateway.fakeprovider import running

needs_data_plane = pytest.mark.skipif(
    importlib.util.find_spec("tfy_gateway.gateway.data_plane") is None,
    reason="the gateway's data plane (tfy_gateway.gateway.data_plane) is not built yet",
)


@pytest.fixture
def fake_provider() -> Iterator[str]:
    with running() as base_url:
        yield base_url


def fake_account(base_url: str) -> str:
    account = {
        "name": "fake",
        "type": "provider-account/openai",
        "base_url": f"{base_url}/v1",
        "integrations": [
            {
                "type": "integration/model/openai",
                "name": "gpt-4o",
                "model_id": "gpt-4o",
                "model_types": ["chat"],
                "cost": {"metric": "per_1000_tokens", "value": {"input": 0.0025, "output": 0.01}},
            },
            {
                "type": "integration/model/openai",
                "name": "embed",
                "model_id": "text-embedding-3-small",
                "model_types": ["embedding"],
            },
        ],
    }
    limits = {
        "name": "limits",
        "type": "gateway-rate-limiting-config",
        "rules": [
            {"id": "one-a-minute", "when": {"models": ["fake/gpt-4o"]}, "limit_to": 1, "unit": "requests_per_minute"}
        ],
    }
    return yaml.safe_dump_all([account, limits])


async def apply(client, text: str) -> None:
    plan = await call(client, "gateway_plan", {"yaml_text": text})
    await call(client, "gateway_apply_plan", {"plan_id": plan["plan_id"]})


@needs_data_plane
async def test_smoke_test_chat_embedding_and_unknown_model(gateway, fake_provider):
    account = fake_account(fake_provider).split("---")[0]
    async with connect(gateway.env) as client:
        await apply(client, account)
        chat = await call(client, "gateway_smoke_test", {"model": "fake/gpt-4o", "prompt": "ping", "max_tokens": 8})
        embedding = await call(client, "gateway_smoke_test", {"model": "fake/embed", "kind": "embedding"})
        unknown = await call(client, "gateway_smoke_test", {"model": "fake/nope"})
    assert chat["ok"] and chat["status"] == 200 and chat["resolved_model"] == "fake/gpt-4o"
    assert chat["usage"]["completion_tokens"] <= 8 and chat["latency_ms"] > 0
    assert "Fake reply" in chat["output_preview"]
    assert embedding["ok"] and embedding["output_preview"].startswith("1 embedding(s)")
    assert not unknown["ok"] and unknown["status"] in (403, 404) and unknown["error"]


@needs_data_plane
async def test_smoke_test_reports_a_rate_limited_request_as_a_result(gateway, fake_provider):
    async with connect(gateway.env) as client:
        await apply(client, fake_account(fake_provider))
        first = await call(client, "gateway_smoke_test", {"model": "fake/gpt-4o"})
        limited = await call(client, "gateway_smoke_test", {"model": "fake/gpt-4o", "stream": True})
    assert first["ok"]
    assert not limited["ok"] and limited["status"] == 429 and limited["error"]


@needs_data_plane
async def test_smoke_test_streams_and_measures_time_to_first_token(gateway, fake_provider):
    account = fake_account(fake_provider).split("---")[0]
    async with connect(gateway.env) as client:
        await apply(client, account)
        streamed = await call(client, "gateway_smoke_test", {"model": "fake/gpt-4o", "stream": True, "max_tokens": 4})
    assert streamed["ok"] and streamed["ttft_ms"] is not None and streamed["ttft_ms"] <= streamed["latency_ms"]
    assert streamed["resolved_model"] == "fake/gpt-4o" and streamed["output_preview"]


@needs_data_plane
async def test_smoke_test_with_a_bad_token_is_a_tool_error(gateway):
    bad_key = "tfy_bad_" + "y" * 30
    async with connect({**gateway.env, "TFY_API_KEY": bad_key}) as client:
        error = await call_error(client, "gateway_smoke_test", {"model": "fake/gpt-4o"})
    assert "401" in error and "TFY_API_KEY" in error and bad_key not in error


async def test_explain_and_usage_on_a_control_plane_without_them(fake_provider):
    # Any HTTP server that answers 404 for these paths stands for an older control plane.
    env = {"TFY_BASE_URL": fake_provider, "TFY_API_KEY": "tfy_some_key_1234567890"}
    async with connect(env) as client:
        explain = await call_error(client, "gateway_explain", {"subject": "team:backend", "model": "m"})
        usage = await call_error(client, "gateway_usage", {"limit": 5})
    assert "does not support explain yet" in explain
    assert "does not support usage summaries yet" in usage


@needs_data_plane
async def test_explain_and_usage_against_the_gateway(gateway, fake_provider):
    account, limits = fake_account(fake_provider).split("---")
    limits = limits.replace("limit_to: 1", "limit_to: 50")
    routing = {
        "name": "routing",
        "type": "gateway-load-balancing-config",
        "rules": [
            {
                "id": "chat",
                "type": "weight-based-routing",
                "when": {"models": ["chat"]},
                "load_balance_targets": [{"target": "fake/gpt-4o", "weight": 100}],
            }
        ],
    }
    async with connect(gateway.env) as client:
        await apply(client, account + "---\n" + limits + "---\n" + yaml.safe_dump(routing))
        explain = await call(
            client, "gateway_explain", {"subject": "user:admin@local", "model": "chat", "metadata": {"a": "b"}}
        )
        await call(client, "gateway_smoke_test", {"model": "chat"})
        await call(client, "gateway_smoke_test", {"model": "fake/gpt-4o"})
        usage = await call(client, "gateway_usage", {"limit": 1, "model": "chat"})
        bad = await call_error(client, "gateway_explain", {"subject": "nobody", "model": "chat"})
    assert explain["explanation"]["matched_rule"] == "chat"
    assert usage["logs_returned"] == 1 and usage["logs"][0]["requested_model"] == "chat"
    assert usage["summary"]["total"]["requests"] == 1, "the summary is filtered by model too"
    assert "subject" in bad and "400" in bad
    assert explain["explanation"]["limits"]["admitted"], "explain covers rate limits and budgets too"
    (rule,) = usage["rate_limits"]
    counted = rule["entities"][0]["periods"]["requests_per_minute"]
    assert rule["name"] == "one-a-minute" and (counted["used"], counted["limit"]) == (1, 50)
    assert usage["budgets"] == [] and usage["limits_note"] is None
