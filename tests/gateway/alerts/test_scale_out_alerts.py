"""Budget alerts from real gateway processes sharing state: two replicas on PostgreSQL and Redis, and
`serve --workers 2` on Redis. Requests for 25 projects go to both at once, so every process sees every
project's counter cross 25% and 50%; each (project, threshold) still alerts exactly once."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

from tests.gateway.alerts.receivers import Receiver
from tests.helpers import GatewayProcess, burst_client, eventually, workers_agree
from tests.redis_server import RedisServer
from tfy_gateway.fakeprovider import running

PROVIDER_KEY = "sk-fakeprovider-scaleout-alerts"
PROJECTS = [f"p{n:02d}" for n in range(25)]
THRESHOLDS = [25, 50]
ENV = {"TFY_GATEWAY_UPSTREAM_TIMEOUT_S": "60", "TFY_GATEWAY_STATE_TIMEOUT_MS": "5000"}
DEADLINE_S = 120.0


def manifests(provider: str) -> list[dict[str, Any]]:
    account = {
        "name": "pricey",
        "type": "provider-account/openai",
        "base_url": f"{provider}/v1",
        "auth_data": {"type": "api-key", "api_key": "tfy-secret://local:fake-group:API_KEY"},
        "collaborators": [{"subject": "team:everyone", "role_id": "provider-account-access"}],
        "integrations": [
            {
                "type": "integration/model/openai",
                "name": "gpt",
                "model_id": "gpt-4o@tokens=20",
                "model_types": ["chat"],
                "cost": {"metric": "per_1000_tokens", "value": {"input": 1.0, "output": 1.0}},  # $0.001 a token
            }
        ],
    }
    rule = {
        "id": "per-project",
        "when": {},
        "limit_to": 0.1,  # a request costs about $0.03: two take a project past 50%
        "unit": "cost_per_day",
        "budget_applies_per": ["metadata.project"],
        "audit_mode": True,  # never refuses: every request settles and is observed
        "alerts": {
            "thresholds": THRESHOLDS,
            "notification_target": [{"type": "slack-webhook", "notification_channel": "ops"}],
        },
    }
    return [account, {"name": "spend", "type": "gateway-budget-config", "rules": [rule]}]


def prepare(data_dir: Path, receiver: Receiver) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    secrets = {"fake-group": {"API_KEY": PROVIDER_KEY}, "notify-ops": {"webhook_url": receiver.url("/slack/hook/x")}}
    (data_dir / "secrets.json").write_text(json.dumps(secrets))


async def apply(client: httpx.AsyncClient, gateway: GatewayProcess, manifest: dict[str, Any]) -> None:
    response = await client.put(
        gateway.base_url + "/api/svc/v1/apply",
        json={"manifest": manifest, "dryRun": False},
        headers={"Authorization": f"Bearer {gateway.admin_token}"},
    )
    assert response.status_code == 200, response.text


async def spend(gateways: list[GatewayProcess]) -> list[int]:
    """Four requests per project, two through each gateway (or connection), all at once."""
    body = {"model": "pricey/gpt", "messages": [{"role": "user", "content": "spend"}], "max_tokens": 20}
    clients = [burst_client(max_connections=200, timeout=120) for _ in gateways]

    def call(position: int, project: str) -> Any:
        gateway = gateways[position]
        headers = {
            "Authorization": f"Bearer {gateway.admin_token}",
            "x-tfy-metadata": json.dumps({"project": project}),
        }
        return clients[position].post(gateway.base_url + "/api/llm/chat/completions", json=body, headers=headers)

    try:
        calls = [call(n % len(gateways), project) for project in PROJECTS for n in range(4)]
        return [answer.status_code for answer in await asyncio.gather(*calls)]
    finally:
        for client in clients:
            await client.aclose()


async def listed(client: httpx.AsyncClient, gateway: GatewayProcess) -> list[dict[str, Any]]:
    response = await client.get(
        gateway.base_url + "/api/svc/v1/llm-gateway/alerts",
        params={"limit": 1000},
        headers={"Authorization": f"Bearer {gateway.admin_token}"},
    )
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["data"]
    return items


async def every_alert_delivered_once(
    client: httpx.AsyncClient, gateways: list[GatewayProcess], receiver: Receiver
) -> None:
    expected = len(PROJECTS) * len(THRESHOLDS)

    async def all_delivered() -> bool:
        items = await listed(client, gateways[0])
        return len(items) == expected and all(item["status"] == "delivered" for item in items)

    await eventually(all_delivered, f"{expected} alerts delivered", timeout=DEADLINE_S)
    texts = Counter(r.body["text"] for r in receiver.requests)
    assert len(texts) == expected and set(texts.values()) == {1}, texts.most_common(3)
    keys = Counter(r.headers["Idempotency-Key"] for r in receiver.requests)
    assert len(keys) == expected
    for gateway in gateways[1:]:  # every replica lists the same alerts
        assert len(await listed(client, gateway)) == expected


async def test_two_replicas_on_postgresql_and_redis_alert_once_per_threshold(
    tmp_path: Path, postgres_url: str, redis_server: RedisServer, receiver: Receiver
) -> None:
    args = ("--database-url", postgres_url, "--redis-url", redis_server.url, "--watch-interval-s", "0")
    a = GatewayProcess(tmp_path / "a", extra_args=args, env=ENV)
    b = GatewayProcess(tmp_path / "b", extra_args=args, env=ENV)
    b.admin_token = a.admin_token
    with running(api_key=PROVIDER_KEY) as provider:
        for gateway in (a, b):
            prepare(gateway.data_dir, receiver)
        try:
            await asyncio.to_thread(a.start)
            await asyncio.to_thread(b.start)
            async with httpx.AsyncClient(timeout=120, limits=httpx.Limits(max_connections=200)) as client:
                for manifest in manifests(provider):
                    await apply(client, a, manifest)

                async def b_knows_the_budget() -> bool:
                    response = await client.get(
                        b.base_url + "/api/svc/v1/llm-gateway/config/gateway-budget-config",
                        headers={"Authorization": f"Bearer {b.admin_token}"},
                    )
                    return response.status_code == 200

                await eventually(b_knows_the_budget, "B serving A's budget", timeout=DEADLINE_S)
                statuses = await spend([a, b])
                assert set(statuses) == {200}, Counter(statuses)
                await every_alert_delivered_once(client, [a, b], receiver)
        finally:
            a.stop()
            b.stop()


async def test_two_workers_alert_once_per_threshold(
    tmp_path: Path, redis_server: RedisServer, receiver: Receiver
) -> None:
    redis_server.client().flushall()
    gateway = GatewayProcess(tmp_path / "data", extra_args=("--workers", "2", "--redis-url", redis_server.url), env=ENV)
    with running(api_key=PROVIDER_KEY) as provider:
        prepare(gateway.data_dir, receiver)
        try:
            await asyncio.to_thread(gateway.start)
            async with httpx.AsyncClient(timeout=120, limits=httpx.Limits(max_connections=200)) as client:
                for manifest in manifests(provider):
                    await apply(client, gateway, manifest)

                # Each worker polls the database for the other's writes (the default watch interval).
                await eventually(
                    workers_agree(gateway.base_url, 2), "both workers loading the budget", timeout=DEADLINE_S
                )
                statuses = await spend([gateway])
                assert set(statuses) == {200}, Counter(statuses)
                await every_alert_delivered_once(client, [gateway], receiver)
        finally:
            gateway.stop()
