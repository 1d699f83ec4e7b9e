"""check_intent: one question per gap, recommended option first, defaults reported, never guessed."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from tfy_gateway.intents import (
    BudgetAlerts,
    BudgetIntent,
    ProviderAccountIntent,
    ProviderModel,
    RateLimitIntent,
    RouteIntent,
    RouteTarget,
    StickyOptions,
    VirtualAccountIntent,
    check_intent,
    parse_intent,
)

CATALOG = ["openai-main/gpt-4o", "azure-backup/gpt-4o", "openai-main/gpt-4o-mini"]


def fields(check) -> list[str]:
    return [q.field for q in check.questions]


def test_empty_route_asks_for_model_targets_and_strategy():
    check = check_intent(RouteIntent())
    assert not check.complete
    assert fields(check) == ["model", "targets", "strategy"]
    assert check.next_question == check.questions[0].question
    strategy = check.questions[2]
    assert strategy.options[0] == "weight" and strategy.recommended == "weight"
    assert strategy.question.index("weights (recommended)") < strategy.question.index("latency")


def test_complete_weighted_route_reports_defaults_instead_of_guessing():
    intent = RouteIntent(
        model="openai/gpt-4o",
        targets=[
            RouteTarget(target="openai-main/gpt-4o", weight=70),
            RouteTarget(target="azure-backup/gpt-4o", weight=30),
        ],
    )
    check = check_intent(intent, CATALOG)
    assert check.complete and check.next_question is None and check.catalog_checked
    defaults = {d.field: d.value for d in check.defaults}
    assert defaults["strategy"] == "weight"
    assert defaults["subjects"] == ["*"]
    assert defaults["fallback_status_codes"] == ["401", "403", "404", "429", "500", "502", "503"]
    assert defaults["rule_id"] == "route-openai-gpt-4o"


def test_partial_weights_get_a_recommended_split():
    intent = RouteIntent(
        model="gpt-4o",
        targets=[
            RouteTarget(target="openai-main/gpt-4o"),
            RouteTarget(target="azure-backup/gpt-4o", weight=30),
        ],
    )
    check = check_intent(intent, CATALOG)
    assert fields(check) == ["targets[0].weight"]
    assert check.questions[0].recommended == [70, 30]
    assert "70/30 (recommended)" in check.next_question


def test_weights_not_adding_to_100_are_invalid_with_a_normalised_proposal():
    intent = RouteIntent(
        model="m",
        targets=[
            RouteTarget(target="openai-main/gpt-4o", weight=60),
            RouteTarget(target="azure-backup/gpt-4o", weight=60),
        ],
    )
    question = check_intent(intent, CATALOG).questions[0]
    assert question.reason == "invalid" and question.recommended == [50, 50]
    assert "120" in question.question


def test_ambiguous_bare_model_name_lists_candidates():
    intent = RouteIntent(model="gpt-4o", strategy="priority", targets=[RouteTarget(target="gpt-4o")])
    question = check_intent(intent, CATALOG).questions[0]
    assert question.reason == "ambiguous"
    assert set(question.options) == {"openai-main/gpt-4o", "azure-backup/gpt-4o"}
    assert question.recommended in question.options


def test_unknown_model_is_invalid_and_lists_known_ones():
    intent = RateLimitIntent(
        subjects=["team:backend"], models=["nope/model"], limit=5, unit="requests_per_minute", applies_per=[]
    )
    question = check_intent(intent, CATALOG).questions[0]
    assert question.field == "models[0]" and question.reason == "invalid"
    assert "openai-main/gpt-4o" in question.question


def test_without_catalog_only_the_id_shape_is_checked():
    intent = RouteIntent(model="x", targets=[RouteTarget(target="gpt-4o")])
    check = check_intent(intent)
    assert not check.catalog_checked
    assert check.questions[0].field == "targets[0]" and "openai-main/gpt-4o" in check.questions[0].question


def test_sticky_needs_weight_routing():
    intent = RouteIntent(
        model="m",
        strategy="latency",
        targets=[RouteTarget(target="openai-main/gpt-4o")],
        sticky=StickyOptions(key="k"),
    )
    assert "sticky" in fields(check_intent(intent, CATALOG))


def test_rate_limit_on_a_team_asks_shared_or_per_user_shared_first():
    intent = RateLimitIntent(subjects=["team:backend"], limit=20000, unit="tokens_per_minute")
    check = check_intent(intent)
    assert fields(check) == ["applies_per"]
    question = check.questions[0]
    assert question.reason == "ambiguous" and question.recommended == [] and question.options[0] == []
    assert question.question.startswith("Should this be one limit shared by team:backend (recommended)")


def test_rate_limit_for_everyone_recommends_per_user():
    question = check_intent(RateLimitIntent(subjects=["*"], limit=5, unit="requests_per_minute")).questions[0]
    assert question.recommended == ["user"]
    assert "separate limit for each user (recommended)" in question.question


def test_rate_limit_missing_subjects_and_unit():
    check = check_intent(RateLimitIntent(limit=10))
    assert fields(check) == ["subjects", "unit"]
    assert check.questions[0].recommended == ["*"]
    assert check.questions[1].options[0] == "requests_per_minute"


def test_bad_subject_and_applies_per_are_invalid():
    intent = RateLimitIntent(
        subjects=["backend"], limit=1, unit="requests_per_day", applies_per=["team", "x", "y"], version="v1"
    )
    check = check_intent(intent)
    assert set(fields(check)) == {
        "subjects[0]",
        "applies_per",
        "applies_per[0]",
        "applies_per[1]",
        "applies_per[2]",
    }
    assert check.questions[0].recommended == "team:backend"


def test_budget_per_user_with_alerts():
    intent = BudgetIntent(
        subjects=["*"],
        applies_per=["user"],
        limit=100,
        unit="cost_per_day",
        alerts=BudgetAlerts(to_emails=["ops@example.com"]),
    )
    check = check_intent(intent)
    assert fields(check) == ["alerts.notification_channel"]
    defaults = {d.field: d.value for d in check.defaults}
    assert defaults["alerts.thresholds"] == [75, 90, 100] and defaults["audit_mode"] is False


def test_budget_unit_question_recommends_monthly():
    check = check_intent(BudgetIntent(subjects=["team:ml"], limit=500, applies_per=[]))
    assert fields(check) == ["unit"] and check.questions[0].recommended == "cost_per_month"


def test_provider_account_refuses_raw_keys_without_echoing_them():
    raw = "sk-live-abcdefghijklmnopqrstuvwxyz"
    intent = ProviderAccountIntent(
        provider="openai", name="openai-main", models=[ProviderModel(name="gpt-4o")], secret=raw
    )
    check = check_intent(intent)
    assert fields(check) == ["secret"] and check.questions[0].reason == "invalid"
    assert raw not in check.model_dump_json()


def test_provider_account_azure_needs_endpoint_and_api_version():
    intent = ProviderAccountIntent(
        provider="azure-openai",
        name="azure-backup",
        secret="tfy-secret://t:g:k",
        models=[ProviderModel(name="gpt-4o")],
    )
    assert fields(check_intent(intent)) == ["azure_endpoint", "models[0].api_version"]


def test_provider_account_missing_everything_recommends_openai_first():
    check = check_intent(ProviderAccountIntent())
    assert fields(check) == ["provider", "name", "models", "secret"]
    assert check.questions[0].options[0] == "openai" and check.questions[1].recommended == "openai-main"


def test_virtual_account_name_and_models():
    check = check_intent(VirtualAccountIntent(name="CI Bot!", models=["gpt-4o-mini"]), CATALOG)
    assert fields(check) == ["name", "models[0]"]
    assert check.questions[0].recommended == "ci-bot"
    assert check.questions[1].recommended == "openai-main/gpt-4o-mini"


def test_parse_intent_discriminates_on_kind_and_rejects_unknown_fields():
    assert isinstance(parse_intent({"kind": "budget", "limit": 5}), BudgetIntent)
    with pytest.raises(ValidationError):
        parse_intent({"kind": "route", "modle": "x"})
    with pytest.raises(ValidationError):
        parse_intent({"kind": "teleport"})
