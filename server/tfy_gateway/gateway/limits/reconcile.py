"""`Reconciler`: limit scripts whose caller gave up on Redis, made right once Redis answers again.

A caller waits for Redis at most `state_timeout_ms`; a script it sent may still run afterwards (a
frozen Redis runs what is in its socket once it wakes up). Left alone, a reservation that ran that
way holds its amounts until its window ends, for a request that was decided elsewhere (the local
fallback under fail-open, a 503 under fail-closed): a frozen Redis once left 3-14 full estimates in
a monthly budget. So every reservation in Redis carries a ticket (its hold marker, see
`redis_scripts`), and the limit store hands this object what it gave up on:

- a reservation sent but never answered: `cancel` gives its holds back if it ran, or leaves a
  tombstone that makes it hold nothing if it runs later;
- a settlement that did not reach Redis or whose answer was lost: `settle` sends it again; the
  marker makes it count once.

Both are kept (at most `MAX_PENDING`, the oldest dropped with a warning) until Redis answers a call
again; then one background task sends them (each a script call under the usual timeout), and keeps
what fails for the next time.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Literal, NamedTuple

from tfy_gateway.gateway.limits.state import Adjustment
from tfy_gateway.gateway.shared.state_store import StateStoreDown

logger = logging.getLogger(__name__)

MAX_PENDING = 100_000
BATCH = 200  # sent together (the batcher pipelines them), well within one timeout


class Unsettled(NamedTuple):
    """What to send again for one ticket: `cancel` undoes a reservation, `settle` completes one."""

    kind: Literal["cancel", "settle"]
    ticket: str
    adjustments: tuple[Adjustment, ...]


class Reconciler:
    def __init__(self, send: Callable[[Unsettled], Awaitable[object]]) -> None:
        self._send = send
        self._pending: dict[str, Unsettled] = {}
        self._task: asyncio.Task[None] | None = None
        self._dropped = 0
        self.reconciled = 0  # sent and answered, for tests and logs

    @property
    def pending(self) -> int:
        return len(self._pending)

    def cancel(self, ticket: str, adjustments: tuple[Adjustment, ...]) -> None:
        """A reservation with `ticket` was sent and its caller gave up: undo it once Redis answers."""
        self._keep(Unsettled("cancel", ticket, adjustments))

    def settle(self, ticket: str, adjustments: tuple[Adjustment, ...]) -> None:
        """A settlement of `ticket` may not have been applied: apply it once Redis answers (once only)."""
        self._keep(Unsettled("settle", ticket, adjustments))

    def kick(self) -> None:
        """Redis answered a call: send what is pending, in the background (one task at a time)."""
        if self._pending and (self._task is None or self._task.done()):
            self._task = asyncio.get_running_loop().create_task(self._drain(), name="limit-reconcile")

    async def stop(self) -> None:
        """Let a drain under way finish (each call is bounded by the store's timeout)."""
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)

    def _keep(self, unsettled: Unsettled) -> None:
        pending = self._pending
        if len(pending) >= MAX_PENDING:
            del pending[next(iter(pending))]
            self._dropped += 1
            if self._dropped == 1 or self._dropped % 10_000 == 0:
                logger.warning(
                    "%d limit reservations given up on while Redis did not answer were dropped unreconciled "
                    "(at most %d are kept): their holds stay until their windows end",
                    self._dropped,
                    MAX_PENDING,
                )
        pending[unsettled.ticket] = unsettled

    async def _drain(self) -> None:
        while self._pending:
            batch = list(self._pending.values())[:BATCH]
            results = await asyncio.gather(*(self._send(item) for item in batch), return_exceptions=True)
            failed = False
            for item, result in zip(batch, results, strict=True):
                if isinstance(result, StateStoreDown):
                    failed = True  # still pending: the next answer from Redis tries again
                    continue
                if self._pending.get(item.ticket) is item:
                    del self._pending[item.ticket]
                if isinstance(result, BaseException):
                    logger.error("reconciling limit reservation %s failed: %s", item.ticket, result)
                else:
                    self.reconciled += 1
            if failed:
                return
