"""The guardrails stage in a whole gateway (in this event loop, the fake provider and a guardrail service
in process): what apply accepts, refuses and warns about; the request header; blocks, rewrites and
held streams; what the request log, /metrics, explain and x-tfy-applied-configurations say."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.gateway.guardrails.guardrail_server import GuardrailServer, app
from tests.gateway.inprocess import InProcessGateway, running_gateway
from tests.helpers import eventually
from tfy_gateway.gateway.data_plane import DataPlaneOptions
from tfy_gateway.gateway.providers import Transport
from tfy_gateway.gateway.providers.inprocess_transport import InProcessTransport
from tfy_gateway.gateway.providers.transport import HttpRequest, HttpResponse, HttpStream

GUARDS = "http://guardrails.test"
MODEL = "openai-main/gpt-4o"
CARD = "4111 1111 1111 1111"


class Origins:
    """One transport over several in-process apps, chosen by the URL's origin."""

    def __init__(self, *transports: InProcessTransport) -> None:
        self.by_origin = {t.origin: t for t in transports}

    def _of(self, url: str) -> InProcessTransport:
        parts = urlsplit(url)
        return self.by_origin[f"{parts.scheme}://{parts.netloc}"]

    async def post(self, request: HttpRequest) -> HttpResponse:
        return await self._of(request.url).post(request)

    async def open_stream(self, request: HttpRequest) -> HttpStream:
        return await self._of(request.url).open_stream(request)


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[tuple[InProcessGateway, GuardrailServer]]:
    state = GuardrailServer()
    async with InProcessTransport(app(state), origin=GUARDS) as guards:

        def plane(upstream: Transport) -> DataPlaneOptions:
            assert isinstance(upstream, InProcessTransport)
            return DataPlaneOptions(transport=Origins(upstream, guards))

        async with running_gateway(tmp_path / "data", data_plane=plane, watch_interval_s=0) as gateway:
            yield gateway, state


def integration(name: str, kind: str, config: dict[str, Any] | None, **fields: Any) -> dict[str, Any]:
    item = {"name": name, "type": f"integration/guardrail-config/{kind}", "enforcing_strategy": "enforce", **fields}
    item.setdefault("operation", "validate")
    if config is not None:
        item["config"] = config
    return item


def group(*integrations: dict[str, Any], name: str = "guards") -> dict[str, Any]:
    return {"name": name, "type": "provider-account/guardrail-config-group", "integrations": list(integrations)}


def rule(rule_id: str, inputs: list[str] = (), outputs: list[str] = (), **extra: Any) -> dict[str, Any]:  # type: ignore[assignment]
    return {
        "id": rule_id,
        "when": extra.pop("when", {}),
        "llm_input_guardrails": list(inputs),
        "llm_output_guardrails": list(outputs),
        "mcp_tool_pre_invoke_guardrails": extra.pop("mcp", []),
        "mcp_tool_post_invoke_guardrails": [],
        **extra,
    }


def config(*rules: dict[str, Any]) -> dict[str, Any]:
    return {"name": "guardrails", "type": "gateway-guardrails-config", "rules": list(rules)}


PII = integration("pii", "tfy-pii", {"pii_categories": ["Email", "CreditCardNumber"]})
REDACT = integration("redact", "tfy-pii", {"pii_categories": ["Email"]}, operation="mutate", priority=1)


async def apply(gateway: InProcessGateway, manifest: dict[str, Any]) -> httpx.Response:
    return await gateway.http.put(
        "/api/svc/v1/apply", json={"manifest": manifest, "dryRun": False}, headers=gateway.auth()
    )


async def chat(gateway: InProcessGateway, text: str, **extra: Any) -> httpx.Response:
    headers = {**gateway.auth(), **extra.pop("headers", {})}
    body = {"model": MODEL, "messages": [{"role": "user", "content": text}], "max_tokens": 60, **extra}
    return await gateway.http.post("/api/llm/chat/completions", json=body, headers=headers)


async def logs(gateway: InProcessGateway, **params: str) -> list[dict[str, Any]]:
    response = await gateway.http.get("/api/svc/v1/llm-gateway/logs", params=params, headers=gateway.auth())
    assert response.status_code == 200, response.text
    data: list[dict[str, Any]] = response.json()["data"]
    return data


def applied(response: httpx.Response) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(response.headers["x-tfy-applied-configurations"])
    return value


async def test_apply_refuses_what_it_cannot_detect_and_warns_about_what_it_does_not_run(
    stack: tuple[InProcessGateway, GuardrailServer],
) -> None:
    gateway, _ = stack
    person = integration("names", "tfy-pii", {"pii_categories": ["Email", "Person"]})
    refused = await apply(gateway, group(person))
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["code"] == "pii-category-unsupported" and "Person" in refused.text
    patronus = integration(
        "judge",
        "patronus",
        {"target": "request", "evaluators": [{"type": "pii", "criteria": "patronus:pii"}]},
        auth_data={"type": "api-key", "api_key": "tfy-secret://local:patronus:KEY"},
    )
    everything = integration("all-pii", "tfy-pii", {"pii_categories": ["*"]})
    accepted = await apply(gateway, group(patronus, everything))
    assert accepted.status_code == 200, accepted.text
    warnings = {w["path"]: w for w in accepted.json()["warnings"] if w["code"] == "not-enforced-locally"}
    assert "does not run patronus" in warnings["integrations[0].type"]["message"]
    assert "16 categories it recognises" in warnings["integrations[1].config.pii_categories[0]"]["message"]
    with_rule = await apply(gateway, config(rule("judge-all", ["guards/judge"], mcp=["guards/all-pii"])))
    assert with_rule.status_code == 200, with_rule.text
    messages = [w["message"] for w in with_rule.json()["warnings"] if w["code"] == "not-enforced-locally"]
    assert any("guards/judge, a patronus guardrail" in m for m in messages)
    assert any("MCP tool guardrails" in m for m in messages)
    answer = await chat(gateway, "hello")
    assert answer.status_code == 200 and applied(answer)["guardrails"]["input"] == ["guards/judge"]
    (record,) = await logs(gateway, guardrail="guards/judge")
    assert record["guardrails"][0]["result"] == "skipped"


async def test_references_are_checked_at_apply_and_a_used_guardrail_cannot_be_removed(
    stack: tuple[InProcessGateway, GuardrailServer],
) -> None:
    gateway, _ = stack
    assert (await apply(gateway, group(PII))).status_code == 200
    unknown = await apply(gateway, config(rule("r", ["guards/pi"])))
    assert unknown.status_code == 422 and "did you mean 'guards/pii'" in unknown.json()["message"]
    assert (await apply(gateway, config(rule("r", ["guards/pii"])))).status_code == 200
    emptied = await apply(gateway, group(integration("other", "secret-detection", None)))
    assert emptied.status_code == 409 and "runs guardrail guards/pii" in emptied.json()["message"]
    deleted = await gateway.http.post("/api/svc/v1/delete", json={"manifest": group(PII)}, headers=gateway.auth())
    assert deleted.status_code == 409 and "runs its guardrails" in deleted.json()["message"]


async def test_rules_combine_and_the_log_metrics_and_headers_report_each_check(
    stack: tuple[InProcessGateway, GuardrailServer],
) -> None:
    gateway, _ = stack
    await apply(gateway, group(PII, REDACT))
    everyone = {"subjects": {"operator": "or", "conditions": {"in": ["team:everyone"]}}}
    await apply(
        gateway, config(rule("block", ["guards/pii"]), rule("redact-out", [], ["guards/redact"], when=everyone))
    )
    passed = await chat(gateway, "say bob")
    assert passed.status_code == 200
    assert applied(passed)["guardrails"] == {
        "rules": ["block", "redact-out"],
        "input": ["guards/pii"],
        "output": ["guards/redact"],
    }
    blocked = await chat(gateway, f"card {CARD}")
    body = blocked.json()
    assert blocked.status_code == 400 and body["error"]["type"] == "guardrail_checks_failed"
    assert body["error_origin_level"] == "guardrails_input"
    assert (
        body["message"]
        == "Input Guardrail checks failed for integrations: [guards/pii]: PII found: CreditCardNumber (1)"
    )
    (record,) = await logs(gateway, blocked="true")
    assert record["status"] == 400 and record["guardrails"][0] == {
        "guardrail": "guards/pii",
        "stage": "input",
        "operation": "validate",
        "mode": "enforce",
        "result": "fail",
        "latency_ms": record["guardrails"][0]["latency_ms"],
        "message": "PII found: CreditCardNumber (1)",
        "blocked": True,
    }
    assert CARD not in json.dumps(record)  # the log names what was found, never the text
    summary = await gateway.http.get(
        "/api/svc/v1/llm-gateway/usage/summary", params={"blocked": "true"}, headers=gateway.auth()
    )
    assert summary.json()["total"]["requests"] == 1
    metrics = (await gateway.http.get("/metrics", headers=gateway.auth())).text
    assert 'tfy_gateway_guardrail_checks_total{guardrail="guards/pii",result="fail",stage="input"} 1.0' in metrics
    assert 'tfy_gateway_guardrail_blocks_total{guardrail="guards/pii",stage="input"} 1.0' in metrics
    assert 'tfy_gateway_guardrail_checks_total{guardrail="guards/redact",result="pass",stage="output"} 1.0' in metrics


async def test_explain_lists_the_guardrails_a_request_would_meet(
    stack: tuple[InProcessGateway, GuardrailServer],
) -> None:
    gateway, _ = stack
    custom = integration("svc", "custom", {"url": f"{GUARDS}/custom/allow"}, target="request")
    await apply(gateway, group(PII, REDACT, custom))
    only_other = {"target": {"operator": "or", "conditions": {"model": {"condition": "in", "values": ["other/*"]}}}}
    await apply(
        gateway,
        config(
            rule("all", ["guards/pii", "guards/redact", "guards/svc"]), rule("other", ["guards/pii"], when=only_other)
        ),
    )
    response = await gateway.http.post(
        "/api/svc/v1/llm-gateway/explain", json={"subject": "user:admin@local", "model": MODEL}, headers=gateway.auth()
    )
    report = response.json()["guardrails"]
    assert [(r["id"], r["matched"]) for r in report["rules"]] == [("all", True), ("other", False)]
    assert "is not in ['other/*']" in report["rules"][1]["reason"]
    assert [(e["guardrail"], e["when"]) for e in report["input"]] == [
        ("guards/pii", "before the model call"),
        ("guards/svc", "alongside the model call (a block discards its answer)"),
        ("guards/redact", "before the model call, in priority order"),
    ]


async def test_the_request_header_adds_guardrails_and_names_unknown_ones(
    stack: tuple[InProcessGateway, GuardrailServer],
) -> None:
    gateway, _ = stack
    await apply(gateway, group(PII))
    asked = {"x-tfy-guardrails": json.dumps({"llm_input_guardrails": ["guards/pii"]})}
    assert (await chat(gateway, f"card {CARD}")).status_code == 200  # no rule
    assert (await chat(gateway, f"card {CARD}", headers=asked)).status_code == 400
    unknown = await chat(
        gateway, "hi", headers={"x-tfy-guardrails": json.dumps({"llm_input_guardrails": ["guards/x"]})}
    )
    assert unknown.status_code == 400 and "'guards/x', which no guardrail group defines" in unknown.json()["message"]
    malformed = await chat(gateway, "hi", headers={"x-tfy-guardrails": "{"})
    assert malformed.status_code == 400 and "x-tfy-guardrails is not valid JSON" in malformed.json()["message"]


async def test_output_guardrails_rewrite_or_withhold_answers_streamed_or_not(
    stack: tuple[InProcessGateway, GuardrailServer],
) -> None:
    gateway, _ = stack
    await apply(gateway, group(PII, REDACT))
    await apply(gateway, config(rule("answers", [], ["guards/redact"])))
    text = "write to bob@example.com today"  # the fake provider's answer repeats the prompt
    plain = await chat(gateway, text)
    assert "[REDACTED:Email]" in plain.json()["choices"][0]["message"]["content"]
    assert "bob@example.com" not in plain.text
    streamed = await chat(gateway, text, stream=True)
    assert streamed.status_code == 200 and streamed.headers["content-type"].startswith("text/event-stream")
    assert "bob@example.com" not in streamed.text and streamed.text.rstrip().endswith("data: [DONE]")
    content = "".join(
        (json.loads(line[6:])["choices"] or [{}])[0].get("delta", {}).get("content") or ""
        for line in streamed.text.splitlines()
        if line.startswith("data: {")
    )
    assert "write to [REDACTED:Email] today" in content
    await apply(
        gateway,
        config(
            rule(
                "answers",
                [],
                ["guards/pii"],
                custom_error_message="Blocked: {{failed_guardrails}}. {{guardrail_message}}",
            )
        ),
    )
    withheld = await chat(gateway, f"card {CARD}", stream=True)
    assert withheld.status_code == 400 and withheld.headers["content-type"] == "application/json"
    assert withheld.json()["message"] == (
        "Blocked: guards/pii. Output Guardrail checks failed for integrations: [guards/pii]: PII found: "
        "CreditCardNumber (1)"
    )
    assert withheld.json()["guardrail_checks"]["output_guardrails"][0]["guardrail_integration"] == "guards/pii"
    record = (await logs(gateway))[0]
    assert record["status"] == 400 and record["completion_tokens"] > 0 and record["cost"] > 0  # the provider's work


async def test_a_service_that_blocks_after_the_provider_answered_discards_the_answer(
    stack: tuple[InProcessGateway, GuardrailServer],
) -> None:
    gateway, state = stack
    gated = integration("gated", "custom", {"url": f"{GUARDS}/custom/gate"}, target="request")
    await apply(gateway, group(gated))
    await apply(gateway, config(rule("gate", ["guards/gated"])))
    request = asyncio.ensure_future(chat(gateway, "hello there"))
    await eventually(lambda: gateway.provider_stats()["requests"] >= 1, "the provider got the request", timeout=20)
    await eventually(lambda: bool(state.received), "the guardrail service got its check", timeout=20)
    state.release()
    response = await request
    assert response.status_code == 400 and "denied after the gate opened" in response.json()["message"]
    record = (await logs(gateway))[0]
    assert record["prompt_tokens"] > 0 and record["cost"] is not None  # what the provider did is accounted


async def test_a_block_during_the_model_call_cancels_it_and_charges_the_estimate(
    stack: tuple[InProcessGateway, GuardrailServer],
) -> None:
    gateway, _ = stack
    slow = {
        "name": "slow",
        "type": "provider-account/openai",
        "base_url": "http://fake-provider.test/knobs/latency_ms=600000/v1",
        "auth_data": {"type": "api-key", "api_key": "tfy-secret://local:openai:API_KEY"},
        "integrations": [
            {"type": "integration/model/openai", "name": "gpt-4o", "model_id": "gpt-4o", "model_types": ["chat"]}
        ],
    }
    assert (await apply(gateway, slow)).status_code == 200
    deny = integration("deny", "custom", {"url": f"{GUARDS}/custom/deny"}, target="request")
    await apply(gateway, group(deny))
    await apply(gateway, config(rule("svc", ["guards/deny"])))
    body = {"model": "slow/gpt-4o", "messages": [{"role": "user", "content": "hello"}], "max_tokens": 20}
    response = await gateway.http.post("/api/llm/chat/completions", json=body, headers=gateway.auth())
    assert response.status_code == 400 and "denied by the test guardrail" in response.json()["message"]
    await eventually(lambda: gateway.provider_stats()["disconnects"] >= 1, "the model call was cancelled", timeout=20)
    record = (await logs(gateway))[0]
    assert record["usage_estimated"] is True and record["prompt_tokens"] > 0  # the provider may have worked
