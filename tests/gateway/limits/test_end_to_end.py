"""Rate limits through a gateway and the fake provider, both in the test's event loop."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import httpx

from tests.gateway.data_plane.conftest import DataPlane
from tfy_gateway.gateway.accounting.estimate import prompt_tokens


async def limit(dp: DataPlane, *rules: dict[str, Any]) -> None:
    await dp.apply({"name": "limits", "type": "gateway-rate-limiting-config", "rules": list(rules)})


def rule(rule_id: str, limit_to: int, unit: str = "requests_per_minute", **extra: Any) -> dict[str, Any]:
    return {"id": rule_id, "when": extra.pop("when", {}), "limit_to": limit_to, "unit": unit, **extra}


def unique(prefix: str) -> str:
    """Rule ids and prompts per test: counters are per rule id, and the provider's log is searched by prompt."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def provider_saw(dp: DataPlane, marker: str) -> int:
    recorded = dp.gateway.provider_requests()
    return sum(1 for r in recorded if marker in json.dumps(r["body"]))


async def ask(dp: DataPlane, marker: str, model: str = "fake/gpt-4o", **kwargs: Any) -> httpx.Response:
    body = {"messages": [{"role": "user", "content": f"hello {marker}"}], **kwargs.pop("body", {})}
    return await dp.chat(model, body=body, **kwargs)


def applied(response: httpx.Response) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(response.headers["x-tfy-applied-configurations"])
    return value


async def test_the_fourth_request_of_three_a_minute_is_a_429_that_never_reaches_the_provider(dp: DataPlane) -> None:
    rule_id, marker = unique("three-a-minute"), unique("m")
    token = await dp.add_user(f"{marker}@example.com")
    await limit(dp, rule(rule_id, 3, when={"subjects": [f"user:{marker}@example.com"]}))
    answers = [await ask(dp, marker, token=token) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    refused = answers[3]
    body = refused.json()
    assert body["status"] == "failure" and body["error_origin_level"] == "rate_limiting"
    assert body["error"]["code"] == "rate_limit_exceeded" and body["error"]["type"] == "RateLimitError"
    assert f"Rate limit '{rule_id}' exceeded: it allows 3 requests per minute" in body["message"]
    assert "Capacity frees up in" in body["message"]
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert applied(answers[0])["rate_limit"] == {"config": "limits", "rule_id": rule_id}
    assert applied(refused)["rate_limit"] == {"config": "limits", "rule_id": rule_id}
    assert provider_saw(dp, marker) == 3
    record = await dp.log_record(refused)
    assert record["status"] == 429 and record["error_origin"] == "rate_limiting"
    # Another caller is not matched by the rule: it is neither limited nor labelled.
    other = await ask(dp, marker)
    assert other.status_code == 200 and "rate_limit" not in applied(other)


async def test_fifty_concurrent_requests_against_a_limit_of_ten_admit_exactly_ten(dp: DataPlane) -> None:
    rule_id, marker = unique("ten"), unique("c")
    await limit(dp, rule(rule_id, 10, when={"models": ["fake/slow-start"]}))

    headers = {**dp.auth(), "x-tfy-request-timeout": "60000"}  # the fixture's 1.5 s is tight under load
    body = {"model": "fake/slow-start", "messages": [{"role": "user", "content": f"hi {marker}"}]}
    answers = await asyncio.gather(
        *(dp.http.post(dp.base + "/chat/completions", json=body, headers=headers, timeout=60) for _ in range(50))
    )
    statuses = sorted(a.status_code for a in answers)
    assert statuses.count(200) == 10 and statuses.count(429) == 40, statuses
    assert provider_saw(dp, marker) == 10


async def test_a_tokens_per_minute_limit_charges_real_usage(dp: DataPlane) -> None:
    rule_id, marker = unique("tpm"), unique("t")
    cap = 20
    content = f"hello {marker}"
    estimate = prompt_tokens({"messages": [{"role": "user", "content": content}]}) + cap
    await limit(dp, rule(rule_id, 10 * estimate, "tokens_per_minute", when={"metadata": {"run": marker}}))
    headers = {"x-tfy-metadata": json.dumps({"run": marker})}
    answers = []
    while len(answers) < 40:
        answers.append(await ask(dp, marker, body={"max_tokens": cap}, headers=headers))
        if answers[-1].status_code != 200:
            break
    refused = answers[-1]
    assert refused.status_code == 429 and "tokens per minute" in refused.json()["message"]
    used = answers[0].json()["usage"]["total_tokens"]
    assert used < estimate, "the fake provider answers fewer tokens than the cap: settling matters"
    # Each admitted request is charged its real usage; the next one needs room for its estimate.
    admitted = len(answers) - 1
    assert (admitted - 1) * used + estimate <= 10 * estimate < admitted * used + estimate
    assert admitted > 10, "estimates alone would have stopped at 10"
    assert provider_saw(dp, marker) == admitted


async def test_counters_per_user(dp: DataPlane) -> None:
    rule_id, marker = unique("per-user"), unique("u")
    await limit(dp, rule(rule_id, 2, when={"models": ["fake/public"]}, rate_limit_applies_per=["user"]))
    alice, bob = await dp.add_user(f"alice-{marker}@example.com"), await dp.add_user(f"bob-{marker}@example.com")
    statuses = {
        name: [(await ask(dp, marker, "fake/public", token=token)).status_code for _ in range(3)]
        for name, token in (("alice", alice), ("bob", bob))
    }
    assert statuses == {"alice": [200, 200, 429], "bob": [200, 200, 429]}
    refused = (await ask(dp, marker, "fake/public", token=alice)).json()["message"]
    assert f"for user user:alice-{marker}@example.com" in refused


async def test_a_request_the_gateway_failed_before_the_provider_releases_its_hold(dp: DataPlane) -> None:
    rule_id = unique("one")
    await limit(dp, rule(rule_id, 1, when={"models": ["down/gpt-4o", "fake/broken"]}))
    # `down` refuses connections: a gateway-side failure (502), so it does not count.
    assert [(await dp.chat("down/gpt-4o")).status_code for _ in range(3)] == [502, 502, 502]
    # `fake/broken` answers 500 itself: the provider was reached, so the request counts.
    assert [(await dp.chat("fake/broken")).status_code for _ in range(2)] == [500, 429]


async def test_a_streamed_answer_is_charged_its_reported_usage(dp: DataPlane) -> None:
    rule_id, marker = unique("tpm-stream"), unique("s")
    await limit(dp, rule(rule_id, 10_000, "tokens_per_minute", when={"metadata": {"run": marker}}))
    headers = {"x-tfy-metadata": json.dumps({"run": marker})}
    body = {"stream": True, "stream_options": {"include_usage": True}, "max_tokens": 12}
    streamed = await ask(dp, marker, body=body, headers=headers)
    assert streamed.status_code == 200
    chunks = [json.loads(line[6:]) for line in streamed.text.splitlines() if line.startswith("data: {")]
    usage = next(c["usage"] for c in reversed(chunks) if c.get("usage"))["total_tokens"]
    # A request asking for the whole limit as output cannot fit next to what the stream used.
    refused = await ask(dp, marker, body={"max_tokens": 10_000}, headers=headers)
    assert refused.status_code == 429
    assert f"{usage} already counted" in refused.json()["message"]


async def test_v1_counts_a_request_against_every_matching_rule_while_the_first_decides(dp: DataPlane) -> None:
    """The platform's V1 deprecation notice: "V1 enforced only the first matching rule ... and usage was
    still counted against every rule the request matched"."""
    marker = unique("v1-count")
    alice = await dp.add_user(f"alice-{marker}@example.com")
    bob = await dp.add_user(f"bob-{marker}@example.com")
    await limit(
        dp,
        rule(f"{marker}-alice", 100, when={"subjects": [f"user:alice-{marker}@example.com"]}),
        rule(f"{marker}-all", 3, when={"metadata": {"run": marker}}),
    )
    headers = {"x-tfy-metadata": json.dumps({"run": marker})}
    # Alice is decided by her own rule: the catch-all never refuses her, but counts her requests.
    assert [(await ask(dp, marker, token=alice, headers=headers)).status_code for _ in range(4)] == [200] * 4
    refused = await ask(dp, marker, token=bob, headers=headers)
    assert refused.status_code == 429, refused.text
    assert f"Rate limit '{marker}-all' exceeded" in refused.json()["message"]
    usage = await dp.http.get("/api/svc/v1/llm-gateway/config/rate-limit/usage", headers=dp.auth())
    assert usage.status_code == 200, usage.text
    counted = {entry["name"]: entry for entry in usage.json()["matched"] if entry["name"].startswith(marker)}
    assert counted[f"{marker}-all"]["entities"][0]["periods"]["requests_per_minute"]["used"] == 4
