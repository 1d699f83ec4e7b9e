"""gateway_plan / gateway_apply_plan against a real gateway: apply exactly what was reviewed, or nothing."""

from __future__ import annotations

import yaml

from tests.mcp.conftest import call, call_error, connect, live_config, seed

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
