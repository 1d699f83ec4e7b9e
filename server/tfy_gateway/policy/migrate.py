"""V1 rate limits and budgets -> V2 manifests (`tfy-gateway migrate limits`).

V1 (`gateway-rate-limiting-config`, `gateway-budget-config`): rules in order, the first matching
rule decides, usage counts against every matching rule. V2 (`tenant-rate-limit-config/model`,
`tenant-budget-config`, `team-budget-config`): one manifest per limit, every matching limit must
allow. No V2 set reproduces V1 exactly when rules overlap: a V2 rule either sees the requests an
earlier V1 rule decided (and may refuse them: stricter) or leaves them out (and no longer counts
them: looser). The strategies:

- `exclusive` (default): each V2 rule leaves out, with `not_in` filters, what earlier V1 rules
  decide, wherever V2 filters can say so without splitting a counter; so V2 consults, for each
  request, the rule V1 decided it by. Where they cannot, the rule keeps the overlap (noted).
- `overlap`: every V2 rule keeps its V1 `when`, so every counter sees what V1 counted, and V2 also
  refuses requests an earlier rule decided in V1.

Everything V2 cannot express is a `Note` on the rule's `Translation`, with the choice made; the
equivalence report (`policy.equivalence`) shows what it changes on traffic.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from tfy_gateway.manifests.common import When
from tfy_gateway.manifests.limits import BudgetConfig, BudgetRule, RateLimitConfig, RateLimitRule
from tfy_gateway.policy.regions import (
    ACCOUNTS,
    MODELS,
    TEAMS,
    USERS,
    Atom,
    Term,
    ValueSet,
    atoms,
    differing,
    disjoint,
    metadata_dimension,
    region,
    subtract,
    within,
)
from tfy_gateway.policy.translation import RuleKind, Translation
from tfy_gateway.policy.v2_render import applies_to, counts_key, may_include, render_when

Strategy = Literal["exclusive", "overlap"]
STRATEGIES: tuple[Strategy, ...] = ("exclusive", "overlap")
RATE_LIMIT_V2 = "tenant-rate-limit-config/model"
TENANT_BUDGET = "tenant-budget-config"
TEAM_BUDGET = "team-budget-config"
METADATA_PREFIX = "metadata."
DAYS_PER_MONTH = 30


@dataclass(frozen=True)
class V1Rule:
    """A V1 rate-limit or budget rule, as far as matching and counting go."""

    kind: RuleKind
    spec: RateLimitRule | BudgetRule
    position: int

    @property
    def id(self) -> str:
        return self.spec.id

    @property
    def when(self) -> When:
        return self.spec.when

    @property
    def applies_per(self) -> tuple[str, ...]:
        spec = self.spec
        found = spec.rate_limit_applies_per if isinstance(spec, RateLimitRule) else spec.budget_applies_per
        return tuple(found or ())

    @property
    def atoms(self) -> list[Atom]:
        required = tuple(p.removeprefix(METADATA_PREFIX) for p in self.applies_per if p.startswith(METADATA_PREFIX))
        return atoms(self.when, required)


@dataclass
class Migration:
    strategy: Strategy
    translations: list[Translation] = field(default_factory=list)

    @property
    def rate_limits(self) -> list[dict[str, Any]]:
        return [m for t in self.translations for m in t.manifests if m["type"] == RATE_LIMIT_V2]

    @property
    def budgets(self) -> list[dict[str, Any]]:
        return [m for t in self.translations for m in t.manifests if m["type"] != RATE_LIMIT_V2]

    def origin(self, v2_name: str, kind: RuleKind) -> Translation | None:
        """The translation that produced the V2 limit `v2_name` of `kind`'s family."""
        for translation in self.translations:
            for manifest in translation.manifests:
                if manifest["name"] == v2_name and (manifest["type"] == RATE_LIMIT_V2) == (kind == "rate_limit"):
                    return translation
        return None


def migrate(
    rate_limits: RateLimitConfig | None,
    budgets: BudgetConfig | None,
    *,
    strategy: Strategy = "exclusive",
    teams: Sequence[str] = (),
    audit: bool = False,
) -> Migration:
    """Translate both V1 configs. `teams`: every team name known (for per-team budgets whose rule
    names no team). `audit`: every V2 limit in audit mode, for a staged rollout."""
    migration = Migration(strategy)
    names = _Names()
    for kind, config in (("rate_limit", rate_limits), ("budget", budgets)):
        if config is None:
            continue
        rules = [V1Rule(kind, spec, position) for position, spec in enumerate(config.rules)]  # type: ignore[arg-type]
        for rule in rules:
            migration.translations.append(_translate(rule, rules[: rule.position], strategy, teams, audit, names))
    return migration


# --- one rule ----------------------------------------------------------------------------------


def _translate(
    rule: V1Rule, earlier: list[V1Rule], strategy: Strategy, teams: Sequence[str], audit: bool, names: _Names
) -> Translation:
    out = Translation(rule.kind, rule.id, rule.position)
    own = region(rule.atoms) or []
    dimensions = _reduce_dimensions(rule, own, out)
    dimension = dimensions[0] if dimensions else None
    if len(own) > 1 and not _pinned(differing(own), dimension):
        out.note(
            "split-counter",
            f"its subjects mix kinds ({', '.join(rule.when.subjects or ())}), which one V2 filter cannot OR: "
            f"one V2 limit per kind, each with the full limit and a counter of its own (V1 shares one)",
        )
    decided = own
    for other in earlier:
        if not _overlaps(decided, other):
            continue
        result = subtract(decided, other.atoms)
        if strategy == "overlap" and result != []:
            out.note("overlap", _overlap_message(other, rule))
            continue
        if result is None:
            out.note("overlap", _overlap_message(other, rule) + " (V2 filters cannot exclude them: " +
                     _why_not(other) + ")")  # fmt: skip
            continue
        if len(result) > len(decided) and not _pinned(differing(result), dimension):
            out.note("overlap", _overlap_message(other, rule) + " (excluding them would split this rule's counter)")
            continue
        pinned = _pinned(_excluded_dimensions(decided, other), _effective(dimension, decided))
        decided = result
        if pinned:
            out.note(
                "excluded",
                f"requests '{other.id}' decides are excluded (not_in); they come from counters of "
                f"'{rule.id}' that never decide in V1, so nothing changes",
                exact=True,
            )
        else:
            out.note(
                "excluded",
                f"requests '{other.id}' decides are excluded (not_in); V1 also counted them against "
                f"'{rule.id}' (usage counts against every matching V1 rule), so its V2 counter holds less",
            )
    mode = "audit" if audit or _audit_rule(rule) else "enforce"
    if not decided:
        decided, mode = own, "audit"
        out.notes = [note for note in out.notes if note.code not in ("excluded", "overlap")]
        out.note(
            "shadowed",
            "an earlier rule matches every request this one matches, so it never decides in V1: migrated in "
            "audit mode to keep its usage visible (delete it if that is not wanted)",
        )
    for index, term in enumerate(decided):
        suffix = f"-part-{index + 1}" if len(decided) > 1 else ""
        if rule.kind == "rate_limit":
            _rate_limit_manifests(rule, term, dimension, suffix, mode, out, names)
        else:
            _budget_manifests(rule, term, dimension, suffix, mode, teams, out, names)
    return out


def _audit_rule(rule: V1Rule) -> bool:
    return isinstance(rule.spec, BudgetRule) and rule.spec.audit_mode


def _overlaps(terms: list[Term], other: V1Rule) -> bool:
    theirs = region(other.atoms)
    if theirs is None:
        return True
    return any(not disjoint(mine, their) for mine in terms for their in theirs)


def _overlap_message(other: V1Rule, rule: V1Rule) -> str:
    return (
        f"requests matching both '{other.id}' (earlier) and '{rule.id}': V1 let '{other.id}' decide them "
        f"(first match) and only counted them here; V2 also refuses them when '{rule.id}' is exhausted"
    )


def _why_not(other: V1Rule) -> str:
    keys = [p.removeprefix(METADATA_PREFIX) for p in other.applies_per if p.startswith(METADATA_PREFIX)]
    if keys:
        carrying = ", ".join(keys)
        return f"'{other.id}' matches only requests carrying metadata {carrying}, and V2 has no 'key absent' filter"
    return "it would need an OR of conditions, or two team lists at once"


def _pinned(dimensions: Any, dimension: str | None) -> bool:
    """Whether splitting along `dimensions` keeps each counter of `dimension` in one piece."""
    split = set(dimensions)
    if not split:
        return True
    if dimension in ("user", "virtualaccount"):
        return split <= {USERS, TEAMS, ACCOUNTS, "kind"}
    if dimension == "model":
        return split <= {MODELS}
    if dimension is not None and dimension.startswith(METADATA_PREFIX):
        return split <= {dimension}
    return False


def _excluded_dimensions(terms: list[Term], other: V1Rule) -> set[str]:
    """The dimensions an exclusion of `other` from `terms` filters on (atoms `terms` imply drop out)."""
    found: set[str] = set()
    for atom in other.atoms:
        if all(any(within(term, piece) for piece in atom.positive()) for term in terms):
            continue
        if atom.dimension == "subjects":
            found |= {USERS, TEAMS, ACCOUNTS, "kind"}
        else:
            found.add(atom.dimension)
    return found


def _effective(dimension: str | None, terms: list[Term]) -> str | None:
    """The counter dimension, or "user" for a shared counter of a rule about one user only."""
    if (
        dimension is None
        and terms
        and all((users := term.get(USERS).allowed) is not None and len(users) == 1 for term in terms)
    ):
        return "user"
    return dimension


def _reduce_dimensions(rule: V1Rule, terms: list[Term], out: Translation) -> list[str]:
    """At most one counter dimension (V2 counts per one entity): drop entries that are constant
    inside the rule (a single model, a metadata value its `when` fixes, a single user)."""
    dimensions = list(rule.applies_per)
    if len(dimensions) <= 1:
        return dimensions
    constant = [d for d in dimensions if _constant(d, terms)]
    kept = [d for d in dimensions if d not in constant]
    if constant:
        out.note("dimension", f"applies_per {constant} is one value inside this rule: dropped", exact=True)
    if len(kept) > 1:
        out.note(
            "dimension",
            f"applies_per {kept}: V2 counts per one entity only; closest: per {kept[0]} "
            f"(one counter per {kept[0]} across every {', '.join(kept[1:])}: stricter)",
        )
        kept = kept[:1]
    return kept or dimensions[:1]


def _constant(dimension: str, terms: list[Term]) -> bool:
    target = {"model": MODELS, "user": USERS, "virtualaccount": ACCOUNTS}.get(dimension, dimension)
    if dimension.startswith(METADATA_PREFIX):
        target = metadata_dimension(dimension.removeprefix(METADATA_PREFIX))
    values = {term.get(target).allowed for term in terms}
    return bool(terms) and all(v is not None and len(v) == 1 for v in values) and len(values) == 1


# --- rendering ---------------------------------------------------------------------------------


class _Names:
    """V2 names are unique per family (rate limits; tenant and team budgets together)."""

    def __init__(self) -> None:
        self.taken: dict[str, set[str]] = {"rate_limit": set(), "budget": set()}

    def claim(self, family: RuleKind, wanted: str) -> str:
        base = re.sub(r"[^a-z0-9-]+", "-", wanted.lower()).strip("-") or "limit"
        name, n = base, 2
        while name in self.taken[family]:
            name, n = f"{base}-{n}", n + 1
        self.taken[family].add(name)
        return name


def _rate_limit_manifests(
    rule: V1Rule, term: Term, dimension: str | None, suffix: str, mode: str, out: Translation, names: _Names
) -> None:
    spec = rule.spec
    assert isinstance(spec, RateLimitRule)
    limits = {spec.unit: spec.limit_to}
    _counters(rule, term, dimension, suffix, out, names, "rate_limit", lambda when, counts, name: {
        "name": name, "type": RATE_LIMIT_V2, **({"when": when} if when else {}),
        "limits": limits, "applies_to": counts, "mode": mode,
    })  # fmt: skip
    if dimension == "team" and may_include(term, "user"):
        out.note(
            "no-team-counter",
            "a user in no team: V1 gave it a counter of its own; V2 per-team does not count it "
            "(V2 has no 'in no team' filter)",
        )


def _budget_manifests(
    rule: V1Rule,
    term: Term,
    dimension: str | None,
    suffix: str,
    mode: str,
    teams: Sequence[str],
    out: Translation,
    names: _Names,
) -> None:
    spec = rule.spec
    assert isinstance(spec, BudgetRule)
    if spec.unit.startswith("tokens_"):
        _token_budget(rule, spec, term, dimension, suffix, mode, out, names)
        return
    limits: dict[str, float] = {spec.unit: _number(spec.limit_to)}
    extra: dict[str, Any] = {}
    if spec.alerts is not None:
        alerts = spec.alerts.model_dump(mode="json", exclude_none=True)
        extra["alerts"] = {**alerts, "thresholds": [_number(t) for t in spec.alerts.thresholds]}
    if dimension == "team":
        _team_budgets(rule, term, limits, suffix, mode, teams, extra, out, names)
        return
    _counters(rule, term, dimension, suffix, out, names, "budget", lambda when, counts, name: {
        "name": name, "type": TENANT_BUDGET, **({"when": when} if when else {}),
        "limits": limits, "applies_to": counts, "mode": mode, **extra,
    })  # fmt: skip


def _counters(
    rule: V1Rule,
    term: Term,
    dimension: str | None,
    suffix: str,
    out: Translation,
    names: _Names,
    family: RuleKind,
    build: Any,
) -> None:
    """The V2 limit counting like V1's `dimension`, and its twin for the other caller kind when V1's
    dimension is the caller (a V1 per-user rule gives a virtual account a counter of its own)."""
    kinds = [(dimension, "")]
    twin = {"user": ("virtualaccount", "-virtual-accounts"), "virtualaccount": ("user", "-users")}.get(dimension or "")
    if dimension == "team" and family == "rate_limit":
        twin = ("virtualaccount", "-virtual-accounts")  # V1 counts a virtual account on its own there
    if twin is not None and may_include(term, "virtualaccount" if twin[0] == "virtualaccount" else "user"):
        kinds.append(twin)
        what = "virtual accounts" if twin[0] == "virtualaccount" else "users"
        out.note("twin", f"'{rule.id}{suffix}{twin[1]}' counts {what} the way V1's {dimension} counter did", exact=True)
    for kind, tail in kinds:
        rendered = render_when(term, counts=counts_key(kind))
        for dropped in rendered.dropped:
            out.note("widened", f"V2 cannot filter on {dropped}: the V2 limit also matches requests without it")
        name = names.claim(family, f"{rule.id}{suffix}{tail}")
        out.manifests.append(build(rendered.when, applies_to(kind), name))


def _team_budgets(
    rule: V1Rule,
    term: Term,
    limits: dict[str, float],
    suffix: str,
    mode: str,
    teams: Sequence[str],
    extra: dict[str, Any],
    out: Translation,
    names: _Names,
) -> None:
    named = term.get(TEAMS)
    candidates = sorted(named.allowed) if named.allowed is not None else sorted(set(teams) - named.excluded)
    if not candidates:
        out.note(
            "no-equivalent",
            "budget per team: V2 budgets have no per-team counter, and no team is known (name them in when.subjects "
            "or pass team manifests / --team): no V2 budget was written",
        )
        return
    out.note(
        "team-budgets",
        f"budget per team -> one team-budget-config per team ({', '.join(candidates)}), each aggregate over the "
        "team's requests; V1 also charged a member's other teams' counters",
    )
    inner = Term(
        {d: v for d, v in term.sets.items() if d != TEAMS}, kind=term.kind, present=term.present
    )  # the team is team_name's job
    for team in candidates:
        rendered = render_when(inner, counts="aggregate", team_scoped=True)
        for dropped in rendered.dropped:
            out.note("widened", f"V2 cannot filter on {dropped}: the V2 budget also matches requests without it")
        when = rendered.when or {}
        if "subjects" in when and TEAMS in when["subjects"]:
            del when["subjects"][TEAMS]
        name = names.claim("budget", f"{rule.id}{suffix}-{team}")
        manifest = {"name": name, "type": TEAM_BUDGET, "team_name": team, **({"when": when} if when else {})}
        out.manifests.append({**manifest, "limits": limits, "applies_to": {"type": "aggregate"}, "mode": mode, **extra})


def _token_budget(
    rule: V1Rule,
    spec: BudgetRule,
    term: Term,
    dimension: str | None,
    suffix: str,
    mode: str,
    out: Translation,
    names: _Names,
) -> None:
    """V2 budgets count USD only: a token budget becomes a V2 token rate limit."""
    if spec.unit == "tokens_per_day":
        window, limit = "tokens_per_day", int(spec.limit_to)
        out.note(
            "window",
            "V2 budgets count USD only: a tenant-rate-limit-config/model tokens_per_day instead, a sliding day "
            "rather than the UTC calendar day, admitting a request only when its estimated tokens fit",
        )
    else:
        window, limit, mode = "tokens_per_day", math.ceil(spec.limit_to / DAYS_PER_MONTH), "audit"
        out.note(
            "no-equivalent",
            f"no V2 limit counts tokens over a month: closest is tokens_per_day {limit} (the monthly "
            f"{_number(spec.limit_to)} / {DAYS_PER_MONTH}), written in audit mode: check it before enforcing",
        )
    _counters(rule, term, dimension if dimension != "team" else None, suffix, out, names, "rate_limit",
              lambda when, counts, name: {
                  "name": name, "type": RATE_LIMIT_V2, **({"when": when} if when else {}),
                  "limits": {window: limit}, "applies_to": counts, "mode": mode,
              })  # fmt: skip


def _number(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value


__all__ = ["STRATEGIES", "Migration", "Strategy", "V1Rule", "ValueSet", "migrate"]
