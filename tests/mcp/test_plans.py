"""gateway_plan / gateway_apply_plan against a real gateway: apply exactly what was reviewed, or nothing."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from tests.mcp.conftest import call, call_error, connect, live_config, seed
from tfy_gateway.gateway.config.enforced import uncallable_provider
from tfy_gateway.gateway.config.plans import NOT_ENFORCED_LOCALLY

RATE_LIMITS = "gateway-rate-limiting-config"


def limits_yaml(limit: int, name: str = "rate-limits") -> str:
    return yaml.safe_dump(
        {
            "name": name,
            "type": RATE_LIMITS,
            "rules": [{"id": "everyone", "when": {}, "limit_to": limit, "unit": "requests_per_minute"}],
        }
    )


async def test_plan_apply_and_apply_again_is_already_applied(gateway, examples_dir, clock):
    text = (
        (examples_dir / "routing-weighted.yaml").read_text()
        + "---\n"
        + (examples_dir / "provider-accounts.yaml").read_text()
    )
    async with connect(gateway.env, clock=clock) as client:
        plan = await call(client, "gateway_plan", {"yaml_text": text})
        assert plan["plan_id"].startswith("plan_") and plan["expires_in_seconds"] == 900
        # Provider accounts are applied before the config that routes to them.
        assert [d["type"] for d in plan["documents"]][-1] == "gateway-load-balancing-config"
        assert {d["action"] for d in plan["documents"]} == {"CREATE"} and plan["changes"] == 4
        assert await live_config(gateway, "gateway-load-balancing-config") is None, "a plan must not apply"

        applied = await call(client, "gateway_apply_plan", {"plan_id": plan["plan_id"]})
        assert applied["status"] == "applied" and len(applied["documents"]) == 4
        live = await live_config(gateway, "gateway-load-balancing-config")
        assert live is not None and live["name"] == "chat-routing"

        again = await call(client, "gateway_apply_plan", {"plan_id": plan["plan_id"]})
        assert again["status"] == "already_applied" and again["applied_at"] == applied["applied_at"]

        replan = await call(client, "gateway_plan", {"yaml_text": text})
        assert replan["changes"] == 0 and {d["action"] for d in replan["documents"]} == {"NO_CHANGE"}


async def test_plan_shows_a_create_as_the_whole_manifest_added(gateway):
    text = limits_yaml(10)
    async with connect(gateway.env) as client:
        plan = await call(client, "gateway_plan", {"yaml_text": text})
    (document,) = plan["documents"]
    assert document["action"] == "CREATE" and plan["changes"] == 1
    lines = document["diff"].splitlines()
    assert lines[:2] == ["--- /dev/null", f"+++ new/rate-limits ({RATE_LIMITS})"]
    assert lines[2].startswith("@@ -0,0 +1,") and all(line.startswith("+") for line in lines[3:])
    assert [line[1:] for line in lines[3:]] == yaml.dump(yaml.safe_load(text), sort_keys=True, indent=2).splitlines()
    assert await live_config(gateway, RATE_LIMITS) is None, "a plan must not apply"


async def test_plan_shows_the_diff_of_an_update(gateway, examples_dir):
    await seed(gateway, "provider-accounts.yaml", "routing-weighted.yaml")
    text = (examples_dir / "routing-weighted.yaml").read_text().replace("weight: 70", "weight: 80")
    text = text.replace("weight: 30", "weight: 20")
    async with connect(gateway.env) as client:
        plan = await call(client, "gateway_plan", {"yaml_text": text})
        document = plan["documents"][0]
        assert document["action"] == "UPDATE" and plan["changes"] == 1
        assert "-    weight: 70" in document["diff"] and "+    weight: 80" in document["diff"]
        await call(client, "gateway_apply_plan", {"plan_id": plan["plan_id"]})
    live = await live_config(gateway, "gateway-load-balancing-config")
    assert [t["weight"] for t in live["rules"][0]["load_balance_targets"]] == [80, 20]


async def test_stale_plan_is_refused_and_nothing_is_applied(gateway):
    async with connect(gateway.env) as client:
        plan = await call(client, "gateway_plan", {"yaml_text": limits_yaml(10)})
        # Someone else changes the live config after the plan was reviewed.
        other = await call(client, "gateway_plan", {"yaml_text": limits_yaml(99, name="theirs")})
        await call(client, "gateway_apply_plan", {"plan_id": other["plan_id"]})
        error = await call_error(client, "gateway_apply_plan", {"plan_id": plan["plan_id"]})
    assert "changed since plan" in error and "gateway_plan again" in error
    live = await live_config(gateway, RATE_LIMITS)
    assert live["name"] == "theirs" and live["rules"][0]["limit_to"] == 99


async def test_expired_plan_is_refused(gateway, clock):
    async with connect(gateway.env, clock=clock) as client:
        plan = await call(client, "gateway_plan", {"yaml_text": limits_yaml(10)})
        clock.advance(15 * 60 + 1)
        error = await call_error(client, "gateway_apply_plan", {"plan_id": plan["plan_id"]})
        unknown = await call_error(client, "gateway_apply_plan", {"plan_id": "plan_doesnotexist123"})
        malformed = await client.call_tool("gateway_apply_plan", {"plan_id": "drop table"})
    assert "expired" in error and "gateway_plan again" in error
    assert "Unknown plan_id" in unknown and "gateway_plan" in unknown
    assert malformed.is_error and "pattern" in malformed.content[0].text
    assert await live_config(gateway, RATE_LIMITS) is None


async def test_plan_refuses_bad_yaml_and_invalid_manifests(gateway, examples_dir):
    await seed(gateway, "provider-accounts.yaml")
    unknown_model = (
        (examples_dir / "routing-weighted.yaml").read_text().replace("openai-main/gpt-4o", "openai-main/gpt-9")
    )
    async with connect(gateway.env) as client:
        broken = await call_error(client, "gateway_plan", {"yaml_text": "name: x\ntype: a: b\n"})
        invalid = await call_error(client, "gateway_plan", {"yaml_text": unknown_model})
        empty = await call_error(client, "gateway_plan", {"yaml_text": "# nothing\n"})
    assert "cannot be read" in broken and ":2:" in broken
    assert (
        "openai-main/gpt-9" in invalid and "nothing was planned" in invalid and "gateway_validate_manifest" in invalid
    )
    assert "no manifest found" in empty
    assert await live_config(gateway, "gateway-load-balancing-config") is None


async def test_apply_reports_a_gateway_that_went_away(gateway, clock):
    async with connect(gateway.env, clock=clock) as client:
        plan = await call(client, "gateway_plan", {"yaml_text": limits_yaml(10)})
        gateway.stop()
        error = await call_error(client, "gateway_apply_plan", {"plan_id": plan["plan_id"]})
    assert "could not reach" in error and "gateway_status" in error


# A valid manifest of each type the local gateway stores without acting on it (NOT_ENFORCED_LOCALLY), and
# of a provider account it cannot call. A type added to that list needs a sample here.
STORED_ONLY_SAMPLES: dict[str, dict[str, Any]] = {
    "gateway-guardrails-config": {"name": "guardrails", "type": "gateway-guardrails-config", "rules": []},
    "tenant-rate-limit-config/mcp": {
        "name": "per-project",
        "type": "tenant-rate-limit-config/mcp",
        "limits": {"tool_calls_per_minute": 10},
        "applies_to": {"type": "per-user"},
        "mode": "enforce",
    },
    "provider-account/aws-bedrock": {
        "name": "bedrock",
        "type": "provider-account/aws-bedrock",
        "region": "us-east-1",
        "auth_data": {
            "type": "access-key-based",
            "access_key_id": "tfy-secret://local:aws:ID",
            "secret_access_key": "tfy-secret://local:aws:KEY",
        },
        "integrations": [
            {
                "type": "integration/model/bedrock",
                "name": "claude",
                "model_id": "anthropic.claude-3",
                "model_types": ["chat"],
            }
        ],
    },
}


def stored_only_types() -> list[str]:
    uncallable = sorted(t for t in STORED_ONLY_SAMPLES if uncallable_provider(t))
    return [*NOT_ENFORCED_LOCALLY, *uncallable]


@pytest.mark.parametrize("manifest_type", stored_only_types())
async def test_every_stored_but_not_enforced_type_is_said_so_by_plan_and_apply(gateway, manifest_type: str):
    """The control plane's not-enforced-locally warning reaches the assistant: in the plan, in the apply
    result, and again for a plan that finds nothing to change. (Before: `"warnings": []`, "applied".)"""
    assert manifest_type in STORED_ONLY_SAMPLES, f"add a sample manifest of {manifest_type} to STORED_ONLY_SAMPLES"
    sample = STORED_ONLY_SAMPLES[manifest_type]
    label = f"{manifest_type}/{sample['name']}"
    async with connect(gateway.env) as client:
        plan = await call(client, "gateway_plan", {"yaml_text": yaml.safe_dump(sample)})
        assert [w["code"] for w in plan["warnings"]] == ["not-enforced-locally"], plan["warnings"]
        assert manifest_type in plan["warnings"][0]["message"]
        applied = await call(client, "gateway_apply_plan", {"plan_id": plan["plan_id"]})
        assert applied["status"] == "applied" and applied["not_enforced"] == [label]
        assert [w["code"] for w in applied["warnings"]] == ["not-enforced-locally"]
        again = await call(client, "gateway_plan", {"yaml_text": yaml.safe_dump(sample)})
        assert again["changes"] == 0 and [w["code"] for w in again["warnings"]] == ["not-enforced-locally"]
        unchanged = await call(client, "gateway_apply_plan", {"plan_id": again["plan_id"]})
        assert unchanged["not_enforced"] == [label]


async def test_an_enforced_type_carries_no_such_warning(gateway):
    """A V1 rate limit is enforced: its only warning is the platform's retirement of V1, once."""
    async with connect(gateway.env) as client:
        plan = await call(client, "gateway_plan", {"yaml_text": limits_yaml(10)})
        applied = await call(client, "gateway_apply_plan", {"plan_id": plan["plan_id"]})
    assert [w["code"] for w in plan["warnings"]] == ["v1-rate-limits-deprecated"]
    assert "2026-12-15" in plan["warnings"][0]["message"] and "migrate limits" in plan["warnings"][0]["hint"]
    assert [w["code"] for w in applied["warnings"]] == ["v1-rate-limits-deprecated"] and applied["not_enforced"] == []
