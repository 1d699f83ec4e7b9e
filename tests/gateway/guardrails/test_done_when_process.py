"""Issue 21's "done when", with real processes: a `tfy-gateway serve` subprocess, the fake provider and a
custom-guardrail server each on its own loopback port, driven over HTTP.

- PII in enforce blocks an email and a valid card (the platform's envelope naming the integration)
  and lets an invalid card through; in audit both pass and the log records the finding; in mutate the
  provider receives the redacted prompt (the fake provider echoes it).
- A custom guardrail answering verdict:false blocks; one that never answers blocks under `enforce`
  and passes under `enforce_but_ignore_on_error`; `transformed` rewrites only with `operation: mutate`.
- Two matching rules combine; mutate guardrails run in priority order (seen in the rewritten text).
- A blocked input is never charged: rate limits and budgets count the requests that went through only.
- An output guardrail on a streamed answer holds the stream and redacts it (references/guardrails.md).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.gateway.conftest import run_cli
from tests.gateway.guardrails.guardrail_server import GuardrailServer, serving
from tests.helpers import GatewayProcess
from tfy_gateway.fakeprovider import running

MODEL = "fake/gpt-4o"
VALID_CARD = "4111 1111 1111 1111"
INVALID_CARD = "4111 1111 1111 1112"
EMAIL = "jane.doe@example.com"


@pytest.fixture(scope="module")
def services() -> Iterator[tuple[str, str, GuardrailServer]]:
    with running(record_requests=50) as fake, serving() as (guards, state):
        yield fake, guards, state


@pytest.fixture
def gateway(tmp_path: Path, services: tuple[str, str, GuardrailServer]) -> Iterator[tuple[Gateway, GuardrailServer]]:
    fake, guards, state = services
    process = GatewayProcess(tmp_path / "data", env={"TFY_SECRET_FAKE_API_KEY": "sk-fake"})
    process.start()
    try:
        with Gateway(process, fake, guards) as gateway:
            gateway.apply(
                {
                    "name": "fake",
                    "type": "provider-account/openai",
                    "base_url": f"{fake}/v1",
                    "auth_data": {"type": "api-key", "api_key": "tfy-secret://local:fake:API_KEY"},
                    "integrations": [
                        {
                            "type": "integration/model/openai",
                            "name": "gpt-4o",
                            "model_id": "gpt-4o",
                            "model_types": ["chat"],
                            "cost": {"metric": "per_1000_tokens", "value": {"input": 1.0, "output": 1.0}},
                        }
                    ],
                }
            )
            yield gateway, state
    finally:
        process.stop()


class Gateway:
    def __init__(self, process: GatewayProcess, fake: str, guards: str) -> None:
        self.fake, self.guards = fake, guards
        self.env = process.env  # TFY_HOST and TFY_API_KEY, for the CLI
        self.integrations: dict[str, dict[str, Any]] = {}  # the group keeps every integration ever added
        self.http = httpx.Client(
            base_url=process.base_url, headers={"Authorization": f"Bearer {process.admin_token}"}, timeout=60
        )

    def __enter__(self) -> Gateway:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.http.close()

    def apply(self, manifest: dict[str, Any]) -> dict[str, Any]:
        response = self.http.put("/api/svc/v1/apply", json={"manifest": manifest, "dryRun": False})
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def guard(self, *integrations: dict[str, Any], rules: list[dict[str, Any]]) -> None:
        """Add (or replace) `integrations` in the group, then make `rules` the guardrail rules."""
        self.integrations.update((item["name"], item) for item in integrations)
        group = {"name": "guards", "type": "provider-account/guardrail-config-group"}
        self.apply({**group, "integrations": list(self.integrations.values())})
        self.apply({"name": "guardrails", "type": "gateway-guardrails-config", "rules": rules})

    def chat(self, text: str, **extra: Any) -> httpx.Response:
        body = {"model": MODEL, "messages": [{"role": "user", "content": text}], "max_tokens": 60, **extra}
        return self.http.post("/api/llm/chat/completions", json=body)

    def logs(self, **params: str) -> list[dict[str, Any]]:
        response = self.http.get("/api/svc/v1/llm-gateway/logs", params=params)
        assert response.status_code == 200, response.text
        data: list[dict[str, Any]] = response.json()["data"]
        return data

    def provider_received(self) -> list[str]:
        """The user messages the fake provider received, oldest first."""
        recorded = httpx.get(f"{self.fake}/_fake/requests", timeout=30).json()
        items = recorded["data"]
        return [
            m["content"] for item in items for m in (item.get("body") or {}).get("messages", []) if m["role"] == "user"
        ]


def pii(name: str, strategy: str = "enforce", operation: str = "validate", **extra: Any) -> dict[str, Any]:
    item = {
        "name": name,
        "type": "integration/guardrail-config/tfy-pii",
        "operation": operation,
        "enforcing_strategy": strategy,
        "config": {"pii_categories": ["Email", "CreditCardNumber"]},
        **extra,
    }
    return item


def custom(
    name: str, url: str, *, strategy: str = "enforce", operation: str = "validate", **extra: Any
) -> dict[str, Any]:
    return {
        "name": name,
        "type": "integration/guardrail-config/custom",
        "operation": operation,
        "enforcing_strategy": strategy,
        "target": "request",
        "config": {"url": url},
        **extra,
    }


def rule(rule_id: str, inputs: list[str], outputs: list[str] | None = None, **when: Any) -> dict[str, Any]:
    return {
        "id": rule_id,
        "when": when,
        "llm_input_guardrails": inputs,
        "llm_output_guardrails": outputs or [],
        "mcp_tool_pre_invoke_guardrails": [],
        "mcp_tool_post_invoke_guardrails": [],
    }


def test_pii_enforce_audit_and_mutate(gateway: tuple[Gateway, GuardrailServer]) -> None:
    gw, _ = gateway
    gw.guard(pii("block-pii"), rules=[rule("pii", ["guards/block-pii"])])
    blocked = gw.chat(f"mail me at {EMAIL}, card {VALID_CARD}")
    body = blocked.json()
    assert blocked.status_code == 400, body
    assert (
        body["error"]
        == {
            "message": body["message"],
            "type": "guardrail_checks_failed",
            "code": "400",
            "param": None,
        }
        and body["error_origin_level"] == "guardrails_input"
    )
    assert body["guardrail_checks"]["input_guardrails"] == [
        {
            "guardrail_integration": "guards/block-pii",
            "result": "failed",
            "data": {"verdict": False, "explanation": "PII found: CreditCardNumber (1), Email (1)"},
        }
    ]
    assert "guards/block-pii" in body["message"]
    assert gw.chat(f"my card {INVALID_CARD} please").status_code == 200

    gw.guard(pii("block-pii", strategy="audit"), rules=[rule("pii", ["guards/block-pii"])])
    assert gw.chat(f"mail me at {EMAIL}, card {VALID_CARD}").status_code == 200
    assert gw.chat(f"my card {INVALID_CARD} please").status_code == 200
    audited, clean = gw.logs(limit="2")
    assert audited["guardrails"] == [
        {
            "guardrail": "guards/block-pii",
            "stage": "input",
            "operation": "validate",
            "mode": "audit",
            "result": "pass",
            "latency_ms": audited["guardrails"][0]["latency_ms"],
        }
    ]  # the invalid card, newest first
    assert clean["guardrails"][0]["result"] == "fail" and clean["guardrails"][0]["mode"] == "audit"
    assert clean["guardrails"][0]["message"] == "PII found: CreditCardNumber (1), Email (1)"
    assert "blocked" not in clean["guardrails"][0]

    gw.guard(pii("redact-pii", operation="mutate", priority=1), rules=[rule("pii", ["guards/redact-pii"])])
    answer = gw.chat(f"mail me at {EMAIL}, card {VALID_CARD} thanks")
    assert answer.status_code == 200
    sent = gw.provider_received()[-1]
    assert sent == "mail me at [REDACTED:Email], card [REDACTED:CreditCardNumber] thanks"
    assert "[REDACTED:Email]" in answer.json()["choices"][0]["message"]["content"]  # the provider echoed it


def test_custom_guardrail_server_verdicts_timeouts_and_transforms(gateway: tuple[Gateway, GuardrailServer]) -> None:
    gw, state = gateway
    # long enough for the answering guardrails on a loaded machine (at 400 ms the deny verdict came late once, at
    # load 10, and was reported as a timeout); the hanging one costs it twice
    gw.apply({"name": "settings", "type": "gateway-global-settings", "guardrail_settings": {"timeout_ms": 1500}})
    gw.guard(custom("deny", f"{gw.guards}/custom/deny"), rules=[rule("svc", ["guards/deny"])])
    denied = gw.chat("hello")
    assert denied.status_code == 400 and "denied by the test guardrail" in denied.json()["message"]
    assert state.received[-1]["body"]["requestBody"]["messages"][0]["content"] == "hello"

    gw.guard(custom("hang", f"{gw.guards}/custom/hang"), rules=[rule("svc", ["guards/hang"])])
    timed_out = gw.chat("hello")
    assert timed_out.status_code == 400
    assert timed_out.json()["guardrail_checks"]["input_guardrails"][0]["result"] == "error"
    assert "1500 ms" in timed_out.json()["message"]
    gw.guard(
        custom("hang", f"{gw.guards}/custom/hang", strategy="enforce_but_ignore_on_error"),
        rules=[rule("svc", ["guards/hang"])],
    )
    passed = gw.chat("hello")
    assert passed.status_code == 200
    assert json.loads(passed.headers["x-tfy-applied-configurations"])["guardrails"]["flagged"] == ["guards/hang"]

    transform = f"{gw.guards}/custom/transform/-checked"
    gw.guard(custom("t", transform, operation="validate"), rules=[rule("svc", ["guards/t"])])
    assert gw.chat("first").status_code == 200
    assert gw.provider_received()[-1] == "first"  # a validate guardrail's transform is ignored
    gw.guard(custom("t", transform, operation="mutate", priority=1), rules=[rule("svc", ["guards/t"])])
    assert gw.chat("second").status_code == 200
    assert gw.provider_received()[-1] == "second-checked"


def test_matching_rules_combine_and_mutations_run_by_priority(gateway: tuple[Gateway, GuardrailServer]) -> None:
    gw, _ = gateway
    first = custom("first", f"{gw.guards}/custom/transform/-first", operation="mutate", priority=1)
    second = custom("second", f"{gw.guards}/custom/transform/-second", operation="mutate", priority=2)
    everyone = {"operator": "or", "conditions": {"in": ["team:everyone"]}}
    model = {"operator": "or", "conditions": {"model": {"condition": "in", "values": ["fake/*"]}}}
    # The later rule lists the higher-priority guardrail: order comes from priority, not from the rules.
    gw.guard(
        second,
        first,
        rules=[rule("by-model", ["guards/second"], target=model), rule("all", ["guards/first"], subjects=everyone)],
    )
    answer = gw.chat("text")
    assert answer.status_code == 200
    assert gw.provider_received()[-1] == "text-first-second"
    assert json.loads(answer.headers["x-tfy-applied-configurations"])["guardrails"]["rules"] == ["by-model", "all"]


def test_a_blocked_input_is_never_charged(gateway: tuple[Gateway, GuardrailServer]) -> None:
    gw, _ = gateway
    gw.apply(
        {
            "name": "limits",
            "type": "gateway-rate-limiting-config",
            "rules": [{"id": "two", "when": {"models": [MODEL]}, "limit_to": 2, "unit": "requests_per_minute"}],
        }
    )
    gw.apply(
        {
            "name": "budgets",
            "type": "gateway-budget-config",
            "rules": [{"id": "spend", "when": {"models": [MODEL]}, "limit_to": 100, "unit": "cost_per_day"}],
        }
    )
    gw.guard(pii("block-pii"), rules=[rule("pii", ["guards/block-pii"])])
    for _ in range(3):
        assert gw.chat(f"card {VALID_CARD}").status_code == 400
    assert [gw.chat("fine").status_code for _ in range(3)] == [200, 200, 429]
    requests = gw.http.get("/api/svc/v1/llm-gateway/config/rate-limit/usage", params={"rule": "two"}).json()
    (entity,) = requests["matched"][0]["entities"]
    assert entity["periods"]["requests_per_minute"]["used"] == 2
    spend = gw.http.get("/api/svc/v1/llm-gateway/config/budget/usage", params={"rule": "spend"}).json()
    (charged,) = spend["matched"][0]["entities"]
    served = [r["cost"] for r in gw.logs() if r["status"] == 200]
    assert len(served) == 2 and charged["periods"]["cost_per_day"]["used"] == pytest.approx(sum(served))
    assert all(r["cost"] is None and r["prompt_tokens"] == 0 for r in gw.logs(blocked="true"))


def test_an_output_guardrail_holds_a_streamed_answer_and_redacts_it(gateway: tuple[Gateway, GuardrailServer]) -> None:
    gw, _ = gateway
    gw.guard(
        pii("redact-pii", operation="mutate", priority=1),
        rules=[rule("answers", [], ["guards/redact-pii"])],
    )
    with gw.http.stream(
        "POST",
        "/api/llm/chat/completions",
        json={"model": MODEL, "messages": [{"role": "user", "content": f"repeat {EMAIL}"}], "stream": True},
    ) as response:
        assert response.status_code == 200
        events = [line for line in response.iter_lines() if line.startswith("data: ")]
    assert events[-1] == "data: [DONE]"
    text = "".join(
        choice["delta"].get("content") or "" for event in events[:-1] for choice in json.loads(event[6:])["choices"]
    )
    assert EMAIL not in text and "repeat [REDACTED:Email]" in text
    assert gw.provider_received()[-1] == f"repeat {EMAIL}"  # input untouched: only the answer is checked


def test_the_cli_warns_about_what_is_not_run_and_shows_blocks_and_explanations(
    gateway: tuple[Gateway, GuardrailServer], tmp_path: Path
) -> None:
    gw, _ = gateway
    manifests = tmp_path / "guards.yaml"
    group = {
        "name": "vendors",
        "type": "provider-account/guardrail-config-group",
        "integrations": [
            pii("block-pii"),
            {
                "name": "shield",
                "type": "integration/guardrail-config/tfy-prompt-injection",
                "operation": "validate",
                "enforcing_strategy": "enforce",
            },
        ],
    }
    rules = {
        "name": "guardrails",
        "type": "gateway-guardrails-config",
        "rules": [rule("all", ["vendors/block-pii", "vendors/shield"])],
    }
    manifests.write_text(json.dumps(group) + "\n---\n" + json.dumps(rules))
    applied = run_cli("apply", "-f", str(manifests), env=gw.env)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert "vendors/shield: the local gateway does not run tfy-prompt-injection guardrails" in applied.stderr
    assert "rule 'all' lists vendors/shield" in applied.stderr
    assert gw.chat(f"card {VALID_CARD}").status_code == 400
    blocked = run_cli("logs", "--blocked", "--format", "json", env=gw.env)
    (record,) = json.loads(blocked.stdout)["data"]
    assert [c["result"] for c in record["guardrails"]] == ["fail", "skipped"]
    explained = run_cli("explain", "--subject", "user:admin@local", "--model", MODEL, env=gw.env)
    assert "Guardrails: every matching rule applies" in explained.stdout
    assert "input  vendors/block-pii (tfy-pii, validate, enforce; rules all): before the model call" in explained.stdout
    assert "vendors/shield (tfy-prompt-injection" in explained.stdout and "skipped" in explained.stdout
