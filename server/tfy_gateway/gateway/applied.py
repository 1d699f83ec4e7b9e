"""The configured rules that decided a request, and what they leave, as observers report them.

Both an admitted request (its `limits.Reservation`) and a refused one (the error it ended with, see
`errors.GatewayError.applied`) carry these, so the response headers and the request log describe
either the same way, without knowing which class of error refused the request.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

PolicyKind = Literal["rate_limit", "budget"]


class AppliedRule(NamedTuple):
    kind: PolicyKind
    config_name: str
    rule_id: str


class Headroom(NamedTuple):
    """What is left under the tightest rule of one kind, for `x-ratelimit-*-<name>` headers."""

    name: str  # requests | tokens | cost | budget-tokens
    limit: float
    remaining: float
    reset_s: float | None  # seconds until capacity next frees up; None: never (lifetime)


def rate_limit_of(rules: tuple[AppliedRule, ...]) -> AppliedRule | None:
    """The rate-limit rule among `rules` (at most one decides a request)."""
    return next((rule for rule in rules if rule.kind == "rate_limit"), None)


def budgets_of(rules: tuple[AppliedRule, ...]) -> tuple[AppliedRule, ...]:
    return tuple(rule for rule in rules if rule.kind == "budget")
