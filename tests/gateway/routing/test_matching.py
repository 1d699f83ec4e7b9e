"""Rule selection: first match on `when`, `*`, metadata, per-target `metadata_match`, virtual models."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.gateway.routing.conftest import RouterUnderTest, request
from tfy_gateway.gateway.routing import Router

A, B, C = "openai-main/gpt-4o", "azure-backup/gpt-4o", "anthropic-main/claude-sonnet"


def rule(rule_id: str, when: dict[str, Any], *targets: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": rule_id,
        "type": "priority-based-routing",
        "when": when,
        "load_balance_targets": list(targets) or [{"target": A}],
    }


def config(*rules: dict[str, Any]) -> dict[str, Any]:
    return {"name": "routing", "type": "gateway-load-balancing-config", "rules": list(rules)}


@pytest.fixture
def router(make_router: Callable[..., RouterUnderTest]) -> Router:
    return make_router(
        config(
            rule("team-gold", {"subjects": ["team:ml"], "models": ["m"], "metadata": {"tier": "gold"}}, {"target": C}),
            rule("alice", {"subjects": ["user:alice@x", "user:bob@x"], "models": ["m", "n"]}, {"target": B}),
            rule("catch-all", {}, {"target": A}),
        )
    )


def test_first_matching_rule_wins(router: Router) -> None:
    gold = request("m", "user:x@x", "team:ml", metadata={"tier": "gold"})
    assert router.plan(gold).rule_id == "team-gold"
    assert router.plan(request("m", "user:alice@x", "team:ml")).rule_id == "alice", "metadata missing: AND fails"
    assert router.plan(request("n", "user:bob@x")).rule_id == "alice", "lists are OR-ed"
    assert router.plan(request("o", "user:bob@x")).rule_id == "catch-all", "empty when matches all"
    assert router.plan(request("m", "user:carol@x", metadata={"tier": "silver"})).rule_id == "catch-all"


def test_star_and_no_rules(make_router: Callable[..., RouterUnderTest]) -> None:
    router = make_router(config(rule("star", {"subjects": ["*"], "models": ["*"]}, {"target": B})))
    assert router.plan(request("whatever", "virtualaccount:ci")).attempts[0].target == B
    bare = make_router()
    plan = bare.plan(request("x/y"))
    assert (plan.rule_id, [a.target for a in plan.attempts], plan.attempts[0].retry.attempts) == (None, ["x/y"], 0)


def test_metadata_match_filters_targets(make_router: Callable[..., RouterUnderTest]) -> None:
    router = make_router(
        config(
            {
                "id": "by-env",
                "type": "weight-based-routing",
                "when": {"models": ["m"]},
                "load_balance_targets": [
                    {"target": A, "weight": 50, "metadata_match": {"env": "prod"}},
                    {"target": B, "weight": 50, "metadata_match": {"env": "staging"}},
                    {"target": C, "weight": 0},
                ],
            },
            rule("fallthrough", {"models": ["m"]}, {"target": C}),
        )
    )
    prod = request("m", metadata={"env": "prod"})
    assert {tuple(a.target for a in router.plan(prod).attempts) for _ in range(50)} == {(A, C)}
    staging = request("m", metadata={"env": "staging"})
    assert {router.plan(staging).attempts[0].target for _ in range(50)} == {B}
    # No env: only C (weight 0) fits, so it serves: a zero weight is still a valid last resort.
    assert router.plan(request("m")).attempts[0].target == C


def test_a_rule_whose_targets_all_fail_metadata_match_is_skipped(make_router: Callable[..., RouterUnderTest]) -> None:
    router = make_router(
        config(
            rule("prod-only", {"models": ["m"]}, {"target": A, "metadata_match": {"env": "prod"}}),
            rule("others", {"models": ["m"]}, {"target": B}),
        )
    )
    assert router.plan(request("m", metadata={"env": "prod"})).rule_id == "prod-only"
    assert router.plan(request("m", metadata={"env": "dev"})).rule_id == "others"


def test_recompiling_swaps_rules(make_router: Callable[..., RouterUnderTest]) -> None:
    from tests.gateway.routing.conftest import example, snapshot_of

    router = make_router(config(rule("one", {"models": ["m"]}, {"target": A})))
    assert router.plan(request("m")).rule_id == "one"
    router.compile(snapshot_of([*example("provider-accounts.yaml"), config(rule("two", {}, {"target": B}))]))
    assert router.plan(request("m")).rule_id == "two"


def test_rule_order_holds_across_the_subject_index(make_router: Callable[..., RouterUnderTest]) -> None:
    rules = [rule(f"team-{i}", {"subjects": [f"team:t{i}"], "models": ["m"]}, {"target": B}) for i in range(50)]
    rules.insert(25, rule("anyone", {"models": ["m"], "metadata": {"k": "v"}}, {"target": C}))
    router = make_router(config(*rules))
    assert router.plan(request("m", "team:t3", metadata={"k": "v"})).rule_id == "team-3"
    assert router.plan(request("m", "team:t30", metadata={"k": "v"})).rule_id == "anyone"
    assert router.plan(request("m", "team:t30")).rule_id == "team-30"
    assert router.plan(request("m", "team:t30", "team:t40", "team:t27")).rule_id == "team-27"
    assert router.plan(request("m", "team:nobody")).rule_id is None
