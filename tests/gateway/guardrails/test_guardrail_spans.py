"""Each guardrail that ran is an `apply_guardrail` span of the request's trace (to a real OTLP collector)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.gateway.inprocess import running_gateway
from tests.gateway.observability.otlp_receiver import OtlpReceiver
from tests.helpers import eventually

GROUP = {
    "name": "guards",
    "type": "provider-account/guardrail-config-group",
    "integrations": [
        {
            "name": "pii",
            "type": "integration/guardrail-config/tfy-pii",
            "operation": "validate",
            "enforcing_strategy": "enforce",
            "config": {"pii_categories": ["Email"]},
        },
        {
            "name": "redact",
            "type": "integration/guardrail-config/tfy-pii",
            "operation": "mutate",
            "enforcing_strategy": "enforce",
            "config": {"pii_categories": ["Email"]},
        },
    ],
}
RULES = {
    "name": "guardrails",
    "type": "gateway-guardrails-config",
    "rules": [
        {
            "id": "all",
            "when": {},
            "llm_input_guardrails": ["guards/pii"],
            "llm_output_guardrails": ["guards/redact"],
            "mcp_tool_pre_invoke_guardrails": [],
            "mcp_tool_post_invoke_guardrails": [],
        }
    ],
}


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    with OtlpReceiver() as running:
        yield running


async def test_each_guardrail_is_a_span_with_its_own_result(tmp_path: Path, receiver: OtlpReceiver) -> None:
    async with running_gateway(tmp_path / "data", otel_traces_endpoint=receiver.traces_url) as gateway:
        await gateway.apply(GROUP)
        await gateway.apply(RULES)
        body = {"model": "openai-main/gpt-4o", "messages": [{"role": "user", "content": "mail bob@example.com"}]}
        blocked = await gateway.http.post("/api/llm/chat/completions", json=body, headers=gateway.auth())
        assert blocked.status_code == 400
        body["messages"][0]["content"] = "hello"
        passed = await gateway.http.post("/api/llm/chat/completions", json=body, headers=gateway.auth())
        assert passed.status_code == 200
        records = (await gateway.http.get("/api/svc/v1/llm-gateway/logs", headers=gateway.auth())).json()["data"]
        traces = {record["status"]: record["trace_id"] for record in records}

        def guardrail_spans(trace_id: str) -> list[dict[str, object]]:
            spans = receiver.spans_of(trace_id)
            return [
                {"name": s.name, "result": s.attributes["tfy.guardrail.result"], "parent": s.parent_span_id}
                for s in spans
                if s.attributes.get("tfy.span_type") == "Guardrail"
            ]

        blocked_spans = await eventually(lambda: guardrail_spans(traces[400]), "the blocked request's guardrail span")
        assert [(s["name"], s["result"]) for s in blocked_spans] == [("apply_guardrail guards/pii", "fail")]
        passed_spans = await eventually(
            lambda: len(guardrail_spans(traces[200])) == 2 and guardrail_spans(traces[200]), "two guardrail spans"
        )
        assert sorted((s["name"], s["result"]) for s in passed_spans) == [
            ("apply_guardrail guards/pii", "pass"),
            ("apply_guardrail guards/redact", "pass"),
        ]
        (server,) = [s for s in receiver.spans_of(traces[200]) if s.kind == "SERVER"]
        assert {s["parent"] for s in passed_spans} == {server.span_id}
