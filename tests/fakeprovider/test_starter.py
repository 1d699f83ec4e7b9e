"""The starter catalog: valid example accounts on the fake provider; only our accounts are re-pointed;
placeholder secrets never replace a real one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tfy_gateway.fakeprovider.starter import accounts_to_apply, starter_accounts, write_placeholder_secrets
from tfy_gateway.manifests import load_file, validate_manifest

OLD, NEW = "http://127.0.0.1:1111", "http://127.0.0.1:2222"


def test_starter_accounts_are_the_examples_on_the_fake_provider(examples_dir: Path):
    accounts = starter_accounts(NEW)
    for account in accounts:
        assert [f for f in validate_manifest(account, None) if f.severity == "error"] == []
    examples = {doc.data["name"]: doc.data for doc in load_file(examples_dir / "provider-accounts.yaml")}
    for account in accounts:
        example = examples[account["name"]]
        assert [i["name"] for i in account["integrations"]] == [i["name"] for i in example["integrations"]]
        assert account["auth_data"] == example["auth_data"]
        assert account["collaborators"] == [{"subject": "team:everyone", "role_id": "provider-account-access"}]
    assert accounts[0]["base_url"] == f"{NEW}/v1" and accounts[1]["azure_endpoint"] == NEW
    assert accounts[2]["base_url"] == f"{NEW}/v1"  # Anthropic's default ends in /v1 too


def test_missing_accounts_are_added_ours_moved_and_others_kept():
    live = [
        {**starter_accounts(OLD)[0], "integrations": [{"name": "mine"}]},  # ours, edited by the user
        {**starter_accounts(OLD)[1], "azure_endpoint": "https://real.openai.azure.com"},  # pointed elsewhere
    ]
    apply, kept = accounts_to_apply(live, NEW, OLD)
    assert [a["name"] for a in apply] == ["openai-main", "anthropic-main"] and kept == ["azure-backup"]
    assert apply[0]["base_url"] == f"{NEW}/v1" and apply[0]["integrations"] == [{"name": "mine"}]
    assert accounts_to_apply(starter_accounts(NEW), NEW, OLD) == ([], [])


def test_placeholder_secrets_fill_gaps_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("TFY_SECRET_AZURE_API_KEY", "from-env")
    (tmp_path / "secrets.json").write_text(json.dumps({"openai": {"API_KEY": "sk-real"}}))
    added = write_placeholder_secrets(tmp_path, starter_accounts(NEW))
    assert added == ["tfy-secret://local:anthropic:API_KEY"]
    values = json.loads((tmp_path / "secrets.json").read_text())
    assert values["openai"]["API_KEY"] == "sk-real" and "azure" not in values
    assert (tmp_path / "secrets.json").stat().st_mode & 0o777 == 0o600
