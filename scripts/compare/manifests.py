"""Every example manifest (examples/*.yaml), made benchmarkable: pointed at the bench upstream, every
limit raised so that nothing is refused, every model priced (budgets need a cost), and the secrets
they reference given placeholder values through the environment.

What the bench measures is the cost of the gateway doing all of it (auth, routing, V1 and V2 rate
limits and budgets, request logs) on each request, not the cost of refusing.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import httpx
import yaml

try:  # the gateway refuses limits above it; a billion is still never reached in a bench
    from tfy_gateway.manifests.numbers import MAX_USD
except ImportError:  # a source from before input hardening (bench_inprocess --gateway-source): no ceiling
    MAX_USD = 1e18

GENEROUS = 1_000_000
CEILING = int(MAX_USD)
PRICE = {"metric": "per_1000_tokens", "value": {"input": 0.0025, "output": 0.01}}
SECRET = re.compile(r"tfy-secret://([^:\"'\s]+):([^:\"'\s]+):([A-Za-z0-9_]+)")
BENCH_KEY = "sk-bench-placeholder"
# The request the all-policies gateways are driven with: a routed virtual model, metadata that the
# per-project rate limit and the production budget match.
ROUTED_MODEL = "openai/gpt-4o"
METADATA = '{"project_id": "pilot-42", "environment": "production"}'


def load_examples(directory: Path) -> list[dict[str, Any]]:
    """Every document of every examples/*.yaml (`---` separated or a YAML list), in file order."""
    documents: list[dict[str, Any]] = []
    for path in sorted(directory.glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            items = document if isinstance(document, list) else [document]
            documents.extend(item for item in items if isinstance(item, dict))
    return documents


def _generous(value: float) -> float:
    """The value a millionfold, as the same type (integer limits stay integers), at most CEILING."""
    return min(value * GENEROUS, CEILING)


def _raise_limits(limits: dict[str, Any]) -> dict[str, Any]:
    return {key: _generous(value) if isinstance(value, (int, float)) else value for key, value in limits.items()}


def benchmarkable(manifest: dict[str, Any], upstream: str) -> dict[str, Any]:
    """`manifest` pointed at `upstream`, limits a millionfold, every chat integration priced."""
    out = copy.deepcopy(manifest)
    kind = str(out.get("type", ""))
    if kind.startswith("provider-account/"):
        if "azure_endpoint" in out:
            out["azure_endpoint"] = upstream
        elif kind != "provider-account/self-hosted-model":  # that one's URL is per integration
            out["base_url"] = f"{upstream}/v1"
        for integration in out.get("integrations", []):
            if "url" in integration:
                integration["url"] = f"{upstream}/v1"
            if "chat" in integration.get("model_types", []) and "cost" not in integration:
                integration["cost"] = copy.deepcopy(PRICE)
        out["collaborators"] = [{"subject": "team:everyone", "role_id": "provider-account-access"}]
    for rule in out.get("rules", []):
        if isinstance(rule.get("limit_to"), (int, float)):
            rule["limit_to"] = _generous(rule["limit_to"])
    if isinstance(out.get("limits"), dict):
        out["limits"] = _raise_limits(out["limits"])
    applies_to = out.get("applies_to")
    if isinstance(applies_to, dict):
        for override in applies_to.get("overrides", []):
            if isinstance(override.get("limits"), dict):
                override["limits"] = _raise_limits(override["limits"])
    return out


def secret_environment(manifests: list[dict[str, Any]]) -> dict[str, str]:
    """TFY_SECRET_<GROUP>_<KEY> for each secret reference in `manifests` (the gateway reads them at start)."""
    found = SECRET.findall(yaml.safe_dump(manifests))
    return {f"TFY_SECRET_{group.upper()}_{key.upper()}": BENCH_KEY for _, group, key in found}


def ordered(manifests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Provider accounts first: the rest refers to their models."""
    return sorted(manifests, key=lambda m: 0 if str(m.get("type", "")).startswith("provider-account/") else 1)


def apply_all(base_url: str, token: str, manifests: list[dict[str, Any]]) -> None:
    """PUT each manifest to the control plane; the first refusal stops the run with its message."""
    with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=60) as client:
        for manifest in ordered(manifests):
            response = client.put("/api/svc/v1/apply", json={"manifest": manifest, "dryRun": False})
            if response.status_code != 200:
                raise RuntimeError(
                    f"apply {manifest.get('type')} {manifest.get('name')!r} refused ({response.status_code}): "
                    f"{response.text[:400]}"
                )


def bench_account(upstream: str) -> dict[str, Any]:
    """The bare gateway's one provider account: `bench/gpt-4o` on the upstream."""
    return {
        "name": "bench",
        "type": "provider-account/openai",
        "base_url": f"{upstream}/v1",
        "auth_data": {"type": "api-key", "api_key": BENCH_KEY},
        "integrations": [
            {"type": "integration/model/openai", "name": "gpt-4o", "model_id": "gpt-4o", "model_types": ["chat"]}
        ],
    }


def input_guardrails() -> list[dict[str, Any]]:
    """gateway-all's guardrail stage: a regex (presets and a custom pattern) and the PII detector on
    every request's input, in audit mode (checked and recorded, never refused: the bench prompt is
    clean, so a refusal would be a bug)."""
    checks = [
        (
            "regex",
            "integration/guardrail-config/regex",
            {
                "preset_patterns": {"presets": ["email", "us_ssn", "credit_card", "aws_access_key"]},
                "custom_patterns": [{"pattern": r"\bproject-[a-z]+\b"}],
            },
        ),
        ("pii", "integration/guardrail-config/tfy-pii", {"pii_categories": ["*"]}),
    ]
    group = {
        "name": "bench-guards",
        "type": "provider-account/guardrail-config-group",
        "integrations": [
            {"name": name, "type": kind, "operation": "validate", "enforcing_strategy": "audit", "config": config}
            for name, kind, config in checks
        ],
    }
    rule = {
        "id": "bench-input",
        "when": {},
        "llm_input_guardrails": [f"bench-guards/{name}" for name, _, _ in checks],
        "llm_output_guardrails": [],
        "mcp_tool_pre_invoke_guardrails": [],
        "mcp_tool_post_invoke_guardrails": [],
    }
    return [group, {"name": "bench-guardrails", "type": "gateway-guardrails-config", "rules": [rule]}]
