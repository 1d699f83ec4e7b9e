"""check_intent, render_manifest and validate_manifest through the MCP client, against a real gateway."""

from __future__ import annotations

import yaml

from tests.mcp.conftest import call, call_error, connect, seed

TEAM_LIMIT = {
    "kind": "rate_limit",
    "subjects": ["team:backend"],
    "models": ["gpt-4o-mini"],
    "limit": 20000,
    "unit": "tokens_per_minute",
}


async def test_check_intent_resolves_model_names_with_the_live_catalog(gateway):
    await seed(gateway, "provider-accounts.yaml")
    async with connect(gateway.env) as client:
        check = await call(client, "gateway_check_intent", {"intent": TEAM_LIMIT})
    assert check["catalog_checked"] and not check["complete"]
    questions = {q["field"]: q for q in check["questions"]}
    assert questions["models[0]"]["recommended"] == "openai-main/gpt-4o-mini"
    assert questions["applies_per"]["options"][0] == []
    assert check["next_question"] == check["questions"][0]["question"]


async def test_check_intent_works_offline_without_a_catalog():
    async with connect({}) as client:
        check = await call(client, "gateway_check_intent", {"intent": {"kind": "route"}})
        bad = await client.call_tool("gateway_check_intent", {"intent": {"kind": "teleport"}})
        typo = await client.call_tool("gateway_check_intent", {"intent": {"kind": "budget", "limt": 5}})
    assert not check["catalog_checked"]
    assert [q["field"] for q in check["questions"]] == ["model", "targets", "strategy"]
    assert bad.is_error and "teleport" in bad.content[0].text
    assert typo.is_error and "limt" in typo.content[0].text


async def test_render_merges_the_rule_into_the_live_config(gateway):
    await seed(gateway, "provider-accounts.yaml", "rate-limits.yaml")
    intent = {**TEAM_LIMIT, "models": ["openai-main/gpt-4o-mini"], "applies_per": [], "version": "v1"}
    async with connect(gateway.env) as client:
        rendered = await call(client, "gateway_render_manifest", {"intent": intent})
        by_default = await call(client, "gateway_render_manifest", {"intent": {**intent, "version": None}})
    assert by_default["manifest"]["type"] == "tenant-rate-limit-config/model" and not by_default["merged_with_live"]
    assert rendered["merged_with_live"] and rendered["valid"]
    assert [f["code"] for f in rendered["findings"]] == ["v1-rate-limits-deprecated"]  # asked for V1: told it retires
    new_id = "limit-team-backend-gpt-4o-mini-tokens-minute"
    assert rendered["rule_ids"] == [
        "team-rpm-limit",
        "user-daily-limit",
        new_id,
        "per-project-hourly",
        "global-fallback",
    ]
    assert yaml.safe_load(rendered["yaml"]) == rendered["manifest"]
    assert rendered["manifest"]["name"] == "rate-limits"
    assert {d["field"] for d in rendered["defaults"]} >= {"rule_id"}


async def test_render_creates_a_new_config_and_provider_account(gateway):
    await seed(gateway, "provider-accounts.yaml")
    route = {
        "kind": "route",
        "model": "openai/gpt-4o",
        "targets": [{"target": "openai-main/gpt-4o", "weight": 70}, {"target": "azure-backup/gpt-4o", "weight": 30}],
    }
    account = {
        "kind": "provider_account",
        "provider": "openai",
        "name": "openai-main",
        "secret": "tfy-secret://local:openai:API_KEY",
        "models": [{"name": "o3-mini"}],
    }
    async with connect(gateway.env) as client:
        created = await call(client, "gateway_render_manifest", {"intent": route})
        extended = await call(client, "gateway_render_manifest", {"intent": account})
    assert not created["merged_with_live"] and created["valid"]
    assert created["manifest"]["rules"][0]["type"] == "weight-based-routing"
    assert extended["merged_with_live"] and extended["valid"]
    names = [i["name"] for i in extended["manifest"]["integrations"]]
    assert names == ["gpt-4o", "gpt-4o-mini", "text-embedding-3-small", "o3-mini"]


async def test_render_refuses_an_incomplete_or_ambiguous_intent(gateway):
    await seed(gateway, "provider-accounts.yaml")
    async with connect(gateway.env) as client:
        incomplete = await call_error(client, "gateway_render_manifest", {"intent": {"kind": "budget", "limit": 5}})
        ambiguous = await call_error(
            client,
            "gateway_render_manifest",
            {"intent": {"kind": "route", "model": "gpt-4o", "targets": [{"target": "gpt-4o"}]}},
        )
    assert "not complete" in incomplete and "gateway_check_intent" in incomplete and "Who should" in incomplete
    assert "openai-main/gpt-4o" in ambiguous and "azure-backup/gpt-4o" in ambiguous


async def test_validate_reports_broken_yaml_with_its_line():
    async with connect({}) as client:
        result = await call(client, "gateway_validate_manifest", {"yaml_text": "name: x\ntype: a: b\nrules: []\n"})
    assert not result["valid"] and result["errors"] == 1
    assert result["findings"][0]["line"] == 2


async def test_validate_checks_models_against_the_live_catalog(gateway, examples_dir):
    await seed(gateway, "provider-accounts.yaml")
    text = (examples_dir / "routing-weighted.yaml").read_text().replace("azure-backup/gpt-4o", "azure-backup/gpt-5")
    async with connect(gateway.env) as client:
        result = await call(client, "gateway_validate_manifest", {"yaml_text": text})
        good = await call(
            client, "gateway_validate_manifest", {"yaml_text": (examples_dir / "routing-weighted.yaml").read_text()}
        )
    assert good["valid"] and good["catalog_checked"] and good["documents"][0]["name"] == "chat-routing"
    assert not result["valid"] and result["catalog_checked"]
    finding = next(f for f in result["findings"] if f["severity"] == "error")
    assert "azure-backup/gpt-5" in finding["message"]
    assert finding["path"].startswith("rules[0].load_balance_targets[1]") and finding["line"] == 17


async def test_validate_without_control_plane_counts_accounts_in_the_same_text(examples_dir):
    text = (examples_dir / "provider-accounts.yaml").read_text() + "\n---\n"
    text += (examples_dir / "routing-weighted.yaml").read_text()
    async with connect({}) as client:
        result = await call(client, "gateway_validate_manifest", {"yaml_text": text})
        typo = await call(
            client,
            "gateway_validate_manifest",
            {"yaml_text": text.replace("load_balance_targets", "load_balance_target")},
        )
    assert result["valid"] and not result["catalog_checked"] and "not reachable" in result["note"]
    assert len(result["documents"]) == 4
    assert not typo["valid"] and any(f["code"] == "unknown-field" for f in typo["findings"])
