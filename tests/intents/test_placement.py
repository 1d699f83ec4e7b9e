"""Intents against the live config: a route changes the rule that already routes its model, or goes
before a broader one; recommendations keep the user's numbers; limits accept the names clients send."""

from __future__ import annotations

import pytest

from tfy_gateway.intents import BudgetIntent, RateLimitIntent, RouteIntent, RouteTarget, check_intent, render
from tfy_gateway.platform import RuleNotFoundError, merge_rule

CATALOG = ["openai-main/gpt-4o", "azure-backup/gpt-4o", "openai-main/gpt-4o-mini", "router/smart"]
ALIAS = "openai/gpt-4o"


def rule(rule_id: str, models: list[str], targets: list[tuple[str, int]], subjects: list[str] | None = None) -> dict:
    return {
        "id": rule_id,
        "type": "weight-based-routing",
        "when": {"subjects": subjects or ["*"], "models": models},
        "load_balance_targets": [{"target": t, "weight": w} for t, w in targets],
    }


def routing(*rules: dict) -> dict:
    return {"name": "routing", "type": "gateway-load-balancing-config", "rules": list(rules)}


LIVE = routing(
    rule("gpt4o", [ALIAS], [("openai-main/gpt-4o", 100)]), rule("mini", ["m"], [("openai-main/gpt-4o", 100)])
)


def thirty_percent(**extra) -> RouteIntent:
    return RouteIntent(model=ALIAS, targets=[RouteTarget(target="azure-backup/gpt-4o", weight=30)], **extra)


def test_thirty_percent_asks_where_the_rest_goes_recommending_the_live_target():
    check = check_intent(thirty_percent(), CATALOG, routing=LIVE)
    question = check.questions[0]
    assert not check.complete and check.routing_checked
    assert question.field == "targets" and question.reason == "missing"
    assert "other 70% of 'openai/gpt-4o'" in question.question
    assert "openai-main/gpt-4o (where it goes now, recommended)" in question.question
    assert question.recommended == [
        {"target": "azure-backup/gpt-4o", "weight": 30},
        {"target": "openai-main/gpt-4o", "weight": 70},
    ]


def test_the_rest_follows_the_live_rules_proportions():
    live = routing(rule("gpt4o", [ALIAS], [("openai-main/gpt-4o", 75), ("openai-main/gpt-4o-mini", 25)]))
    question = check_intent(thirty_percent(), CATALOG, routing=live).questions[0]
    assert question.recommended[1:] == [
        {"target": "openai-main/gpt-4o", "weight": 53},
        {"target": "openai-main/gpt-4o-mini", "weight": 17},
    ]


def test_without_a_live_rule_nothing_is_recommended_but_same_named_models_are_offered():
    question = check_intent(thirty_percent(), CATALOG, routing=routing()).questions[0]
    assert question.recommended is None
    assert question.options == [
        [{"target": "azure-backup/gpt-4o", "weight": 30}, {"target": "openai-main/gpt-4o", "weight": 70}]
    ]
    assert "which" not in question.question and "'openai-main/gpt-4o'" in question.question


def test_a_catalog_model_called_directly_keeps_the_rest():
    intent = RouteIntent(model="openai-main/gpt-4o", targets=[RouteTarget(target="azure-backup/gpt-4o", weight=30)])
    question = check_intent(intent, CATALOG, routing=None).questions[0]
    assert question.recommended[1] == {"target": "openai-main/gpt-4o", "weight": 70}


def test_a_route_for_a_routed_model_changes_that_rule_in_place():
    intent = RouteIntent(
        model=ALIAS,
        targets=[
            RouteTarget(target="azure-backup/gpt-4o", weight=30),
            RouteTarget(target="openai-main/gpt-4o", weight=70),
        ],
    )
    check = check_intent(intent, CATALOG, routing=LIVE)
    default = next(d for d in check.defaults if d.field == "rule_id")
    assert check.complete and default.value == "gpt4o" and "changes the live rule 'gpt4o'" in default.note
    merged = render(intent, LIVE)
    assert [r["id"] for r in merged["rules"]] == ["gpt4o", "mini"]
    assert [t["weight"] for t in merged["rules"][0]["load_balance_targets"]] == [30, 70]


def test_a_narrower_route_goes_before_the_broader_rule_and_says_so():
    live = routing(rule("all-models", ["*"], [("openai-main/gpt-4o", 100)]), rule("mini", ["m"], [("x/y", 100)]))
    live["rules"][0]["when"] = {}
    intent = RouteIntent(
        model=ALIAS, subjects=["team:backend"], targets=[RouteTarget(target="azure-backup/gpt-4o", weight=100)]
    )
    check = check_intent(intent, CATALOG, routing=live)
    default = next(d for d in check.defaults if d.field == "rule_id")
    assert default.value == "route-openai-gpt-4o" and "placed before the live rule 'all-models'" in default.note
    merged = render(intent, live)
    assert [r["id"] for r in merged["rules"]] == ["route-openai-gpt-4o", "all-models", "mini"]


def test_a_route_for_other_subjects_does_not_touch_the_rule_of_everyone_else():
    live = routing(rule("backend", [ALIAS], [("openai-main/gpt-4o", 100)], ["team:backend"]))
    intent = RouteIntent(model=ALIAS, targets=[RouteTarget(target="azure-backup/gpt-4o", weight=100)])
    merged = render(intent, live)
    assert [r["id"] for r in merged["rules"]] == ["backend", "route-openai-gpt-4o"]


def test_merge_rule_before_an_unknown_id_names_the_existing_ones():
    with pytest.raises(RuleNotFoundError, match="'gpt4o', 'mini'"):
        merge_rule(LIVE, rule("new", ["x"], [("a/b", 100)]), config_type=LIVE["type"], name="r", before="nope")


@pytest.mark.parametrize("kind", [RateLimitIntent, BudgetIntent])
def test_limits_accept_routed_aliases_and_virtual_models(kind):
    intent = kind(subjects=["*"], models=[ALIAS, "router/smart"], limit=5, applies_per=[])
    check = check_intent(intent, CATALOG, routing=LIVE)
    assert not [q for q in check.questions if q.field.startswith("models")]


def test_a_bare_name_recommends_the_alias_clients_send():
    intent = RateLimitIntent(subjects=["team:backend"], models=["gpt-4o"], limit=20000, applies_per=[])
    question = check_intent(intent, CATALOG, routing=LIVE).questions[0]
    assert question.field == "models[0]" and question.options[0] == ALIAS and question.recommended == ALIAS
    assert "routed alias clients send" in question.question


def test_an_unknown_name_recommends_a_close_match_or_nothing_never_the_first_sorted():
    near = RateLimitIntent(subjects=["*"], models=["openai/gpt4o"], limit=5, applies_per=[])
    question = check_intent(near, CATALOG, routing=LIVE).questions[0]
    assert question.recommended == ALIAS and "Did you mean 'openai/gpt-4o'" in question.question
    far = RateLimitIntent(subjects=["*"], models=["llama-70b"], limit=5, applies_per=[])
    question = check_intent(far, CATALOG, routing=LIVE).questions[0]
    assert question.recommended is None and question.reason == "invalid"
