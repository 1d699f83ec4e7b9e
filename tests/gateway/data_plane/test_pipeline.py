"""The request pipeline's policy hooks: what they see, and that settle and observe run exactly once.

A gateway in this process (real HTTP, real fake provider) with a `Limits` hook that records every
reserve and settle, and a `Guardrails` hook that refuses marked inputs.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.gateway.data_plane.conftest import PROVIDER_KEY, fake_account
from tests.helpers import ServerThread
from tfy_gateway.fakeprovider import running
from tfy_gateway.gateway import GatewaySettings, create_app
from tfy_gateway.gateway.data_plane import DataPlane
from tfy_gateway.gateway.data_plane.context import RequestContext
from tfy_gateway.gateway.errors import ApiError
from tfy_gateway.gateway.limits import Reservation

TOKEN = "tfy_pipeline_test_admin_token"


class RecordingLimits:
    """Admits everything but `refuse-me` metadata (429); remembers what it reserved and settled."""

    def __init__(self) -> None:
        self.reserved: dict[str, int] = {}
        self.settled: dict[str, list[tuple[int, int]]] = {}

    async def reserve(self, request: RequestContext) -> Reservation | None:
        if request.options.metadata.get("limits") == "refuse-me":
            raise ApiError(429, "Rate limit exceeded (test hook).")
        self.reserved[request.id] = request.config.version
        return Reservation(holds=(request.id,))

    async def settle(self, reservation: Reservation, request: RequestContext) -> None:
        tokens = request.usage.completion_tokens if request.usage is not None else 0
        self.settled.setdefault(request.id, []).append((request.status, tokens))


class BlockingGuardrails:
    async def check_input(self, request: RequestContext) -> None:
        if "forbidden-word" in json.dumps(request.body.get("messages")):
            raise ApiError(400, "Blocked by an input guardrail (test hook).")

    async def check_output(self, request: RequestContext, output: Any) -> None:
        return None


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[tuple[str, RecordingLimits]]:
    limits = RecordingLimits()
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "secrets.json").write_text(json.dumps({"fake-group": {"API_KEY": PROVIDER_KEY}}))
    settings = GatewaySettings(data_dir=data_dir, admin_token=TOKEN, watch_interval_s=0)
    app = create_app(settings, data_plane=DataPlane(limits=limits, guardrails=BlockingGuardrails()))
    with running(api_key=PROVIDER_KEY) as provider, ServerThread(app) as server:
        applied = httpx.put(
            f"{server.base_url}/api/svc/v1/apply",
            json={"manifest": fake_account(provider)},
            headers={"Authorization": f"Bearer {TOKEN}"},
        )
        assert applied.status_code == 200, applied.text
        yield server.base_url, limits


def chat(base: str, model: str = "fake/gpt-4o", **extra: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {TOKEN}", **extra.pop("headers", {})}
    body = {"model": model, "messages": [{"role": "user", "content": extra.pop("text", "hello")}], **extra}
    return httpx.post(f"{base}/api/llm/chat/completions", json=body, headers=headers, timeout=30)


def logs(base: str) -> list[dict[str, Any]]:
    response = httpx.get(f"{base}/api/svc/v1/llm-gateway/logs", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200
    data: list[dict[str, Any]] = response.json()["data"]
    return data


def wait_for(condition: Any, what: str) -> None:
    deadline = time.monotonic() + 20
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def test_each_outcome_settles_and_logs_exactly_once(stack: tuple[str, RecordingLimits]) -> None:
    base, limits = stack
    ok = chat(base)
    streamed = chat(base, stream=True)
    failed = chat(base, "fake/broken")
    assert (ok.status_code, streamed.status_code, failed.status_code) == (200, 200, 500)
    ids = [r.headers["x-tfy-request-id"] for r in (ok, streamed, failed)]
    wait_for(lambda: all(i in limits.settled for i in ids), "settle of three requests")
    assert [len(limits.settled[i]) for i in ids] == [1, 1, 1]
    assert limits.settled[ids[0]][0][0] == 200 and limits.settled[ids[0]][0][1] > 0
    assert limits.settled[ids[1]][0][0] == 200 and limits.settled[ids[1]][0][1] > 0  # the stream's real usage
    assert limits.settled[ids[2]][0][0] == 500
    logged = [r["id"] for r in logs(base)]  # the answer was the last byte: its record is already there
    assert sorted(i for i in logged if i in ids) == sorted(ids)
    assert len(logged) == len(set(logged))


def test_refusals_before_admission_reserve_nothing(stack: tuple[str, RecordingLimits]) -> None:
    base, limits = stack
    blocked = chat(base, text="a forbidden-word here")
    limited = chat(base, headers={"x-tfy-metadata": json.dumps({"limits": "refuse-me"})})
    assert blocked.status_code == 400 and "input guardrail" in blocked.json()["message"]
    assert limited.status_code == 429 and limited.json()["status"] == "failure"
    assert limits.reserved == {} and limits.settled == {}
    statuses = sorted(r["status"] for r in logs(base))
    assert statuses == [400, 429]


def test_a_client_that_leaves_mid_stream_is_settled_with_what_was_streamed(
    stack: tuple[str, RecordingLimits],
) -> None:
    base, limits = stack
    body = {"model": "fake/dripping", "messages": [{"role": "user", "content": "long"}], "stream": True}
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.stream("POST", f"{base}/api/llm/chat/completions", json=body, headers=headers, timeout=30) as response:
        assert response.status_code == 200
        request_id = response.headers["x-tfy-request-id"]
        lines = response.iter_lines()
        assert next(lines).startswith("data: ")
    wait_for(lambda: request_id in limits.settled, "settle after the client left")
    assert len(limits.settled[request_id]) == 1 and limits.settled[request_id][0][0] == 499
    wait_for(lambda: any(r["id"] == request_id for r in logs(base)), "the 499 log record")
    record = next(r for r in logs(base) if r["id"] == request_id)
    assert record["status"] == 499 and record["stream"] is True
