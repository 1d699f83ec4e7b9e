"""`AlertOutbox`: budget alerts persisted and delivered by a background task, once across processes.

`submit(alert)` is what budget enforcement calls on the event loop: it appends to an in-memory queue
and wakes the worker; no disk, no network, never raises for a key it has seen. The worker (started
with `start()` or `async with outbox:`) writes new alerts in one transaction per batch, ignoring keys
already stored (a second submit is a no-op, also after a restart), then claims every due delivery,
attempts it, records each outcome, and sleeps until the next one is due or something is submitted.

Where: `<data-dir>/alerts.db`, or the PostgreSQL database replicas share (`database_url`): there the
alerts' unique key dedupes across replicas and claims (`journal.py`) make one replica attempt each
delivery. Replicas that share only Redis each keep their own `alerts.db`, and a Redis `SET NX` per
alert (`claims.py`) lets only the first store and deliver it. Workers of one data dir share its file.

Exactly once: every attempt of a delivery carries the same idempotency key (`Idempotency-Key`
header, PagerDuty's `dedup_key`, an email's Message-ID), so a receiver can drop a repeat. A delivery
is marked delivered in the round the receiver accepted it. An attempt with no answer within
`timeout_s` is retried with the same key after the backoff delay, but its request stays open until
then: a receiver that answers late (2xx) still marks it delivered and the retry never goes out. A
graceful `stop()` lets in-flight attempts finish and be recorded; pending alerts (and deliveries
waiting for a retry) are picked up on the next start, or by another worker once their claim expires.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections import deque
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import anyio
import anyio.to_thread

from tfy_gateway.gateway.alerts.alert import Alert
from tfy_gateway.gateway.alerts.channels import ChannelError, ChannelResolver
from tfy_gateway.gateway.alerts.claims import AlertClaims
from tfy_gateway.gateway.alerts.clock import Clock, SystemClock
from tfy_gateway.gateway.alerts.database import AlertDatabase, open_database
from tfy_gateway.gateway.alerts.journal import Delivery, Journal, Outcome
from tfy_gateway.gateway.alerts.notifiers import DeliveryError, Endpoints, Notifier
from tfy_gateway.gateway.alerts.query import AlertFilter, list_alerts, read_alerts
from tfy_gateway.gateway.alerts.retry import RetryPolicy
from tfy_gateway.gateway.alerts.schema import ALERTS_FILE
from tfy_gateway.gateway.secrets_masking import scrub
from tfy_gateway.gateway.settings import GatewaySettings

logger = logging.getLogger(__name__)

MAX_QUEUE = 100_000
BATCH = 64  # deliveries attempted concurrently per round
STOP_GRACE_S = 5.0  # beyond the delivery timeout, how long stop() waits for in-flight attempts
POLL_S = 30.0  # how often an idle worker looks for deliveries another process left behind


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
        database_url: str | None = None,
        claims: AlertClaims | None = None,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.path = self.data_dir / ALERTS_FILE
        self.database_url = database_url
        self.retry = retry or RetryPolicy()
        self.clock: Clock = clock or SystemClock()
        self.dropped = 0
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"  # whose claim a delivery is
        self._notifier = Notifier(endpoints)
        self._environ = environ
        self._claims = None if database_url else claims  # a shared database dedupes by itself
        self._queue: deque[Alert] = deque()
        self._seen: set[str] = set()
        self._won: set[str] = set()  # claimed in Redis, not stored yet
        self._wakeup = asyncio.Event()
        self._stopping = False
        self._database: AlertDatabase | None = None
        self._journal: Journal | None = None
        self._late: set[asyncio.Task[None]] = set()
        self._task: asyncio.Task[None] | None = None
        self._idle = asyncio.Event()
        self._next_due: float | None = None

    @classmethod
    def from_settings(
        cls, settings: GatewaySettings, *, clock: Clock | None = None, claims: AlertClaims | None = None
    ) -> AlertOutbox:
        return cls(
            settings.data_dir,
            retry=RetryPolicy(settings.alert_retry_base_s, settings.alert_retry_max_s, settings.alert_max_attempts),
            endpoints=Endpoints(settings.alert_pagerduty_url, settings.alert_slack_api_url, settings.alert_timeout_s),
            clock=clock,
            database_url=settings.database_url,
            claims=claims,
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
        """Open the alert database and start the worker; pending deliveries from an earlier run resume."""
        if self.running:
            return
        self._database = await anyio.to_thread.run_sync(open_database, self.data_dir, self.database_url)
        self._journal = Journal(self._database, self.owner)
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
        for late in list(self._late):  # their deliveries are recorded: the retry goes out as planned
            late.cancel()
        await asyncio.gather(*self._late, return_exceptions=True)
        if self._journal is not None:
            with contextlib.suppress(Exception):
                await self._persist()
        await self._notifier.aclose()
        if self._database is not None:
            database, self._database, self._journal = self._database, None, None
            await anyio.to_thread.run_sync(database.close)

    async def __aenter__(self) -> AlertOutbox:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    async def settled(self) -> None:
        """Wait until everything submitted is stored, nothing is due at `clock.now()` and no late
        answer is awaited (for tests: after `ManualClock.advance`, this waits for the round the
        advance made due)."""
        while True:
            await self._idle.wait()
            if self._late:
                await asyncio.gather(*self._late, return_exceptions=True)
                continue
            if not self._queue and (self._next_due is None or self._next_due > self.clock.now()):
                return
            self._idle.clear()
            self._wakeup.set()

    async def list(self, where: AlertFilter, *, limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
        """Alerts newest first with their deliveries (`GET .../alerts`), from wherever they are kept."""
        database = self._database
        if database is None or database.dialect == "sqlite":
            path = self.path
            return await anyio.to_thread.run_sync(lambda: read_alerts(path, where, limit=limit, offset=offset))
        return await anyio.to_thread.run_sync(
            lambda: database.transaction(lambda execute: list_alerts(execute, where, limit=limit, offset=offset))
        )

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
        """Write queued alerts (one transaction); keys already in the database, or raised first by
        another replica sharing Redis, are skipped."""
        if not self._queue or self._journal is None:
            return
        batch = list(self._queue)
        journal, now = self._journal, self.clock.now()
        ours = [alert for alert in batch if await self._first(alert)]
        added = await anyio.to_thread.run_sync(journal.add, ours, now)
        for _ in batch:
            self._queue.popleft()
        self._won.difference_update(alert.id for alert in ours)
        for alert in added:
            logger.info(
                "budget alert %s: %r/%r reached %g%% (%r, %r), %d target(s)",
                alert.id, alert.config, alert.rule_id, alert.threshold, alert.entity or "shared", alert.period,
                len(alert.targets),
            )  # fmt: skip

    async def _first(self, alert: Alert) -> bool:
        if self._claims is None or alert.id in self._won:
            return True
        if await self._claims.first(alert):
            self._won.add(alert.id)  # kept across a failed write: the claim is ours already
            return True
        logger.info("alert %s was raised first by another replica, which delivers it", alert.id)
        return False

    async def _deliver_due(self) -> float | None:
        """Claim and attempt every due delivery (BATCH at a time); return when the next one is due."""
        assert self._journal is not None
        journal, wait_s = self._journal, self._notifier.endpoints.timeout_s
        while not self._stopping:
            now = self.clock.now()
            due = await anyio.to_thread.run_sync(journal.claim, now, BATCH, now + wait_s + STOP_GRACE_S)
            if not due:
                break
            channels = await anyio.to_thread.run_sync(ChannelResolver.load, self.data_dir, self._environ)
            results = await asyncio.gather(*(self._attempt(d, channels) for d in due))
            secrets = channels.secrets()
            outcomes, late = [], []
            for delivery, result in zip(due, results, strict=True):
                if isinstance(result, asyncio.Task):
                    outcomes.append(self._unanswered(delivery))
                    late.append((delivery, result))
                else:
                    outcomes.append(self._outcome(delivery, None if result is None else scrub(result, secrets)))
            await anyio.to_thread.run_sync(journal.record, outcomes)
            for delivery, request in late:
                waiter = asyncio.create_task(self._answered_late(delivery, request), name="alert-late-answer")
                self._late.add(waiter)
                waiter.add_done_callback(self._late.discard)
            if self._queue:
                await self._persist()
        next_due = await anyio.to_thread.run_sync(journal.next_due)
        poll = self.clock.now() + POLL_S  # deliveries another worker or replica left behind
        return poll if next_due is None else min(next_due, poll)

    async def _attempt(self, delivery: Delivery, channels: ChannelResolver) -> str | asyncio.Task[None] | None:
        """One attempt: None when delivered, what went wrong (scrubbed again by the caller), or, when
        the receiver has not answered within the timeout, the request still waiting for its answer."""
        target, wait_s = delivery.target, self._notifier.endpoints.timeout_s
        try:
            settings = channels.settings(target["type"], target["notification_channel"])
        except ChannelError as exc:
            return str(exc)
        request = asyncio.create_task(self._notifier.send(delivery, settings, wait_s + self._late_window(delivery)))
        done, _ = await asyncio.wait({request}, timeout=wait_s)
        if not done:
            return request
        try:
            request.result()
        except (ChannelError, DeliveryError) as exc:
            return str(exc)
        except Exception as exc:  # a bug must not stop the worker; its text may hold a secret: type only
            logger.error("delivering alert %s to %s crashed: %s", delivery.alert.id, delivery.describe(), type(exc))
            return f"internal error ({type(exc).__name__}); please report it"
        return None

    def _late_window(self, delivery: Delivery) -> float:
        """How long an unanswered attempt keeps waiting for its answer: until its retry is due."""
        delay = self.retry.delay(delivery.attempts + 1)
        return delay if delay is not None else self._notifier.endpoints.timeout_s

    def _unanswered(self, delivery: Delivery) -> Outcome:
        """No answer within the timeout: the receiver may have it. The claim is kept while the request
        waits for a late answer; then the same key goes out again (or, with no attempt left, it failed)."""
        now, wait_s = self.clock.now(), self._notifier.endpoints.timeout_s
        late = self._late_window(delivery)
        attempts = delivery.attempts + 1
        last = self.retry.delay(attempts) is None
        error = f"{delivery.describe()} gave no answer within {wait_s:g}s; a late answer within {late:g}s counts"
        if last:
            logger.warning("alert %s: %s (attempt %d, the last)", delivery.alert.id, error, attempts)
            return Outcome(delivery.ident, "failed", now, error, held_until=now + late)
        logger.warning(
            "alert %s: %s, else it is sent again with the same idempotency key (attempt %d of %d)",
            delivery.alert.id, error, attempts, self.retry.max_attempts,
        )  # fmt: skip
        return Outcome(delivery.ident, "pending", now, error, now + late, held_until=now + late)

    async def _answered_late(self, delivery: Delivery, request: asyncio.Task[None]) -> None:
        try:
            await request
        except Exception:
            return  # refused or still silent: the retry already scheduled goes out
        assert self._journal is not None
        if await anyio.to_thread.run_sync(self._journal.answered_late, delivery.ident, self.clock.now()):
            logger.info("alert %s delivered to %s (a late answer)", delivery.alert.id, delivery.describe())

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
