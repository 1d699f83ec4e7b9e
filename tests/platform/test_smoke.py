"""`smoke_test` and the client's gateway views against a real gateway process and a fake provider."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.helpers import GatewayProcess, free_port
from tfy_gateway.fakeprovider import running
from tfy_gateway.platform import (
    ControlPlaneClient,
    ControlPlaneSettings,
    UnreachableError,
    ValidationFailed,
    smoke_test,
)

BAD_KEY = "tfy_wrong_smoke_key_" + "z" * 24


def smoke_manifests(provider: str) -> list[dict[str, Any]]:
    """A priced chat model, a paced one (TTFT and per-token delays), one that drops, an embedding, an alias."""

    def model(name: str, model_id: str, kind: str = "chat", **extra: Any) -> dict[str, Any]:
        return {"type": "integration/model/openai", "name": name, "model_id": model_id, "model_types": [kind], **extra}

    cost = {"metric": "per_1000_tokens", "value": {"input": 0.0025, "output": 0.01}}
    account = {
        "name": "fake",
        "type": "provider-account/openai",
        "base_url": f"{provider}/v1",
        "integrations": [
            model("gpt-4o", "gpt-4o", cost=cost),
            model("paced", "gpt-4o@ttft_ms=150,tpot_ms=50,tokens=4"),
            model("dropping", "gpt-4o@drop_after=2"),
            model("embed", "text-embedding-3-small", "embedding"),
        ],
    }
    routing = {
        "name": "smoke-routing",
        "type": "gateway-load-balancing-config",
        "rules": [
            {
                "id": "chat-alias",
                "type": "weight-based-routing",
                "when": {"models": ["chat"]},
                "load_balance_targets": [{"target": "fake/gpt-4o", "weight": 100}],
            }
        ],
    }
    return [account, routing]


def start_smoke_gateway(data_dir: Path, provider: str) -> GatewayProcess:
    gateway = GatewayProcess(data_dir)
    gateway.start()
    for manifest in smoke_manifests(provider):
        response = httpx.put(
            gateway.base_url + "/api/svc/v1/apply",
            json={"manifest": manifest, "dryRun": False},
            headers={"Authorization": f"Bearer {gateway.admin_token}"},
            timeout=30,
        )
        assert response.status_code == 200, response.text
    return gateway


@pytest.fixture(scope="module")
def smoke_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    with running() as provider:
        gateway = start_smoke_gateway(tmp_path_factory.mktemp("smoke") / "data", provider)
        try:
            yield gateway
        finally:
            gateway.stop()


def settings_for(gateway: GatewayProcess, key: str | None = None) -> ControlPlaneSettings:
    return ControlPlaneSettings(gateway.base_url, key or gateway.admin_token)


async def test_chat_through_an_alias_reports_routing_usage_cost_and_reply(smoke_gateway: GatewayProcess) -> None:
    outcome = await smoke_test(
        settings_for(smoke_gateway), model="chat", prompt="ping", max_tokens=8, metadata={"env": "smoke"}
    )
    assert outcome.ok and outcome.status == 200 and outcome.error is None
    assert outcome.requested_model == "chat" and outcome.resolved_model == "fake/gpt-4o"
    assert outcome.applied_configurations["load_balancing"]["rule_id"] == "chat-alias"
    assert outcome.usage is not None and outcome.usage.completion_tokens == 8
    assert outcome.cost is not None and outcome.cost > 0
    assert outcome.output_preview is not None and outcome.output_preview.startswith("Fake reply from gpt-4o: ping")
    assert outcome.latency_ms > 0 and outcome.ttft_ms is None and outcome.request_id
    async with ControlPlaneClient.from_settings(settings_for(smoke_gateway)) as client:
        page = await client.query_logs(limit=5, model="chat")
    (record,) = [r for r in page["data"] if r["id"] == outcome.request_id]
    assert record["metadata"] == {"env": "smoke"}, "metadata goes out as x-tfy-metadata"


async def test_stream_measures_time_to_first_token(smoke_gateway: GatewayProcess) -> None:
    outcome = await smoke_test(settings_for(smoke_gateway), model="fake/paced", stream=True, max_tokens=4)
    assert outcome.ok and outcome.stream and outcome.resolved_model == "fake/paced"
    assert outcome.ttft_ms is not None and outcome.ttft_ms >= 140, "the provider waits 150 ms for the first token"
    assert outcome.latency_ms - outcome.ttft_ms >= 100, "three more tokens at 50 ms each come after it"
    assert outcome.usage is not None and outcome.usage.completion_tokens == 4, "stream_options.include_usage"
    assert outcome.output_preview and outcome.output_preview.startswith("Fake reply")


async def test_a_stream_that_breaks_off_is_not_ok(smoke_gateway: GatewayProcess) -> None:
    outcome = await smoke_test(settings_for(smoke_gateway), model="fake/dropping", stream=True)
    assert outcome.status == 200 and not outcome.ok and outcome.error


async def test_embedding(smoke_gateway: GatewayProcess) -> None:
    outcome = await smoke_test(settings_for(smoke_gateway), model="fake/embed", kind="embedding", stream=True)
    assert outcome.ok and not outcome.stream, "embeddings are never streamed"
    assert outcome.output_preview is not None and outcome.output_preview.startswith("1 embedding(s) of ")
    assert outcome.to_dict()["usage"]["prompt_tokens"] > 0


async def test_unknown_model_is_a_404_result(smoke_gateway: GatewayProcess) -> None:
    outcome = await smoke_test(settings_for(smoke_gateway), model="fake/nope")
    assert not outcome.ok and outcome.status == 404  # OpenAI's model_not_found (the platform answers 403)
    assert outcome.error is not None and "fake/nope" in outcome.error and outcome.resolved_model is None


async def test_bad_key_is_a_401_result_without_the_key(smoke_gateway: GatewayProcess) -> None:
    for stream in (False, True):
        outcome = await smoke_test(settings_for(smoke_gateway, BAD_KEY), model="fake/gpt-4o", stream=stream)
        assert not outcome.ok and outcome.status == 401 and outcome.error
        assert BAD_KEY not in str(outcome.to_dict())


async def test_unreachable_gateway_raises() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(UnreachableError) as caught:
        await smoke_test(ControlPlaneSettings(url, BAD_KEY), model="m", timeout=5)
    assert url in str(caught.value) and BAD_KEY not in str(caught.value)


async def test_arguments_out_of_range_are_refused_before_sending() -> None:
    settings = ControlPlaneSettings(f"http://127.0.0.1:{free_port()}", BAD_KEY)
    with pytest.raises(ValueError, match="between 1 and 64"):
        await smoke_test(settings, model="m", max_tokens=65)
    with pytest.raises(ValueError, match="chat, embedding"):
        await smoke_test(settings, model="m", kind="image")


async def test_client_explain_logs_and_usage_summary(smoke_gateway: GatewayProcess) -> None:
    await smoke_test(settings_for(smoke_gateway), model="chat", max_tokens=2)
    async with ControlPlaneClient.from_settings(settings_for(smoke_gateway)) as client:
        explained = await client.explain("user:admin@local", "chat", {"env": "dev"}, {"X-Session": "s1"})
        logs = await client.query_logs(limit=1, model="chat", status="success", since="1h")
        summary = await client.usage_summary(model="chat")
        everything = await client.usage_summary()
        with pytest.raises(ValidationFailed, match="subject"):
            await client.explain("nobody", "chat")
    assert explained["matched_rule"] == "chat-alias" and explained["metadata"] == {"env": "dev"}
    assert len(logs["data"]) == 1 and logs["data"][0]["requested_model"] == "chat"
    assert logs["pagination"]["total"] >= 1 and logs["pagination"]["limit"] == 1
    assert summary["total"]["requests"] >= 1
    assert everything["total"]["requests"] > summary["total"]["requests"], "the model filter was sent"
