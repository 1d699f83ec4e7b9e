"""Budgets and exact admission through a gateway and the fake provider, both in the test's event loop."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx

from tests.gateway.data_plane.conftest import DataPlane
from tests.gateway.inprocess import FAKE_ORIGIN
from tests.gateway.limits.test_end_to_end import applied, limit, rule, unique

PRICE = {"metric": "per_1000_tokens", "value": {"input": 1.0, "output": 1.0}}  # $0.001 a token
ANSWER_TOKENS = 20


async def priced_account(
    dp: DataPlane, name: str, model_id: str, per_1000: dict[str, float], *, provider: str = "openai"
) -> str:
    """A provider account on the fake provider with one chat model `<name>/model`, priced per 1000 tokens."""
    await dp.apply(
        {
            "name": name,
            "type": f"provider-account/{provider}",
            "base_url": f"{FAKE_ORIGIN}/v1",
            "auth_data": {"type": "api-key", "api_key": "tfy-secret://local:fake-group:API_KEY"},
            "collaborators": [{"subject": "team:everyone", "role_id": "provider-account-access"}],
            "integrations": [
                {
                    "type": f"integration/model/{provider}",
                    "name": "model",
                    "model_id": model_id,
                    "model_types": ["chat"],
                    "cost": {"metric": "per_1000_tokens", "value": per_1000},
                }
            ],
        },
    )
    return f"{name}/model"


async def pricey_account(dp: DataPlane, name: str) -> str:
    """A provider account whose one model costs $0.001 a token and answers 20 tokens after a pause."""
    return await priced_account(dp, name, f"gpt-4o@tokens={ANSWER_TOKENS},ttft_ms=200,tpot_ms=5", PRICE["value"])


async def budget(dp: DataPlane, *rules: dict[str, Any]) -> None:
    await dp.apply({"name": "budgets", "type": "gateway-budget-config", "rules": list(rules)})


def cost_of(usage: dict[str, Any]) -> float:
    return (usage["prompt_tokens"] + usage["completion_tokens"]) * 0.001


async def one(client: httpx.AsyncClient, base: str, model: str, marker: str, stream: bool) -> tuple[int, float]:
    """(status, cost) of one request, streamed or not; the cost from the usage the provider reported."""
    body: dict[str, Any] = {
        "model": model,
        "messages": [{"role": "user", "content": f"spend {marker}"}],
        "max_tokens": ANSWER_TOKENS,
    }
    if not stream:
        response = await client.post(base + "/chat/completions", json=body)
        return response.status_code, cost_of(response.json()["usage"]) if response.status_code == 200 else 0.0
    body |= {"stream": True, "stream_options": {"include_usage": True}}
    async with client.stream("POST", base + "/chat/completions", json=body) as response:
        text = (await response.aread()).decode()
    if response.status_code != 200:
        return response.status_code, 0.0
    chunks = [json.loads(line[6:]) for line in text.splitlines() if line.startswith("data: {")]
    return 200, cost_of(next(c["usage"] for c in reversed(chunks) if c.get("usage")))


async def test_five_hundred_concurrent_requests_against_a_limit_of_one_hundred_admit_exactly_one_hundred(
    dp: DataPlane,
) -> None:
    rule_id, marker = unique("hundred"), unique("h")
    await limit(dp, rule(rule_id, 100, when={"metadata": {"run": marker}}))
    # The shared gateway's upstream timeout (1.5 s) is short for its timeout tests: a loaded machine
    # can take longer than that to answer 500 requests, so these ask for a minute.
    headers = {**dp.auth(), "x-tfy-metadata": json.dumps({"run": marker}), "x-tfy-request-timeout": "60000"}

    body = {"model": "fake/gpt-4o", "messages": [{"role": "user", "content": f"hi {marker}"}]}
    answers = await asyncio.gather(
        *(dp.http.post(dp.base + "/chat/completions", json=body, headers=headers, timeout=120) for _ in range(500))
    )
    statuses = [answer.status_code for answer in answers]
    assert statuses.count(200) == 100 and statuses.count(429) == 400, sorted(set(statuses))


async def test_a_one_dollar_budget_under_fifty_concurrent_requests_overspends_by_at_most_one_request(
    dp: DataPlane,
) -> None:
    marker = unique("dollar")
    model = await pricey_account(dp, unique("pricey"))
    await budget(dp, {"id": marker, "when": {"models": [model]}, "limit_to": 1.0, "unit": "cost_per_day"})

    headers = {**dp.auth(), "x-tfy-request-timeout": "60000"}
    async with dp.gateway.client(headers=headers, timeout=60) as client:
        results = await asyncio.gather(*(one(client, dp.base, model, marker, stream=n % 2 == 0) for n in range(50)))
    served = [cost for status, cost in results if status == 200]
    assert {status for status, _ in results} <= {200, 429}
    assert served and len(served) < 50, "the budget let some requests through and refused the rest"
    most = max(served)
    assert sum(served) <= 1.0 + most, f"spent {sum(served)} against $1 (one request costs up to {most})"
    assert sum(served) > 1.0 - 2 * most, "the budget admitted what fitted, not far fewer"
    # The next request finds the budget spent, says so, and is labelled with the rule.
    refused = await dp.chat(model)
    assert refused.status_code == 429, refused.text
    body = refused.json()
    assert body["error_origin_level"] == "budget" and f"Budget '{marker}' exhausted" in body["message"]
    assert applied(refused)["budgets"] == [{"config": "budgets", "rule_id": marker}]
    assert refused.headers["x-ratelimit-remaining-cost"] == "0"
    assert 0 < int(refused.headers["retry-after"]) <= 86_400


async def test_a_client_that_leaves_mid_stream_is_charged_for_what_it_received(dp: DataPlane) -> None:
    marker = unique("left")
    await budget(
        dp,
        {
            "id": marker,
            "when": {"models": ["fake/dripping"], "metadata": {"run": marker}},
            "limit_to": 100_000,
            "unit": "tokens_per_day",
        },
    )
    headers = {**dp.auth(), "x-tfy-metadata": json.dumps({"run": marker})}
    body = {"model": "fake/dripping", "messages": [{"role": "user", "content": "x" * 40}], "stream": True}
    received = 0
    async with dp.http.stream("POST", dp.base + "/chat/completions", json=body, headers=headers) as response:
        assert response.status_code == 200
        async for line in response.aiter_lines():
            if line.startswith("data: {") and json.loads(line[6:])["choices"][0]["delta"].get("content"):
                received += 1
                if received == 5:
                    break
    # Settled before its log record is written: once the record is there, so is the charge.
    record = await dp.log_record(response)
    assert record["status"] == 499 and record["usage_estimated"]
    probe = {**body, "stream": False, "max_tokens": 1}  # holds 10 + 1 tokens
    answer = await dp.http.post(dp.base + "/chat/completions", json=probe, headers=headers)
    charged = 100_000 - 11 - int(answer.headers["x-ratelimit-remaining-budget-tokens"])
    # 10 prompt tokens + at least the 5 chunks received (a few more may have been relayed before the
    # gateway noticed), not the 200 the whole answer would have had.
    assert 10 + 5 <= charged < 10 + 200, charged


async def test_rate_limit_headers_report_the_rule_and_what_is_left(dp: DataPlane) -> None:
    rule_id, marker = unique("headers"), unique("r")
    await limit(dp, rule(rule_id, 5, when={"metadata": {"run": marker}}))
    headers = {"x-tfy-metadata": json.dumps({"run": marker})}
    answers = [await dp.chat(headers=headers) for _ in range(6)]
    assert [a.headers.get("x-ratelimit-remaining-requests") for a in answers] == ["4", "3", "2", "1", "0", "0"]
    assert all(a.headers["x-ratelimit-limit-requests"] == "5" for a in answers)
    assert 0 < int(answers[0].headers["x-ratelimit-reset-requests"]) <= 60
    assert answers[-1].status_code == 429
    assert "x-ratelimit-limit-requests" not in (await dp.chat()).headers, "no rule applied: no headers"


async def test_spend_and_windows_survive_a_restart(dp: DataPlane) -> None:
    rule_id, marker = unique("restart"), unique("k")
    await limit(dp, rule(rule_id, 3, "requests_per_day", when={"metadata": {"run": marker}}))
    headers = {"x-tfy-metadata": json.dumps({"run": marker})}
    assert [(await dp.chat(headers=headers)).status_code for _ in range(2)] == [200, 200]
    await dp.gateway.restart()
    assert [(await dp.chat(headers=headers)).status_code for _ in range(2)] == [200, 429]


async def explain(dp: DataPlane, subject: str, model: str, metadata: dict[str, str]) -> dict[str, Any]:
    response = await dp.http.post(
        "/api/svc/v1/llm-gateway/explain",
        json={"subject": subject, "model": model, "metadata": metadata},
        headers=dp.auth(),
    )
    assert response.status_code == 200, response.text
    limits: dict[str, Any] = response.json()["limits"]
    return limits


async def test_explain_lists_the_rules_a_request_meets_why_others_do_not_and_their_headroom(dp: DataPlane) -> None:
    marker = unique("explain")
    await limit(
        dp,
        rule(f"{marker}-project", 10, rate_limit_applies_per=["metadata.project"]),
        rule(f"{marker}-run", 3, when={"metadata": {"run": marker}}),
        rule(f"{marker}-later", 1, when={"metadata": {"run": marker}}),
    )
    await budget(dp, {"id": marker, "when": {"metadata": {"run": marker}}, "limit_to": 5, "unit": "cost_per_month"})
    metadata = {"run": marker}
    assert (await dp.chat(headers={"x-tfy-metadata": json.dumps(metadata)})).status_code == 200
    limits = await explain(dp, "user:admin@local", "fake/gpt-4o", metadata)
    first, second, third = limits["rate_limits"][:3]
    assert not first["matched"] and "does not carry 'project'" in first["reason"]
    assert second["matched"] and second["deciding"] and not second["would_refuse"]
    period = second["entities"][0]["periods"]["requests_per_minute"]
    assert (period["limit"], period["used"], period["remaining"]) == (3, 1, 2)
    assert 0 < period["resets_in_s"] <= 60
    # V1: a later matching rule counts the request without deciding it.
    assert third["matched"] and not third["deciding"] and "counted only" in third["reason"]
    assert third["entities"][0]["periods"]["requests_per_minute"]["used"] == 1
    spent = limits["budgets"][0]["entities"][0]["periods"]["cost_per_month"]
    assert limits["budgets"][0]["name"] == marker and 0 < spent["used"] < 0.01 and spent["limit"] == 5
    assert limits["admitted"] and limits["refused_by"] is None
    for _ in range(2):
        await dp.chat(headers={"x-tfy-metadata": json.dumps(metadata)})
    limits = await explain(dp, "user:admin@local", "fake/gpt-4o", metadata)
    assert not limits["admitted"] and limits["refused_by"] == f"{marker}-run"
    assert limits["rate_limits"][1]["entities"][0]["retry_after_s"] > 0


async def test_usage_endpoints_list_every_entity_of_a_rule(dp: DataPlane) -> None:
    marker = unique("usage")
    await limit(dp, rule(marker, 10, when={"metadata": {"run": marker}}, rate_limit_applies_per=["user"]))
    await budget(
        dp,
        {
            "id": marker,
            "when": {"metadata": {"run": marker}},
            "limit_to": 1,
            "unit": "cost_per_day",
            "budget_applies_per": ["user"],
        },
    )
    alice, bob = await dp.add_user(f"alice-{marker}@example.com"), await dp.add_user(f"bob-{marker}@example.com")
    headers = {"x-tfy-metadata": json.dumps({"run": marker})}
    for token, times in ((alice, 3), (bob, 1)):
        for _ in range(times):
            assert (await dp.chat("fake/public", token=token, headers=headers)).status_code == 200

    async def matched(kind: str) -> dict[str, Any]:
        response = await dp.http.get(
            f"/api/svc/v1/llm-gateway/config/{kind}/usage", params={"rule": marker}, headers=dp.auth()
        )
        assert response.status_code == 200, response.text
        (entry,) = response.json()["matched"]
        return dict(entry)

    rate = await matched("rate-limit")
    assert rate["applies_to"] == "user" and rate["mode"] == "enforce"
    used = {e["entity"]: e["periods"]["requests_per_minute"]["used"] for e in rate["entities"]}
    assert used == {f"user:alice-{marker}@example.com": 3, f"user:bob-{marker}@example.com": 1}
    spend = await matched("budget")
    assert spend["type"] == "gateway-budget-config"
    assert [e["entity"] for e in spend["entities"]] == [
        f"user:alice-{marker}@example.com",
        f"user:bob-{marker}@example.com",
    ]
    day = spend["entities"][0]["periods"]["cost_per_day"]
    assert day["end"] - day["start"] == 86_400 and day["window"].startswith("day ")
    forbidden = await dp.http.get("/api/svc/v1/llm-gateway/config/budget/usage", headers=dp.auth(alice))
    assert forbidden.status_code == 403


async def test_an_audit_mode_budget_answers_200_and_logs_that_it_would_have_blocked(dp: DataPlane) -> None:
    marker = unique("audit")
    model = await pricey_account(dp, unique("audited"))
    rules = [{"id": marker, "when": {"models": [model]}, "limit_to": 0.01, "unit": "cost_per_day", "audit_mode": True}]
    await budget(dp, *rules)
    answers = [await dp.chat(model) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert applied(answers[2])["would_block"] == [{"kind": "budget", "config": "budgets", "rule_id": marker}]
    first, last = await dp.log_record(answers[0]), await dp.log_record(answers[2])
    assert first["limits"] == {"budgets": [marker]}
    assert last["limits"]["would_have_blocked"] == [{"kind": "budget", "config": "budgets", "rule_id": marker}]
