"""`GET /api/svc/v1/llm-gateway/alerts` and the data plane's `plane.alerts`, in one app lifespan."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx

from tests.gateway.alerts.conftest import WEBHOOK_TOKEN, budget_alert
from tests.gateway.alerts.receivers import Answer, Receiver
from tfy_gateway.gateway import GatewaySettings, create_app
from tfy_gateway.gateway.data_plane import DataPlane

TOKEN = "tfy_alerts_admin_" + "a" * 24
PATH = "/api/svc/v1/llm-gateway/alerts"


@asynccontextmanager
async def running(tmp_path: Path, receiver: Receiver) -> AsyncIterator[tuple[DataPlane, httpx.AsyncClient]]:
    """The app with its lifespan running in this task (not a fixture: the lifespan's task group must
    be entered and exited by one task); channel `ops` points at the receiver."""
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o700)
    secrets = {"notify-ops": {"webhook_url": receiver.url(f"/slack/hook/{WEBHOOK_TOKEN}")}}
    (data_dir / "secrets.json").write_text(json.dumps(secrets))
    settings = GatewaySettings(data_dir=data_dir, admin_token=TOKEN, watch_interval_s=0, alert_max_attempts=1)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        plane: DataPlane = app.state.data_plane
        transport = httpx.ASGITransport(app=app)
        headers = {"Authorization": f"Bearer {TOKEN}"}
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway", headers=headers) as client:
            yield plane, client
    assert not plane.alerts.running  # stopped with the app


async def until(client: httpx.AsyncClient, check: Any, **params: Any) -> dict[str, Any]:
    """Poll the listing until `check(body)` holds (a hang guard, not a speed assertion)."""
    deadline = time.monotonic() + 30
    while True:
        response = await client.get(PATH, params=params)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        if check(body) or time.monotonic() > deadline:
            return body
        await asyncio.sleep(0.02)


async def test_alerts_submitted_to_the_plane_are_delivered_and_listed(tmp_path: Path, receiver: Receiver) -> None:
    async with running(tmp_path, receiver) as (plane, client):
        await check_delivered_and_listed(plane, client, receiver)


async def check_delivered_and_listed(plane: DataPlane, client: httpx.AsyncClient, receiver: Receiver) -> None:
    plane.alerts.submit(budget_alert([{"type": "slack-webhook", "notification_channel": "ops"}]))
    plane.alerts.submit(budget_alert([{"type": "pagerduty", "notification_channel": "unset"}], threshold=100))
    body = await until(client, lambda b: {i["status"] for i in b["data"]} == {"delivered", "failed"})

    assert body["pagination"] == {"total": 2, "offset": 0, "limit": 100}
    failed, delivered = sorted(body["data"], key=lambda i: i["status"], reverse=True)
    assert (
        delivered["threshold"] == 80 and delivered["config"] == "team-budgets" and delivered["rule_id"] == "daily-cost"
    )
    assert delivered["entity"] == "user user:alice@example.com" and delivered["period"] == "day 2026-11-29"
    assert (delivered["used"], delivered["limit"], delivered["unit"]) == (8.125, 10, "cost_per_day")
    assert delivered["occurred_at"] == "2027-01-15T08:00:00.000Z"
    [target] = delivered["targets"]
    assert target["type"] == "slack-webhook" and target["notification_channel"] == "ops"
    assert target["status"] == "delivered" and target["attempts"] == 1 and target["delivered_at"]
    [target] = failed["targets"]
    assert target["status"] == "failed" and "TFY_SECRET_NOTIFY_UNSET_INTEGRATION_KEY" in target["last_error"]
    assert len(receiver.at("/slack/hook/")) == 1
    assert WEBHOOK_TOKEN not in json.dumps(body)

    only = (await client.get(PATH, params={"status": "failed"})).json()
    assert [i["id"] for i in only["data"]] == [failed["id"]] and only["pagination"]["total"] == 1
    page = (await client.get(PATH, params={"limit": 1, "offset": 1})).json()
    assert len(page["data"]) == 1 and page["pagination"] == {"total": 2, "offset": 1, "limit": 1}
    assert (await client.get(PATH, params={"rule_id": "other"})).json()["data"] == []


async def test_the_listing_refuses_bad_filters_and_anonymous_callers(tmp_path: Path, receiver: Receiver) -> None:
    async with running(tmp_path, receiver) as (_, client):
        await check_refusals(client)


async def check_refusals(client: httpx.AsyncClient) -> None:
    bad = await client.get(PATH, params={"status": "sent"})
    assert bad.status_code == 400
    assert (
        bad.json()["message"] == "status='sent' is not an alert status; allowed: pending, delivered, failed, recorded."
    )
    assert (await client.get(PATH, params={"limit": "-1"})).status_code == 400
    anonymous = await client.get(PATH, headers={"Authorization": ""})
    assert anonymous.status_code == 401


async def test_an_empty_history_lists_nothing(tmp_path: Path, receiver: Receiver) -> None:
    async with running(tmp_path, receiver) as (_, client):
        empty = (await client.get(PATH)).json()
    assert empty == {"data": [], "pagination": {"total": 0, "offset": 0, "limit": 100}}


async def test_the_listing_shows_no_part_of_a_failing_webhook_url(tmp_path: Path, receiver: Receiver) -> None:
    password, segment, query = "apiP4ssw0rd", "ApiPathSecret77", "ApiQuerySecret88"
    receiver.answers["/slack/hook/"] = Answer(502, f"upstream {segment} {query} {password} down".encode())
    async with running(tmp_path, receiver) as (plane, client):
        url = f"http://hook:{password}@127.0.0.1:{receiver.port}/slack/hook/{segment}?sig={query}"
        secrets_file = tmp_path / "data" / "secrets.json"
        secrets_file.write_text(json.dumps({"notify-ops": {"webhook_url": url}}))
        plane.alerts.submit(budget_alert([{"type": "slack-webhook", "notification_channel": "ops"}]))
        body = await until(client, lambda b: [i["status"] for i in b["data"]] == ["failed"])
    [target] = body["data"][0]["targets"]
    assert target["last_error"].startswith(f"127.0.0.1:{receiver.port} answered 502: upstream ***")
    for secret in (password, segment, query, "hook:"):
        assert secret not in json.dumps(body), secret
