"""V1 -> V2 translation and its proof: each case runs the migration and replays generated traffic
against the gateway's own limiter, V1 on one side, the V2 manifests on the other."""

from __future__ import annotations

from functools import partial
from typing import Any

import anyio
import yaml

from tfy_gateway.manifests import has_errors, load_text, validate_documents
from tfy_gateway.policy.generate import BURSTS
from tfy_gateway.policy.migration import MigrationResult
from tfy_gateway.policy.migration import run_migration as run_async


def run_migration(manifests: list[dict[str, Any]], **options: Any) -> MigrationResult:
    return anyio.run(partial(run_async, manifests, **options))


def rate_limits(*rules: dict[str, Any]) -> dict[str, Any]:
    return {"name": "limits", "type": "gateway-rate-limiting-config", "rules": list(rules)}


def budgets(*rules: dict[str, Any]) -> dict[str, Any]:
    return {"name": "budgets", "type": "gateway-budget-config", "rules": list(rules)}


def rule(rule_id: str, limit: float, unit: str = "requests_per_minute", **extra: Any) -> dict[str, Any]:
    return {"id": rule_id, "when": extra.pop("when", {}), "limit_to": limit, "unit": unit, **extra}


def notes(result: MigrationResult, rule_id: str) -> list[tuple[str, bool]]:
    (translation,) = [t for t in result.migration.translations if t.rule_id == rule_id]
    return [(note.code, note.exact) for note in translation.notes]


def manifests(result: MigrationResult) -> list[dict[str, Any]]:
    return [m for text in (result.rate_limits_yaml, result.budgets_yaml) for m in yaml.safe_load_all(text) if m]


VIP_ABOVE_DEFAULT = rate_limits(
    rule("vip", 100, when={"subjects": ["user:vip@example.com"]}),
    rule("default", 10, rate_limit_applies_per=["user"]),
)


def test_an_exception_above_a_per_user_default_migrates_exactly_with_not_in() -> None:
    result = run_migration([VIP_ABOVE_DEFAULT])
    default = next(m for m in manifests(result) if m["name"] == "default")
    assert default["when"] == {"subjects": {"users": {"not_in": ["vip@example.com"]}}}
    assert default["applies_to"] == {"type": "per-user"}
    assert result.migration.translations[1].names == ["default", "default-virtual-accounts"]
    (family,) = result.families
    assert family.report.requests > 200 and family.report.equivalent, family.report.to_dict()["differences"][:3]


def test_overlap_keeps_the_v1_when_and_reports_each_request_v2_now_refuses() -> None:
    result = run_migration([VIP_ABOVE_DEFAULT], strategy="overlap")
    default = next(m for m in manifests(result) if m["name"] == "default")
    assert "when" not in default
    assert ("overlap", False) in notes(result, "default")
    report = result.families[0].report
    # vip is allowed 100 a minute by V1's first match; V2 also applies the default's 10 to it.
    assert {
        (d.code, d.request.caller, d.v1.admitted, d.v2.refusal and d.v2.refusal.rule_id) for d in report.differences
    } == {("first-match", "user:vip@example.com", True, "default")}
    assert len(report.differences) == 90 * len(BURSTS)
    assert all("'vip'" in d.reason and "'default' was exhausted" in d.reason for d in report.differences)


def test_a_rule_an_earlier_rule_always_decides_is_migrated_in_audit_mode() -> None:
    config = rate_limits(rule("all", 5), rule("never-decides", 1, when={"models": ["m/a"]}))
    result = run_migration([config])
    shadowed = next(m for m in manifests(result) if m["name"] == "never-decides")
    assert shadowed["mode"] == "audit" and shadowed["when"] == {"models": {"in": ["m/a"]}}
    assert notes(result, "never-decides") == [("shadowed", False)]
    assert result.families[0].report.equivalent


def test_subjects_of_two_kinds_split_a_shared_counter_and_the_report_shows_what_that_lets_through() -> None:
    config = rate_limits(rule("pair", 10, when={"subjects": ["user:a@example.com", "team:research"]}))
    result = run_migration([config])
    assert [m["name"] for m in manifests(result)] == ["pair-part-1", "pair-part-2"]
    assert ("split-counter", False) in notes(result, "pair")
    report = result.families[0].report
    # V1: a and research's members share 10 a minute; V2 gives each part its own 10.
    assert report.differences and {d.code for d in report.differences} <= {"counter", "knock-on"}
    assert all(
        d.v1.refusal is not None and d.v1.refusal.rule_id == "pair" and d.v2.admitted for d in report.differences
    )


def test_two_counter_dimensions_keep_one_unless_the_other_is_fixed_by_the_rule() -> None:
    fixed = rate_limits(rule("one-model", 10, when={"models": ["m/a"]}, rate_limit_applies_per=["user", "model"]))
    result = run_migration([fixed])
    assert manifests(result)[0]["applies_to"] == {"type": "per-user"}
    assert ("dimension", True) in notes(result, "one-model")
    loose = rate_limits(rule("any-model", 10, rate_limit_applies_per=["user", "model"]))
    result = run_migration([loose])
    assert ("dimension", False) in notes(result, "any-model")
    assert manifests(result)[0]["applies_to"] == {"type": "per-user"}


def test_budgets_map_to_tenant_and_team_budgets_with_alerts_modes_and_token_limits() -> None:
    config = budgets(
        rule("team-cap", 50, "cost_per_month", when={"subjects": ["team:eng"]}, budget_applies_per=["team"],
             alerts={"thresholds": [80], "notification_target": [{"type": "slack-webhook", "notification_channel": "c"}]}),
        rule("watch", 5, "cost_per_day", audit_mode=True, budget_applies_per=["metadata.project"]),
        rule("tokens", 9000, "tokens_per_month", budget_applies_per=["user"]),
    )  # fmt: skip
    result = run_migration([config])
    by_name = {m["name"]: m for m in manifests(result)}
    team = by_name["team-cap-eng"]
    assert team["type"] == "team-budget-config" and team["team_name"] == "eng"
    assert team["alerts"] == {
        "thresholds": [80],
        "notification_target": [{"type": "slack-webhook", "notification_channel": "c"}],
    }
    watch = by_name["watch"]
    assert watch["mode"] == "audit" and watch["applies_to"] == {"type": "metadata", "metadata": "project"}
    tokens = by_name["tokens"]
    assert tokens["type"] == "tenant-rate-limit-config/model" and tokens["limits"] == {"tokens_per_day": 300}
    assert tokens["mode"] == "audit" and ("no-equivalent", False) in notes(result, "tokens")
    assert result.valid, [f.format() for f in result.findings]


def test_audit_writes_every_limit_in_audit_mode() -> None:
    result = run_migration([VIP_ABOVE_DEFAULT], audit=True)
    assert {m["mode"] for m in manifests(result)} == {"audit"}


def test_the_written_yaml_is_what_validates() -> None:
    result = run_migration([VIP_ABOVE_DEFAULT])
    documents = load_text(result.rate_limits_yaml)
    assert not has_errors(validate_documents(documents))
    assert result.rate_limits_yaml.startswith("# Written by `tfy-gateway migrate limits`")
