"""The request pipeline's policy hooks: what they see, and that settle and observe run exactly once.

A gateway in this event loop (the real fake provider in process) with a `Limits` hook that records
every reserve and settle, and a `Guardrails` hook that refuses marked inputs.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from tests.gateway.data_plane.conftest import PROVIDER_KEY, fake_account
from tests.gateway.inprocess import FAKE_ORIGIN, InProcessGateway, running_gateway
from tests.helpers import eventually
from tfy_gateway.gateway.data_plane import DataPlaneOptions
from tfy_gateway.gateway.data_plane.context import RequestContext
from tfy_gateway.gateway.data_plane.hooks import GuardrailSession
from tfy_gateway.gateway.errors import ApiError
from tfy_gateway.gateway.guardrails.checks import GuardrailReport
from tfy_gateway.gateway.limits import Reservation
from tfy_gateway.gateway.providers import Transport

TOKEN = "tfy_pipeline_test_admin_token"
T = TypeVar("T")


class RecordingLimits:
    """Admits everything but `refuse-me` metadata (429); remembers what it reserved and settled."""

    def __init__(self) -> None:
        self.reserved: dict[str, int] = {}
        self.settled: dict[str, list[tuple[int, int]]] = {}

    async def reserve(self, request: RequestContext) -> Reservation | None:
        if request.options.metadata.get("limits") == "refuse-me":
            raise ApiError(429, "Rate limit exceeded (test hook).")
        self.reserved[request.id] = request.config.version
        return Reservation()

    async def settle(self, reservation: Reservation, request: RequestContext) -> None:
        tokens = request.usage.completion_tokens if request.usage is not None else 0
        self.settled.setdefault(request.id, []).append((request.status, tokens))


class BlockingSession:
    """Refuses inputs with a forbidden word before the model call."""

    def __init__(self) -> None:
        self.report = GuardrailReport(("test-hook",), [])
        self.checks_output = False

    async def check_input(self, body: dict[str, Any]) -> dict[str, Any] | None:
        if "forbidden-word" in json.dumps(body.get("messages")):
            raise ApiError(400, "Blocked by an input guardrail (test hook).")
        return None

    async def alongside(self, work: Awaitable[T]) -> T:
        return await work

    async def check_output(self, body: Mapping[str, Any], answer: dict[str, Any]) -> dict[str, Any] | None:
        return None

    def close(self) -> None:
        return None


class BlockingGuardrails:
    def start(self, request: RequestContext) -> GuardrailSession | None:
        return BlockingSession()


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[tuple[InProcessGateway, RecordingLimits]]:
    limits = RecordingLimits()
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "secrets.json").write_text(json.dumps({"fake-group": {"API_KEY": PROVIDER_KEY}}))

    def plane(transport: Transport) -> DataPlaneOptions:
        return DataPlaneOptions(limits=limits, guardrails=BlockingGuardrails(), transport=transport)

    options: dict[str, Any] = {"admin_token": TOKEN, "watch_interval_s": 0}
    async with running_gateway(data_dir, offline=False, provider_key=PROVIDER_KEY, data_plane=plane, **options) as gw:
        await gw.apply(fake_account(FAKE_ORIGIN))
        yield gw, limits


async def chat(gateway: InProcessGateway, model: str = "fake/gpt-4o", **extra: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {TOKEN}", **extra.pop("headers", {})}
    body = {"model": model, "messages": [{"role": "user", "content": extra.pop("text", "hello")}], **extra}
    return await gateway.http.post("/api/llm/chat/completions", json=body, headers=headers)


async def logs(gateway: InProcessGateway) -> list[dict[str, Any]]:
    response = await gateway.http.get("/api/svc/v1/llm-gateway/logs", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200
    data: list[dict[str, Any]] = response.json()["data"]
    return data


async def wait_for(condition: Any, what: str) -> None:
    await eventually(condition, f"timed out waiting for {what}", timeout=20)


async def test_each_outcome_settles_and_logs_exactly_once(stack: tuple[InProcessGateway, RecordingLimits]) -> None:
    gateway, limits = stack
    ok = await chat(gateway)
    streamed = await chat(gateway, stream=True)
    failed = await chat(gateway, "fake/broken")
    assert (ok.status_code, streamed.status_code, failed.status_code) == (200, 200, 500)
    ids = [r.headers["x-tfy-request-id"] for r in (ok, streamed, failed)]
    await wait_for(lambda: all(i in limits.settled for i in ids), "settle of three requests")
    assert [len(limits.settled[i]) for i in ids] == [1, 1, 1]
    assert limits.settled[ids[0]][0][0] == 200 and limits.settled[ids[0]][0][1] > 0
    assert limits.settled[ids[1]][0][0] == 200 and limits.settled[ids[1]][0][1] > 0  # the stream's real usage
    assert limits.settled[ids[2]][0][0] == 500
    logged = [r["id"] for r in await logs(gateway)]  # the answer was the last byte: its record is already there
    assert sorted(i for i in logged if i in ids) == sorted(ids)
    assert len(logged) == len(set(logged))


async def test_refusals_before_admission_reserve_nothing(stack: tuple[InProcessGateway, RecordingLimits]) -> None:
    gateway, limits = stack
    blocked = await chat(gateway, text="a forbidden-word here")
    limited = await chat(gateway, headers={"x-tfy-metadata": json.dumps({"limits": "refuse-me"})})
    assert blocked.status_code == 400 and "input guardrail" in blocked.json()["message"]
    assert limited.status_code == 429 and limited.json()["status"] == "failure"
    assert limits.reserved == {} and limits.settled == {}
    statuses = sorted(r["status"] for r in await logs(gateway))
    assert statuses == [400, 429]


async def test_a_client_that_leaves_mid_stream_is_settled_with_what_was_streamed(
    stack: tuple[InProcessGateway, RecordingLimits],
) -> None:
    gateway, limits = stack
    body = {"model": "fake/dripping", "messages": [{"role": "user", "content": "long"}], "stream": True}
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with gateway.http.stream("POST", "/api/llm/chat/completions", json=body, headers=headers) as response:
        assert response.status_code == 200
        request_id = response.headers["x-tfy-request-id"]
        lines = response.aiter_lines()
        assert (await lines.__anext__()).startswith("data: ")
    await wait_for(lambda: request_id in limits.settled, "settle after the client left")
    assert len(limits.settled[request_id]) == 1 and limits.settled[request_id][0][0] == 499

    async def logged() -> bool:
        return any(r["id"] == request_id for r in await logs(gateway))

    await wait_for(logged, "the 499 log record")
    record = next(r for r in await logs(gateway) if r["id"] == request_id)
    assert record["status"] == 499 and record["stream"] is True
