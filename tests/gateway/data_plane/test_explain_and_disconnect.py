"""The explain endpoint, and a client going away cancelling the upstream call (streamed or not).

The disconnect tests assert what happened, not how fast: the upstream calls would run for 10
minutes, so the provider seeing a disconnect and a 499 in the request log can only come from the
gateway cancelling them when the client left.
"""

from __future__ import annotations

import json
import secrets
import socket
from typing import Any

import httpx

from tests.gateway.data_plane.conftest import PROVIDER_KEY, DataPlane, configure
from tests.helpers import GatewayProcess, wait_for
from tfy_gateway.fakeprovider import running

EXPLAIN = "/api/svc/v1/llm-gateway/explain"


def disconnected(provider: str) -> dict[str, Any] | None:
    """The fake provider's counters once it has seen a client go away (None before)."""
    stats: dict[str, Any] = httpx.get(provider + "/_fake/stats").json()
    return stats if stats["disconnects"] >= 1 else None


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
    # fake/endless would stream for 10 minutes: only a cancellation ends it.
    with running(api_key=PROVIDER_KEY) as provider:
        configure(gateway, provider)
        data_plane = DataPlane(gateway, provider)
        body = {"model": "fake/endless", "messages": [{"role": "user", "content": "long please"}], "stream": True}
        with httpx.stream(
            "POST", data_plane.base + "/chat/completions", json=body, headers=data_plane.auth(), timeout=30
        ) as response:
            assert response.status_code == 200
            first = next(response.iter_lines())
            assert first.startswith("data: ")
        stats = wait_for(lambda: disconnected(provider), "the provider seeing the gateway cancel the stream")
        assert stats["disconnects"] == 1, stats
        record = data_plane.log_record(response, model="fake/endless")
        assert record["status"] == 499 and record["stream"] is True and record["error_origin"] == "client"


def test_client_disconnect_cancels_a_non_streaming_call(gateway: GatewayProcess) -> None:
    # fake/stalled answers after 10 minutes, and the `gateway` fixture's upstream timeout is longer:
    # the call can only end because the client left, whenever that is.
    with running(api_key=PROVIDER_KEY) as provider:
        configure(gateway, provider)
        marker = "gone-early-" + secrets.token_hex(4)
        body = json.dumps({"model": "fake/stalled", "messages": [{"role": "user", "content": marker}]}).encode()
        head = (
            "POST /api/llm/chat/completions HTTP/1.1\r\n"
            f"Host: 127.0.0.1:{gateway.port}\r\n"
            f"Authorization: Bearer {gateway.admin_token}\r\n"
            "Content-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        with socket.create_connection(("127.0.0.1", gateway.port), timeout=30) as client:
            client.sendall(head.encode() + body)
            # Leave only once the provider has the call, so the gateway is waiting on it.
            wait_for(lambda: marker in httpx.get(provider + "/_fake/requests").text, "the call reaching the provider")
        stats = wait_for(lambda: disconnected(provider), "the provider seeing the gateway cancel the call")
        assert stats == {"requests": 1, "disconnects": 1}
        logs = DataPlane(gateway, provider).logs
        (record,) = wait_for(lambda: logs(model="fake/stalled")["data"], "the request log record of the call")
        assert record["status"] == 499 and record["stream"] is False and record["error_origin"] == "client"
