"""Migrating examples/rate-limits.yaml and examples/budgets.yaml: V2 manifests that validate, apply to the
gateway, and decide like V1 on generated traffic except for the differences listed, each with its reason."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import yaml

from tests.gateway.inprocess import running_gateway
from tests.helpers import EXAMPLES
from tfy_gateway.policy.equivalence import Difference
from tfy_gateway.policy.migration import MigrationResult, run_migration

REASONS = {"first-match", "excluded", "widened", "counter", "knock-on", "audit"}


async def migrating() -> MigrationResult:
    documents = [yaml.safe_load((EXAMPLES / name).read_text()) for name in ("rate-limits.yaml", "budgets.yaml")]
    return await run_migration(documents)


def migrated() -> MigrationResult:
    return anyio.run(migrating)


def v2_manifests(result: MigrationResult) -> list[dict[str, Any]]:
    return [m for text in (result.rate_limits_yaml, result.budgets_yaml) for m in yaml.safe_load_all(text) if m]


def test_the_examples_migrate_to_valid_v2_manifests_for_every_rule() -> None:
    result = migrated()
    assert result.valid, [f.format() for f in result.findings]
    assert [t.rule_id for t in result.migration.translations] == [
        "team-rpm-limit", "user-daily-limit", "per-project-hourly", "global-fallback",
        "team-monthly-budget", "user-daily-budget", "project-daily-budget",
    ]  # fmt: skip
    assert all(t.manifests for t in result.migration.translations)
    by_name = {m["name"]: m for m in v2_manifests(result)}
    assert by_name["team-monthly-budget-engineering"]["type"] == "team-budget-config"
    # project-daily-budget never decides in V1 (user-daily-budget matches every request first)
    assert by_name["project-daily-budget"]["mode"] == "audit"


def test_every_difference_on_generated_traffic_has_a_reason_naming_the_rules() -> None:
    result = migrated()
    rate_limits, budgets = result.families
    assert rate_limits.report.requests > 1_000 and budgets.report.requests > 100
    # Budgets: V1 budget rules already count against every matching rule, and what V2 excludes comes
    # from counters that never decide: the same outcome for every request.
    assert budgets.report.equivalent, [d.to_dict() for d in budgets.report.differences[:3]]
    differences: list[Difference] = rate_limits.report.differences
    assert differences, "overlapping V1 rate-limit rules cannot all be expressed in V2"
    for difference in differences:
        assert difference.code in REASONS and difference.v1.admitted != difference.v2.admitted
        refusal = difference.v2.refusal or difference.v1.refusal
        assert refusal is not None and f"'{refusal.rule_id}'" in difference.reason
    first_match = [d for d in differences if d.code == "first-match"]
    assert first_match and all(d.v1.admitted and not d.v2.admitted for d in first_match)


async def test_the_migrated_manifests_apply_to_the_gateway(tmp_path: Path) -> None:
    manifests = v2_manifests(await migrating())
    async with running_gateway(tmp_path / "data") as gateway:
        for manifest in manifests:
            await gateway.apply(manifest)
        async with gateway.control_plane() as client:
            live = await client.list_configs("tenant-rate-limit-config/model")
            budgets = await client.list_configs("tenant-budget-config")
    assert {m["name"] for m in live} == {m["name"] for m in manifests if m["type"] == "tenant-rate-limit-config/model"}
    assert {"user-daily-budget", "project-daily-budget"} <= {m["name"] for m in budgets}
