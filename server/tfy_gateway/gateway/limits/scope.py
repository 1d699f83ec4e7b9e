"""`rate_limit_applies_per`: which counter(s) of a rule a request is charged in.

Each combination of entity values gets its own counter:
- `user`, `virtualaccount`: the caller's own subject. A caller of the other kind is not lumped
  with every other such caller: it gets a counter of its own too.
- `model`: the requested model.
- `team`: each team of the caller except `everyone`; a caller in several teams is charged in each
  team's counter (and must fit in all of them); a caller with no team gets a counter of its own.
- `metadata.<key>`: the request's value for that key (a rule naming a key only matches requests
  carrying it: see `rules.LimitRule.matches`).
With no `rate_limit_applies_per`, every request matching the rule shares one counter.
"""

from __future__ import annotations

from itertools import product

from tfy_gateway.gateway.limits.request import LimitRequest

Entity = tuple[tuple[str, str], ...]
"""(dimension, value) pairs naming one counter of a rule, e.g. (("user", "user:a@x"),)."""

METADATA_PREFIX = "metadata."
EVERYONE = "team:everyone"


def entities(applies_per: tuple[str, ...], request: LimitRequest) -> list[Entity]:
    """The counters `request` is charged in: one, or one per team of the caller."""
    if not applies_per:
        return [()]
    choices = [[(dimension, value) for value in _values(dimension, request)] for dimension in applies_per]
    return [tuple(combination) for combination in product(*choices)]


def _values(dimension: str, request: LimitRequest) -> list[str]:
    if dimension in ("user", "virtualaccount"):
        return [request.caller]
    if dimension == "model":
        return [request.model]
    if dimension == "team":
        teams = [s for s in request.subjects if s.startswith("team:") and s != EVERYONE]
        return teams or [request.caller]
    if dimension.startswith(METADATA_PREFIX):
        return [request.metadata.get(dimension.removeprefix(METADATA_PREFIX), "")]
    # Unknown values are rejected when a manifest is applied; one shared counter if one slips through.
    return [""]


def describe(entity: Entity) -> str:
    """For messages: "user user:a@x, model fake/gpt-4o" ("" for a rule's single shared counter)."""
    return ", ".join(f"{dimension} {value}" for dimension, value in entity)
