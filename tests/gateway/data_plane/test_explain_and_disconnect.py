"""The explain endpoint, and a client going away cancelling the upstream call (streamed or not).

The disconnect tests assert what happened, not how fast: the upstream calls would run for 10
minutes, so the provider seeing a disconnect and a 499 in the request log can only come from the
gateway cancelling them when the client left.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.gateway.data_plane.conftest import DataPlane, data_plane
from tests.helpers import eventually

EXPLAIN = "/api/svc/v1/llm-gateway/explain"


async def test_explain_expands_a_known_users_teams(dp: DataPlane) -> None:
    token = await dp.add_user("dave@example.com", teams=["backend"])
    body = {"subject": "user:dave@example.com", "model": "fake/gpt-4o", "metadata": {"env": "dev"}}
    answer = await dp.http.post(EXPLAIN, json=body, headers=dp.auth())
    assert answer.status_code == 200, answer.text
    explained = answer.json()
    assert explained["subjects"] == ["user:dave@example.com", "team:backend", "team:everyone"]
    assert explained["requested_model"] == "fake/gpt-4o"
    stranger = await dp.http.post(EXPLAIN, json={**body, "subject": "user:who@x.io"}, headers=dp.auth())
    assert stranger.json()["subjects"] == ["user:who@x.io"]
    forbidden = await dp.http.post(EXPLAIN, json=body, headers=dp.auth(token))
    assert forbidden.status_code == 403 and "admin" in forbidden.json()["message"]
    bad = await dp.http.post(EXPLAIN, json={"model": "fake/gpt-4o"}, headers=dp.auth())
    assert bad.status_code == 400 and "'subject' is required" in bad.json()["message"]


@pytest.fixture
async def patient(tmp_path: Path) -> AsyncIterator[DataPlane]:
    """A gateway with `serve`'s default upstream timeout (ten minutes), and a provider of its own."""
    async with data_plane(tmp_path / "data", upstream_timeout_s=600.0) as plane:
        yield plane


def disconnected(dp: DataPlane) -> dict[str, int] | None:
    """The fake provider's counters once it has seen a client go away (None before)."""
    stats = dp.gateway.provider_stats()
    return stats if stats["disconnects"] >= 1 else None


async def test_client_disconnect_cancels_the_upstream_stream(patient: DataPlane) -> None:
    # A fresh gateway and provider, so the provider's counters are ours alone.
    # fake/endless would stream for 10 minutes: only a cancellation ends it.
    dp = patient
    body = {"model": "fake/endless", "messages": [{"role": "user", "content": "long please"}], "stream": True}
    async with dp.http.stream("POST", dp.base + "/chat/completions", json=body, headers=dp.auth()) as response:
        assert response.status_code == 200
        first = await response.aiter_lines().__anext__()
        assert first.startswith("data: ")
    stats = await eventually(lambda: disconnected(dp), "the provider seeing the gateway cancel the stream")
    assert stats["disconnects"] == 1, stats
    record = await dp.log_record(response, model="fake/endless")
    assert record["status"] == 499 and record["stream"] is True and record["error_origin"] == "client"


async def test_client_disconnect_cancels_a_non_streaming_call(patient: DataPlane) -> None:
    # fake/stalled answers after 10 minutes, and the upstream timeout is not shorter: the call can
    # only end because the client left, whenever that is.
    dp = patient
    marker = "gone-early-" + secrets.token_hex(4)
    body = {"model": "fake/stalled", "messages": [{"role": "user", "content": marker}]}
    waiting = asyncio.ensure_future(dp.http.post(dp.base + "/chat/completions", json=body, headers=dp.auth()))
    # Leave only once the provider has the call, so the gateway is waiting on it.
    await eventually(lambda: marker in str(dp.gateway.provider_requests()), "the call reaching the provider")
    waiting.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await waiting
    stats = await eventually(lambda: disconnected(dp), "the provider seeing the gateway cancel the call")
    assert stats == {"requests": 1, "disconnects": 1}

    async def logged() -> list[dict[str, Any]]:
        return list((await dp.logs(model="fake/stalled"))["data"])

    (record,) = await eventually(logged, "the request log record of the call")
    assert record["status"] == 499 and record["stream"] is False and record["error_origin"] == "client"
