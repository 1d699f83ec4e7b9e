"""Routing through a gateway and the real fake provider: fallback on 503 visible in the response headers
and the request log, no fallback on 400 (a gateway in process), and `tfy-gateway explain` over HTTP (a
gateway process)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.gateway.inprocess import FAKE_ORIGIN, running_gateway
from tests.helpers import SUBPROCESS_TIMEOUT_S, GatewayProcess, eventually
from tfy_gateway.fakeprovider import running


@pytest.fixture
def fake_provider() -> Iterator[str]:
    with running() as base_url:
        yield base_url


def account(name: str, base_url: str) -> dict[str, Any]:
    return {
        "name": name,
        "type": "provider-account/openai",
        "base_url": base_url,
        "integrations": [
            {"type": "integration/model/openai", "name": "gpt-4o", "model_id": "gpt-4o", "model_types": ["chat"]}
        ],
    }


def priority_rule(rule_id: str, first: str) -> dict[str, Any]:
    return {
        "id": rule_id,
        "type": "priority-based-routing",
        "when": {"models": [first]},
        "load_balance_targets": [
            {"target": first, "priority": 0, "retry_config": {"attempts": 1, "delay": 0}},
            {"target": "steady/gpt-4o", "priority": 1},
        ],
    }


ROUTING = {
    "name": "e2e-routing",
    "type": "gateway-load-balancing-config",
    "rules": [
        priority_rule("flaky-first", "flaky/gpt-4o"),
        priority_rule("broken-first", "broken/gpt-4o"),
        priority_rule("dropping-first", "dropping/gpt-4o"),
    ],
}


def manifests(fake_provider: str) -> list[dict[str, Any]]:
    return [
        account("flaky", f"{fake_provider}/knobs/status=503/v1"),
        account("broken", f"{fake_provider}/knobs/status=400/v1"),
        account("steady", f"{fake_provider}/v1"),
        account("dropping", f"{fake_provider}/knobs/drop_after=2/v1"),
        ROUTING,
    ]


@pytest.fixture
async def routed(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    async with running_gateway(tmp_path / "data", offline=False) as gateway:
        for manifest in manifests(FAKE_ORIGIN):
            await gateway.apply(manifest)
        gateway.http.headers.update(gateway.auth())  # every request as the admin
        yield gateway.http


async def chat(client: httpx.AsyncClient, model: str) -> httpx.Response:
    body = {"model": model, "messages": [{"role": "user", "content": "ping"}], "max_tokens": 4}
    return await client.post("/api/llm/chat/completions", json=body)


async def logged(client: httpx.AsyncClient, request_id: str) -> dict[str, Any]:
    """The request log record of `request_id` (written after the reply: poll until it is there)."""

    async def find() -> dict[str, Any] | None:
        records = (await client.get("/api/svc/v1/llm-gateway/logs", params={"limit": 50})).json()["data"]
        return next((record for record in records if request_id in json.dumps(record)), None)

    return await eventually(find, f"request {request_id} in the request log")


async def test_503_falls_back_with_the_attempts_in_headers_and_log(routed: httpx.AsyncClient) -> None:
    response = await chat(routed, "flaky/gpt-4o")
    assert response.status_code == 200, response.text
    assert response.headers["x-tfy-resolved-model"] == "steady/gpt-4o"
    applied = json.loads(response.headers["x-tfy-applied-configurations"])
    assert applied["load_balancing"]["rule_id"] == "flaky-first"
    assert (applied["retries"], applied["fallbacks"]) == (1, 1)
    record = await logged(routed, response.headers["x-tfy-request-id"])
    assert [tuple(item) for item in record["tries"]] == [
        ("flaky/gpt-4o", 503),
        ("flaky/gpt-4o", 503),
        ("steady/gpt-4o", 200),
    ]
    assert (record["retries"], record["fallbacks"]) == (1, 1)


async def test_400_does_not_fall_back(routed: httpx.AsyncClient) -> None:
    response = await chat(routed, "broken/gpt-4o")
    assert response.status_code == 400, response.text
    record = await logged(routed, response.headers["x-tfy-request-id"])
    assert [tuple(item) for item in record["tries"]] == [("broken/gpt-4o", 400)]


async def test_a_stream_that_began_is_never_retried(routed: httpx.AsyncClient) -> None:
    body = {"model": "dropping/gpt-4o", "messages": [{"role": "user", "content": "ping"}], "stream": True}
    received = b""
    async with routed.stream("POST", "/api/llm/chat/completions", json=body) as response:
        assert response.status_code == 200
        request_id = response.headers["x-tfy-request-id"]
        try:
            async for chunk in response.aiter_bytes():
                received += chunk
        except httpx.HTTPError:
            pass  # the upstream dropped mid-stream; the gateway may end the response abruptly
    assert b"data:" in received
    record = await logged(routed, request_id)
    assert [item[0] for item in record["tries"]] == ["dropping/gpt-4o"], "no retry, no fallback after bytes"


def test_explain_cli_against_the_gateway(gateway: GatewayProcess, fake_provider: str) -> None:
    headers = {"Authorization": f"Bearer {gateway.admin_token}"}
    with httpx.Client(base_url=gateway.base_url, headers=headers, timeout=30.0) as client:
        for manifest in manifests(fake_provider):
            response = client.put("/api/svc/v1/apply", json={"manifest": manifest, "dryRun": False})
            assert response.status_code == 200, response.text
    command = [sys.executable, "-m", "tfy_gateway", "explain", "--subject", "someone@example.com"]  # a bare email
    env = {**os.environ, **gateway.env}
    text = subprocess.run(
        [*command, "--model", "flaky/gpt-4o"], capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT_S, env=env
    )
    assert text.returncode == 0, text.stderr
    assert "rule 'flaky-first' of config 'e2e-routing'" in text.stdout
    assert "Attempts:  flaky/gpt-4o -> steady/gpt-4o" in text.stdout
    assert "Request:   model flaky/gpt-4o; subjects user:someone@example.com" in text.stdout
    assert "Access:    REFUSED with 403: user:someone@example.com may use none of the rule's targets" in text.stdout
    assert "Limits:    not reached: model access refuses the request first" in text.stdout
    as_json = subprocess.run(
        [*command, "--model", "broken/gpt-4o", "--metadata", "env=dev", "--format", "json"],
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT_S,
        env=env,
    )
    assert as_json.returncode == 0, as_json.stderr
    report = json.loads(as_json.stdout)
    assert report["matched_rule"] == "broken-first" and report["metadata"] == {"env": "dev"}
    assert [rule["matched"] for rule in report["rules"]] == [False, True]
    bad = subprocess.run([*command, "--model", "m", "--metadata", "oops"], capture_output=True, text=True, env=env)
    assert bad.returncode == 2 and "KEY=VALUE" in bad.stderr


def test_explain_cli_names_an_unreachable_gateway() -> None:
    from tests.helpers import free_port

    url = f"http://127.0.0.1:{free_port()}"
    env = {**os.environ, "TFY_BASE_URL": url, "TFY_API_KEY": "tfy_nope"}
    result = subprocess.run(
        [sys.executable, "-m", "tfy_gateway", "explain", "--subject", "user:a@x", "--model", "m"],
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT_S,
        env=env,
    )
    assert result.returncode == 1 and url in result.stderr and "tfy_nope" not in result.stderr
