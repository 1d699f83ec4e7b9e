"""Rate-limit and budget intents rendered as V2 manifests: the default, and when asked (`version: "v2"`)."""

from __future__ import annotations

import pytest

from tests.intents.test_render import CATALOG
from tfy_gateway.intents import AlertTarget, BudgetAlerts, BudgetIntent, IntentIncompleteError, RateLimitIntent, render
from tfy_gateway.intents.check import check_intent
from tfy_gateway.manifests import validate_manifest


def test_a_v2_rate_limit_is_a_named_model_limit_with_in_filters() -> None:
    intent = RateLimitIntent(
        subjects=["team:backend", "user:bob@example.com"],
        models=["openai-main/gpt-4o"],
        limit=20_000,
        unit="tokens_per_minute",
        applies_per=["team"],
        version="v2",
    )
    manifest = render(intent, current_config={"name": "live", "type": "gateway-rate-limiting-config", "rules": []})
    assert manifest == {
        "name": manifest["name"],
        "type": "tenant-rate-limit-config/model",
        "when": {
            "subjects": {"teams": {"in": ["backend"]}, "users": {"in": ["bob@example.com"]}},
            "models": {"in": ["openai-main/gpt-4o"]},
        },
        "limits": {"tokens_per_minute": 20_000},
        "applies_to": {"type": "per-team"},
        "mode": "enforce",
    }
    assert [f for f in validate_manifest(manifest, CATALOG) if f.severity == "error"] == []


def test_a_v2_budget_per_user_with_alerts_validates() -> None:
    intent = BudgetIntent(
        subjects=["*"],
        limit=100,
        unit="cost_per_day",
        applies_per=["user"],
        alerts=BudgetAlerts(to_emails=["lead@example.com"], notification_channel="budget-alerts"),
        audit_mode=True,
        version="v2",
    )
    manifest = render(intent)
    assert manifest["type"] == "tenant-budget-config" and "when" not in manifest
    assert manifest["limits"] == {"cost_per_day": 100} and manifest["applies_to"] == {"type": "per-user"}
    assert manifest["mode"] == "audit"
    assert manifest["alerts"]["notification_target"][0]["to_emails"] == ["lead@example.com"]
    assert [f for f in validate_manifest(manifest, CATALOG) if f.severity == "error"] == []


@pytest.mark.parametrize(
    ("intent", "field"),
    [
        (BudgetIntent(subjects=["*"], limit=5, unit="tokens_per_day", applies_per=[], version="v2"), "unit"),
        (BudgetIntent(subjects=["*"], limit=5, unit="cost_per_day", applies_per=["team"], version="v2"), "applies_per"),
        (
            RateLimitIntent(
                subjects=["*"], limit=5, unit="requests_per_minute", applies_per=["user", "model"], version="v2"
            ),
            "applies_per",
        ),
    ],
)
def test_what_v2_cannot_express_is_asked_not_guessed(intent: BudgetIntent | RateLimitIntent, field: str) -> None:
    check = check_intent(intent)
    assert not check.complete and [q.field for q in check.questions] == [field]
    with pytest.raises(IntentIncompleteError):
        render(intent)


def test_v2_is_the_default_and_v1_is_there_on_request() -> None:
    intent = RateLimitIntent(subjects=["*"], limit=5, unit="requests_per_minute", applies_per=[])
    (version,) = [d for d in check_intent(intent).defaults if d.field == "version"]
    assert version.value == "v2" and "version=v1" in version.note
    assert "2026-12-15" in version.note and "tfy-gateway migrate limits" in version.note
    assert render(intent)["type"] == "tenant-rate-limit-config/model"
    v1 = intent.model_copy(update={"version": "v1"})
    assert render(v1)["type"] == "gateway-rate-limiting-config"
    assert render(BudgetIntent(subjects=["*"], limit=5, unit="cost_per_day", applies_per=[]))["type"] == (
        "tenant-budget-config"
    )


def test_a_token_budget_stays_v1_which_alone_can_express_it() -> None:
    intent = BudgetIntent(subjects=["*"], limit=5000, unit="tokens_per_day", applies_per=[])
    check = check_intent(intent)
    assert check.complete and [d.value for d in check.defaults if d.field == "version"] == ["v1"]
    assert render(intent)["type"] == "gateway-budget-config"


def test_what_v2_cannot_express_by_default_is_asked_with_v1_offered() -> None:
    intent = RateLimitIntent(subjects=["*"], limit=5, unit="requests_per_minute", applies_per=["user", "model"])
    check = check_intent(intent)
    assert [q.field for q in check.questions] == ["applies_per"] and "version=v1" in check.questions[0].question


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_budget_alerts_reach_every_kind_of_target_the_platform_has(version: str) -> None:
    alerts = BudgetAlerts(
        to_emails=["lead@example.com"],
        notification_channel="budget-alerts",
        targets=[
            AlertTarget(type="slack-webhook", notification_channel="slack-hook"),
            AlertTarget(type="slack-bot", notification_channel="slack-bot", channels=["#finops"]),
            AlertTarget(type="pagerduty", notification_channel="pd"),
            AlertTarget(type="ms-teams-webhook", notification_channel="teams"),
            AlertTarget(type="email", notification_channel="more", to_emails=["cfo@example.com"]),
        ],
    )
    intent = BudgetIntent(subjects=["*"], limit=5, unit="cost_per_day", applies_per=[], alerts=alerts, version=version)
    manifest = render(intent)
    alerting = manifest["rules"][0]["alerts"] if version == "v1" else manifest["alerts"]
    assert [t["type"] for t in alerting["notification_target"]] == [
        "email", "slack-webhook", "slack-bot", "pagerduty", "ms-teams-webhook", "email",
    ]  # fmt: skip
    assert alerting["notification_target"][2]["channels"] == ["#finops"]
    assert [f for f in validate_manifest(manifest, CATALOG) if f.severity == "error"] == []


def test_an_alert_target_missing_what_its_type_needs_is_asked() -> None:
    alerts = BudgetAlerts(targets=[AlertTarget(type="slack-bot"), AlertTarget(type="email", notification_channel="c")])
    check = check_intent(BudgetIntent(subjects=["*"], limit=5, unit="cost_per_day", applies_per=[], alerts=alerts))
    assert [q.field for q in check.questions] == [
        "alerts.targets[0].notification_channel",
        "alerts.targets[0].channels",
        "alerts.targets[1].to_emails",
    ]
    nothing = check_intent(BudgetIntent(subjects=["*"], limit=5, unit="cost_per_day", alerts=BudgetAlerts()))
    assert "alerts.targets" in [q.field for q in nothing.questions]
