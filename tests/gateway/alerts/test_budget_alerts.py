"""Budget enforcement to delivery: requests that cross a rule's alert threshold alert once, in one gateway."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import httpx

from tests.gateway.alerts.receivers import Receiver
from tfy_gateway.fakeprovider import running
from tfy_gateway.gateway import GatewaySettings, create_app

TOKEN = "tfy_budget_alerts_admin_" + "c" * 24
PROVIDER_KEY = "sk-fakeprovider-alerts-0000"
PRICE = {"metric": "per_1000_tokens", "value": {"input": 1.0, "output": 1.0}}  # $0.001 a token


def account(provider: str) -> dict[str, Any]:
    return {
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
                "cost": PRICE,
            }
        ],
    }


BUDGET = {
    "name": "spend",
    "type": "gateway-budget-config",
    "rules": [
        {
            "id": "per-user-daily",
            "when": {},
            "limit_to": 0.1,
            "unit": "cost_per_day",
            "budget_applies_per": ["user"],
            "alerts": {
                "thresholds": [25, 100],
                "notification_target": [{"type": "slack-webhook", "notification_channel": "ops"}],
            },
        }
    ],
}


async def test_requests_crossing_a_threshold_alert_once_per_threshold(tmp_path: Path, receiver: Receiver) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o700)
    secrets = {"fake-group": {"API_KEY": PROVIDER_KEY}, "notify-ops": {"webhook_url": receiver.url("/slack/hook/x")}}
    (data_dir / "secrets.json").write_text(json.dumps(secrets))
    settings = GatewaySettings(data_dir=data_dir, admin_token=TOKEN, watch_interval_s=0)
    app = create_app(settings)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    days = {f"day {time.strftime('%Y-%m-%d', time.gmtime())}"}
    with running(api_key=PROVIDER_KEY) as provider:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://gw", headers=headers) as client:
                for manifest in (account(provider), BUDGET):
                    response = await client.put("/api/svc/v1/apply", json={"manifest": manifest})
                    assert response.status_code == 200, response.text
                statuses = []
                body = {"model": "pricey/gpt", "messages": [{"role": "user", "content": "spend"}], "max_tokens": 20}
                for _ in range(10):  # a few cents each: past 25% of $0.10 early, then refused at the limit
                    statuses.append((await client.post("/api/llm/chat/completions", json=body)).status_code)
                assert statuses[0] == 200 and 429 in statuses

                deadline = time.monotonic() + 30  # a hang guard, not a speed assertion
                while len(receiver.requests) < 2 and time.monotonic() < deadline:
                    await asyncio.sleep(0.02)
                listing = (await client.get("/api/svc/v1/llm-gateway/alerts")).json()

    texts = sorted(r.body["text"] for r in receiver.requests)
    assert len(texts) == 2, texts
    assert "spend/per-user-daily reached 100% for user user:admin@local" in texts[0]
    assert "spend/per-user-daily reached 25% for user user:admin@local" in texts[1]
    assert [(i["threshold"], i["status"]) for i in sorted(listing["data"], key=lambda i: i["threshold"])] == [
        (25.0, "delivered"),
        (100.0, "delivered"),
    ]
    days.add(f"day {time.strftime('%Y-%m-%d', time.gmtime())}")  # the run may straddle UTC midnight
    assert {i["period"] for i in listing["data"]} <= days
