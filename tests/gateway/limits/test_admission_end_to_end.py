"""What a request holds at admission, through a gateway and the fake provider in the test's event
loop: bounded amounts (a worst case no counter can hold is a 400), and holds sized by what the
adapter really sends (Anthropic's default max_tokens)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import deque
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.gateway.data_plane.conftest import DataPlane, data_plane
from tests.gateway.limits.test_budgets_end_to_end import priced_account
from tests.gateway.limits.test_end_to_end import ask, unique
from tests.helpers import eventually
from tests.redis_server import RedisServer
from tfy_gateway.fakeprovider.app import STATE_KEY

PER_1000 = {"input": 0.003, "output": 0.015}  # Claude 3.5 Sonnet's public price, per 1000 tokens
ANSWER_TOKENS = 2000  # what the fake Anthropic model answers (when max_tokens allows)


@pytest.fixture(params=["memory", "redis"])
async def plane(request: pytest.FixtureRequest, tmp_path: Path, redis_server: RedisServer) -> AsyncIterator[DataPlane]:
    """A data plane whose counters are in process, or in a real Redis."""
    settings: dict[str, Any] = {} if request.param == "memory" else {"redis_url": redis_server.url}
    async with data_plane(tmp_path / "data", **settings) as dp:
        yield dp


async def budget(dp: DataPlane, *rules: dict[str, Any]) -> None:
    await dp.apply({"name": "budgets", "type": "gateway-budget-config", "rules": list(rules)})


async def spent(dp: DataPlane, rule_id: str) -> float:
    """What the budget usage view says rule `rule_id` has spent, in USD."""
    response = await dp.http.get("/api/svc/v1/llm-gateway/config/budget/usage", headers=dp.auth())
    assert response.status_code == 200, response.text
    entry = next(entry for entry in response.json()["matched"] if entry["name"] == rule_id)
    used: float = sum(period["used"] for e in entry["entities"] for period in e["periods"].values())
    return used


async def test_a_request_whose_worst_case_no_counter_can_hold_is_a_400_naming_the_field(plane: DataPlane) -> None:
    """`max_tokens: 1e18` once wrapped a shared budget counter to -$9.2e9 (Redis) and showed $9.2e13
    spent while the request lasted (in memory)."""
    marker = unique("poison")
    await budget(plane, {"id": marker, "when": {"metadata": {"run": marker}}, "limit_to": 1, "unit": "cost_per_day"})
    headers = {"x-tfy-metadata": json.dumps({"run": marker})}
    for field, value in (("max_tokens", 1e18), ("max_completion_tokens", 2**63), ("n", 10**6)):
        poison = await ask(plane, marker, body={field: value}, headers=headers)
        assert poison.status_code == 400, poison.text
        error = poison.json()
        assert error["error"]["param"] == field and error["error_origin_level"] == "request"
        assert f"'{field}'" in error["message"] and "above the gateway's limit of" in error["message"]
    assert await spent(plane, marker) == 0.0, "a refused request holds nothing"
    answered = await ask(plane, marker, headers=headers)
    assert answered.status_code == 200, answered.text
    assert 0 < await spent(plane, marker) < 0.01, "the budget still counts, from a sane spend"


async def dear_claude(dp: DataPlane, name: str) -> str:
    """An Anthropic account whose model answers 2000 tokens, at Claude 3.5 Sonnet's price."""
    model_id = f"claude-3-5-sonnet-20241022@tokens={ANSWER_TOKENS},ttft_ms=300"
    return await priced_account(dp, name, model_id, PER_1000, provider="anthropic")


async def test_concurrent_anthropic_requests_without_max_tokens_do_not_overspend_a_budget(dp: DataPlane) -> None:
    """The Anthropic adapter sends `max_tokens: 4096` when the request has none, so the hold is for
    4096 output tokens ($0.061), not the 256 of an OpenAI-format request: a $0.05 budget admitted
    $0.84 under concurrency when holds assumed 256."""
    marker = unique("claude-budget")
    model = await dear_claude(dp, marker)
    await budget(dp, {"id": marker, "when": {"models": [model]}, "limit_to": 0.05, "unit": "cost_per_day"})
    body = {"model": model, "messages": [{"role": "user", "content": f"write at length {marker}"}]}

    async def one(client: httpx.AsyncClient) -> tuple[int, float]:
        response = await client.post(dp.base + "/chat/completions", json=body, headers=dp.auth())
        if response.status_code != 200:
            return response.status_code, 0.0
        usage = response.json()["usage"]
        return 200, (
            usage["prompt_tokens"] * PER_1000["input"] + usage["completion_tokens"] * PER_1000["output"]
        ) / 1000

    answers = await asyncio.gather(*(one(dp.http) for _ in range(12)))
    served = [cost for status, cost in answers if status == 200]
    assert served and all(status in (200, 429) for status, _ in answers), answers
    one_request = max(served)
    assert one_request > 0.025, "each answer costs about $0.03: the test needs dear answers"
    # At most one request's overspend, the budget's documented bound (holds that match what is sent).
    assert sum(served) <= 0.05 + one_request, (len(served), sum(served))
    assert await spent(dp, marker) == pytest.approx(sum(served))


async def slow_account(dp: DataPlane, name: str, latency_ms: int) -> str:
    """An account whose one model costs $0.001 a token and answers after `latency_ms`."""
    return await priced_account(dp, name, f"gpt-4o@latency_ms={latency_ms}", {"input": 1.0, "output": 1.0})


async def rate_limit(dp: DataPlane, *rules: dict[str, Any]) -> None:
    await dp.apply({"name": "limits", "type": "gateway-rate-limiting-config", "rules": list(rules)})


async def counted(dp: DataPlane, rule_id: str) -> int:
    """What the rate-limit usage view says rule `rule_id` counted in its window."""
    response = await dp.http.get("/api/svc/v1/llm-gateway/config/rate-limit/usage", headers=dp.auth())
    assert response.status_code == 200, response.text
    entry = next((entry for entry in response.json()["matched"] if entry["name"] == rule_id), None)
    if entry is None:
        return 0
    return int(sum(period["used"] for e in entry["entities"] for period in e["periods"].values()))


def provider_received(dp: DataPlane, marker: str) -> int:
    return sum(1 for r in dp.gateway.provider_requests() if marker in json.dumps(r["body"]))


async def test_requests_that_time_out_count_against_the_rate_limit_and_the_budget(dp: DataPlane) -> None:
    """A 408 (the request's own timeout) once released every hold although the provider had the whole
    request: 20 such requests counted 0 against the rate limit and $0 against the budget."""
    marker = unique("timeouts")
    model = await slow_account(dp, marker, latency_ms=10_000)
    await rate_limit(dp, {"id": marker, "when": {"models": [model]}, "limit_to": 100, "unit": "requests_per_minute"})
    await budget(dp, {"id": marker, "when": {"models": [model]}, "limit_to": 100, "unit": "cost_per_day"})
    content = f"hello {marker}"
    body = {"model": model, "messages": [{"role": "user", "content": content}], "max_tokens": 100}
    headers = {**dp.auth(), "x-tfy-request-timeout": "300"}
    answers = await asyncio.gather(
        *(dp.http.post(dp.base + "/chat/completions", json=body, headers=headers) for _ in range(20))
    )
    assert [answer.status_code for answer in answers] == [408] * 20, answers[0].text
    assert provider_received(dp, marker) == 20, "the provider had every request"
    assert await counted(dp, marker) == 20
    estimate = -(-len(content) // 4) + 100  # prompt tokens (characters / 4) + max_tokens
    assert await spent(dp, marker) == pytest.approx(20 * estimate * 0.001)
    record = await dp.log_record(answers[0])
    assert record["status"] == 408 and record["usage_estimated"] is True
    assert (record["prompt_tokens"], record["completion_tokens"]) == (estimate - 100, 100)


async def test_a_request_no_provider_received_holds_nothing(dp: DataPlane) -> None:
    """Refused connections (`down`) never reached a provider: released, as before."""
    marker = unique("refused")
    await rate_limit(
        dp, {"id": marker, "when": {"models": ["down/gpt-4o"]}, "limit_to": 1, "unit": "requests_per_minute"}
    )
    assert [(await dp.chat("down/gpt-4o")).status_code for _ in range(3)] == [502] * 3
    assert await counted(dp, marker) == 0


async def test_many_requests_timing_out_at_once_leave_the_counter_equal_to_what_the_provider_received(
    dp: DataPlane,
) -> None:
    """The issue's acceptance case: 500 requests with a 10 ms timeout against a slow provider."""
    marker = unique("many-timeouts")
    model = await slow_account(dp, marker, latency_ms=10_000)
    await rate_limit(dp, {"id": marker, "when": {"models": [model]}, "limit_to": 10_000, "unit": "requests_per_minute"})
    body = {"model": model, "messages": [{"role": "user", "content": f"hello {marker}"}], "max_tokens": 10}
    headers = {**dp.auth(), "x-tfy-request-timeout": "10"}
    dp.gateway.provider[STATE_KEY].requests = deque(maxlen=1000)  # keep every request's record
    answers = await asyncio.gather(
        *(dp.http.post(dp.base + "/chat/completions", json=body, headers=headers) for _ in range(500))
    )
    assert {answer.status_code for answer in answers} <= {408}, {a.status_code for a in answers}
    received = provider_received(dp, marker)
    assert received > 0 and await counted(dp, marker) == received


async def test_a_client_that_leaves_while_the_provider_works_is_charged_its_estimate(tmp_path: Path) -> None:
    """The provider had the request: it counts, with the estimate it held, logged as estimated."""
    async with data_plane(tmp_path / "data", upstream_timeout_s=600.0) as dp:
        marker = unique("left")
        model = await slow_account(dp, marker, latency_ms=600_000)  # answers only if nobody leaves
        await rate_limit(dp, {"id": marker, "when": {"models": [model]}, "limit_to": 10, "unit": "requests_per_minute"})
        body = {"model": model, "messages": [{"role": "user", "content": f"hello {marker}"}], "max_tokens": 50}
        waiting = asyncio.ensure_future(dp.http.post(dp.base + "/chat/completions", json=body, headers=dp.auth()))
        await eventually(lambda: provider_received(dp, marker) == 1, "the call reaching the provider")
        waiting.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await waiting

        async def logged() -> list[dict[str, Any]]:
            return list((await dp.logs(model=model))["data"])

        (record,) = await eventually(logged, "the request log record of the call")
        assert record["status"] == 499 and record["usage_estimated"] is True
        assert record["completion_tokens"] == 50, "the estimate held: its max_tokens"
        assert await counted(dp, marker) == 1
