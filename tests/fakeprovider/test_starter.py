"""The starter catalog: the example accounts as they are; only missing ones are added, none is changed."""

from __future__ import annotations

from pathlib import Path

from tfy_gateway.fakeprovider.starter import accounts_to_apply, starter_accounts
from tfy_gateway.manifests import load_file, validate_manifest


def test_starter_accounts_are_the_examples_as_they_are(examples_dir: Path):
    accounts = starter_accounts()
    for account in accounts:
        assert [f for f in validate_manifest(account, None) if f.severity == "error"] == []
    examples = [doc.data for doc in load_file(examples_dir / "provider-accounts.yaml")]
    assert accounts == examples  # so applying the example on an offline gateway changes nothing
    for account in accounts:
        assert account["collaborators"] == [{"subject": "team:everyone", "role_id": "provider-account-access"}]


def test_missing_accounts_are_added_and_present_ones_never_changed():
    live = [
        {**starter_accounts()[0], "integrations": [{"name": "mine"}]},  # edited by the user
        {**starter_accounts()[1], "azure_endpoint": "https://real.openai.azure.com"},  # pointed elsewhere
    ]
    apply, kept = accounts_to_apply(live)
    assert [a["name"] for a in apply] == ["anthropic-main"] and kept == ["openai-main", "azure-backup"]
    assert apply == [starter_accounts()[2]]
    assert accounts_to_apply(starter_accounts()) == ([], ["openai-main", "azure-backup", "anthropic-main"])
