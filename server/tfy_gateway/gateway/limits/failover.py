"""`FailoverLimitState`: the failure policy of the shared limit store (`on_state_error`).

Every call goes to Redis first (bounded by `RedisLink`'s timeout and breaker). When Redis cannot
answer:
- `fail-open` (the default): the request is decided by a local `MemoryLimitState`, so every limit
  still holds per replica (N replicas admit at most N times a limit while Redis is away) and LLM
  traffic keeps flowing. When Redis answers again (to any call of this link, or to a limit call
  after a merge that failed), the local counts are added into Redis (one script, in the
  background) and the local store starts empty, so windows and budgets include what
  was admitted during the outage. Settlements that cross the recovery may keep their estimate.
- `fail-closed`: admission answers 503 (`StateUnavailable`): nothing is admitted that the shared
  limits did not check. For deployments where a budget must never be exceeded.

Settlements never fail a request: a reservation made in Redis is settled there, once, as soon as
Redis answers again (`reconcile`); one made locally is settled locally. The breaker logs the outage
once. No call makes a request wait longer than Redis's timeout, and a reservation whose caller gave
up on Redis holds nothing once Redis answers again, whether it ran late or never (`reconcile`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Literal

from tfy_gateway.gateway.errors import ApiError
from tfy_gateway.gateway.limits.memory import MemoryLimitState
from tfy_gateway.gateway.limits.state import Admission, Batch, Charge, Probe, Settlement
from tfy_gateway.gateway.shared.state_store import StateStoreDown

if TYPE_CHECKING:
    from tfy_gateway.gateway.limits.redis_state import RedisLimitState

logger = logging.getLogger(__name__)

Policy = Literal["fail-open", "fail-closed"]
POLICIES: tuple[Policy, ...] = ("fail-open", "fail-closed")
KEEP_EVERY_BUCKET = 2**62  # a span under which re-adding counts drops no bucket
MERGE_BATCH = 200


class StateUnavailable(ApiError):
    """fail-closed and Redis away: the 503 the client gets."""

    def __init__(self) -> None:
        super().__init__(
            503,
            "The gateway cannot check rate limits and budgets: the shared limit store (Redis) is unreachable, "
            "and the gateway is set to refuse requests then (on_state_error=fail-closed). Retry shortly.",
            type="ServiceUnavailableError",
            origin="gateway",
        )


class FailoverLimitState:
    """`LimitState` over `RedisLimitState` with the fallback `policy`; see the module docstring."""

    def __init__(
        self,
        shared: RedisLimitState,
        policy: Policy = "fail-open",
        *,
        on_fallback: Callable[[str], None] | None = None,
    ) -> None:
        if policy not in POLICIES:
            raise ValueError(f"on_state_error must be one of {', '.join(POLICIES)}, not {policy!r}")
        self.shared = shared
        self.policy = policy
        self.local = MemoryLimitState()
        self._on_fallback = on_fallback
        self._merging: asyncio.Task[None] | None = None
        # Redis back: merge at once, whichever call noticed (routing's health poll included), not
        # only when a request's own limit call does.
        shared.link.on_recovery(self._recovered)

    async def reserve(self, batch: Batch) -> Admission:
        try:
            admission = await self.shared.reserve(batch)
        except StateStoreDown:
            self._fell_back("reserve")
            if self.policy == "fail-closed":
                raise StateUnavailable() from None
            return self.local.reserve_now(batch)
        self._recovered()
        return admission

    async def adjust(self, settlement: Settlement, ticket: str | None = None) -> tuple[int, ...]:
        try:
            totals = await self.shared.adjust(settlement, ticket)
        except StateStoreDown:
            self._fell_back("adjust")
            if ticket is not None:  # held in Redis: settled there once it answers (its reconciler)
                return tuple(0 for _ in settlement.watched)
            return self.local.adjust_now(settlement)
        self._recovered()
        return totals

    async def read(self, probes: Sequence[Probe]) -> tuple[int, ...]:
        try:
            totals = await self.shared.read(probes)
        except StateStoreDown:
            self._fell_back("read")
            if self.policy == "fail-closed":
                raise StateUnavailable() from None
            return self.local.read_now(probes)
        self._recovered()
        return totals

    async def scan(self, prefix: str, bucket: int, span: int) -> list[tuple[str, int]]:
        try:
            found = await self.shared.scan(prefix, bucket, span)
        except StateStoreDown:
            self._fell_back("scan")
            if self.policy == "fail-closed":
                raise StateUnavailable() from None
            return await self.local.scan(prefix, bucket, span)
        self._recovered()
        return found

    async def stop(self) -> None:
        """Finish a merge and a reconciliation under way (bounded by Redis's timeout per call)."""
        if self._merging is not None:
            await asyncio.gather(self._merging, return_exceptions=True)
        await self.shared.stop()

    def _fell_back(self, operation: str) -> None:
        if self._on_fallback is not None:
            self._on_fallback(operation)

    def _recovered(self) -> None:
        """Redis answered: hand what was counted locally meanwhile to it, in the background."""
        if len(self.local) and (self._merging is None or self._merging.done()):
            self._merging = asyncio.create_task(self._merge(), name="limit-state-merge")

    async def _merge(self) -> None:
        rows, _ = self.local.take_dirty()
        self.local = MemoryLimitState()
        merged = 0
        for start in range(0, len(rows), MERGE_BATCH):  # each batch one script, well within the timeout
            batch = rows[start : start + MERGE_BATCH]
            try:
                merged += await self.shared.merge(batch)
            except StateStoreDown:
                # Redis went away again: what is not merged yet goes back into the (new) local store.
                for key, buckets, expires_at in rows[start:]:
                    for index, amount in buckets.items():
                        if amount:
                            charge = Charge(key, index, KEEP_EVERY_BUCKET, amount, 0, None, False, expires_at)
                            self.local.reserve_now(Batch.of([charge]))
                return
        if merged:
            logger.warning("added the counts of %d limit counters kept while Redis was away into Redis", merged)
