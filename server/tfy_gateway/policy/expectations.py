"""Checking a step's outcomes against its `expect`: each failed check names what was expected, what
happened (the request and its outcome) and the rule involved."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from tfy_gateway.policy.suite import Expect
from tfy_gateway.policy.traffic import SimOutcome

COST_EPSILON = 1e-9


@dataclass(frozen=True)
class Failure:
    expected: str
    actual: str
    rule: str | None = None  # the rule involved: the expected one, and the one that acted instead


def check(expect: Expect | None, outcomes: list[SimOutcome]) -> list[Failure]:
    """Every check of `expect` that `outcomes` (one per request, in order) fails."""
    if expect is None:
        return []
    failures: list[Failure] = []
    if expect.status is not None:
        failures += _every(outcomes, lambda o: o.status == expect.status, f"every request answered {expect.status}")
    if expect.denied is not None:
        wanted = "403 (access denied)" if expect.denied else "not 403"
        failures += _every(outcomes, lambda o: (o.status == 403) == expect.denied, f"every request {wanted}")
    if expect.served_by is not None:
        failures += _every(
            outcomes, lambda o: o.served_by == expect.served_by, f"every request served by {expect.served_by}"
        )
    if expect.rule is not None:
        failures += _every(
            outcomes, lambda o: o.route_rule == expect.rule, f"every request routed by rule '{expect.rule}'"
        )
    if expect.shares is not None:
        failures += _shares(expect.shares, expect.tolerance, outcomes)
    if expect.limited is not None:
        failures += _limited(expect.limited.after, expect.limited.by, outcomes)
    if expect.budget_blocked is not None:
        failures += _budget(expect.budget_blocked.after_usd, expect.budget_blocked.by, outcomes)
    admitted = [o for o in outcomes if o.admitted]
    for rule in expect.applied or ():
        wanted = f"limit rule '{rule}' applied to every admitted request"
        failures += _every(admitted, _names(rule, audit=False), wanted, rule)
    for rule in expect.would_block or ():
        wanted = f"audit-mode rule '{rule}' would have blocked every admitted request"
        failures += _every(admitted, _names(rule, audit=True), wanted, rule)
    return failures


def _names(rule: str, *, audit: bool) -> Callable[[SimOutcome], bool]:
    def holds(outcome: SimOutcome) -> bool:
        return rule in {a.rule_id for a in (outcome.would_block if audit else outcome.applied)}

    return holds


def _actual(position: int, outcome: SimOutcome) -> str:
    text = f"request {position + 1}: {outcome.describe()}"
    if outcome.refused_by is None:
        text += f" (limits applied: {outcome.rules()})"
    return text


def _involved(outcome: SimOutcome, expected: str | None = None) -> str | None:
    acted = outcome.refused_by or outcome.route_rule or (outcome.applied[0].rule_id if outcome.applied else None)
    if expected is not None and acted != expected:
        return f"{expected} (expected), {acted or 'none'} (acted)"
    return acted or expected


def _every(
    outcomes: list[SimOutcome], holds: Callable[[SimOutcome], bool], expected: str, rule: str | None = None
) -> list[Failure]:
    for position, outcome in enumerate(outcomes):
        if not holds(outcome):
            return [Failure(expected, _actual(position, outcome), _involved(outcome, rule))]
    return []


def _shares(shares: dict[str, float], tolerance: float, outcomes: list[SimOutcome]) -> list[Failure]:
    served = [o.served_by for o in outcomes if o.served_by is not None]
    if not served:
        return [Failure(f"shares {shares}", "no request was served", None)]
    counts = Counter(served)
    wanted = ", ".join(f"{t} {p:g}%" for t, p in shares.items())
    seen = ", ".join(f"{t} {100 * n / len(served):.1f}%" for t, n in counts.most_common())
    rules = {o.route_rule for o in outcomes if o.route_rule}
    for target in {*shares, *counts}:
        share = 100 * counts.get(target, 0) / len(served)
        if abs(share - shares.get(target, 0.0)) > tolerance:
            return [
                Failure(
                    f"{wanted} (± {tolerance:g} points)",
                    f"{seen} of {len(served)} served requests",
                    ", ".join(sorted(r for r in rules if r)) or None,
                )
            ]
    return []


def _limited(after: int, by: str, outcomes: list[SimOutcome]) -> list[Failure]:
    expected = f"{after} requests admitted, then 429 by '{by}'"
    for position, outcome in enumerate(outcomes[:after]):
        if not outcome.admitted:
            return [Failure(expected, _actual(position, outcome), _involved(outcome, by))]
    outcome = outcomes[after]
    if outcome.refused_by != by:
        return [Failure(expected, _actual(after, outcome), _involved(outcome, by))]
    return []


def _budget(after_usd: float, by: str, outcomes: list[SimOutcome]) -> list[Failure]:
    expected = f"429 by budget '{by}' once ${after_usd:,.2f} is spent"
    spent = 0.0
    largest = 0.0
    for position, outcome in enumerate(outcomes):
        if outcome.admitted:
            spent += outcome.cost or 0.0
            largest = max(largest, outcome.cost or 0.0)
            continue
        if outcome.refused_by != by or outcome.refused_kind != "budget":
            return [Failure(expected, _actual(position, outcome) + f" after ${spent:,.6f}", _involved(outcome, by))]
        # A budget admits while its spend is below the limit: it is refused once spend reaches the
        # limit, overshooting by less than one request's cost.
        if not after_usd - COST_EPSILON <= spent < after_usd + largest + COST_EPSILON:
            actual = f"request {position + 1} refused by '{by}' after ${spent:,.6f} was spent"
            return [Failure(expected, actual, by)]
        return []
    return [Failure(expected, f"all {len(outcomes)} requests admitted, ${spent:,.6f} spent", by)]
