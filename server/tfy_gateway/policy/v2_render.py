"""V2 manifest pieces from regions: a `Term` as a `when` block, a V1 counter dimension as `applies_to`.

Both return what they could not say alongside what they rendered, so the migrator can report it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tfy_gateway.policy.regions import ACCOUNTS, MODELS, SUBJECT_DIMENSIONS, TEAMS, USERS, Term, ValueSet

METADATA_PREFIX = "metadata."


@dataclass
class Rendered:
    when: dict[str, Any] | None
    dropped: list[str] = field(default_factory=list)  # conditions V2 cannot filter on, in words


def _filter(values: ValueSet) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    if values.allowed is not None:
        out["in"] = sorted(values.allowed)
    if values.excluded:
        out["not_in"] = sorted(values.excluded)
    return out


def render_when(term: Term, *, counts: str, team_scoped: bool = False) -> Rendered:
    """The V2 `when` of `term` for a limit that counts per `counts` (an `applies_to.type`).

    `counts` makes some conditions implicit: per-user limits never count virtual accounts, a
    `metadata` limit never counts requests without its key. `team_scoped`: a team budget, whose
    subjects have no `teams` filter (its `team_name` is the team condition)."""
    rendered = Rendered(None)
    when: dict[str, Any] = {}
    subjects: dict[str, Any] = {}
    for dimension in SUBJECT_DIMENSIONS:
        values = term.get(dimension)
        if values.unconstrained:
            continue
        if team_scoped and dimension == TEAMS:
            rendered.dropped.append(f"teams {_words(values)} (a team budget cannot filter on teams)")
            continue
        subjects[dimension] = _filter(values)
    if subjects:
        when["subjects"] = subjects
    models = term.get(MODELS)
    if not models.unconstrained:
        when["models"] = _filter(models)
    metadata = {
        dimension.removeprefix(METADATA_PREFIX): _filter(values)
        for dimension, values in sorted(term.sets.items())
        if dimension.startswith(METADATA_PREFIX) and not values.unconstrained
    }
    if metadata:
        when["metadata"] = metadata
    for key in sorted(term.present):
        implied = counts == "metadata:" + key or term.get(METADATA_PREFIX + key).allowed is not None
        if not implied:
            rendered.dropped.append(f"'metadata key {key} is present' (V2 has no filter for it)")
    kind = term.kind
    if kind and kind != term.implied_kind:
        implied_kind = {"per-user": "user", "per-virtual-account": "virtualaccount"}.get(counts)
        if implied_kind != kind:
            who = "users only" if kind == "user" else "virtual accounts only"
            rendered.dropped.append(f"'{who}' (V2 filters cannot say it; team:everyone is every user)")
    rendered.when = when or None
    return rendered


def _words(values: ValueSet) -> str:
    parts = []
    if values.allowed is not None:
        parts.append(f"in {sorted(values.allowed)}")
    if values.excluded:
        parts.append(f"not in {sorted(values.excluded)}")
    return " and ".join(parts)


def applies_to(dimension: str | None) -> dict[str, Any]:
    """The V2 `applies_to` counting per one V1 `*_applies_per` entry (None: one shared counter)."""
    if dimension is None:
        return {"type": "aggregate"}
    if dimension.startswith(METADATA_PREFIX):
        return {"type": "metadata", "metadata": dimension.removeprefix(METADATA_PREFIX)}
    kinds = {"user": "per-user", "virtualaccount": "per-virtual-account", "team": "per-team", "model": "per-model"}
    return {"type": kinds[dimension]}


def counts_key(dimension: str | None) -> str:
    """`render_when`'s `counts` for a V1 dimension: the applies_to type (`metadata:<key>` for metadata)."""
    spec = applies_to(dimension)
    return f"metadata:{spec['metadata']}" if spec["type"] == "metadata" else str(spec["type"])


def may_include(term: Term, kind: str) -> bool:
    """Whether callers of `kind` ("user" / "virtualaccount") can be in `term`."""
    known = term.kind or term.implied_kind
    if known:
        return known == kind
    own = USERS if kind == "user" else ACCOUNTS
    return term.get(own).allowed is None or bool(term.get(own).allowed)
