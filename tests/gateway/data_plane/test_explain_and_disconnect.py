"""The explain endpoint, and a client going away mid-stream cancelling the upstream generation."""

from __future__ import annotations

import contextlib
import json
import time

import httpx

from tests.gateway.data_plane.conftest import PROVIDER_KEY, DataPlane, configure
from tests.helpers import GatewayProcess
from tfy_gateway.fakeprovider import running

EXPLAIN = "/api/svc/v1/llm-gateway/explain"


def test_explain_expands_a_known_users_teams(dp: DataPlane) -> None:
    token = dp.add_user("dave@example.com", "--team", "backend")
    body = {"subject": "user:dave@example.com", "model": "fake/gpt-4o", "metadata": {"env": "dev"}}
    answer = httpx.post(dp.gateway.base_url + EXPLAIN, json=body, headers=dp.auth())
    assert answer.status_code == 200, answer.text
    explained = answer.json()
    assert explained["subjects"] == ["user:dave@example.com", "team:backend", "team:everyone"]
    assert explained["requested_model"] == "fake/gpt-4o"
    stranger = httpx.post(dp.gateway.base_url + EXPLAIN, json={**body, "subject": "user:who@x.io"}, headers=dp.auth())
    assert stranger.json()["subjects"] == ["user:who@x.io"]
    forbidden = httpx.post(dp.gateway.base_url + EXPLAIN, json=body, headers=dp.auth(token))
    assert forbidden.status_code == 403 and "admin" in forbidden.json()["message"]
    bad = httpx.post(dp.gateway.base_url + EXPLAIN, json={"model": "fake/gpt-4o"}, headers=dp.auth())
    assert bad.status_code == 400 and "'subject' is required" in bad.json()["message"]


def test_client_disconnect_cancels_the_upstream_stream(gateway: GatewayProcess) -> None:
    # A fresh gateway (the `gateway` fixture) and provider, so the provider's counters are ours alone.
    with running(api_key=PROVIDER_KEY) as provider:
        configure(gateway, provider)
        data_plane = DataPlane(gateway, provider)
        body = {"model": "fake/dripping", "messages": [{"role": "user", "content": "long please"}], "stream": True}
        with httpx.stream(
            "POST", data_plane.base + "/chat/completions", json=body, headers=data_plane.auth(), timeout=10
        ) as response:
            assert response.status_code == 200
            first = next(response.iter_lines())
            assert first.startswith("data: ")
        # 200 tokens at 20 ms would take 4 s; the provider must see the disconnect well before.
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            stats = httpx.get(provider + "/_fake/stats").json()
            if stats["disconnects"] >= 1:
                break
            time.sleep(0.05)
        assert stats["disconnects"] == 1, stats
        record = data_plane.logs(model="fake/dripping")["data"][0]
        assert record["status"] == 499 and record["stream"] is True


def test_client_disconnect_cancels_a_non_streaming_call(dp: DataPlane) -> None:
    marker = {"case": "gone-early"}
    with contextlib.suppress(httpx.ReadTimeout):
        dp.chat("fake/slow", headers={"x-tfy-metadata": json.dumps(marker)}, timeout=0.3)
    deadline = time.monotonic() + 3
    records: list[dict] = []
    while time.monotonic() < deadline and not records:
        records = [r for r in dp.logs(model="fake/slow")["data"] if r["metadata"] == marker]
        time.sleep(0.05)
    # Cancelled when the client left (499), not after the 1.5 s upstream timeout (504).
    assert records and records[0]["status"] == 499 and records[0]["latency_ms"] < 1000
