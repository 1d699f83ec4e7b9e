"""The starter catalog: the example provider accounts, pointed at a running fake provider.

`examples/provider-accounts.yaml` names `openai-main`, `azure-backup` and `anthropic-main`, which call
the real APIs. Offline (`tfy-gateway serve --offline`, `tfy-gateway mcp --local`) the same accounts,
with the same models, prices and secret references, point at the bundled fake provider instead, so
every example routing, limit and budget manifest applies and answers at once. Differences from the
example, each one a step a new user otherwise had to find out:
- `base_url` / `azure_endpoint` is the fake provider (Anthropic's with `/v1`, as the gateway's
  Anthropic default is `https://api.anthropic.com/v1`);
- the secrets they reference get placeholder values in `<data-dir>/secrets.json` (only where none
  is defined, so a real key already there is kept);
- `team:everyone` is a collaborator, so users added later may call the models too.
"""

from __future__ import annotations

import copy
import json
import logging
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

STATE_FILE = "offline.json"  # where the last fake provider URL is kept, to re-point only our accounts
SECRETS_FILE = "secrets.json"
PLACEHOLDER_KEY = "fake-key-for-the-bundled-fake-provider"
EVERYONE = [{"subject": "team:everyone", "role_id": "provider-account-access"}]


def _chat(name: str, model_id: str, price_in: float, price_out: float, *, kind: str = "openai") -> dict[str, Any]:
    return {
        "type": f"integration/model/{kind}",
        "name": name,
        "model_id": model_id,
        "model_types": ["chat"],
        "cost": {"metric": "per_1000_tokens", "value": {"input": price_in, "output": price_out}},
    }


def starter_accounts(fake_url: str) -> list[dict[str, Any]]:
    """The example accounts (same names, models, prices and secret references) on `fake_url`."""
    embedding = {
        "type": "integration/model/openai",
        "name": "text-embedding-3-small",
        "model_id": "text-embedding-3-small",
        "model_types": ["embedding"],
    }
    azure_gpt = _chat("gpt-4o", "gpt-4o-deployment", 0.0025, 0.01, kind="azure-openai")
    azure_gpt["api_version"] = "2024-10-21"
    return [
        {
            "name": "openai-main",
            "type": "provider-account/openai",
            "base_url": f"{fake_url}/v1",
            "auth_data": {"type": "api-key", "api_key": "tfy-secret://local:openai:API_KEY"},
            "collaborators": copy.deepcopy(EVERYONE),
            "integrations": [
                _chat("gpt-4o", "gpt-4o", 0.0025, 0.01),
                _chat("gpt-4o-mini", "gpt-4o-mini", 0.00015, 0.0006),
                embedding,
            ],
        },
        {
            "name": "azure-backup",
            "type": "provider-account/azure-openai",
            "azure_endpoint": fake_url,
            "auth_data": {"type": "api-key", "api_key": "tfy-secret://local:azure:API_KEY"},
            "collaborators": copy.deepcopy(EVERYONE),
            "integrations": [azure_gpt],
        },
        {
            "name": "anthropic-main",
            "type": "provider-account/anthropic",
            "base_url": f"{fake_url}/v1",
            "auth_data": {"type": "api-key", "api_key": "tfy-secret://local:anthropic:API_KEY"},
            "collaborators": copy.deepcopy(EVERYONE),
            "integrations": [
                _chat("claude-sonnet", "claude-sonnet-4-5-20250929", 0.003, 0.015, kind="anthropic"),
            ],
        },
    ]


def upstream_url(account: Mapping[str, Any]) -> str:
    return str(account.get("azure_endpoint") or account.get("base_url") or "")


def write_placeholder_secrets(data_dir: Path, accounts: Iterable[Mapping[str, Any]]) -> list[str]:
    """Give the accounts' secret references a placeholder value where none is defined (file or env).

    Returns the references that were added. The file is `<data-dir>/secrets.json` (mode 0600); an
    existing value is never replaced, so a real key stays a real key.
    """
    path = data_dir / SECRETS_FILE
    values: dict[str, dict[str, str]] = json.loads(path.read_text()) if path.is_file() else {}
    added: list[str] = []
    for account in accounts:
        auth = account.get("auth_data")
        reference = auth.get("api_key") if isinstance(auth, Mapping) else None
        if not isinstance(reference, str) or not reference.startswith("tfy-secret://"):
            continue
        _, group, key = reference.removeprefix("tfy-secret://").split(":")
        variable = f"TFY_SECRET_{group.upper()}_{key.upper()}"
        if os.environ.get(variable) or values.get(group, {}).get(key):
            continue
        values.setdefault(group, {})[key] = PLACEHOLDER_KEY
        added.append(reference)
    if added:
        data_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values, indent=2) + "\n")
        path.chmod(0o600)
    return added


def previous_fake_url(data_dir: Path) -> str | None:
    try:
        state = json.loads((data_dir / STATE_FILE).read_text())
    except (OSError, ValueError):
        return None
    url = state.get("fake_provider_url") if isinstance(state, dict) else None
    return url if isinstance(url, str) else None


def remember_fake_url(data_dir: Path, url: str) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / STATE_FILE).write_text(json.dumps({"fake_provider_url": url}) + "\n")


def accounts_to_apply(
    live: Iterable[Mapping[str, Any]], fake_url: str, previous_url: str | None
) -> tuple[list[dict[str, Any]], list[str]]:
    """Which starter accounts to apply, and the names of live ones left alone (they point elsewhere).

    An account is (re)applied when it does not exist, or when it points at this data dir's previous
    fake provider (the port changed). One the user pointed at a real provider is never touched.
    """
    by_name = {str(a.get("name")): a for a in live}
    apply: list[dict[str, Any]] = []
    kept: list[str] = []
    for account in starter_accounts(fake_url):
        current = by_name.get(account["name"])
        if current is None:
            apply.append(account)
            continue
        url = upstream_url(current)
        if url.startswith(fake_url):
            continue
        if previous_url and url.startswith(previous_url):
            moved = copy.deepcopy(dict(current))  # the user's changes stay; only the address moves
            for key in ("base_url", "azure_endpoint"):
                if isinstance(moved.get(key), str) and moved[key].startswith(previous_url):
                    moved[key] = fake_url + moved[key][len(previous_url) :]
            apply.append(moved)
        else:
            kept.append(account["name"])
    return apply, kept
