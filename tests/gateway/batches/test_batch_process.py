"""A real `tfy-gateway serve` process killed (SIGKILL) in the middle of a batch: the next process takes
the batch over once the dead one's lease ends, and finishes it; the openai SDK over HTTP throughout."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import openai

from tests.gateway.batches.test_batch_execution import SLOW_ACCOUNT
from tests.helpers import GatewayProcess, wait_for


def test_a_killed_gateway_resumes_its_batch_in_the_next_process(tmp_path: Path) -> None:
    gateway = GatewayProcess(
        tmp_path / "data", extra_args=("--offline", "--batch-concurrency", "1", "--batch-lease-s", "1")
    )
    gateway.start()
    try:
        applied = httpx.put(
            gateway.base_url + "/api/svc/v1/apply",
            json={"manifest": SLOW_ACCOUNT, "dryRun": False},
            headers={"Authorization": f"Bearer {gateway.admin_token}"},
        )
        assert applied.status_code == 200, applied.text
        client = openai.OpenAI(base_url=gateway.base_url + "/api/llm", api_key=gateway.admin_token, max_retries=0)
        lines = [
            {
                "custom_id": f"req-{i}",
                "method": "POST",
                "url": "/v1/chat/completions",
                "body": {"model": "slow/gpt-4o", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2},
            }
            for i in range(12)
        ]
        content = "".join(json.dumps(line) + "\n" for line in lines).encode()
        uploaded = client.files.create(file=("in.jsonl", content), purpose="batch")
        batch = client.batches.create(
            input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h"
        )

        def completed() -> int:
            counts = client.batches.retrieve(batch.id).request_counts
            return counts.completed if counts is not None else 0

        before = wait_for(lambda: (count := completed()) >= 2 and count, "two lines done before the crash")
        gateway.kill()
        assert before < 12  # killed in the middle
        gateway.start()
        client = openai.OpenAI(base_url=gateway.base_url + "/api/llm", api_key=gateway.admin_token, max_retries=0)
        done = wait_for(
            lambda: (found := client.batches.retrieve(batch.id)).status == "completed" and found,
            "the batch to finish in the new process",
        )
        assert done.request_counts is not None and done.request_counts.completed == 12
        assert done.output_file_id is not None
        output = client.files.content(done.output_file_id).text.splitlines()
        assert [json.loads(line)["custom_id"] for line in output] == [f"req-{i}" for i in range(12)]
    finally:
        gateway.stop()
