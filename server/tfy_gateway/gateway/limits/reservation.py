"""`Reservation`: what admission held for one request, handed back when it settles."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, NamedTuple

from tfy_gateway.gateway.applied import AppliedRule, Headroom, budgets_of, rate_limit_of
from tfy_gateway.gateway.limits.budgets import BudgetRule
from tfy_gateway.gateway.limits.scope import Entity

HoldKind = Literal["requests", "tokens", "cost"]


class Hold(NamedTuple):
    """`amount` added to bucket `bucket` of counter `key`; a budget hold keeps its rule for alerts."""

    key: str
    bucket: int
    span: int
    amount: int
    kind: HoldKind
    budget: BudgetRule | None = None
    entity: Entity = ()


@dataclass(frozen=True, slots=True)
class Reservation:
    """The counters a request was admitted against, the amounts held on each, and the rules that
    applied (for `x-tfy-applied-configurations` and the request log)."""

    holds: tuple[Hold, ...] = ()
    applied: tuple[AppliedRule, ...] = ()
    headroom: tuple[Headroom, ...] = ()
    # Rules in audit mode that would have refused the request.
    would_block: tuple[AppliedRule, ...] = ()
    # The (input, output) tokens held as its estimate, when a token or cost hold needed one.
    estimate: tuple[int, int] | None = None
    # The state store's name for the holds (a shared store's settlement names it), or None.
    ticket: str | None = None

    @property
    def rate_limit(self) -> AppliedRule | None:
        return rate_limit_of(self.applied)

    @property
    def budgets(self) -> tuple[AppliedRule, ...]:
        return budgets_of(self.applied)
