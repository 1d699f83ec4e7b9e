"""Helpers of the Batch API tests: the openai SDK against an in-process gateway, JSONL input files."""

from __future__ import annotations

from typing import Any

import openai
import orjson
from openai.types import Batch

from tests.gateway.inprocess import GATEWAY_URL, InProcessGateway
from tests.gateway.store.conftest import engine, open_store, store  # noqa: F401 (both engines, for test_records)
from tests.helpers import eventually

FINISHED = ("completed", "failed", "expired", "cancelled")


def sdk(gateway: InProcessGateway, token: str | None = None) -> openai.AsyncOpenAI:
    """The real openai SDK over the gateway's in-process HTTP transport."""
    return openai.AsyncOpenAI(
        base_url=GATEWAY_URL + "/api/llm", api_key=token or gateway.token, max_retries=0, http_client=gateway.client()
    )


def chat_line(custom_id: str, model: str = "openai-main/gpt-4o", **body: Any) -> dict[str, Any]:
    return {
        "custom_id": custom_id,
        "method": "POST",
        "url": "/v1/chat/completions",
        "body": {"model": model, "messages": [{"role": "user", "content": f"say {custom_id}"}], **body},
    }


def jsonl(lines: list[dict[str, Any]]) -> bytes:
    return b"".join(orjson.dumps(line) + b"\n" for line in lines)


async def finished(client: openai.AsyncOpenAI, batch_id: str, *, timeout: float = 60.0) -> Batch:
    """Poll `batches.retrieve` as a client would, until the batch ends."""

    async def ended() -> Batch | None:
        batch = await client.batches.retrieve(batch_id)
        return batch if batch.status in FINISHED else None

    return await eventually(ended, f"batch {batch_id} to finish", timeout=timeout)


async def output_lines(client: openai.AsyncOpenAI, file_id: str | None) -> list[dict[str, Any]]:
    assert file_id is not None
    content = await client.files.content(file_id)
    return [orjson.loads(line) for line in content.text.splitlines()]


async def lines_done(client: openai.AsyncOpenAI, batch_id: str, at_least: int) -> int:
    """Poll until the running batch has finished `at_least` lines; how many it has."""

    async def count() -> int:
        counts = (await client.batches.retrieve(batch_id)).request_counts
        done = counts.completed if counts is not None else 0
        return done if done >= at_least else 0

    return await eventually(count, f"{at_least} lines of batch {batch_id} done")
