"""The starter catalog: the example provider accounts, exactly as `examples/provider-accounts.yaml` has them.

Offline (`tfy-gateway serve --offline`, `tfy-gateway mcp --local`) the gateway sends every upstream
call to its bundled fake provider, whatever address an account names (`offline_upstream`, see
`gateway/providers/offline.py`), and gives a secret reference without a value a placeholder. So the
starter accounts are the examples themselves, real addresses and `team:everyone` collaborators
included: applying `examples/provider-accounts.yaml` on an offline gateway changes nothing, applying
any other example account answers at once too, and the same data dir served without `--offline`
calls the real APIs (with real keys, see the README).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Any

EVERYONE = [{"subject": "team:everyone", "role_id": "provider-account-access"}]


def _chat(name: str, model_id: str, price_in: float, price_out: float, *, kind: str = "openai") -> dict[str, Any]:
    return {
        "type": f"integration/model/{kind}",
        "name": name,
        "model_id": model_id,
        "model_types": ["chat"],
        "cost": {"metric": "per_1000_tokens", "value": {"input": price_in, "output": price_out}},
    }


def starter_accounts() -> list[dict[str, Any]]:
    """The example accounts (same names, addresses, models, prices, secret references and access)."""
    embedding = {
        "type": "integration/model/openai",
        "name": "text-embedding-3-small",
        "model_id": "text-embedding-3-small",
        "model_types": ["embedding"],
    }
    azure_gpt = {
        "type": "integration/model/azure-openai",
        "name": "gpt-4o",
        "model_id": "gpt-4o-deployment",
        "api_version": "2024-10-21",
        "model_types": ["chat"],
    }
    return [
        {
            "name": "openai-main",
            "type": "provider-account/openai",
            "collaborators": copy.deepcopy(EVERYONE),
            "auth_data": {"type": "api-key", "api_key": "tfy-secret://local:openai:API_KEY"},
            "integrations": [
                _chat("gpt-4o", "gpt-4o", 0.0025, 0.01),
                _chat("gpt-4o-mini", "gpt-4o-mini", 0.00015, 0.0006),
                embedding,
            ],
        },
        {
            "name": "azure-backup",
            "type": "provider-account/azure-openai",
            "collaborators": copy.deepcopy(EVERYONE),
            "azure_endpoint": "https://example-resource.openai.azure.com",
            "auth_data": {"type": "api-key", "api_key": "tfy-secret://local:azure:API_KEY"},
            "integrations": [azure_gpt],
        },
        {
            "name": "anthropic-main",
            "type": "provider-account/anthropic",
            "collaborators": copy.deepcopy(EVERYONE),
            "auth_data": {"type": "api-key", "api_key": "tfy-secret://local:anthropic:API_KEY"},
            "integrations": [
                {
                    "type": "integration/model/anthropic",
                    "name": "claude-sonnet",
                    "model_id": "claude-sonnet-4-5-20250929",
                    "model_types": ["chat"],
                }
            ],
        },
    ]


def accounts_to_apply(live: Iterable[Mapping[str, Any]]) -> tuple[list[dict[str, Any]], list[str]]:
    """The starter accounts the control plane lacks, and the names of those it has (left as they are:
    whatever they name, an offline gateway answers them from the fake provider)."""
    names = {str(account.get("name")) for account in live}
    missing = [account for account in starter_accounts() if account["name"] not in names]
    return missing, [account["name"] for account in starter_accounts() if account["name"] in names]
