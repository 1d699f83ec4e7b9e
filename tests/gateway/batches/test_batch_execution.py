"""How the gateway runs a batch: against the rate limits of its owner, across a restart, until cancelled."""

from __future__ import annotations

from pathlib import Path

from tests.gateway.batches.conftest import chat_line, finished, jsonl, lines_done, output_lines, sdk
from tests.gateway.inprocess import InProcessGateway, running_gateway
from tests.helpers import eventually
from tfy_gateway.gateway.batches.records import BatchRecords
from tfy_gateway.gateway.data_plane import DataPlaneOptions
from tfy_gateway.gateway.data_plane.limiting import PolicyLimits
from tfy_gateway.gateway.limits import Limiter, MemoryLimitState
from tfy_gateway.gateway.providers import Transport

SLOW_ACCOUNT = {
    "name": "slow",
    "type": "provider-account/openai",
    "base_url": "https://api.openai.com/v1",
    "auth_data": {"type": "api-key", "api_key": "tfy-secret://local:slow:API_KEY"},
    "collaborators": [{"subject": "team:everyone", "role_id": "provider-account-access"}],
    "integrations": [
        {
            "type": "integration/model/openai",
            "name": "gpt-4o",
            "model_id": "gpt-4o@latency_ms=150",
            "model_types": ["chat"],
        }
    ],
}


class Clock:
    """The limiter's clock, moved by the test (a minute passes at once)."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


async def batch_of(gateway: InProcessGateway, token: str, count: int, model: str) -> str:
    client = sdk(gateway, token)
    lines = [chat_line(f"req-{i}", model=model, max_tokens=3) for i in range(count)]
    uploaded = await client.files.create(file=("in.jsonl", jsonl(lines)), purpose="batch")
    batch = await client.batches.create(
        input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h"
    )
    return batch.id


async def test_batch_lines_count_against_the_owners_rate_limit_and_wait_for_room(tmp_path: Path) -> None:
    clock = Clock()

    def plane(transport: Transport) -> DataPlaneOptions:
        limiter = Limiter(MemoryLimitState(clock), clock=clock)
        return DataPlaneOptions(limits=PolicyLimits(limiter), transport=transport)

    async with running_gateway(tmp_path / "data", data_plane=plane, batch_retry_max_wait_s=0.05) as gateway:
        bob = await gateway.add_user("bob@example.com")
        await gateway.apply(
            {
                "name": "batch-limits",
                "type": "gateway-rate-limiting-config",
                "rules": [
                    {
                        "id": "bob-3-per-minute",
                        "when": {"subjects": ["user:bob@example.com"]},
                        "limit_to": 3,
                        "unit": "requests_per_minute",
                    }
                ],
            }
        )
        client = sdk(gateway, bob)
        batch_id = await batch_of(gateway, bob, 5, "openai-main/gpt-4o")

        async def three_done_and_refused() -> bool:
            batch = await client.batches.retrieve(batch_id)
            logs = await gateway.http.get("/api/svc/v1/llm-gateway/logs", params={"limit": 100}, headers=gateway.auth())
            refused = [r for r in logs.json()["data"] if r["status"] == 429]
            return batch.request_counts is not None and batch.request_counts.completed == 3 and bool(refused)

        await eventually(three_done_and_refused, "3 lines admitted and the 4th refused by bob's limit")
        batch = await client.batches.retrieve(batch_id)
        assert batch.status == "in_progress"  # the refused lines wait instead of failing the batch
        live = await gateway.http.post(
            "/api/llm/chat/completions",
            json={"model": "openai-main/gpt-4o", "messages": [{"role": "user", "content": "hi"}]},
            headers=gateway.auth(bob),
        )
        assert live.status_code == 429 and "bob-3-per-minute" in live.json()["message"]  # the batch used bob's 3

        clock.now += 61  # the sliding minute has passed: the waiting lines are admitted
        done = await finished(client, batch_id)
        assert (done.status, done.request_counts.completed, done.request_counts.failed) == ("completed", 5, 0)
        assert [line["custom_id"] for line in await output_lines(client, done.output_file_id)] == [
            f"req-{i}" for i in range(5)
        ]


async def test_a_restart_in_the_middle_resumes_the_batch(tmp_path: Path) -> None:
    async with running_gateway(tmp_path / "data", batch_concurrency=1) as gateway:
        await gateway.apply(SLOW_ACCOUNT)
        batch_id = await batch_of(gateway, gateway.token, 8, "slow/gpt-4o")
        client = sdk(gateway)

        await lines_done(client, batch_id, 3)
        await gateway.restart()
        served_before = gateway.provider_stats()["requests"]
        assert served_before < 8

        client = sdk(gateway)
        done = await finished(client, batch_id)
        counts = done.request_counts
        assert (done.status, counts.total, counts.completed, counts.failed) == ("completed", 8, 8, 0)
        output = await output_lines(client, done.output_file_id)
        assert [line["custom_id"] for line in output] == [f"req-{i}" for i in range(8)]
        # Lines done before the restart were not run again (only the one in flight, at most, was).
        assert gateway.provider_stats()["requests"] <= 8 + 1


async def test_a_cancelled_batch_keeps_what_it_finished(tmp_path: Path) -> None:
    async with running_gateway(tmp_path / "data", batch_concurrency=1) as gateway:
        await gateway.apply(SLOW_ACCOUNT)
        batch_id = await batch_of(gateway, gateway.token, 20, "slow/gpt-4o")
        client = sdk(gateway)

        await lines_done(client, batch_id, 1)
        cancelling = await client.batches.cancel(batch_id)
        assert cancelling.status == "cancelling" and cancelling.cancelling_at
        done = await finished(client, batch_id)
        assert done.status == "cancelled" and done.cancelled_at
        assert done.request_counts is not None and 1 <= done.request_counts.completed < 20
        output = await output_lines(client, done.output_file_id)
        assert len(output) == done.request_counts.completed
        again = await client.batches.cancel(batch_id)  # cancelling a cancelled batch changes nothing
        assert again.status == "cancelled"


async def test_lines_left_when_the_window_ends_are_reported_expired(tmp_path: Path) -> None:
    async with running_gateway(tmp_path / "data", batch_concurrency=1, batch_lease_s=0.3) as gateway:
        await gateway.apply(SLOW_ACCOUNT)
        batch_id = await batch_of(gateway, gateway.token, 20, "slow/gpt-4o")
        client = sdk(gateway)

        await lines_done(client, batch_id, 1)
        records = BatchRecords(gateway.data_plane.state.store)  # the 24 hours pass: the window ends now
        row = records.batch(batch_id)
        assert row is not None
        records.update_batch(batch_id, row.status, {**row.body, "expires_at": row.created_at}, ("in_progress",))

        done = await finished(client, batch_id)
        assert done.status == "expired" and done.expired_at
        counts = done.request_counts
        assert counts is not None and counts.completed >= 1 and counts.completed + counts.failed == 20
        errors = await output_lines(client, done.error_file_id)
        assert len(errors) == counts.failed
        assert {(e["response"], e["error"]["code"]) for e in errors} == {(None, "batch_expired")}
        assert len(await output_lines(client, done.output_file_id)) == counts.completed


async def test_a_revoked_token_stops_its_batch_and_the_owner_still_reads_it(tmp_path: Path) -> None:
    async with running_gateway(tmp_path / "data", batch_concurrency=1) as gateway:
        await gateway.apply(SLOW_ACCOUNT)
        first = await gateway.add_user("bob@example.com")
        second = await gateway.http.post(
            "/api/svc/v1/personal-access-tokens", json={"name": "second"}, headers=gateway.auth(first)
        )
        assert second.status_code == 200, second.text
        first_id = next(
            t["id"]
            for t in (await gateway.http.get("/api/svc/v1/personal-access-tokens", headers=gateway.auth(first))).json()[
                "data"
            ]
            if t["name"] != "second"
        )
        batch_id = await batch_of(gateway, first, 20, "slow/gpt-4o")
        client = sdk(gateway, first)

        await lines_done(client, batch_id, 1)
        revoked = await gateway.http.delete(
            f"/api/svc/v1/personal-access-tokens/{first_id}", headers=gateway.auth(first)
        )
        assert revoked.status_code == 200, revoked.text

        client = sdk(gateway, second.json()["token"])  # bob's other token: the batch is bob's
        done = await finished(client, batch_id)
        counts = done.request_counts
        assert done.status == "completed" and counts is not None and counts.failed >= 1
        errors = await output_lines(client, done.error_file_id)
        assert {e["error"]["code"] for e in errors} == {"token_revoked"} and len(errors) == counts.failed


async def test_guardrails_check_each_line_as_they_check_a_live_request(tmp_path: Path) -> None:
    async with running_gateway(tmp_path / "data") as gateway:
        pii = {
            "name": "pii",
            "type": "integration/guardrail-config/tfy-pii",
            "enforcing_strategy": "enforce",
            "operation": "validate",
            "config": {"pii_categories": ["Email"]},
        }
        await gateway.apply(
            {"name": "guards", "type": "provider-account/guardrail-config-group", "integrations": [pii]}
        )
        rule = {
            "id": "block",
            "when": {},
            "llm_input_guardrails": ["guards/pii"],
            "llm_output_guardrails": [],
            "mcp_tool_pre_invoke_guardrails": [],
            "mcp_tool_post_invoke_guardrails": [],
        }
        await gateway.apply({"name": "guardrails", "type": "gateway-guardrails-config", "rules": [rule]})
        client = sdk(gateway)
        leaky = chat_line("leaky")
        leaky["body"]["messages"][0]["content"] = "mail me at jane@example.com"
        uploaded = await client.files.create(file=("in.jsonl", jsonl([chat_line("fine"), leaky])), purpose="batch")
        batch = await client.batches.create(
            input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h"
        )
        done = await finished(client, batch.id)
        assert [line["custom_id"] for line in await output_lines(client, done.output_file_id)] == ["fine"]
        [blocked] = await output_lines(client, done.error_file_id)
        assert blocked["custom_id"] == "leaky" and blocked["response"]["status_code"] == 400
        assert blocked["response"]["body"]["error"]["type"] == "guardrail_checks_failed"
