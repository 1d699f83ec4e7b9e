"""`AlertOutbox`: budget alerts persisted in `<data-dir>/alerts.db` and delivered by a background task.

`submit(alert)` is what budget enforcement calls on the event loop: it appends to an in-memory queue
and wakes the worker; no disk, no network, never raises for a key it has seen. The worker (started
with `start()` or `async with outbox:`) writes new alerts in one transaction per batch, ignoring keys
already stored (a second submit is a no-op, also after a restart), then attempts every due delivery,
records each outcome, and sleeps until the next one is due or something is submitted.

Exactly once: a delivery is marked delivered in the same round that the receiver accepted it, and a
graceful `stop()` lets in-flight attempts finish and be recorded before it returns; pending alerts
(and deliveries waiting for a retry) are picked up on the next start. Only a crash between a
receiver's 2xx and the commit (milliseconds) can repeat one; PagerDuty folds that repeat by
`dedup_key`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections import deque
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

import anyio
import anyio.to_thread

from tfy_gateway.gateway.alerts.alert import Alert
from tfy_gateway.gateway.alerts.channels import ChannelError, ChannelResolver
from tfy_gateway.gateway.alerts.clock import Clock, SystemClock
from tfy_gateway.gateway.alerts.journal import Delivery, Journal, Outcome
from tfy_gateway.gateway.alerts.notifiers import DeliveryError, Endpoints, Notifier
from tfy_gateway.gateway.alerts.retry import RetryPolicy
from tfy_gateway.gateway.alerts.schema import ALERTS_FILE, connect
from tfy_gateway.gateway.secrets_masking import scrub
from tfy_gateway.gateway.settings import GatewaySettings

logger = logging.getLogger(__name__)

MAX_QUEUE = 100_000
BATCH = 64  # deliveries attempted concurrently per round
STOP_GRACE_S = 5.0  # beyond the delivery timeout, how long stop() waits for in-flight attempts


class AlertOutbox:
    """Persistent, deduplicated, retried delivery of `Alert`s to their notification targets."""

    def __init__(
        self,
        data_dir: Path,
        *,
        retry: RetryPolicy | None = None,
        endpoints: Endpoints | None = None,
        clock: Clock | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.path = self.data_dir / ALERTS_FILE
        self.retry = retry or RetryPolicy()
        self.clock: Clock = clock or SystemClock()
        self.dropped = 0
        self._notifier = Notifier(endpoints)
        self._environ = environ
        self._queue: deque[Alert] = deque()
        self._seen: set[str] = set()
        self._wakeup = asyncio.Event()
        self._stopping = False
        self._connection: sqlite3.Connection | None = None
        self._journal: Journal | None = None
        self._task: asyncio.Task[None] | None = None
        self._idle = asyncio.Event()
        self._next_due: float | None = None

    @classmethod
    def from_settings(cls, settings: GatewaySettings, *, clock: Clock | None = None) -> AlertOutbox:
        return cls(
            settings.data_dir,
            retry=RetryPolicy(settings.alert_retry_base_s, settings.alert_retry_max_s, settings.alert_max_attempts),
            endpoints=Endpoints(settings.alert_pagerduty_url, settings.alert_slack_api_url, settings.alert_timeout_s),
            clock=clock,
        )

    def __repr__(self) -> str:
        return f"AlertOutbox(path={str(self.path)!r}, queued={len(self._queue)}, running={self.running})"

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    # --- the API budget enforcement calls -------------------------------------------------------------

    def submit(self, alert: Alert) -> None:
        """Queue `alert` for delivery; O(1), never blocks. A key already submitted is ignored."""
        key = alert.key_text
        if key in self._seen:
            return
        if len(self._queue) >= MAX_QUEUE:
            self.dropped += 1
            logger.error("alert queue full (%d): alert %s of rule %s dropped", MAX_QUEUE, alert.id, alert.rule_id)
            return
        self._seen.add(key)
        self._queue.append(alert)
        self._idle.clear()
        self._wakeup.set()

    # --- lifespan -------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Open `alerts.db` and start the worker; pending deliveries from an earlier run resume."""
        if self.running:
            return
        self._connection = await anyio.to_thread.run_sync(connect, self.path)
        self._journal = Journal(self._connection)
        await self._notifier.open()
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name="alert-outbox")

    async def stop(self) -> None:
        """Let in-flight attempts finish and be recorded, persist what is queued, then close."""
        self._stopping = True
        self._wakeup.set()
        if self._task is not None:
            task, self._task = self._task, None
            try:
                await asyncio.wait_for(asyncio.shield(task), self._notifier.endpoints.timeout_s + STOP_GRACE_S)
            except asyncio.TimeoutError:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if self._journal is not None:
            with contextlib.suppress(Exception):
                await self._persist()
        await self._notifier.aclose()
        if self._connection is not None:
            connection, self._connection, self._journal = self._connection, None, None
            await anyio.to_thread.run_sync(connection.close)

    async def __aenter__(self) -> AlertOutbox:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    async def settled(self) -> None:
        """Wait until everything submitted is stored and nothing is due at `clock.now()` (for tests:
        after `ManualClock.advance`, this waits for the round the advance made due)."""
        while True:
            await self._idle.wait()
            if not self._queue and (self._next_due is None or self._next_due > self.clock.now()):
                return
            self._idle.clear()
            self._wakeup.set()

    # --- the worker -----------------------------------------------------------------------------------

    async def _run(self) -> None:
        while not self._stopping:
            self._wakeup.clear()
            try:
                await self._persist()
                next_due = await self._deliver_due()
            except Exception:
                logger.exception("the alert outbox failed a round; retrying in %gs", self.retry.base_s)
                next_due = self.clock.now() + self.retry.base_s
            if self._stopping:
                break
            self._next_due = next_due
            if not self._queue:
                self._idle.set()
            await self._wait(next_due)

    async def _persist(self) -> None:
        """Write queued alerts (one transaction); keys already in the database are skipped."""
        if not self._queue or self._journal is None:
            return
        batch = list(self._queue)
        journal, now = self._journal, self.clock.now()
        added = await anyio.to_thread.run_sync(journal.add, batch, now)
        for _ in batch:
            self._queue.popleft()
        for alert in added:
            logger.info(
                "budget alert %s: %r/%r reached %g%% (%r, %r), %d target(s)",
                alert.id, alert.config, alert.rule_id, alert.threshold, alert.entity or "shared", alert.period,
                len(alert.targets),
            )  # fmt: skip

    async def _deliver_due(self) -> float | None:
        """Attempt every due delivery (BATCH at a time); return when the next one is due."""
        assert self._journal is not None
        journal = self._journal
        while not self._stopping:
            due = await anyio.to_thread.run_sync(journal.due, self.clock.now(), BATCH)
            if not due:
                break
            channels = await anyio.to_thread.run_sync(ChannelResolver.load, self.data_dir, self._environ)
            errors = await asyncio.gather(*(self._attempt(d, channels) for d in due))
            secrets = channels.secrets()
            outcomes = [
                self._outcome(d, None if e is None else scrub(e, secrets)) for d, e in zip(due, errors, strict=True)
            ]
            await anyio.to_thread.run_sync(journal.record, outcomes)
            if self._queue:
                await self._persist()
        return await anyio.to_thread.run_sync(journal.next_due)

    async def _attempt(self, delivery: Delivery, channels: ChannelResolver) -> str | None:
        """One attempt: None when delivered, else what went wrong (scrubbed again by the caller)."""
        target = delivery.target
        try:
            settings = channels.settings(target["type"], target["notification_channel"])
            await self._notifier.send(delivery, settings)
        except (ChannelError, DeliveryError) as exc:
            return str(exc)
        except Exception as exc:  # a bug must not stop the worker; its text may hold a secret: type only
            logger.error("delivering alert %s to %s crashed: %s", delivery.alert.id, delivery.describe(), type(exc))
            return f"internal error ({type(exc).__name__}); please report it"
        return None

    def _outcome(self, delivery: Delivery, error: str | None) -> Outcome:
        now = self.clock.now()
        if error is None:
            logger.info("alert %s delivered to %s", delivery.alert.id, delivery.describe())
            return Outcome(delivery.ident, "delivered", now)
        attempts = delivery.attempts + 1
        delay = self.retry.delay(attempts)
        if delay is None:
            logger.warning(
                "alert %s to %s failed after %d attempt(s), giving up: %s",
                delivery.alert.id, delivery.describe(), attempts, error,
            )  # fmt: skip
            return Outcome(delivery.ident, "failed", now, error)
        logger.warning(
            "alert %s to %s failed (attempt %d of %d, next in %gs): %s",
            delivery.alert.id, delivery.describe(), attempts, self.retry.max_attempts, delay, error,
        )  # fmt: skip
        return Outcome(delivery.ident, "pending", now, error, now + delay)

    async def _wait(self, next_due: float | None) -> None:
        """Until the next due time, a submit, or stop, whichever comes first."""
        waiters: list[asyncio.Future[object]] = [asyncio.ensure_future(self._wakeup.wait())]
        if next_due is not None:
            waiters.append(asyncio.ensure_future(self.clock.sleep_until(next_due)))
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
            await asyncio.gather(*waiters, return_exceptions=True)
