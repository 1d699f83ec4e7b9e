"""'Block PII in prompts', from words to a verified block, through the MCP tools only (a real gateway
process, the bundled fake provider): check the intent (taking the recommended answers), render the
group and the rule, plan, apply, then gateway_smoke_test with verify. And a plan that includes a
guardrail this gateway does not run says so."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helpers import GatewayProcess
from tests.mcp.conftest import call, connect
from tfy_gateway.fakeprovider import running

MODEL = "openai-main/gpt-4o"


def account(fake: str) -> dict[str, Any]:
    return {
        "name": "openai-main",
        "type": "provider-account/openai",
        "base_url": f"{fake}/v1",
        "auth_data": {"type": "api-key", "api_key": "tfy-secret://local:openai:API_KEY"},
        "integrations": [
            {"type": "integration/model/openai", "name": "gpt-4o", "model_id": "gpt-4o", "model_types": ["chat"]}
        ],
    }


@pytest.fixture
def fake() -> Iterator[str]:
    with running() as base_url:
        yield base_url


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[GatewayProcess]:
    server = GatewayProcess(tmp_path / "gateway-data", env={"TFY_SECRET_OPENAI_API_KEY": "sk-fake-openai"})
    server.start()
    try:
        yield server
    finally:
        server.stop()


async def answer(client: Any, intent: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Take the recommended answer to each open question; returns the complete intent and what was asked."""
    asked = []
    for _ in range(8):
        check = await call(client, "gateway_check_intent", {"intent": intent})
        if check["complete"]:
            return intent, asked
        question = check["questions"][0]
        asked.append(question["field"])
        assert question["recommended"] is not None, question
        intent = {**intent, question["field"]: question["recommended"]}
    raise AssertionError(f"the intent never became complete: {intent}")


async def plan_and_apply(client: Any, text: str) -> dict[str, Any]:
    plan = await call(client, "gateway_plan", {"yaml_text": text})
    await call(client, "gateway_apply_plan", {"plan_id": plan["plan_id"]})
    return dict(plan)


async def test_block_pii_in_prompts_ends_with_a_verified_block(gateway: GatewayProcess, fake: str) -> None:
    async with connect(gateway.env) as client:
        await plan_and_apply(client, yaml.safe_dump(account(fake)))
        intent, asked = await answer(client, {"kind": "guardrail", "check": "pii", "stage": "input", "action": "block"})
        assert asked == ["subjects", "pii_categories"]
        assert intent["pii_categories"] == ["Email", "PhoneNumber", "CreditCardNumber", "USSocialSecurityNumber"]
        rendered = await call(client, "gateway_render_manifest", {"intent": intent})
        assert rendered["valid"], rendered["findings"]
        kinds = [doc["type"] for doc in rendered["documents"]]
        assert kinds == ["provider-account/guardrail-config-group", "gateway-guardrails-config"]
        plan = await plan_and_apply(client, rendered["yaml"])
        assert plan["changes"] == 2
        stated = await call(client, "gateway_smoke_test", {"model": MODEL, "verify": intent})
        spend = stated["verification"]["spend"]
        assert stated["verification"]["requests_sent"] == 0 and spend["requests"] == 1
        assert "4111 1111 1111 1111" in spend["prompt"]  # the crafted prompt, shown before anything is sent
        smoke = await call(client, "gateway_smoke_test", {"model": MODEL, "verify": intent, "confirm": True})
        verification = smoke["verification"]
        assert verification["verdict"] == "holds", verification
        assert smoke["status"] == 400 and "guardrails/block-pii" in smoke["error"]
        assert (
            verification["summary"]
            == "guardrails/block-pii blocked the crafted prompt with 400 guardrail_checks_failed"
        )
        clean = await call(client, "gateway_smoke_test", {"model": MODEL, "prompt": "Say hello."})
        assert clean["ok"] and clean["applied_configurations"]["guardrails"]["input"] == ["guardrails/block-pii"]


async def test_a_plan_with_a_guardrail_the_gateway_does_not_run_says_so(gateway: GatewayProcess, fake: str) -> None:
    group = {
        "name": "vendors",
        "type": "provider-account/guardrail-config-group",
        "integrations": [
            {
                "name": "shield",
                "type": "integration/guardrail-config/tfy-prompt-injection",
                "operation": "validate",
                "enforcing_strategy": "enforce",
            }
        ],
    }
    async with connect(gateway.env) as client:
        plan = await call(client, "gateway_plan", {"yaml_text": yaml.safe_dump(group)})
        codes = {(w["code"], w.get("path")) for w in plan["warnings"]}
        assert ("not-enforced-locally", "integrations[0].type") in codes, plan["warnings"]
