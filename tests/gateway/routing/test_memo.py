"""Runtime memos of compiled configs: owned by the Router (and the Limiter), one per compiled value
by identity, released with it; the compiled config itself is never written to."""

from __future__ import annotations

import dataclasses
import gc
from collections.abc import Callable
from typing import Any

import pytest

from tests.gateway.routing.conftest import RouterUnderTest, example, request, snapshot_of
from tfy_gateway.gateway.routing.matching import WhenMatcher
from tfy_gateway.gateway.routing.memo import ConfigMemo, ModelMemo
from tfy_gateway.gateway.routing.rule_index import ModelIndex


@dataclasses.dataclass(frozen=True, eq=False)
class Compiled:
    name: str


def test_one_memo_per_compiled_value_by_identity_released_with_it() -> None:
    made: list[str] = []

    def make(compiled: Compiled) -> list[str]:
        made.append(compiled.name)
        return [compiled.name]

    memos: ConfigMemo[Compiled, list[str]] = ConfigMemo(make)
    first, twin = Compiled("a"), Compiled("a")
    assert memos.of(first) is memos.of(first)
    assert memos.of(twin) is not memos.of(first)  # equal-looking, but another compiled value
    assert made == ["a", "a"]  # back to the first one: its memo, not a new one
    assert len(memos) == 2
    del first, twin
    gc.collect()
    assert len(memos) == 0


@dataclasses.dataclass(frozen=True)
class Rule:
    when: WhenMatcher


def test_the_per_model_memo_is_bounded() -> None:
    index = ModelIndex.of([Rule(WhenMatcher(models=frozenset({"m1"}))), Rule(WhenMatcher())])
    built: list[str] = []

    def build(model: str, rules: tuple[Rule, ...]) -> tuple[str, int]:
        built.append(model)
        return model, len(rules)

    memo: ModelMemo[Rule, tuple[str, int]] = ModelMemo(index, build, size=2)
    assert (memo.get("m1"), memo.get("m2")) == (("m1", 2), ("m2", 1))
    assert memo.get("m1") == ("m1", 2) and built == ["m1", "m2"]
    memo.get("m3")  # full: cleared, then m3 is remembered
    memo.get("m1")
    assert built == ["m1", "m2", "m3", "m1"]


def weighted(target: str) -> dict[str, Any]:
    rule = {
        "id": "only",
        "type": "weight-based-routing",
        "when": {"models": ["openai/gpt-4o"]},
        "load_balance_targets": [{"target": target, "weight": 100}],
    }
    return {"name": "lb", "type": "gateway-load-balancing-config", "rules": [rule]}


def test_plans_follow_the_compiled_routing_they_are_given(make_router: Callable[..., RouterUnderTest]) -> None:
    """Requests that started before an apply keep their version: alternating versions never mix."""
    tested = make_router(weighted("azure-backup/gpt-4o"))
    old = tested.routing
    tested.compile(snapshot_of([*example("provider-accounts.yaml"), weighted("anthropic-main/claude-sonnet")]))
    new = tested.routing
    before = repr(old)  # every field, nested mappings included
    for _ in range(3):
        assert tested.router.plan(old, request()).attempts[0].target == "azure-backup/gpt-4o"
        assert tested.router.plan(new, request()).attempts[0].target == "anthropic-main/claude-sonnet"
    assert repr(old) == before
    with pytest.raises(dataclasses.FrozenInstanceError):
        old.rules = ()  # type: ignore[misc]
