"""Generated traffic that meets every V1 limit rule with every kind of entity, when no logs exist.

Callers: every user and virtual account a rule names, a member of each named team, a member of two
named teams, a user and a virtual account no rule names. Models: every model a rule names and one
none names. Metadata: each key a rule reads, with each value a rule names, another value, and
absent. Every combination is a request shape; each shape sends enough requests to exhaust the
tightest rule it meets (sized so token and cost limits are reached in about `STEPS` requests),
interleaved round-robin so counters shared between shapes fill together, in two bursts an hour
apart (minute and hour windows have emptied by the second; day windows and budgets have not).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from tfy_gateway.gateway.limits import LimitPolicies, LimitRule
from tfy_gateway.gateway.limits.budgets import BudgetRule
from tfy_gateway.gateway.routing import RouteRequest
from tfy_gateway.manifests.limits import BudgetConfig, RateLimitConfig, RateLimitRule
from tfy_gateway.policy.config import PolicyConfig
from tfy_gateway.policy.traffic import SimRequest, Usage, chat_body

STEPS = 20  # requests that exhaust a token or cost limit
MAX_PER_SHAPE = 2_500  # a requests limit above this is not exhausted by generated traffic
MAX_SHAPES = 600
BURSTS = (0.0, 3_601.0)  # seconds after the start
SPACING_S = 0.001
STOP_AFTER = 3
OTHER_MODEL = "other-account/other-model"
OTHER_USER = "someone-else@example.com"
OTHER_ACCOUNT = "other-virtual-account"


@dataclass(frozen=True)
class Shape:
    caller: str
    teams: tuple[str, ...]
    model: str
    metadata: tuple[tuple[str, str], ...]

    def describe(self) -> str:
        who = self.caller + (f" [{', '.join(self.teams)}]" if self.teams else "")
        meta = ", ".join(f"{k}={v}" for k, v in self.metadata)
        return f"{who} -> {self.model}" + (f" {{{meta}}}" if meta else "")


def shapes(rate_limits: RateLimitConfig | None, budgets: BudgetConfig | None, config: PolicyConfig) -> list[Shape]:
    """Every combination of the callers, models and metadata the rules name (see the module doc)."""
    rules = [*(rate_limits.rules if rate_limits else ()), *(budgets.rules if budgets else ())]
    users: list[str] = []
    teams: list[str] = []
    accounts: list[str] = []
    models: list[str] = []
    metadata: dict[str, list[str]] = {}
    for rule in rules:
        when = rule.when
        for subject in when.subjects or ():
            kind, _, name = subject.partition(":")
            bucket = {"user": users, "team": teams, "virtualaccount": accounts}.get(kind)
            if bucket is not None and name != "everyone" and name not in bucket:
                bucket.append(name)
        models += [m for m in when.models or () if m != "*" and m not in models]
        for key, value in (when.metadata or {}).items():
            values = metadata.setdefault(key, [])
            if value not in values:
                values.append(value)
        applies = rule.rate_limit_applies_per if isinstance(rule, RateLimitRule) else rule.budget_applies_per
        for dimension in applies or ():
            if dimension.startswith("metadata."):
                metadata.setdefault(dimension.removeprefix("metadata."), [])
    callers: list[tuple[str, tuple[str, ...]]] = [(f"user:{u}", ()) for u in users]
    callers += [(f"user:member-of-{t}@example.com", (t,)) for t in teams]
    if len(teams) >= 2:
        callers.append((f"user:member-of-{teams[0]}-and-{teams[1]}@example.com", (teams[0], teams[1])))
    callers.append((f"user:{OTHER_USER}", ()))
    callers += [(f"virtualaccount:{a}", ()) for a in [*accounts, OTHER_ACCOUNT]]
    options = [
        [((key, value),) for value in [*values, f"other-{key}-a", f"other-{key}-b"][:4]] + [()]
        for key, values in sorted(metadata.items())
    ]
    combos = [tuple(pair for part in combo for pair in part) for combo in itertools.product(*options)]
    found = [
        Shape(caller, tuple(own), model, combo)
        for (caller, own), model, combo in itertools.product(callers, [*models, OTHER_MODEL], combos)
    ]
    return found[:: max(1, math.ceil(len(found) / MAX_SHAPES))]


class GeneratedTraffic:
    """The requests of `shapes`, round-robin, each shape sized against the V1 rules it meets; a
    shape stops early once `STOP_AFTER` of its requests in a row were refused on both sides
    (`observe`), so traffic does not pile up behind limits already shown to hold."""

    def __init__(self, shapes_: Sequence[Shape], policies: LimitPolicies, config: PolicyConfig, start: float) -> None:
        self.sized = [(shape, *_size(shape, policies, config)) for shape in shapes_]
        self.start = start
        self._refused_in_a_row = [0] * len(self.sized)
        self._current = -1

    def __iter__(self) -> Iterator[SimRequest]:
        for burst in BURSTS:
            at = self.start + burst
            self._refused_in_a_row = [0] * len(self.sized)
            rounds = max((count for _, count, _, _ in self.sized), default=0)
            for turn in range(rounds):
                for index, (shape, count, tokens, cost) in enumerate(self.sized):
                    if turn >= count or self._refused_in_a_row[index] >= STOP_AFTER:
                        continue
                    self._current = index
                    completion = max(tokens - 1, 1)
                    yield SimRequest(
                        at=at,
                        caller=shape.caller,
                        model=shape.model,
                        teams=shape.teams,
                        metadata=dict(shape.metadata),
                        body=chat_body(shape.model, "x" * 4, completion),
                        usage=Usage(1, completion),
                        cost=cost,
                        label=f"shape {index + 1} request {turn + 1}" + (" (second burst)" if burst else ""),
                    )
                    at += SPACING_S

    def observe(self, v1_admitted: bool, v2_admitted: bool) -> None:
        """The outcome of the request yielded last."""
        index = self._current
        if v1_admitted or v2_admitted:
            self._refused_in_a_row[index] = 0
        else:
            self._refused_in_a_row[index] += 1


def _size(shape: Shape, policies: LimitPolicies, config: PolicyConfig) -> tuple[int, int, float]:
    """(requests to send, tokens per request, USD per request) for one shape."""
    principal = config.principal(shape.caller, shape.teams)
    route = RouteRequest(shape.model, principal.subjects, dict(shape.metadata))
    limits: list[LimitRule | BudgetRule] = [r for r in policies.rate_limits.rules if r.matches(route)]
    limits += [r for r in policies.budgets.rules if r.matches(route)]
    token_limits = [r.limit for r in limits if r.unit.kind == "tokens" and r.limit > 0]
    cost_limits = [r.unit.show(r.limit) for r in limits if r.unit.kind == "cost" and r.limit > 0]
    tokens = max(2, math.ceil(min(token_limits) / STEPS)) if token_limits else 100
    cost = min(cost_limits) / STEPS if cost_limits else 0.001
    needed = [STEPS + 2 if r.unit.kind != "requests" else r.limit + 2 for r in limits]
    return min(max([3, *needed]), MAX_PER_SHAPE), tokens, cost
