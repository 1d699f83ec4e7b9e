"""Regions: a V1 `when` as V2 filters, and one rule's region minus another's (first match)."""

from __future__ import annotations

from tfy_gateway.manifests.common import When
from tfy_gateway.policy.regions import MODELS, TEAMS, USERS, ValueSet, atoms, region, subtract


def when(**fields: object) -> When:
    return When.model_validate(fields)


def test_mixed_subject_kinds_become_disjoint_terms() -> None:
    terms = region(atoms(when(subjects=["user:bob@x", "team:backend", "virtualaccount:ci"])))
    assert terms is not None and len(terms) == 3
    bob, team, account = terms
    assert bob.get(USERS) == ValueSet(frozenset({"bob@x"}))
    # backend members other than bob: the terms never overlap, so no request is counted twice
    assert team.get(USERS) == ValueSet(None, frozenset({"bob@x"})) and team.get(TEAMS).allowed == {"backend"}
    assert account.implied_kind == "virtualaccount"


def test_an_exception_above_a_default_becomes_not_in_on_the_default() -> None:
    default = region(atoms(when(models=["openai-main/gpt-4o"])))
    assert default is not None
    rest = subtract(default, atoms(when(subjects=["team:backend"], models=["openai-main/gpt-4o"])))
    assert rest is not None and len(rest) == 1
    assert rest[0].get(TEAMS) == ValueSet(None, frozenset({"backend"}))
    assert rest[0].get(MODELS).allowed == {"openai-main/gpt-4o"}


def test_two_conditions_to_exclude_split_the_region() -> None:
    everything = region(atoms(when()))
    assert everything is not None
    rest = subtract(everything, atoms(when(subjects=["user:bob@x"], models=["m/a"])))
    assert rest is not None and len(rest) == 2  # not bob; bob on other models
    assert rest[0].get(USERS).excluded == {"bob@x"}
    assert rest[1].get(USERS).allowed == {"bob@x"} and rest[1].get(MODELS).excluded == {"m/a"}


def test_an_earlier_rule_that_covers_everything_leaves_nothing_and_a_disjoint_one_leaves_all() -> None:
    bob = region(atoms(when(subjects=["user:bob@x"], models=["m/a"])))
    assert bob is not None
    assert subtract(bob, atoms(when(models=["m/a", "m/b"]))) == []
    assert subtract(bob, atoms(when(models=["m/c"]))) == bob


def test_an_absent_metadata_key_has_no_v2_filter() -> None:
    everything = region(atoms(when()))
    assert everything is not None
    assert subtract(everything, atoms(when(), ("project_id",))) is None
    # but a metadata value can be excluded
    rest = subtract(everything, atoms(when(metadata={"env": "prod"})))
    assert rest is not None and rest[0].get("metadata.env") == ValueSet(None, frozenset({"prod"}))
