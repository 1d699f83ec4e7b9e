"""explain reports model access as the data plane decides it: a 403 is a 403 (before: "would be admitted")."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.gateway.inprocess import running_gateway

EXPLAIN = "/api/svc/v1/llm-gateway/explain"
PRIVATE = {
    "name": "private",
    "type": "provider-account/openai",
    "auth_data": {"type": "api-key", "api_key": "tfy-secret://local:private:API_KEY"},
    "integrations": [
        {"type": "integration/model/openai", "name": "gpt-4o", "model_id": "gpt-4o", "model_types": ["chat"]}
    ],
}
ROUTE = {
    "name": "routing",
    "type": "gateway-load-balancing-config",
    "rules": [
        {
            "id": "private-only",
            "type": "weight-based-routing",
            "when": {"models": ["private/alias"]},
            "load_balance_targets": [{"target": "private/gpt-4o", "weight": 100}],
        }
    ],
}


async def test_explain_and_the_data_plane_agree_on_access(tmp_path: Path) -> None:
    async with running_gateway(tmp_path / "data") as gateway:
        await gateway.apply(PRIVATE)
        await gateway.apply(ROUTE)
        bob = await gateway.add_user("bob@example.com", teams=["backend"])

        async def both(subject: str, model: str) -> tuple[dict[str, Any], int]:
            explained = await gateway.http.post(
                EXPLAIN, json={"subject": subject, "model": model}, headers=gateway.auth()
            )
            assert explained.status_code == 200, explained.text
            body = {"model": model, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}
            sent = await gateway.http.post("/api/llm/chat/completions", json=body, headers=gateway.auth(bob))
            return explained.json()["access"], sent.status_code

        access, status = await both("bob@example.com", "private/gpt-4o")  # a bare email is a user
        assert status == 403 and access["allowed"] is False and access["status"] == 403
        access, status = await both("user:bob@example.com", "private/alias")  # a rule whose targets bob may not use
        assert status == 403 and access["allowed"] is False
        access, status = await both("user:bob@example.com", "openai-main/gpt-4o")  # team:everyone collaborators
        assert status == 200 and access["allowed"] is True
        admin = await gateway.http.post(
            EXPLAIN, json={"subject": "user:admin@local", "model": "private/gpt-4o"}, headers=gateway.auth()
        )
        assert admin.json()["access"]["allowed"] is True and "admin" in admin.json()["access"]["reason"]
