"""The Files and Batch APIs with the real openai SDK: upload, create, poll, download, as a client does."""

from __future__ import annotations

from pathlib import Path

import openai
import pytest

from tests.gateway.batches.conftest import chat_line, finished, jsonl, output_lines, sdk
from tests.gateway.inprocess import FAKE_ORIGIN, running_gateway


async def test_a_batch_round_trips_through_the_sdk(tmp_path: Path) -> None:
    async with running_gateway(tmp_path / "data") as gateway:
        client = sdk(gateway)
        lines = [chat_line(f"req-{i}", max_tokens=5) for i in range(5)]
        lines.append(chat_line("bad-model", model="openai-main/no-such-model"))
        uploaded = await client.files.create(file=("input.jsonl", jsonl(lines)), purpose="batch")
        assert (uploaded.object, uploaded.purpose, uploaded.filename) == ("file", "batch", "input.jsonl")
        assert (await client.files.retrieve(uploaded.id)).bytes == len(jsonl(lines))
        batch = await client.batches.create(
            input_file_id=uploaded.id,
            endpoint="/v1/chat/completions",
            completion_window="24h",
            metadata={"job": "nightly"},
        )
        assert (batch.status, batch.metadata) == ("validating", {"job": "nightly"})

        done = await finished(client, batch.id)
        assert done.status == "completed", done
        assert (done.request_counts.total, done.request_counts.completed, done.request_counts.failed) == (6, 5, 1)
        assert done.in_progress_at and done.finalizing_at and done.completed_at
        output = await output_lines(client, done.output_file_id)
        assert [line["custom_id"] for line in output] == [f"req-{i}" for i in range(5)]
        for line in output:
            response = line["response"]
            assert response["status_code"] == 200 and response["body"]["usage"]["completion_tokens"] == 5
            assert line["id"] == "batch_req_" + response["request_id"] and line["error"] is None
        assert done.usage is not None and done.usage.output_tokens == 5 * 5
        assert done.usage.total_tokens == done.usage.input_tokens + 25 and done.usage.input_tokens > 0
        errors = await output_lines(client, done.error_file_id)
        assert [(e["custom_id"], e["response"]["status_code"]) for e in errors] == [("bad-model", 404)]  # no such model

        # Every line went through the request pipeline: logged as the batch's owner, with its cost.
        logs = await gateway.http.get("/api/svc/v1/llm-gateway/logs", params={"limit": 50}, headers=gateway.auth())
        records = [r for r in logs.json()["data"] if r.get("metadata", {}).get("batch_id") == batch.id]
        assert len(records) == 6
        assert all(r["cost"] > 0 for r in records if r["status"] == 200)
        listed = await client.batches.list()
        assert [b.id for b in listed.data] == [batch.id]
        files = await client.files.list()
        assert {f.purpose for f in files.data} == {"batch", "batch_output"}


async def test_an_invalid_input_file_is_refused_naming_its_lines(tmp_path: Path) -> None:
    async with running_gateway(tmp_path / "data") as gateway:
        client = sdk(gateway)
        bad = jsonl([chat_line("a"), chat_line("a")]) + b"{not json\n" + jsonl([{**chat_line("c"), "method": "GET"}])
        with pytest.raises(openai.BadRequestError) as refused:
            await client.files.create(file=("bad.jsonl", bad), purpose="batch")
        message = refused.value.body["message"] if isinstance(refused.value.body, dict) else str(refused.value)
        assert "line 2: custom_id 'a' is used by an earlier line" in message
        assert "line 3 is not valid JSON" in message
        assert "line 4: 'method' must be \"POST\"" in message
        assert (await client.files.list()).data == []


async def test_a_batch_whose_lines_do_not_match_its_endpoint_fails_in_validation(tmp_path: Path) -> None:
    async with running_gateway(tmp_path / "data") as gateway:
        client = sdk(gateway)
        uploaded = await client.files.create(file=("in.jsonl", jsonl([chat_line("a")])), purpose="batch")
        batch = await client.batches.create(
            input_file_id=uploaded.id, endpoint="/v1/embeddings", completion_window="24h"
        )
        done = await finished(client, batch.id)
        assert done.status == "failed" and done.failed_at and done.errors is not None
        assert [(e.line, e.message) for e in done.errors.data or []] == [
            (1, "line 1: 'url' is '/v1/chat/completions' but the batch's endpoint is '/v1/embeddings'")
        ]


async def test_one_user_cannot_see_another_users_files_or_batches(tmp_path: Path) -> None:
    async with running_gateway(tmp_path / "data") as gateway:
        alice = sdk(gateway, await gateway.add_user("alice@example.com"))
        bob = sdk(gateway, await gateway.add_user("bob@example.com"))
        uploaded = await alice.files.create(file=("in.jsonl", jsonl([chat_line("a")])), purpose="batch")
        batch = await alice.batches.create(
            input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h"
        )
        with pytest.raises(openai.NotFoundError):
            await bob.files.retrieve(uploaded.id)
        with pytest.raises(openai.NotFoundError):
            await bob.files.content(uploaded.id)
        with pytest.raises(openai.NotFoundError):
            await bob.files.delete(uploaded.id)
        with pytest.raises(openai.NotFoundError):
            await bob.batches.retrieve(batch.id)
        with pytest.raises(openai.NotFoundError):
            await bob.batches.cancel(batch.id)
        with pytest.raises(openai.NotFoundError):  # nor run a batch on alice's file
            await bob.batches.create(
                input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h"
            )
        assert (await bob.files.list()).data == [] and (await bob.batches.list()).data == []
        assert (await finished(alice, batch.id)).status == "completed"
        assert (await alice.files.delete(uploaded.id)).deleted


async def test_bad_batch_requests_name_the_parameter(tmp_path: Path) -> None:
    async with running_gateway(tmp_path / "data") as gateway:
        client = sdk(gateway)
        uploaded = await client.files.create(file=("in.jsonl", jsonl([chat_line("a")])), purpose="batch")
        cases = [
            ({"endpoint": "/v1/images/generations", "completion_window": "24h"}, "endpoint"),
            ({"endpoint": "/v1/chat/completions", "completion_window": "1h"}, "completion_window"),
            ({"endpoint": "/v1/chat/completions", "completion_window": "24h", "metadata": {"k": 1}}, "metadata"),
        ]
        for fields, param in cases:
            with pytest.raises(openai.BadRequestError) as refused:
                await client.batches.create(input_file_id=uploaded.id, **fields)  # type: ignore[arg-type]
            assert refused.value.param == param or param in str(refused.value)
        with pytest.raises(openai.BadRequestError, match="purpose"):
            await client.files.create(file=("in.jsonl", jsonl([chat_line("a")])), purpose="fine-tune")
        wrong_method = await gateway.http.put("/api/llm/v1/batches", headers=gateway.auth())
        assert wrong_method.status_code == 405
        assert (await gateway.http.get("/api/llm/filesystem", headers=gateway.auth())).status_code == 404

        batch = await client.batches.create(
            input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h"
        )
        assert (await finished(client, batch.id)).status == "completed"
        with pytest.raises(openai.ConflictError, match="only a validating or in-progress batch"):
            await client.batches.cancel(batch.id)


async def test_lists_are_pages_with_a_cursor(tmp_path: Path) -> None:
    async with running_gateway(tmp_path / "data") as gateway:
        client = sdk(gateway)
        ids = []
        for number in range(3):
            uploaded = await client.files.create(file=(f"{number}.jsonl", jsonl([chat_line("a")])), purpose="batch")
            ids.append(uploaded.id)
        page = await client.files.list(limit=2, order="asc")
        assert [f.id for f in page.data] == ids[:2] and page.has_more
        assert [f.id async for f in await client.files.list(limit=2, order="asc")] == ids  # the SDK follows the cursor


async def test_an_embeddings_batch(tmp_path: Path) -> None:
    async with running_gateway(tmp_path / "data") as gateway:
        client = sdk(gateway)
        lines = [
            {
                "custom_id": f"e{i}",
                "method": "POST",
                "url": "/v1/embeddings",
                "body": {"model": "openai-main/text-embedding-3-small", "input": f"text {i}"},
            }
            for i in range(3)
        ]
        uploaded = await client.files.create(file=("in.jsonl", jsonl(lines)), purpose="batch")
        batch = await client.batches.create(
            input_file_id=uploaded.id, endpoint="/v1/embeddings", completion_window="24h"
        )
        done = await finished(client, batch.id)
        assert done.status == "completed" and done.request_counts is not None and done.request_counts.completed == 3
        output = await output_lines(client, done.output_file_id)
        assert all(line["response"]["body"]["data"][0]["embedding"] for line in output)


async def test_a_responses_batch(tmp_path: Path) -> None:
    """A /v1/responses batch: each line a Responses request through the pipeline (here translated to
    chat for an Anthropic target, passed through for OpenAI)."""
    async with running_gateway(tmp_path / "data") as gateway:
        await gateway.apply(
            {
                "name": "rclaude",
                "type": "provider-account/anthropic",
                "base_url": f"{FAKE_ORIGIN}/v1",
                "auth_data": {"type": "api-key", "api_key": "sk-ant-test"},
                "collaborators": [{"subject": "team:everyone", "role_id": "provider-account-access"}],
                "integrations": [
                    {"type": "integration/model/anthropic", "name": "sonnet", "model_id": "claude-sonnet-4-5",
                     "model_types": ["chat"]}
                ],
            }
        )  # fmt: skip
        client = sdk(gateway)
        models = ["openai-main/gpt-4o", "rclaude/sonnet"]
        lines = [
            {
                "custom_id": f"r{i}",
                "method": "POST",
                "url": "/v1/responses",
                "body": {"model": model, "input": f"say {i}", "max_output_tokens": 8},
            }
            for i, model in enumerate(models)
        ]
        uploaded = await client.files.create(file=("in.jsonl", jsonl(lines)), purpose="batch")
        batch = await client.batches.create(
            input_file_id=uploaded.id,
            endpoint="/v1/responses",
            completion_window="24h",
        )
        done = await finished(client, batch.id)
        errors = await output_lines(client, done.error_file_id) if done.error_file_id else []
        assert done.status == "completed" and errors == []
        output = await output_lines(client, done.output_file_id)
        assert [line["custom_id"] for line in output] == ["r0", "r1"]
        assert all(line["response"]["body"]["object"] == "response" for line in output)
        assert all(line["response"]["body"]["usage"]["output_tokens"] > 0 for line in output)
