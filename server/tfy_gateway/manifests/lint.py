"""Checks beyond the schema: what is valid YAML of the right shape but will not do what was meant."""

from __future__ import annotations

import heapq
from collections.abc import Iterator, Sequence
from typing import Any

from pydantic import BaseModel

from tfy_gateway.manifests.catalog import Catalog
from tfy_gateway.manifests.common import GUARDRAIL_GROUP_TYPE, When
from tfy_gateway.manifests.findings import Finding, finding
from tfy_gateway.manifests.guardrails import GuardrailsConfig
from tfy_gateway.manifests.limits import BudgetConfig, RateLimitConfig
from tfy_gateway.manifests.lint_otel import lint_otel
from tfy_gateway.manifests.lint_v2 import lint_v2
from tfy_gateway.manifests.otel import OtelConfig
from tfy_gateway.manifests.providers import AwsAssumedRoleAuth, AwsBedrockAccount, LooseAccount, VirtualModelAccount
from tfy_gateway.manifests.routing import LoadBalancingConfig, WeightBasedRouting, WeightBasedRule
from tfy_gateway.manifests.schema_check import did_you_mean
from tfy_gateway.manifests.secret_fields import SECRET_FIELDS, SECRET_PREFIX
from tfy_gateway.manifests.subjects import subject_finding

Loc = tuple[str | int, ...]

APPLIES_PER = ("user", "virtualaccount", "model", "team")
V1_RATE_LIMIT_RETIREMENT = "2026-12-15"
MIGRATE_COMMAND = "tfy-gateway migrate limits"
V1_RATE_LIMITS_RETIRE = finding(
    "warning",
    "v1-rate-limits-deprecated",
    f"the platform retires V1 rate limits (gateway-rate-limiting-config) on {V1_RATE_LIMIT_RETIREMENT}: "
    "new limits belong in V2 (tenant-rate-limit-config/model, one named limit per document)",
    ("type",),
    hint=f"`{MIGRATE_COMMAND}` writes the V2 manifests for these rules (references/rate-limiting.md)",
)


def lint(model: BaseModel, catalog: Catalog | None) -> list[Finding]:
    """Semantic findings for a schema-valid manifest."""
    findings: list[Finding] = []
    if isinstance(model, LoadBalancingConfig | RateLimitConfig | BudgetConfig):
        findings += _unique(model.rules, "id", "rules", "duplicate-rule-id")
        for index, rule in enumerate(model.rules):
            findings += _subjects(rule.when, ("rules", index, "when"))
    if isinstance(model, LoadBalancingConfig):
        for index, lb_rule in enumerate(model.rules):
            loc: Loc = ("rules", index)
            if isinstance(lb_rule, WeightBasedRule):
                findings += _weights(lb_rule, loc)
            findings += _targets(lb_rule.load_balance_targets, (*loc, "load_balance_targets"), catalog)
        findings += _shadowed(model.rules, "routing")
    if isinstance(model, RateLimitConfig):
        for index, rl_rule in enumerate(model.rules):
            loc = ("rules", index)
            findings += _applies_per(rl_rule.rate_limit_applies_per, (*loc, "rate_limit_applies_per"))
            if rl_rule.limit_to == 0:
                findings.append(
                    finding("warning", "zero-limit", "limit_to 0 blocks every matching request", (*loc, "limit_to"))
                )
        findings += _shadowed(model.rules, "rate-limit")
        findings.append(V1_RATE_LIMITS_RETIRE)
    if isinstance(model, BudgetConfig):
        for index, budget_rule in enumerate(model.rules):
            loc = ("rules", index)
            findings += _applies_per(budget_rule.budget_applies_per, (*loc, "budget_applies_per"))
            if budget_rule.alerts is not None:
                for t_index, threshold in enumerate(budget_rule.alerts.thresholds):
                    if not 0 <= threshold <= 100:
                        findings.append(
                            finding(
                                "error",
                                "threshold-range",
                                f"threshold {threshold:g} is outside 0..100 (percent of limit_to)",
                                (*loc, "alerts", "thresholds", t_index),
                            )
                        )
    if isinstance(model, VirtualModelAccount):
        for index, vm in enumerate(model.integrations):
            loc = ("integrations", index, "routing_config")
            if isinstance(vm.routing_config, WeightBasedRouting):
                findings += _weights(vm.routing_config, loc)
            findings += _targets(vm.routing_config.load_balance_targets, (*loc, "load_balance_targets"), catalog)
    if isinstance(model, LooseAccount):
        findings.append(
            finding(
                "warning",
                "loosely-checked",
                f"{model.type} is a platform provider type whose fields this tool does not check "
                "one by one; only name, integrations, model_types and cost were validated",
                ("type",),
            )
        )
    if isinstance(model, AwsBedrockAccount) and isinstance(model.auth_data, AwsAssumedRoleAuth):
        findings.append(
            finding(
                "warning",
                "assumed-role-local",
                "assumed-role-based auth works on the platform, but the local gateway cannot assume an AWS role "
                "(that needs AWS STS and an AWS identity of its own), so locally these models answer 5xx",
                ("auth_data", "type"),
                hint="to call them from the local gateway use access-key-based or api-key auth",
            )
        )
    integrations = getattr(model, "integrations", None)
    if isinstance(integrations, list):
        findings += _unique(integrations, "name", "integrations", "duplicate-integration")
    findings += lint_v2(model)
    if isinstance(model, GuardrailsConfig) or getattr(model, "type", None) == GUARDRAIL_GROUP_TYPE:
        # The guardrail models (every vendor's) load with the first guardrail manifest.
        from tfy_gateway.manifests.lint_guardrails import lint_guardrails

        findings += lint_guardrails(model, catalog)
    if isinstance(model, OtelConfig):
        findings += lint_otel(model)
    return findings


def _unique(items: Sequence[Any], field: str, where: str, code: str) -> Iterator[Finding]:
    """Each `items[i].<field>` must differ from the ones before it (rule ids, integration names)."""
    seen: dict[str, int] = {}
    for index, item in enumerate(items):
        value = getattr(item, field)
        if value in seen:
            yield finding(
                "error",
                code,
                f"duplicate {field} '{value}' (also used by {where}[{seen[value]}]); it must be unique",
                (where, index, field),
            )
        else:
            seen[value] = index


def _subjects(when: When, loc: Loc) -> Iterator[Finding]:
    for index, subject in enumerate(when.subjects or []):
        found = subject_finding(subject, (*loc, "subjects", index))
        if found is not None:
            yield found


def _weights(rule: WeightBasedRouting, loc: Loc) -> Iterator[Finding]:
    total = 0
    for index, target in enumerate(rule.load_balance_targets):
        total += target.weight
        if not 0 <= target.weight <= 100:
            yield finding(
                "error",
                "weight-range",
                f"weight {target.weight} is outside 0..100",
                (*loc, "load_balance_targets", index, "weight"),
            )
    if total != 100:
        yield finding(
            "error",
            "weights-sum",
            f"weights sum to {total}; they must sum to 100",
            (*loc, "load_balance_targets"),
            hint="adjust the weights so that together they are 100",
        )


def _targets(targets: Sequence[Any], loc: Loc, catalog: Catalog | None) -> Iterator[Finding]:
    for index, target in enumerate(targets):
        where = (*loc, index, "target")
        account, sep, integration = target.target.partition("/")
        if not (sep and account and integration) or "/" in integration:
            yield finding(
                "error",
                "target-format",
                f"target '{target.target}' must be '<provider-account>/<integration>'",
                where,
                hint="e.g. openai-main/gpt-4o",
            )
            continue
        if catalog is None or not len(catalog):
            continue
        entry = catalog.get(target.target)
        if entry is None:
            guess = did_you_mean(target.target, catalog.entries)
            yield finding(
                "error",
                "unknown-target",
                f"target '{target.target}' is not a known model" + (f"; did you mean '{guess}'?" if guess else ""),
                where,
                hint="apply the provider account that defines it first, or fix the name",
            )
        elif entry.virtual:
            yield finding(
                "error",
                "virtual-target",
                f"target '{target.target}' is a virtual model; targets must be real models (no nesting)",
                where,
            )


def _applies_per(values: list[str] | None, loc: Loc) -> Iterator[Finding]:
    if not values:
        return
    if len(values) > 2:
        yield finding("error", "applies-per-count", f"at most 2 entries allowed, got {len(values)}", loc)
    seen: set[str] = set()
    for index, value in enumerate(values):
        where = (*loc, index)
        if value in seen:
            yield finding("error", "applies-per-duplicate", f"'{value}' is listed twice", where)
        seen.add(value)
        if value.startswith("metadata."):
            if not value.removeprefix("metadata."):
                yield finding("error", "applies-per-value", "'metadata.' needs a key, e.g. metadata.project_id", where)
            continue
        if value == "team":
            yield finding(
                "warning",
                "applies-per-team",
                "'team' is accepted by this gateway (one counter per team of the caller) but is not in "
                "the platform SDK's documented values (user | virtualaccount | model | metadata.<key>)",
                where,
            )
            continue
        if value not in APPLIES_PER:
            guess = did_you_mean(value, APPLIES_PER)
            yield finding(
                "error",
                "applies-per-value",
                f"invalid value '{value}'" + (f"; did you mean '{guess}'?" if guess else ""),
                where,
                hint="allowed values: user, virtualaccount, model, team, metadata.<key>",
            )


def metadata_requirements(rule: Any) -> dict[str, str | None]:
    """Metadata a request must carry for the rule to apply: `when.metadata` pairs, and the keys
    named by `*_applies_per: metadata.<key>` (no counter can be chosen without them; value free)."""
    required: dict[str, str | None] = {}
    for field_name in ("rate_limit_applies_per", "budget_applies_per"):
        for value in getattr(rule, field_name, None) or []:
            if value.startswith("metadata.") and len(value) > len("metadata."):
                required[value.removeprefix("metadata.")] = None
    required.update(rule.when.metadata or {})
    return required


def covers(earlier: When, later: When) -> bool:
    """True when every request matching `later` also matches `earlier` (when blocks only)."""
    return (
        _list_covers(earlier.subjects, later.subjects)
        and _list_covers(earlier.models, later.models)
        and _metadata_covers(dict(earlier.metadata or {}), dict(later.metadata or {}))
    )


def _metadata_covers(earlier: dict[str, str | None], later: dict[str, str | None]) -> bool:
    return all(key in later and (value is None or later[key] == value) for key, value in earlier.items())


def _is_all(values: list[str] | None) -> bool:
    return not values or "*" in values


def _list_covers(earlier: list[str] | None, later: list[str] | None) -> bool:
    if _is_all(earlier):
        return True
    if _is_all(later):
        return False
    return set(later or ()) <= set(earlier or ())


def _shadowed(rules: Sequence[Any], kind: str) -> Iterator[Finding]:
    """First-match configs: a rule covered by an earlier one never applies.

    Candidates come from small indexes (by subject, model, metadata requirement), merged lazily in
    rule order, so 10,000 rules stay fast.
    """
    index_by: dict[str, dict[Any, list[int]]] = {"subjects": {}, "models": {}, "metadata": {}}
    matches_all: dict[str, list[int]] = {"subjects": [], "models": [], "metadata": []}
    requirements = [metadata_requirements(rule) for rule in rules]
    for position, rule in enumerate(rules):
        when: When = rule.when
        needs = requirements[position]
        pools: list[list[list[int]]] = []
        for dimension, values in (("subjects", when.subjects), ("models", when.models)):
            pool = [matches_all[dimension]]
            if not _is_all(values):
                pool.append(index_by[dimension].get((values or [""])[0], []))
            pools.append(pool)
        metadata_pool = [matches_all["metadata"]]
        for key, value in needs.items():
            metadata_pool.append(index_by["metadata"].get((key, None), []))
            if value is not None:
                metadata_pool.append(index_by["metadata"].get((key, value), []))
        pools.append(metadata_pool)
        smallest = min(pools, key=lambda pool: sum(map(len, pool)))
        for candidate in heapq.merge(*smallest):  # ascending: the first covering rule is reported
            earlier = rules[candidate].when
            if (
                _list_covers(earlier.subjects, when.subjects)
                and _list_covers(earlier.models, when.models)
                and _metadata_covers(requirements[candidate], needs)
            ):
                yield finding(
                    "warning",
                    "shadowed-rule",
                    f"{kind} rule '{rule.id}' can never apply: rule '{rules[candidate].id}' "
                    f"(rules[{candidate}]) comes first and matches every request it matches",
                    ("rules", position, "when"),
                    hint="move the more specific rule above the general one",
                )
                break
        for dimension, values in (("subjects", when.subjects), ("models", when.models)):
            if _is_all(values):
                matches_all[dimension].append(position)
            else:
                for value in values or []:
                    index_by[dimension].setdefault(value, []).append(position)
        if not needs:
            matches_all["metadata"].append(position)
        for pair in needs.items():
            index_by["metadata"].setdefault(pair, []).append(position)


def plaintext_secrets(data: Any, loc: Loc = ()) -> Iterator[Finding]:
    """Credentials written inline instead of as secret references (the value itself is never echoed)."""
    if isinstance(data, dict):
        for key, value in data.items():
            child = (*loc, key)
            if (
                key in SECRET_FIELDS
                and isinstance(value, str | dict)
                and not (isinstance(value, str) and value.startswith(SECRET_PREFIX))
            ):
                yield finding(
                    "warning",
                    "plaintext-secret",
                    f"'{key}' holds a plaintext credential: it is stored as written, and reads, dry runs and "
                    "diffs show it as <redacted>",
                    child,
                    hint="store it as a secret and write tfy-secret://<tenant>:<group>:<key> (locally: "
                    "TFY_SECRET_<GROUP>_<KEY> or <data-dir>/secrets.json)",
                )
            else:
                yield from plaintext_secrets(value, child)
    elif isinstance(data, list):
        for index, item in enumerate(data):
            yield from plaintext_secrets(item, (*loc, index))
