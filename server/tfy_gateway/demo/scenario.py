"""What the scripted user asks for: the intents and manifests of the demo, as data.

Two provider accounts point at the bundled fake provider; knobs in their URLs give them different
speeds (see `tfy_gateway.fakeprovider`), so the weighted route has two real, distinguishable targets.
"""

from __future__ import annotations

from typing import Any

import yaml

ALIAS = "openai/gpt-4o"  # what clients request; only the routing rule resolves it
PRIMARY = "openai-main/gpt-4o"
BACKUP = "azure-backup/gpt-4o"
MINI = "openai-main/gpt-4o-mini"
EMBEDDING = "openai-main/text-embedding-3-small"
# The primary streams a token every 2 ms after 20 ms; the backup answers 60 ms later than that.
PRIMARY_KNOBS = "ttft_ms=20,tpot_ms=2"
BACKUP_KNOBS = "latency_ms=60,ttft_ms=20,tpot_ms=2"


def openai_account(fake_provider_url: str) -> dict[str, Any]:
    return {
        "kind": "provider_account",
        "provider": "openai",
        "name": "openai-main",
        "base_url": f"{fake_provider_url}/knobs/{PRIMARY_KNOBS}/v1",
        "secret": "tfy-secret://local:demo-openai:API_KEY",
        "models": [
            {"name": "gpt-4o", "input_cost_per_1k": 0.0025, "output_cost_per_1k": 0.01},
            {"name": "gpt-4o-mini", "input_cost_per_1k": 0.00015, "output_cost_per_1k": 0.0006},
            {
                "name": "text-embedding-3-small",
                "model_types": ["embedding"],
                # Written with a decimal point: the renderer prints floats as Python does, and YAML
                # reads an exponent form such as 2e-05 as a string.
                "input_cost_per_1k": 0.0001,
                "output_cost_per_1k": 0.0,
            },
        ],
    }


def azure_account(fake_provider_url: str) -> dict[str, Any]:
    return {
        "kind": "provider_account",
        "provider": "azure-openai",
        "name": "azure-backup",
        "azure_endpoint": f"{fake_provider_url}/knobs/{BACKUP_KNOBS}",
        "secret": "tfy-secret://local:demo-azure:API_KEY",
        "models": [
            {
                "name": "gpt-4o",
                "model_id": "gpt-4o",
                "api_version": "2024-10-21",
                "input_cost_per_1k": 0.0025,
                "output_cost_per_1k": 0.01,
            }
        ],
    }


# The routing config the team already has: one rule, written by hand. The new rule must keep it.
EXISTING_ROUTING = yaml.safe_dump(
    {
        "name": "routing",
        "type": "gateway-load-balancing-config",
        "rules": [
            {
                "id": "mini-to-openai",
                "type": "weight-based-routing",
                "when": {"subjects": ["*"], "models": ["openai/gpt-4o-mini"]},
                "load_balance_targets": [{"target": MINI, "weight": 100}],
            }
        ],
    },
    sort_keys=False,
)

REQUEST = "Send 30% of gpt-4o traffic to the Azure backup."
# As first understood: the backup's share is known, the primary's is not.
INCOMPLETE_ROUTE: dict[str, Any] = {
    "kind": "route",
    "model": ALIAS,
    "targets": [{"target": PRIMARY}, {"target": BACKUP, "weight": 30}],
}
ANSWER = "70/30, as you suggest."
COMPLETE_ROUTE: dict[str, Any] = {
    "kind": "route",
    "model": ALIAS,
    "strategy": "weight",
    "targets": [{"target": PRIMARY, "weight": 70}, {"target": BACKUP, "weight": 30}],
}


def with_typo(rendered_yaml: str) -> str:
    """The rendered config with a user's typo in a model name, for the validator to catch."""
    return rendered_yaml.replace(f"target: {BACKUP}", f"target: {BACKUP.replace('gpt-4o', 'gpt4o')}", 1)


SMOKE_REQUESTS = 6
