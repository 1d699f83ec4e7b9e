"""`DataPlane`: what every request shares, opened and closed with the app's lifespan.

One pooled upstream transport (aiohttp) for every provider call, the router (whose health, latency and sticky
state outlive configuration changes), the policy hooks (limits, guardrails), the request-log writer,
the metrics registry and the budget-alert outbox (`alerts`). The configuration itself is read per
request from `GatewayState.config`. The rate-limit and budget counters are built with the lifespan
too: they outlive configuration changes (a rule keeps its counters while its id and unit stay), and
their journal keeps them across restarts. Nothing here is module-level: two apps in one process never
share any of it.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from tfy_gateway.gateway.alerts import Alert, AlertError, AlertOutbox
from tfy_gateway.gateway.config import ConfigHub
from tfy_gateway.gateway.data_plane.hooks import Guardrails, Limits, NoGuardrails
from tfy_gateway.gateway.data_plane.limiting import PolicyLimits
from tfy_gateway.gateway.limits import Limiter, LimitJournal, MemoryLimitState, ThresholdCrossed
from tfy_gateway.gateway.limits.journal import LIMITS_FILE
from tfy_gateway.gateway.metrics import GatewayMetrics
from tfy_gateway.gateway.providers import AiohttpTransport, Transport
from tfy_gateway.gateway.request_logs import LOGS_FILE, LogWriter, log_backend
from tfy_gateway.gateway.routing import Router
from tfy_gateway.gateway.settings import GatewaySettings
from tfy_gateway.gateway.state import GatewayState

logger = logging.getLogger(__name__)

NOT_STARTED = "the data plane is not started (the app lifespan did not run)"


class DataPlane:
    """Holds what requests share; `lifespan(state)` opens and closes it with the app."""

    def __init__(self, *, limits: Limits | None = None, guardrails: Guardrails | None = None) -> None:
        self.metrics = GatewayMetrics()
        # A replacement for the rate limiter (tests, embedders); None: `PolicyLimits`, built by the lifespan.
        self._limits_override = limits
        self._limits: Limits | None = limits
        self._limiter: Limiter | None = None
        self.guardrails: Guardrails = guardrails or NoGuardrails()
        self._state: GatewayState | None = None
        self._router: Router | None = None
        self._transport: AiohttpTransport | None = None
        self._logs: LogWriter | None = None
        self._alerts: AlertOutbox | None = None

    @property
    def state(self) -> GatewayState:
        if self._state is None:
            raise RuntimeError(NOT_STARTED)
        return self._state

    @property
    def settings(self) -> GatewaySettings:
        return self.state.settings

    @property
    def config(self) -> ConfigHub:
        return self.state.config

    @property
    def limits(self) -> Limits:
        if self._limits is None:
            raise RuntimeError(NOT_STARTED)
        return self._limits

    @property
    def limiter(self) -> Limiter:
        """The built-in limiter (for usage and explain answers); absent when `limits` was replaced."""
        if self._limiter is None:
            raise RuntimeError("the built-in rate limiter is not in use (the app was given its own limits)")
        return self._limiter

    @property
    def router(self) -> Router:
        if self._router is None:
            raise RuntimeError(NOT_STARTED)
        return self._router

    @property
    def transport(self) -> Transport:
        if self._transport is None:
            raise RuntimeError(NOT_STARTED)
        return self._transport

    @property
    def logs(self) -> LogWriter:
        if self._logs is None:
            raise RuntimeError(NOT_STARTED)
        return self._logs

    @property
    def alerts(self) -> AlertOutbox:
        """Budget enforcement calls `plane.alerts.submit(alert)` when a threshold is crossed."""
        if self._alerts is None:
            raise RuntimeError(NOT_STARTED)
        return self._alerts

    @property
    def logs_path(self) -> Path:
        return self.settings.data_dir / LOGS_FILE

    def _threshold_crossed(self, event: ThresholdCrossed) -> None:
        """A budget counter reached an alert threshold: hand it to the outbox (O(1), never raises)."""
        try:
            alert = Alert(
                config=event.config_name,
                rule_id=event.rule_id,
                entity=event.entity,
                period=event.period,
                threshold=event.threshold,
                used=event.used,
                limit=event.limit,
                unit=event.unit,
                occurred_at=event.occurred_at,
                targets=event.targets,
            )
        except AlertError as exc:
            logger.error("budget %s/%s: cannot alert: %s", event.config_name, event.rule_id, exc)
            return
        self.alerts.submit(alert)

    @asynccontextmanager
    async def lifespan(self, state: GatewayState) -> AsyncIterator[None]:
        settings = state.settings
        self._state = state
        self._router = Router(settings=settings.routing())
        self._alerts = AlertOutbox.from_settings(settings)  # before the limits, which may submit to it
        journal: LimitJournal | None = None
        if self._limits_override is not None:
            self._limits = self._limits_override
        else:
            counters = MemoryLimitState()
            journal = LimitJournal(settings.data_dir / LIMITS_FILE, counters)
            await journal.start()
            self._limiter = Limiter(counters, notify=self._threshold_crossed)
            self._limits = PolicyLimits(self._limiter)
        self._transport = AiohttpTransport(settings.connection_limit, max_response_bytes=settings.max_response_bytes)
        self._logs = LogWriter(
            log_backend(self.logs_path, settings.database_url),
            batch_size=settings.log_batch_size,
            flush_interval=settings.log_flush_interval_s,
            retention_days=settings.log_retention_days,
        )
        await self._logs.start()
        await self._alerts.start()
        try:
            yield
        finally:
            await self._alerts.stop()
            await self._logs.stop()
            await self._transport.aclose()
            if journal is not None:
                await journal.stop()
