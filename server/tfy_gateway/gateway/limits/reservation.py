"""`Reservation`: what admission held for one request, handed back when it settles."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from tfy_gateway.gateway.applied import AppliedRule, Headroom, budgets_of, rate_limit_of
from tfy_gateway.gateway.limits.budgets import BudgetRule
from tfy_gateway.gateway.limits.plan import CounterPlan, HoldKind
from tfy_gateway.gateway.limits.scope import Entity

__all__ = ["Hold", "HoldKind", "Reservation"]


class Hold(NamedTuple):
    """`amount` added to bucket `bucket` of counter `key`; a budget hold keeps its rule for alerts."""

    key: str
    bucket: int
    span: int
    amount: int
    kind: HoldKind
    budget: BudgetRule | None = None
    entity: Entity = ()


class Reservation:
    """The counters a request was admitted against, the amounts held on each, and the rules that
    applied (for `x-tfy-applied-configurations` and the request log).

    The counters are the request's plan (shared by every request of its shape) and the buckets of
    its admission (shared too, within one sub-bucket of time); only `amounts` is the request's own.
    `holds` describes them one by one, for reading."""

    __slots__ = ("amounts", "applied", "buckets", "estimate", "headroom", "plan", "ticket", "would_block")

    def __init__(
        self,
        applied: tuple[AppliedRule, ...] = (),
        headroom: tuple[Headroom, ...] = (),
        would_block: tuple[AppliedRule, ...] = (),
        estimate: tuple[int, int] | None = None,
        ticket: str | None = None,
        *,
        plan: CounterPlan | None = None,
        buckets: Sequence[int] = (),
        amounts: Sequence[int] = (),
    ) -> None:
        self.applied = applied
        self.headroom = headroom
        # Rules in audit mode that would have refused the request.
        self.would_block = would_block
        # The (input, output) tokens held as its estimate, when a token or cost hold needed one.
        self.estimate = estimate
        # The state store's name for the holds (a shared store's settlement names it), or None.
        self.ticket = ticket
        self.plan = plan
        self.buckets = buckets
        self.amounts = amounts

    @property
    def holds(self) -> tuple[Hold, ...]:
        plan = self.plan
        if plan is None:  # nothing was held (a reservation made by hand, in tests)
            return ()
        counters = plan.counters
        return tuple(
            Hold(key, bucket, span, amount, kind, budget, entity)
            for key, bucket, span, amount, kind, budget, entity in zip(
                counters.keys, self.buckets, counters.spans, self.amounts, plan.kinds, plan.budgets, plan.entities,
                strict=True,
            )
        )  # fmt: skip

    @property
    def rate_limit(self) -> AppliedRule | None:
        return rate_limit_of(self.applied)

    @property
    def budgets(self) -> tuple[AppliedRule, ...]:
        return budgets_of(self.applied)
