"""`AfterResponse`: answered requests' log records and metrics are written after the answer, while a
later request waits for its provider, or on a short idle timer; readers have them written first."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.gateway.inprocess import running_gateway
from tfy_gateway.gateway.data_plane.after_response import AfterResponse

BODY = {"model": "openai-main/gpt-4o", "messages": [{"role": "user", "content": "ping"}]}


async def test_work_runs_once_in_order_and_a_failure_does_not_stop_the_rest(caplog: pytest.LogCaptureFixture) -> None:
    after = AfterResponse(asyncio.get_running_loop())
    done: list[str] = []

    def broken() -> None:
        raise RuntimeError("injected")

    after.defer(lambda: done.append("first"))
    after.defer(broken)
    after.defer(lambda: done.append("third"))
    assert done == [] and after.pending == 3
    after.drain()
    after.drain()
    assert done == ["first", "third"] and after.pending == 0
    assert "accounting for an answered request failed" in caplog.text


async def test_while_waiting_runs_after_a_task_started_in_the_same_turn() -> None:
    """The upstream transport writes its request from a task it starts: accounting runs after it."""
    after = AfterResponse(asyncio.get_running_loop())
    order: list[str] = []
    finished = asyncio.Event()

    def account() -> None:
        order.append("accounted")
        finished.set()

    async def write_request() -> None:
        order.append("request written")

    after.defer(account)
    after.while_waiting()
    writer = asyncio.ensure_future(write_request())
    await asyncio.wait_for(finished.wait(), 10)
    await writer
    assert order == ["request written", "accounted"]


async def test_with_nothing_else_to_run_it_the_idle_timer_does() -> None:
    after = AfterResponse(asyncio.get_running_loop())
    finished = asyncio.Event()
    after.defer(finished.set)
    await asyncio.wait_for(finished.wait(), 10)
    assert after.pending == 0


async def test_an_answer_is_accounted_after_it_went_out_and_before_its_log_is_read(tmp_path: Path) -> None:
    async with running_gateway(tmp_path / "data") as gateway:
        plane = gateway.data_plane
        plane.after_response.drain()  # what start-up requests left
        response = await gateway.http.post("/api/llm/chat/completions", json=BODY, headers=gateway.auth())
        assert response.status_code == 200
        assert plane.after_response.pending == 1  # the answer went out before its record was written
        request_id = response.headers["x-tfy-request-id"]
        logs = await gateway.http.get("/api/svc/v1/llm-gateway/logs", headers=gateway.auth())
        assert logs.status_code == 200, logs.text
        assert [record["id"] for record in logs.json()["data"]] == [request_id]
        assert plane.after_response.pending == 0


async def test_metrics_include_every_answered_request(tmp_path: Path) -> None:
    async with running_gateway(tmp_path / "data") as gateway:
        for _ in range(3):
            response = await gateway.http.post("/api/llm/chat/completions", json=BODY, headers=gateway.auth())
            assert response.status_code == 200
        text = (await gateway.http.get("/metrics", headers=gateway.auth())).text
        served = [
            line
            for line in text.splitlines()
            if line.startswith("tfy_gateway_requests_total{") and 'status="200"' in line and "chat" in line
        ]
        assert served and sum(float(line.rsplit(" ", 1)[1]) for line in served) == 3, served
