"""The three everyday intents, from words to a verified smoke result, through the MCP tools only.

A real gateway subprocess whose provider accounts point at the bundled fake provider; an MCP client
on the server; every step is a tool call an assistant would make: check the intent (answering its
question with the recommended option), render, plan, apply, then `gateway_smoke_test` with `verify`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.helpers import GatewayProcess
from tests.mcp.conftest import call, call_error, connect
from tfy_gateway.fakeprovider import running
from tfy_gateway.platform import ControlPlaneClient

ALIAS = "openai/gpt-4o"
PRIMARY = "openai-main/gpt-4o"
AZURE = "azure-backup/gpt-4o"
MINI = "openai-main/gpt-4o-mini"
ADMIN = "admin@local"  # the gateway's default admin email: the smoke requests' user


def accounts(fake: str) -> list[dict]:
    cost = {"metric": "per_1000_tokens", "value": {"input": 0.0025, "output": 0.01}}
    return [
        {
            "name": "openai-main",
            "type": "provider-account/openai",
            "base_url": f"{fake}/v1",
            "auth_data": {"type": "api-key", "api_key": "tfy-secret://local:openai:API_KEY"},
            "integrations": [
                {"type": "integration/model/openai", "name": n, "model_id": n, "model_types": ["chat"], "cost": cost}
                for n in ("gpt-4o", "gpt-4o-mini")
            ],
        },
        {
            "name": "azure-backup",
            "type": "provider-account/azure-openai",
            "azure_endpoint": fake,
            "auth_data": {"type": "api-key", "api_key": "tfy-secret://local:azure:API_KEY"},
            "integrations": [
                {
                    "type": "integration/model/azure-openai",
                    "name": "gpt-4o",
                    "model_id": "gpt-4o",
                    "api_version": "2024-10-21",
                    "model_types": ["chat"],
                    "cost": cost,
                }
            ],
        },
        {"name": "backend", "type": "team", "members": [ADMIN]},
    ]


EXISTING_ROUTE = {
    "name": "routing",
    "type": "gateway-load-balancing-config",
    "rules": [
        {
            "id": "gpt4o",
            "type": "weight-based-routing",
            "when": {"subjects": ["*"], "models": [ALIAS]},
            "load_balance_targets": [{"target": PRIMARY, "weight": 100}],
        }
    ],
}


@pytest.fixture
def fake() -> Iterator[str]:
    with running() as base_url:
        yield base_url


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[GatewayProcess]:
    env = {"TFY_SECRET_OPENAI_API_KEY": "sk-fake-openai", "TFY_SECRET_AZURE_API_KEY": "fake-azure"}
    server = GatewayProcess(tmp_path / "gateway-data", env=env)
    server.start()
    try:
        yield server
    finally:
        server.stop()


async def apply(client, text: str, **options) -> dict:
    plan = await call(client, "gateway_plan", {"yaml_text": text, **options})
    await call(client, "gateway_apply_plan", {"plan_id": plan["plan_id"]})
    return plan


async def answer(client, intent: dict) -> dict:
    """Check the intent; while a question is open, take its recommended answer (what a user accepting
    the assistant's suggestion does). Returns the complete intent."""
    for _ in range(5):
        check = await call(client, "gateway_check_intent", {"intent": intent})
        if check["complete"]:
            return intent
        question = check["questions"][0]
        assert question["recommended"] is not None, question
        field = question["field"]
        if field == "targets":
            intent = {**intent, "targets": question["recommended"]}
        elif field.startswith("models["):
            models = list(intent["models"])
            models[int(field[len("models[") : -1])] = question["recommended"]
            intent = {**intent, "models": models}
        else:
            intent = {**intent, field: question["recommended"]}
    raise AssertionError(f"the intent never became complete: {intent}")


async def verified(client, arguments: dict) -> dict:
    """gateway_smoke_test with verify: first the statement (nothing sent), then confirmed."""
    stated = await call(client, "gateway_smoke_test", arguments)
    verification = stated["verification"]
    assert stated["status"] is None and verification["requests_sent"] == 0, stated
    assert verification["verdict"] == "unverified" and "confirm=true" in verification["summary"]
    assert verification["spend"]["requests"] >= 1 and verification["spend"]["tokens"] >= 1
    done = await call(client, "gateway_smoke_test", {**arguments, "confirm": True})
    assert done["verification"]["requests_sent"] <= verification["spend"]["requests"]
    return done


async def render_plan_apply(client, intent: dict) -> dict:
    rendered = await call(client, "gateway_render_manifest", {"intent": intent})
    assert rendered["valid"], rendered["findings"]
    plan = await apply(client, rendered["yaml"])
    assert plan["changes"] == 1
    return rendered


async def test_three_intents_from_words_to_a_verified_smoke_result(gateway, fake):
    async with connect(gateway.env) as client:
        await apply(client, yaml.safe_dump_all([*accounts(fake), EXISTING_ROUTE]))

        # "Send 30% of gpt-4o to Azure", with a live rule sending all of openai/gpt-4o to openai-main.
        said = {"kind": "route", "model": ALIAS, "targets": [{"target": AZURE, "weight": 30}]}
        check = await call(client, "gateway_check_intent", {"intent": said})
        question = check["questions"][0]
        assert not check["complete"] and check["routing_checked"]
        assert question["field"] == "targets" and "other 70%" in question["question"]
        assert question["recommended"] == [{"target": AZURE, "weight": 30}, {"target": PRIMARY, "weight": 70}]
        assert all(t["weight"] != 100 for option in question["options"] for t in option)  # 30 stays 30
        route = await answer(client, said)
        check = await call(client, "gateway_check_intent", {"intent": route})
        rule_id = next(d for d in check["defaults"] if d["field"] == "rule_id")
        assert rule_id["value"] == "gpt4o" and "changes the live rule 'gpt4o'" in rule_id["note"]
        rendered = await render_plan_apply(client, route)
        assert rendered["rule_ids"] == ["gpt4o"] and "changes the live rule" in rendered["placement"]
        smoke = await verified(client, {"model": ALIAS, "verify": route, "requests": 200})
        verification = smoke["verification"]
        assert verification["verdict"] == "holds", verification
        assert set(verification["observed"]["shares"]) == {PRIMARY, AZURE}
        assert "30% ±" in verification["tolerance"] and verification["requests_sent"] == 200
        assert verification["observed"]["rules"] == {"gpt4o": 200}

        # "$100/day per user" (verified before the rate limit below can refuse the request).
        budget = await answer(
            client, {"kind": "budget", "subjects": ["*"], "limit": 100, "unit": "cost_per_day", "applies_per": ["user"]}
        )
        await render_plan_apply(client, budget)
        smoke = await verified(client, {"model": MINI, "verify": budget})
        verification = smoke["verification"]
        assert smoke["ok"] and verification["expected"]["rule_id"] == "budget-all-per-user-cost-day"
        assert verification["observed"]["rule_is_live"] is True
        assert verification["verdict"] == "holds", verification  # named in x-tfy-applied-configurations
        assert verification["observed"]["budget_rules"] == ["budget-all-per-user-cost-day"]

        # "Team backend 20k tokens/min on gpt-4o": 'gpt-4o' resolves to the alias clients send.
        said = {"kind": "rate_limit", "subjects": ["team:backend"], "models": ["gpt-4o"], "limit": 20000}
        said["unit"] = "tokens_per_minute"
        check = await call(client, "gateway_check_intent", {"intent": said})
        question = check["questions"][0]
        assert question["field"] == "models[0]" and question["recommended"] == ALIAS
        assert "routed alias" in question["question"]
        limit = await answer(client, said)
        assert limit["models"] == [ALIAS] and limit["applies_per"] == []
        await render_plan_apply(client, limit)
        smoke = await verified(client, {"model": ALIAS, "verify": limit})
        verification = smoke["verification"]
        assert verification["verdict"] == "holds", verification
        assert (
            smoke["status"] == 429
            and verification["observed"]["refused_by"] == "limit-team-backend-gpt-4o-tokens-minute"
        )
        assert (
            0 < verification["observed"]["admitted_tokens"] <= 20000 + 1100
        )  # the last admitted request may settle over


async def test_plan_refuses_a_new_rule_that_can_never_apply_unless_forced(gateway, fake):
    shadowed = {
        **EXISTING_ROUTE,
        "rules": [
            *EXISTING_ROUTE["rules"],
            {
                "id": "azure-share",
                "type": "weight-based-routing",
                "when": {"subjects": ["*"], "models": [ALIAS]},
                "load_balance_targets": [{"target": PRIMARY, "weight": 70}, {"target": AZURE, "weight": 30}],
            },
        ],
    }
    async with connect(gateway.env) as client:
        await apply(client, yaml.safe_dump_all([*accounts(fake), EXISTING_ROUTE]))
        refused = await call_error(client, "gateway_plan", {"yaml_text": yaml.safe_dump(shadowed)})
        assert "error: this change adds a rule that can never apply" in refused
        assert "'azure-share'" in refused and "'gpt4o'" in refused and "force=true" in refused
        forced = await call(client, "gateway_plan", {"yaml_text": yaml.safe_dump(shadowed), "force": True})
        assert forced["changes"] == 1
        assert [w["code"] for w in forced["warnings"]] == ["unreachable-rule"]
        # Re-planning the live config as it is (its shadowed rule already live) is not refused.
        await call(client, "gateway_apply_plan", {"plan_id": forced["plan_id"]})
        again = await call(client, "gateway_plan", {"yaml_text": yaml.safe_dump(shadowed)})
        assert again["changes"] == 0 and [w["code"] for w in again["warnings"]] == ["shadowed-rule"]


async def test_route_verification_reports_a_split_that_does_not_hold(gateway, fake):
    async with connect(gateway.env) as client:
        await apply(client, yaml.safe_dump_all([*accounts(fake), EXISTING_ROUTE]))
        intended = {
            "kind": "route",
            "model": ALIAS,
            "targets": [{"target": PRIMARY, "weight": 50}, {"target": AZURE, "weight": 50}],
        }
        smoke = await verified(client, {"model": ALIAS, "verify": intended, "requests": 40})
    verification = smoke["verification"]
    assert verification["verdict"] == "does_not_hold"
    assert verification["observed"]["shares"] == {PRIMARY: 100.0}
    assert f"{AZURE} 0.0%" in verification["summary"]


async def test_a_team_limit_is_verified_as_a_temporary_member_and_nothing_is_left_behind(gateway, fake):
    """The admin key is not in team backend: the check acts as a temporary member, says so and what it
    spends first, stops at the 429 (before: 200 requests and 203,200 tokens as the admin, "does_not_hold"),
    then revokes the member's token and takes it out of the team."""
    team = {"name": "backend", "type": "team", "members": ["carol@example.com"]}
    grant = [{"subject": "team:backend", "role_id": "provider-account-access"}]
    async with connect(gateway.env) as client:
        await apply(client, yaml.safe_dump_all([*({**a, "collaborators": grant} for a in accounts(fake)[:2]), team]))
        said = {"kind": "rate_limit", "subjects": ["team:backend"], "models": [PRIMARY], "limit": 3}
        limit = await answer(client, {**said, "unit": "requests_per_minute", "applies_per": ["user"]})
        await render_plan_apply(client, limit)
        stated = await call(client, "gateway_smoke_test", {"model": PRIMARY, "verify": limit})
        spend = stated["verification"]["spend"]
        assert spend["requests"] == 4 and spend["prompt"] == "Say hello." and spend["max_tokens"] <= 64
        assert "temporary user of team backend" in spend["caller"]
        smoke = await verified(client, {"model": PRIMARY, "verify": limit})
    verification = smoke["verification"]
    assert verification["verdict"] == "holds", verification
    assert smoke["status"] == 429 and verification["requests_sent"] == 4
    assert verification["observed"]["refused_on_request"] == 4 and verification["observed"]["admitted"] == 3
    async with ControlPlaneClient(gateway.base_url, gateway.admin_token) as admin:
        temporary = [u.email for u in await admin.list_users() if u.email.startswith("tfy-verify-")]
        assert len(temporary) == 1  # made for the confirmed call only: a statement makes nothing
        for email in temporary:
            assert await admin.list_tokens(user=email) == []
        assert (await admin.get_team("backend"))["members"] == ["carol@example.com"]


async def test_no_caller_no_requests(gateway, fake):
    """A rule for a virtual account cannot be acted as; a key that may not make a temporary member is told
    so: unverified with the reason, nothing sent, never does_not_hold."""
    async with connect(gateway.env) as client:
        await apply(client, yaml.safe_dump_all(accounts(fake)[:2]))
        for_account = {"kind": "rate_limit", "subjects": ["virtualaccount:ci"], "models": [PRIMARY], "limit": 3}
        for_account["unit"] = "requests_per_minute"
        smoke = await call(client, "gateway_smoke_test", {"model": PRIMARY, "verify": for_account, "confirm": True})
        assert smoke["status"] is None and smoke["verification"]["verdict"] == "unverified"
        assert "virtualaccount:ci cannot be acted as" in smoke["verification"]["summary"]
    async with ControlPlaneClient(gateway.base_url, gateway.admin_token) as admin:
        dave = await admin.create_user("dave@example.com")
    as_dave = {**gateway.env, "TFY_BASE_URL": gateway.base_url, "TFY_API_KEY": dave.token}
    for_team = {"kind": "rate_limit", "subjects": ["team:backend"], "models": [PRIMARY], "limit": 3}
    for_team["unit"] = "requests_per_minute"
    async with connect(as_dave) as client:
        smoke = await call(client, "gateway_smoke_test", {"model": PRIMARY, "verify": for_team, "confirm": True})
    verification = smoke["verification"]
    assert verification["verdict"] == "unverified" and verification["requests_sent"] == 0
    assert "may not create a temporary member of team backend" in verification["summary"]
