"""A provider secret with no value is the gateway's configuration problem, not a failing target: the
answer names the variable to set, the same target is not retried, and it is not benched, so defining
the secret and re-applying the account makes it serve the very next request."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.helpers import GatewayProcess
from tfy_gateway.fakeprovider import running
from tfy_gateway.platform import ControlPlaneClient


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
def fake() -> Iterator[str]:
    with running() as base_url:
        yield base_url


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[GatewayProcess]:
    server = GatewayProcess(tmp_path / "data")
    server.start()
    try:
        yield server
    finally:
        server.stop()


async def apply(gateway: GatewayProcess, *manifests: dict[str, Any]) -> None:
    async with ControlPlaneClient(gateway.base_url, gateway.admin_token) as client:
        for manifest in manifests:
            await client.apply(manifest, dry_run=False)


def chat(gateway: GatewayProcess, model: str) -> httpx.Response:
    return httpx.post(
        f"{gateway.base_url}/api/llm/chat/completions",
        headers={"Authorization": f"Bearer {gateway.admin_token}"},
        json={"model": model, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4},
        timeout=30,
    )


async def test_missing_secret_names_the_variable_and_does_not_bench_the_target(gateway, fake):
    await apply(gateway, account("primary", fake, SECRET), account("backup", fake, "sk-literal"), ROUTING)
    direct = chat(gateway, "primary/gpt-4o")
    assert direct.status_code == 500
    message = direct.json()["message"]
    assert "TFY_SECRET_PRIMARY_API_KEY" in message and "secrets.json" in message and "re-apply" in message
    for _ in range(5):  # more failures than the health threshold (3)
        routed = chat(gateway, "openai/gpt-4o")
        assert routed.status_code == 200 and routed.headers["x-tfy-resolved-model"] == "backup/gpt-4o"
        applied = json.loads(routed.headers["x-tfy-applied-configurations"])
        assert applied["fallbacks"] == 1 and applied["retries"] == 0  # the same target is not retried
    (gateway.data_dir / "secrets.json").write_text(json.dumps({"primary": {"API_KEY": "sk-now-set"}}))
    await apply(gateway, account("primary", fake, SECRET))  # secrets are read when the config is compiled
    fixed = chat(gateway, "openai/gpt-4o")
    assert fixed.status_code == 200 and fixed.headers["x-tfy-resolved-model"] == "primary/gpt-4o"
