"""Two gateway replicas sharing PostgreSQL: a batch created on one is run once, by whichever holds it."""

from __future__ import annotations

import secrets
from pathlib import Path

from tests.gateway.batches.conftest import chat_line, finished, jsonl, output_lines, sdk
from tests.gateway.inprocess import running_gateway


async def test_replicas_sharing_postgresql_run_each_line_once(tmp_path: Path, postgres_url: str) -> None:
    shared = {"database_url": postgres_url, "admin_token": "tfy_shared_" + secrets.token_hex(16)}
    fast = {"batch_poll_s": 0.05, "batch_concurrency": 2}
    async with (
        running_gateway(tmp_path / "a", **shared, **fast) as a,
        running_gateway(tmp_path / "b", **shared, **fast) as b,
    ):
        client = sdk(a)
        lines = [chat_line(f"req-{i}", max_tokens=2) for i in range(12)]
        uploaded = await client.files.create(file=("in.jsonl", jsonl(lines)), purpose="batch")
        batch = await client.batches.create(
            input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h"
        )
        done = await finished(sdk(b), batch.id)  # the other replica sees it too
        assert done.status == "completed" and done.request_counts is not None
        assert done.request_counts.completed == 12
        output = await output_lines(sdk(b), done.output_file_id)
        assert [line["custom_id"] for line in output] == [f"req-{i}" for i in range(12)]
        served = a.provider_stats()["requests"] + b.provider_stats()["requests"]
        assert served == 12  # no line ran on both replicas
