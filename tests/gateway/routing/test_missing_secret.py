"""A provider secret with no value is the gateway's configuration problem, not a failing target: the
answer names the variable to set, the same target is not retried, and it is not benched, so defining
the secret and re-applying the account makes it serve the very next request."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.gateway.inprocess import FAKE_ORIGIN, InProcessGateway, running_gateway


def account(name: str, fake: str, api_key: str) -> dict[str, Any]:
    return {
        "name": name,
        "type": "provider-account/openai",
        "base_url": f"{fake}/v1",
        "auth_data": {"type": "api-key", "api_key": api_key},
        "integrations": [
            {"type": "integration/model/openai", "name": "gpt-4o", "model_id": "gpt-4o", "model_types": ["chat"]}
        ],
    }


ROUTING = {
    "name": "routing",
    "type": "gateway-load-balancing-config",
    "rules": [
        {
            "id": "primary-first",
            "type": "priority-based-routing",
            "when": {"models": ["openai/gpt-4o"]},
            "load_balance_targets": [
                {"target": "primary/gpt-4o", "priority": 0},
                {"target": "backup/gpt-4o", "priority": 1},
            ],
        }
    ],
}
SECRET = "tfy-secret://local:primary:API_KEY"


@pytest.fixture
async def gateway(tmp_path: Path) -> AsyncIterator[InProcessGateway]:
    async with running_gateway(tmp_path / "data", offline=False) as started:
        yield started


async def apply(gateway: InProcessGateway, *manifests: dict[str, Any]) -> None:
    async with gateway.control_plane() as client:
        for manifest in manifests:
            await client.apply(manifest, dry_run=False)


async def chat(gateway: InProcessGateway, model: str) -> httpx.Response:
    return await gateway.http.post(
        "/api/llm/chat/completions",
        headers=gateway.auth(),
        json={"model": model, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4},
    )


async def test_missing_secret_names_the_variable_and_does_not_bench_the_target(gateway: InProcessGateway) -> None:
    fake = FAKE_ORIGIN
    await apply(gateway, account("primary", fake, SECRET), account("backup", fake, "sk-literal"), ROUTING)
    direct = await chat(gateway, "primary/gpt-4o")
    assert direct.status_code == 500
    message = direct.json()["message"]
    assert "TFY_SECRET_PRIMARY_API_KEY" in message and "secrets.json" in message and "re-apply" in message
    for _ in range(5):  # more failures than the health threshold (3)
        routed = await chat(gateway, "openai/gpt-4o")
        assert routed.status_code == 200 and routed.headers["x-tfy-resolved-model"] == "backup/gpt-4o"
        applied = json.loads(routed.headers["x-tfy-applied-configurations"])
        assert applied["fallbacks"] == 1 and applied["retries"] == 0  # the same target is not retried
    (gateway.data_dir / "secrets.json").write_text(json.dumps({"primary": {"API_KEY": "sk-now-set"}}))
    await apply(gateway, account("primary", fake, SECRET))  # secrets are read when the config is compiled
    fixed = await chat(gateway, "openai/gpt-4o")
    assert fixed.status_code == 200 and fixed.headers["x-tfy-resolved-model"] == "primary/gpt-4o"
