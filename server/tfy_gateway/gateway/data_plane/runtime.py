"""`DataPlane`: what every request shares, opened and closed with the app's lifespan.

One pooled upstream transport (aiohttp) for every provider call, the router (whose health, latency and sticky
state outlive configuration changes), the policy hooks (limits, guardrails), the request-log writer,
the metrics registry and the budget-alert outbox (`alerts`). The configuration itself is read per
request from `GatewayState.config`. The rate-limit and budget counters are built with the lifespan
too: they outlive configuration changes (a rule keeps its counters while its id and unit stay), and
their journal keeps them across restarts. With `redis_url`, the counters, sticky pins and health
marks live in Redis instead, shared by every replica (`references/scale-out.md`), under the
`on_state_error` policy; there is no journal then. Nothing here is module-level: two apps in one
process never share any of it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from tfy_gateway.gateway.alerts import Alert, AlertError, AlertOutbox
from tfy_gateway.gateway.config import ConfigHub
from tfy_gateway.gateway.data_plane.hooks import Guardrails, Limits, NoGuardrails
from tfy_gateway.gateway.data_plane.limiting import PolicyLimits
from tfy_gateway.gateway.limits import Limiter, LimitJournal, MemoryLimitState, ThresholdCrossed
from tfy_gateway.gateway.limits.failover import FailoverLimitState
from tfy_gateway.gateway.limits.journal import LIMITS_FILE
from tfy_gateway.gateway.limits.redis_state import RedisLimitState
from tfy_gateway.gateway.metrics import GatewayMetrics
from tfy_gateway.gateway.providers import AiohttpTransport, Transport
from tfy_gateway.gateway.request_logs import LOGS_FILE, LogWriter, log_backend
from tfy_gateway.gateway.routing import Router
from tfy_gateway.gateway.routing.redis_backend import RedisRoutingBackend
from tfy_gateway.gateway.settings import GatewaySettings
from tfy_gateway.gateway.shared.breaker import CircuitBreaker
from tfy_gateway.gateway.shared.redis import RedisLink
from tfy_gateway.gateway.state import GatewayState

logger = logging.getLogger(__name__)

NOT_STARTED = "the data plane is not started (the app lifespan did not run)"


class DataPlane:
    """Holds what requests share; `lifespan(state)` opens and closes it with the app."""

    def __init__(
        self, *, limits: Limits | None = None, guardrails: Guardrails | None = None, transport: Transport | None = None
    ) -> None:
        self.metrics = GatewayMetrics()
        # An injected transport (tests: MemoryTransport or an in-process fake provider) is the caller's to close.
        self._transport_override = transport
        # A replacement for the rate limiter (tests, embedders); None: `PolicyLimits`, built by the lifespan.
        self._limits_override = limits
        self._limits: Limits | None = limits
        self._limiter: Limiter | None = None
        self.guardrails: Guardrails = guardrails or NoGuardrails()
        self._state: GatewayState | None = None
        self._router: Router | None = None
        self._transport: Transport | None = None
        self._logs: LogWriter | None = None
        self._alerts: AlertOutbox | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def state(self) -> GatewayState:
        if self._state is None:
            raise RuntimeError(NOT_STARTED)
        return self._state

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The event loop the data plane serves on (taken once at start-up)."""
        if self._loop is None:
            raise RuntimeError(NOT_STARTED)
        return self._loop

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
        self._loop = asyncio.get_running_loop()
        link = self._redis_link(settings)
        shared_routing: RedisRoutingBackend | None = None
        shared_limits: FailoverLimitState | None = None
        if link is not None:
            prefix = settings.redis_key_prefix
            shared_routing = RedisRoutingBackend(link, prefix=prefix, refresh_s=settings.routing_refresh_ms / 1000)
            await shared_routing.start()
            # Pins and marks are compared across processes: wall-clock times.
            self._router = Router(clock=time.time, settings=settings.routing(), backend=shared_routing)
        else:
            self._router = Router(settings=settings.routing())
        self._alerts = AlertOutbox.from_settings(settings)  # before the limits, which may submit to it
        journal: LimitJournal | None = None
        if self._limits_override is not None:
            self._limits = self._limits_override
        elif link is not None:
            shared = RedisLimitState(link, prefix=settings.redis_key_prefix)
            fallback = self.metrics.state_fallback
            shared_limits = FailoverLimitState(shared, settings.on_state_error, on_fallback=fallback)
            self._limiter = Limiter(
                shared_limits, notify=self._threshold_crossed, model_cache_size=settings.model_cache_size
            )
            self._limits = PolicyLimits(self._limiter)
        else:
            counters = MemoryLimitState()
            journal = LimitJournal(settings.data_dir / LIMITS_FILE, counters)
            await journal.start()
            self._limiter = Limiter(
                counters, notify=self._threshold_crossed, model_cache_size=settings.model_cache_size
            )
            self._limits = PolicyLimits(self._limiter)
        owned: AiohttpTransport | None = None
        if self._transport_override is not None:
            self._transport = self._transport_override
        else:
            owned = AiohttpTransport(settings.connection_limit, max_response_bytes=settings.max_response_bytes)
            self._transport = owned
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
            if owned is not None:
                await owned.aclose()
            if journal is not None:
                await journal.stop()
            if shared_limits is not None:
                await shared_limits.stop()
            if shared_routing is not None:
                await shared_routing.stop()
            if link is not None:
                await link.aclose()

    def _redis_link(self, settings: GatewaySettings) -> RedisLink | None:
        """The Redis connection shared state goes through, or None to keep state in this process."""
        if settings.redis_url is None:
            return None
        breaker = CircuitBreaker(settings.state_breaker_failures, settings.state_breaker_cooldown_s)
        link = RedisLink(
            settings.redis_url, timeout_s=settings.state_timeout_ms / 1000, breaker=breaker, observer=self.metrics
        )
        logger.info(
            "shared state in Redis at %s (rate limits, budgets, sticky pins, health marks; on_state_error=%s)",
            link.shown,
            settings.on_state_error,
        )
        return link
