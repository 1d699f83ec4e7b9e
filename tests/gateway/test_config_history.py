"""`GET /api/svc/v1/llm-gateway/config-history`: every apply and delete through the API leaves a version
with who made it; the diff between two versions is the CLI's; secrets never show; admins only."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.gateway.inprocess import InProcessGateway, running_gateway
from tfy_gateway.manifests.diff import compute_diff

PATH = "/api/svc/v1/llm-gateway/config-history"
TEAM = {"name": "search", "type": "team", "members": ["a@example.com"]}


@pytest.fixture
async def gateway(tmp_path: Path) -> AsyncIterator[InProcessGateway]:
    async with running_gateway(tmp_path / "data", offline=True) as running:
        yield running


async def get(gateway: InProcessGateway, status: int = 200, token: str | None = None, **params: Any) -> Any:
    response = await gateway.http.get(PATH, params=params, headers=gateway.auth(token))
    assert response.status_code == status, response.text
    return response.json()


async def test_applies_and_a_delete_are_versions_with_their_author_and_the_clis_diff(gateway: InProcessGateway) -> None:
    await gateway.apply(TEAM)
    await gateway.apply(TEAM)  # unchanged: no new version
    await gateway.apply({**TEAM, "members": ["a@example.com", "b@example.com"]})
    deleted = await gateway.http.post("/api/svc/v1/delete", json={"manifest": TEAM}, headers=gateway.auth())
    assert deleted.status_code == 200, deleted.text
    history = await get(gateway, kind="team", name="search")
    versions = history["data"]
    assert [(v["deleted"], v["changed_by"]) for v in versions] == [(True, "user:admin@local")] + [
        (False, "user:admin@local")
    ] * 2
    assert versions[0]["version"] > versions[1]["version"] > versions[2]["version"]
    compared = await get(
        gateway, kind="team", name="search", **{"from": versions[2]["version"], "to": versions[1]["version"]}
    )
    assert compared["diff"]["text"] == compute_diff(versions[2]["manifest"], versions[1]["manifest"])
    assert "+- b@example.com" in compared["diff"]["text"]
    gone = await get(gateway, kind="team", name="search", to=versions[0]["version"])
    assert gone["diff"]["text"].startswith("--- existing/search (team)\n+++ /dev/null")
    index = {(item["kind"], item["name"]): item for item in (await get(gateway))["data"]}
    assert index[("team", "search")]["deleted"] and index[("team", "search")]["versions"] == 3
    assert (await get(gateway))["keep"] == 50


async def test_secrets_are_redacted_and_bad_versions_or_callers_are_refused(gateway: InProcessGateway) -> None:
    account = {
        "name": "plain-key",
        "type": "provider-account/openai",
        "auth_data": {"type": "api-key", "api_key": "sk-plaintext-secret-1234"},
        "integrations": [
            {"name": "gpt-4o", "type": "integration/model/openai", "model_id": "gpt-4o", "model_types": ["chat"]}
        ],
    }
    await gateway.apply(account)
    body = await gateway.http.get(
        PATH, params={"kind": "provider-account", "name": "plain-key", "to": "x"}, headers=gateway.auth()
    )
    assert body.status_code == 400
    shown = await get(gateway, kind="provider-account", name="plain-key", **{"from": "", "to": ""})
    assert "sk-plaintext-secret-1234" not in str(shown) and "<redacted>" in shown["diff"]["text"]
    await get(gateway, 404, kind="team", name="never")
    await get(gateway, 404, kind="provider-account", name="plain-key", to="999999")
    user = await gateway.add_user("reader@example.com")
    await get(gateway, 403, token=user)
