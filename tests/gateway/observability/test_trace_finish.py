"""A request whose accounting fails (logged, never the client's problem) still has its trace finished:
its spans reach the collector and its trace pipeline stops counting it as active."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from tests.gateway.inprocess import running_gateway
from tests.gateway.observability.otlp_receiver import OtlpReceiver


async def test_spans_go_out_when_the_request_log_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with OtlpReceiver() as receiver:
        async with running_gateway(tmp_path / "data", otel_traces_endpoint=receiver.traces_url) as gateway:
            plane = gateway.data_plane

            def broken_submit(record: object) -> None:
                raise RuntimeError("injected request-log fault")

            monkeypatch.setattr(plane.logs, "submit", broken_submit)
            body = {"model": "openai-main/gpt-4o", "messages": [{"role": "user", "content": "ping"}]}
            response = await gateway.http.post("/api/llm/chat/completions", json=body, headers=gateway.auth())
            assert response.status_code == 200
            assert await anyio.to_thread.run_sync(plane.telemetry.flush)
            kinds = sorted(span.kind for span in receiver.spans)
            assert len(receiver.spans) == 2, kinds  # the server span and the one upstream attempt
            pipeline = plane.telemetry._pipeline
            assert pipeline is not None and pipeline.active == 0
