"""One migration run: find the V1 configs, translate them, validate the V2 manifests, prove them by replay.

Shared by `tfy-gateway migrate limits` and the MCP tool `gateway_migrate_limits`. The equivalence
check runs per family (V1 rate limits against their V2 limits, V1 budgets against theirs), each on
recorded traffic when logs are given, else on traffic generated from that family's rules.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from tfy_gateway.manifests import Finding, load_text, validate_documents
from tfy_gateway.manifests.limits import BudgetConfig, RateLimitConfig
from tfy_gateway.policy.clock import DEFAULT_START
from tfy_gateway.policy.config import PolicyConfig, compile_manifests
from tfy_gateway.policy.equivalence import EquivalenceReport, compare
from tfy_gateway.policy.generate import GeneratedTraffic, shapes
from tfy_gateway.policy.migrate import Migration, Strategy, migrate
from tfy_gateway.policy.traffic import SimRequest

RATE_LIMITS_V1 = "gateway-rate-limiting-config"
BUDGETS_V1 = "gateway-budget-config"
HEADER = (
    "# Written by `tfy-gateway migrate limits` from {source} ({strategy} strategy).\n"
    "# Every note on a rule, and every request whose outcome differs from V1, is in the migration report.\n"
)


class NothingToMigrate(ValueError):
    """No V1 rate-limit or budget config among the manifests."""


@dataclass
class FamilyResult:
    family: str  # "rate limits" | "budgets"
    v1_type: str
    report: EquivalenceReport
    shapes: int = 0  # generated request shapes (0: recorded traffic)


@dataclass
class MigrationResult:
    migration: Migration
    rate_limits_yaml: str
    budgets_yaml: str
    findings: list[Finding] = field(default_factory=list)
    families: list[FamilyResult] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return not any(f.severity == "error" for f in self.findings)

    @property
    def differences(self) -> int:
        return sum(len(f.report.differences) for f in self.families)

    def to_dict(self) -> dict[str, Any]:
        return {
            "strategy": self.migration.strategy,
            "valid": self.valid,
            "findings": [f.to_dict() for f in self.findings],
            "rules": [t.to_dict() for t in self.migration.translations],
            "equivalence": [{"family": f.family, "shapes": f.shapes, **f.report.to_dict()} for f in self.families],
        }


async def run_migration(
    manifests: Sequence[Mapping[str, Any]],
    *,
    strategy: Strategy = "exclusive",
    recorded: Sequence[SimRequest] | None = None,
    audit: bool = False,
    teams: Sequence[str] = (),
    source: str = "the V1 manifests",
) -> MigrationResult:
    """Translate the V1 configs among `manifests` (team manifests there give teams their members)."""
    rate_limits = _one(manifests, RATE_LIMITS_V1, RateLimitConfig)
    budgets = _one(manifests, BUDGETS_V1, BudgetConfig)
    if rate_limits is None and budgets is None:
        raise NothingToMigrate(f"no {RATE_LIMITS_V1} or {BUDGETS_V1} among the manifests given")
    others = [m for m in manifests if m.get("type") not in (RATE_LIMITS_V1, BUDGETS_V1)]
    team_names = sorted({*teams, *(str(m["name"]) for m in others if m.get("type") == "team" and m.get("name"))})
    migration = migrate(rate_limits, budgets, strategy=strategy, teams=team_names, audit=audit)
    header = HEADER.format(source=source, strategy=strategy)
    result = MigrationResult(
        migration,
        _dump(header, migration.rate_limits),
        _dump(header, migration.budgets),
    )
    documents = [
        document
        for text, file in ((result.rate_limits_yaml, "rate-limits-v2.yaml"), (result.budgets_yaml, "budgets-v2.yaml"))
        if text
        for document in load_text(text, file)
    ]
    result.findings = validate_documents([d for d in documents if d.data])
    for family, v1_type, config in (("rate limits", RATE_LIMITS_V1, rate_limits), ("budgets", BUDGETS_V1, budgets)):
        if config is None:
            continue
        v1_manifests = [*others, next(m for m in manifests if m.get("type") == v1_type)]
        v2_manifests = migration.rate_limits if family == "rate limits" else migration.budgets
        if family == "budgets":  # token budgets become V2 rate limits
            v2_manifests = [*v2_manifests, *_from_budgets(migration)]
        else:
            v2_manifests = [m for m in v2_manifests if m["name"] in _rate_limit_names(migration)]
        result.families.append(
            await _prove(family, v1_type, v1_manifests, [*others, *v2_manifests], migration, recorded, config)
        )
    return result


async def _prove(
    family: str,
    v1_type: str,
    v1_manifests: list[Mapping[str, Any]],
    v2_manifests: list[Mapping[str, Any]],
    migration: Migration,
    recorded: Sequence[SimRequest] | None,
    config: RateLimitConfig | BudgetConfig,
) -> FamilyResult:
    v1 = compile_manifests(v1_manifests)
    v2 = compile_manifests(v2_manifests)
    if recorded:
        report = await _compare(v1, v2, recorded, migration, "recorded", recorded[0].at, None)
        return FamilyResult(family, v1_type, report)
    rate_limits = config if isinstance(config, RateLimitConfig) else None
    budgets = config if isinstance(config, BudgetConfig) else None
    found = shapes(rate_limits, budgets, v1)
    traffic = GeneratedTraffic(found, v1.compiled.limits, v1, DEFAULT_START)
    report = await _compare(v1, v2, traffic, migration, "generated", DEFAULT_START, traffic.observe)
    return FamilyResult(family, v1_type, report, len(found))


async def _compare(
    v1: PolicyConfig,
    v2: PolicyConfig,
    traffic: Iterable[SimRequest],
    migration: Migration,
    source: str,
    start: float,
    observe: Any,
) -> EquivalenceReport:
    return await compare(
        v1.compiled.limits, v2.compiled.limits, traffic, v1, migration, source=source, start=start, observe=observe
    )


def _rate_limit_names(migration: Migration) -> set[str]:
    return {name for t in migration.translations if t.kind == "rate_limit" for name in t.names}


def _from_budgets(migration: Migration) -> list[dict[str, Any]]:
    """V2 rate limits written for V1 token budgets."""
    names = {name for t in migration.translations if t.kind == "budget" for name in t.names}
    return [m for m in migration.rate_limits if m["name"] in names]


def _one(manifests: Sequence[Mapping[str, Any]], kind: str, model: Any) -> Any:
    found = [m for m in manifests if m.get("type") == kind]
    return model.model_validate(dict(found[-1])) if found else None


def _dump(header: str, manifests: list[dict[str, Any]]) -> str:
    if not manifests:
        return ""
    body = yaml.safe_dump_all(manifests, sort_keys=False, default_flow_style=None, width=110)
    return header + body
