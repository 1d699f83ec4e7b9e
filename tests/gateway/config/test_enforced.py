"""Every manifest type the gateway accepts is acted on by a compiled part, or its apply says it is not."""

from __future__ import annotations

from tfy_gateway.gateway.config.enforced import ENFORCED_BY_PART, ENFORCED_TYPES, uncallable_provider
from tfy_gateway.gateway.config.plans import NOT_ENFORCED_LOCALLY
from tfy_gateway.manifests.registry import KNOWN_TYPES


def test_no_type_is_accepted_unenforced_and_unlisted() -> None:
    """A type no part enforces must be named in NOT_ENFORCED_LOCALLY (or be a provider account the gateway
    cannot call): adding a manifest type, or removing one from the list, without enforcing it fails here."""
    silent = sorted(
        t
        for t in KNOWN_TYPES
        if t not in ENFORCED_TYPES and t not in NOT_ENFORCED_LOCALLY and not uncallable_provider(t)
    )
    assert silent == [], f"accepted, not enforced and not listed in NOT_ENFORCED_LOCALLY: {silent}"


def test_the_list_names_only_types_that_are_accepted_and_not_enforced() -> None:
    assert set(NOT_ENFORCED_LOCALLY) <= KNOWN_TYPES
    both = sorted(set(NOT_ENFORCED_LOCALLY) & ENFORCED_TYPES)
    assert both == [], f"enforced by a part and listed as not enforced: {both} (remove them from the list)"


def test_every_part_names_types_the_gateway_accepts() -> None:
    for part, types in ENFORCED_BY_PART.items():
        assert types and types <= KNOWN_TYPES, (part, sorted(types - KNOWN_TYPES))
