"""`serve --offline` owns its accounts: applying the shipped examples (real addresses, no keys) leaves every
example model answering, for the admin and for users, across a restart; stored manifests keep their
addresses. (Before: the example accounts were re-pointed at the real APIs, 502 for the admin, 403 for
users, and a restart with --offline left them so.)"""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.helpers import EXAMPLES, GatewayProcess
from tfy_gateway.manifests import load_file
from tfy_gateway.platform import ControlPlaneClient

CHAT = {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 4}
MODELS = ("openai-main/gpt-4o", "azure-backup/gpt-4o", "anthropic-main/claude-sonnet", "nvidia-external/nemotron-nano")


async def apply_examples(gateway: GatewayProcess, *names: str) -> None:
    async with ControlPlaneClient(gateway.base_url, gateway.admin_token) as client:
        for name in names:
            for doc in load_file(EXAMPLES / name):
                await client.apply(doc.data, dry_run=False)


def statuses(gateway: GatewayProcess, token: str) -> dict[str, int]:
    with httpx.Client(base_url=gateway.base_url, headers={"Authorization": f"Bearer {token}"}, timeout=60) as http:
        return {m: http.post("/api/llm/chat/completions", json={"model": m, **CHAT}).status_code for m in MODELS}


def add_user(gateway: GatewayProcess, email: str) -> str:
    with httpx.Client(base_url=gateway.base_url, headers={"Authorization": f"Bearer {gateway.admin_token}"}) as http:
        response = http.post("/api/svc/v1/users", json={"email": email})
        assert response.status_code == 200, response.text
        return str(response.json()["token"])


async def test_the_shipped_examples_keep_an_offline_gateway_answering(tmp_path: Path) -> None:
    gateway = GatewayProcess(tmp_path / "data", extra_args=("--offline",))
    gateway.start()
    try:
        await apply_examples(gateway, "provider-accounts.yaml", "self-hosted.yaml")
        bob = add_user(gateway, "bob@example.com")
        all_ok = dict.fromkeys(MODELS, 200)
        assert statuses(gateway, gateway.admin_token) == all_ok
        assert statuses(gateway, bob) == all_ok  # the examples grant team:everyone
        gateway.stop()
        gateway.start()
        assert statuses(gateway, gateway.admin_token) == all_ok
        assert statuses(gateway, bob) == all_ok
        async with ControlPlaneClient(gateway.base_url, gateway.admin_token) as client:
            live = {a["name"]: a for a in await client.list_provider_accounts()}
        assert live["azure-backup"]["azure_endpoint"] == "https://example-resource.openai.azure.com"
        assert "base_url" not in live["openai-main"]  # as applied: the real API by default
    finally:
        gateway.stop()
