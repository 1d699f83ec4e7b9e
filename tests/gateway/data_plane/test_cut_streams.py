"""How streams end: charged for what was sent, never reported complete when they were not, and
recorded before the client sees `[DONE]`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.gateway.data_plane.conftest import DataPlane, data_plane
from tests.gateway.inprocess import FAKE_ORIGIN
from tests.helpers import eventually

COST = {"metric": "per_1000_tokens", "value": {"input": 0.0025, "output": 0.01}}


def model(name: str, model_id: str) -> dict[str, Any]:
    return {
        "type": "integration/model/openai",
        "name": name,
        "model_id": model_id,
        "model_types": ["chat"],
        "cost": COST,
    }


@pytest.fixture
async def dp(tmp_path: Path) -> AsyncIterator[DataPlane]:
    async with data_plane(tmp_path / "data") as plane:
        await plane.apply(
            {
                "name": "edge",
                "type": "provider-account/openai",
                "base_url": f"{FAKE_ORIGIN}/v1",
                "auth_data": {"type": "api-key", "api_key": "tfy-secret://local:fake-group:API_KEY"},
                "integrations": [
                    model("long", "gpt-4o@tokens=2000,tpot_ms=5"),
                    model("cut", "gpt-4o@tokens=50,cut_after=2"),
                    model("dropped", "gpt-4o@tokens=50,drop_after=10"),
                    model("lingering", "gpt-4o@tokens=5,linger_ms=1500"),
                ],
            },
        )
        yield plane


async def stream_lines(dp: DataPlane, model_id: str, *, read: int | None = None) -> tuple[httpx.Response, list[str]]:
    body = {"model": model_id, "messages": [{"role": "user", "content": "tell me a long story " * 10}], "stream": True}
    lines: list[str] = []
    async with dp.http.stream("POST", dp.base + "/chat/completions", json=body, headers=dp.auth()) as response:
        async for line in response.aiter_lines():
            if line:
                lines.append(line)
            if read is not None and len(lines) >= read:
                break
    return response, lines


async def record_of(dp: DataPlane, request_id: str) -> dict[str, Any]:
    async def find() -> dict[str, Any] | None:
        return next((r for r in (await dp.logs(model=None))["data"] if r["id"] == request_id), None)

    return await eventually(find, f"the log record {request_id}", timeout=20)


async def test_a_stream_the_client_leaves_is_charged_for_what_was_sent(dp: DataPlane) -> None:
    response, lines = await stream_lines(dp, "edge/long", read=300)
    assert response.status_code == 200 and len(lines) == 300
    record = await record_of(dp, response.headers["x-tfy-request-id"])
    assert record["status"] == 499 and record["usage_estimated"] is True
    # About 300 chunks were sent (buffers may hold a few more): charged, not zero.
    assert 250 <= record["completion_tokens"] <= 2000 and record["prompt_tokens"] > 0
    assert record["cost"] and record["cost"] > 0


async def test_a_stream_the_provider_drops_is_charged_and_reported_failed(dp: DataPlane) -> None:
    response, lines = await stream_lines(dp, "edge/dropped")
    assert response.status_code == 200
    assert lines[-1] != "data: [DONE]" and '"error"' in lines[-1]
    record = await record_of(dp, response.headers["x-tfy-request-id"])
    assert record["status"] == 502 and record["error_origin"] == "api_error"
    assert record["usage_estimated"] is True and record["completion_tokens"] >= 5 and record["cost"] > 0


async def test_a_stream_that_ends_unfinished_is_not_reported_complete(dp: DataPlane) -> None:
    response, lines = await stream_lines(dp, "edge/cut")
    assert response.status_code == 200
    assert "data: [DONE]" not in lines  # the gateway never invents the end of an answer
    error = lines[-1]
    assert error.startswith("data: {") and '"error"' in error and "before it finished" in error
    record = await record_of(dp, response.headers["x-tfy-request-id"])
    assert record["status"] == 502 and record["error_origin"] == "api_error"
    assert record["usage_estimated"] is True and record["cost"] > 0


async def test_a_complete_stream_uses_the_providers_usage(dp: DataPlane) -> None:
    response, lines = await stream_lines(dp, "fake/gpt-4o")
    assert lines[-1] == "data: [DONE]"
    record = await record_of(dp, response.headers["x-tfy-request-id"])
    assert record["status"] == 200 and record["usage_estimated"] is False and record["completion_tokens"] > 0


async def test_a_client_that_hangs_up_at_done_finds_its_request_logged_as_served(dp: DataPlane) -> None:
    """The upstream keeps its connection open 1.5 s after [DONE]; the client leaves at [DONE] and
    asks for its logs at once. The record must be there already, with status 200 (not 499)."""
    body = {"model": "edge/lingering", "messages": [{"role": "user", "content": "hi"}], "stream": True}
    async with dp.http.stream("POST", dp.base + "/chat/completions", json=body, headers=dp.auth()) as response:
        request_id = response.headers["x-tfy-request-id"]
        async for line in response.aiter_lines():
            if line == "data: [DONE]":
                break
    logged = {r["id"]: r for r in (await dp.logs())["data"]}  # no waiting: read-your-writes
    assert request_id in logged, "the stream was not recorded before the client saw [DONE]"
    assert logged[request_id]["status"] == 200 and logged[request_id]["usage_estimated"] is False
