"""The client library against the real local gateway (`tfy-gateway serve` as a subprocess)."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from tests.helpers import EXAMPLES, GatewayProcess
from tfy_gateway.platform import (
    AuthenticationError,
    ControlPlaneClient,
    ControlPlaneSettings,
    NotFoundError,
    ResourceNotFoundError,
    ValidationFailed,
    compute_diff,
    creation_diff,
    merge_rule,
    remove_rule,
)

LB = "gateway-load-balancing-config"


def load(name: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all((EXAMPLES / name).read_text()) if doc]


def client_for(gateway: GatewayProcess) -> ControlPlaneClient:
    return ControlPlaneClient.from_settings(ControlPlaneSettings.from_env(gateway.env))


async def test_dry_run_apply_diff_get_delete(gateway: GatewayProcess) -> None:
    accounts = load("provider-accounts.yaml")
    (routing,) = load("routing-weighted.yaml")
    async with client_for(gateway) as client:
        assert "user" in await client.session()
        for account in accounts:
            await client.apply(account, dry_run=False)

        planned = await client.apply(routing, dry_run=True)
        assert (planned.action, planned.existing, planned.diff) == ("CREATE", None, creation_diff(routing))
        assert await client.get_config(LB) is None  # a dry run stores nothing

        applied = await client.apply(routing, dry_run=False)
        assert applied.action == "CREATE" and not applied.dry_run
        assert await client.get_config(LB) == routing  # stored exactly as sent

        again = await client.apply(routing, dry_run=True)
        assert again.action == "UPDATE" and again.existing == routing and again.diff == ""

        changed = copy.deepcopy(routing)
        changed["rules"][0]["load_balance_targets"][0]["weight"] = 80
        changed["rules"][0]["load_balance_targets"][1]["weight"] = 20
        preview = await client.apply(changed, dry_run=True)
        assert preview.diff == compute_diff(routing, changed)
        assert "-    weight: 70\n" in preview.diff and "+    weight: 80\n" in preview.diff
        assert await client.get_config(LB) == routing  # still unchanged

        await client.delete(routing)
        assert await client.get_config(LB) is None
        with pytest.raises(ResourceNotFoundError, match="nothing was deleted"):
            await client.delete(routing)

        names = {m["name"] for m in await client.list_provider_accounts()}
        assert names == {a["name"] for a in accounts}
        model_ids = {m["id"] for m in await client.list_models()}
        assert "openai-main/gpt-4o" in model_ids


async def test_merge_one_rule_into_the_live_config(gateway: GatewayProcess) -> None:
    (account,) = [a for a in load("provider-accounts.yaml") if a["name"] == "openai-main"]
    (limits,) = load("rate-limits.yaml")
    new_rule = {
        "id": "team-frontend",
        "when": {"subjects": ["team:frontend"], "models": ["openai-main/gpt-4o"]},
        "limit_to": 100,
        "unit": "requests_per_minute",
    }
    async with client_for(gateway) as client:
        await client.apply(account, dry_run=False)
        await client.apply(limits, dry_run=False)
        current = await client.get_config("gateway-rate-limiting-config")
        merged = merge_rule(current, new_rule, config_type="gateway-rate-limiting-config", name="ignored")
        preview = await client.apply(merged, dry_run=True)
        assert preview.diff == compute_diff(current, merged)
        lines = preview.diff.splitlines()
        assert "+- id: team-frontend" in lines
        assert not [line for line in lines[2:] if line.startswith("-")]  # only additions
        await client.apply(merged, dry_run=False)
        stored = await client.get_config("gateway-rate-limiting-config")
        assert stored is not None
        # before the first catch-all (`when: {}`), after the existing specific rules
        assert [r["id"] for r in stored["rules"]] == [
            "team-rpm-limit",
            "user-daily-limit",
            "team-frontend",
            "per-project-hourly",
            "global-fallback",
        ]
        await client.apply(remove_rule(stored, "team-frontend"), dry_run=False)
        assert await client.get_config("gateway-rate-limiting-config") == limits


async def test_invalid_manifest_comes_back_with_the_servers_findings(gateway: GatewayProcess) -> None:
    bad = {
        "name": "bad",
        "type": LB,
        "rules": [{"id": "r", "type": "weight-based-routing", "when": {}, "load_balance_targets": "nope"}],
    }
    async with client_for(gateway) as client:
        with pytest.raises(ValidationFailed) as info:
            await client.apply(bad, dry_run=True)
    assert info.value.status == 422
    assert str(info.value).startswith("Invalid manifest bad (gateway-load-balancing-config)")
    assert "load_balance_targets" in str(info.value)
    assert info.value.findings and all(f["severity"] in ("error", "warning") for f in info.value.findings)


async def test_bad_key_and_wrong_base_path(gateway: GatewayProcess) -> None:
    async with ControlPlaneClient(gateway.base_url, "tfy_not_the_right_key_000000") as client:
        with pytest.raises(AuthenticationError) as denied:
            await client.apply({"name": "x", "type": LB, "rules": []}, dry_run=True)
    assert denied.value.status == 401
    assert str(denied.value).startswith(f"the control plane at {gateway.base_url} rejected TFY_API_KEY (401)")
    assert "tfy_not_the_right_key_000000" not in str(denied.value)

    async with ControlPlaneClient(gateway.base_url + "/gateway", gateway.admin_token) as client:
        with pytest.raises(NotFoundError) as wrong:
            await client.get_config(LB)
    assert wrong.value.status == 404
    assert "is TFY_BASE_URL the bare origin of the control plane (no path)?" in str(wrong.value)
    assert gateway.admin_token not in str(wrong.value)
