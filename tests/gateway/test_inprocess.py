"""The in-process gateway the data-plane tests run on: offline catalog as `serve --offline` has it, every
wire format answering through the fake provider without sockets, and a restart keeping the data dir."""

from __future__ import annotations

import hashlib
from typing import Any

from tests.gateway.inprocess import InProcessGateway
from tfy_gateway.fakeprovider.starter import starter_accounts
from tfy_gateway.gateway.providers.offline import OFFLINE_SECRET

CHAT: dict[str, Any] = {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 3}


def fingerprint(value: str) -> str:
    """How the fake provider records a credential header."""
    return "sha256:" + hashlib.sha256(value.encode()).hexdigest()[:12]


async def test_the_example_accounts_answer_offline_over_their_own_wire_formats(
    inprocess_gateway: InProcessGateway,
) -> None:
    gateway = inprocess_gateway
    async with gateway.control_plane() as client:
        live = {account["name"]: account for account in await client.list_provider_accounts()}
    for expected in starter_accounts():  # what `serve --offline` applies: the examples as they are
        assert {key: live[expected["name"]].get(key) for key in expected} == expected
    assert not (gateway.data_dir / "secrets.json").exists()  # placeholders are the offline gateway's, not a file's
    paths = {
        "openai-main/gpt-4o": ("/v1/chat/completions", ("authorization", f"Bearer {OFFLINE_SECRET}")),
        "azure-backup/gpt-4o": ("/openai/deployments/gpt-4o-deployment/chat/completions", ("api-key", OFFLINE_SECRET)),
        "anthropic-main/claude-sonnet": ("/v1/messages", ("x-api-key", OFFLINE_SECRET)),
    }
    for model, (path, (header, credential)) in paths.items():
        for stream in (False, True):
            body = {"model": model, **CHAT, "stream": stream}
            response = await gateway.http.post("/api/llm/chat/completions", json=body, headers=gateway.auth())
            assert response.status_code == 200, response.text
            assert response.headers["x-tfy-resolved-model"] == model
            assert ("data: [DONE]" in response.text) == stream
            seen = gateway.provider_requests()[-1]
            assert seen["path"] == path and seen["headers"][header] == fingerprint(credential)


async def test_a_restart_keeps_the_config_and_the_request_logs(inprocess_gateway: InProcessGateway) -> None:
    gateway = inprocess_gateway
    body = {"model": "openai-main/gpt-4o-mini", **CHAT}
    first = await gateway.http.post("/api/llm/chat/completions", json=body, headers=gateway.auth())
    assert first.status_code == 200
    await gateway.restart()
    again = await gateway.http.post("/api/llm/chat/completions", json=body, headers=gateway.auth())
    assert again.status_code == 200
    logs = await gateway.http.get("/api/svc/v1/llm-gateway/logs", headers=gateway.auth())
    logged = {record["id"] for record in logs.json()["data"]}
    assert {first.headers["x-tfy-request-id"], again.headers["x-tfy-request-id"]} <= logged
