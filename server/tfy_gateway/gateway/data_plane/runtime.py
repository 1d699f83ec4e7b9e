"""`DataPlane`: what every request shares, built complete by the app's lifespan (`DataPlane.open`).

One pooled upstream transport (aiohttp) for every provider call, the router (whose health, latency and
sticky state outlive configuration changes), the policy hooks (limits, guardrails), the request-log
writer, the metrics registry, the budget-alert outbox (`alerts`) and OpenTelemetry export (`telemetry`).
The configuration itself is read per request from `GatewayState.config`. The rate-limit and budget
counters are built with the lifespan too: they outlive configuration changes (a rule keeps its counters
while its id and unit stay), and their journal keeps them across restarts. With `redis_url`, the
counters, sticky pins and health marks live in Redis instead, shared by every replica
(`references/scale-out.md`), under the `on_state_error` policy; there is no journal then. A `DataPlane`
exists only once all of it is open (nothing is None until start-up), and is reached through the app's
state (`data_plane_of`). Nothing here is module-level: two apps in one process never share any of it.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from starlette.requests import HTTPConnection

from tfy_gateway.gateway.alerts import Alert, AlertError, AlertOutbox
from tfy_gateway.gateway.config import ConfigHub
from tfy_gateway.gateway.data_plane.asgi import WATCH_AFTER_S
from tfy_gateway.gateway.data_plane.disconnects import DisconnectWatch
from tfy_gateway.gateway.data_plane.guarding import PolicyGuardrails
from tfy_gateway.gateway.data_plane.hooks import Guardrails, Limits
from tfy_gateway.gateway.data_plane.limiting import PolicyLimits
from tfy_gateway.gateway.limits import Limiter, LimitJournal, MemoryLimitState, ThresholdCrossed
from tfy_gateway.gateway.limits.failover import FailoverLimitState
from tfy_gateway.gateway.limits.journal import LIMITS_FILE
from tfy_gateway.gateway.metrics import GatewayMetrics
from tfy_gateway.gateway.observability.telemetry import Telemetry
from tfy_gateway.gateway.providers import DeferredTransport, Transport
from tfy_gateway.gateway.providers.deferred_transport import ClosableTransport
from tfy_gateway.gateway.request_logs import LOGS_FILE, LogWriter, log_backend
from tfy_gateway.gateway.routing import Router
from tfy_gateway.gateway.settings import GatewaySettings
from tfy_gateway.gateway.shared.breaker import CircuitBreaker
from tfy_gateway.gateway.state import GatewayState

if TYPE_CHECKING:
    from tfy_gateway.gateway.shared.redis import RedisLink

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DataPlaneOptions:
    """What an embedder or a test may replace before the app starts.

    `limits`: the rate limiter and budgets (default: `PolicyLimits` over the built-in `Limiter`);
    `guardrails`: the pipeline's guardrail hook (default: `PolicyGuardrails`, the applied guardrail
    rules, calling guardrail services over the same transport); `transport`: where upstream
    calls go (default: a pooled aiohttp client; an injected one is the caller's to close).
    """

    limits: Limits | None = None
    guardrails: Guardrails | None = None
    transport: Transport | None = None


@dataclass(frozen=True)
class DataPlane:
    state: GatewayState
    metrics: GatewayMetrics
    router: Router
    limits: Limits
    limiter: Limiter | None  # the built-in limiter (usage and explain answers); None when `limits` was replaced
    guardrails: Guardrails
    transport: Transport
    logs: LogWriter
    alerts: AlertOutbox  # budget enforcement submits threshold alerts here
    telemetry: Telemetry  # trace and OTLP metrics export, as the configuration in force asks
    disconnects: DisconnectWatch  # notices clients that leave a request under way

    @property
    def settings(self) -> GatewaySettings:
        return self.state.settings

    @property
    def config(self) -> ConfigHub:
        return self.state.config

    @property
    def logs_path(self) -> Path:
        return self.settings.data_dir / LOGS_FILE

    def require_limiter(self) -> Limiter:
        """The built-in limiter, for the views that report its counters."""
        if self.limiter is None:
            raise RuntimeError("the built-in rate limiter is not in use (the app was given its own limits)")
        return self.limiter

    @classmethod
    @asynccontextmanager
    async def open(
        cls, state: GatewayState, options: DataPlaneOptions = DataPlaneOptions()
    ) -> AsyncIterator[DataPlane]:
        """Open every shared part (Redis, counters and their journal, transport, log writer, alert
        outbox), yield the complete data plane, and close them in reverse order, also when opening fails
        half-way."""
        settings = state.settings
        metrics = GatewayMetrics()
        async with AsyncExitStack() as stack:
            link = _redis_link(settings, metrics)
            if link is not None:
                # Redis's modules are imported only here: a gateway without Redis starts without them.
                from tfy_gateway.gateway.alerts.claims import RedisAlertClaims
                from tfy_gateway.gateway.limits.redis_state import RedisLimitState
                from tfy_gateway.gateway.routing.redis_backend import RedisRoutingBackend

                stack.push_async_callback(link.aclose)
                prefix = settings.redis_key_prefix
                shared_routing = RedisRoutingBackend(link, prefix=prefix, refresh_s=settings.routing_refresh_ms / 1000)
                await shared_routing.start()
                stack.push_async_callback(shared_routing.stop)
                # Pins and marks are compared across processes: wall-clock times.
                router = Router(clock=time.time, settings=settings.routing(), backend=shared_routing)
            else:
                router = Router(settings=settings.routing())
            claims = None if link is None else RedisAlertClaims(link, prefix=settings.redis_key_prefix)
            alerts = AlertOutbox.from_settings(settings, claims=claims)  # before the limits, which may submit to it
            notify = _alerting(alerts)
            limiter: Limiter | None = None
            if options.limits is not None:
                limits = options.limits
            elif link is not None:
                shared = RedisLimitState(link, prefix=settings.redis_key_prefix)
                counters = FailoverLimitState(shared, settings.on_state_error, on_fallback=metrics.state_fallback)
                stack.push_async_callback(counters.stop)
                limiter = Limiter(counters, notify=notify, model_cache_size=settings.model_cache_size)
                limits = PolicyLimits(limiter)
            else:
                local = MemoryLimitState()
                journal = LimitJournal(settings.data_dir / LIMITS_FILE, local)
                await journal.start()
                stack.push_async_callback(journal.stop)
                metrics.limit_counters_unreadable.set(journal.unreadable)
                metrics.limit_state_emptied.set(int(journal.emptied))
                limiter = Limiter(local, notify=notify, model_cache_size=settings.model_cache_size)
                limits = PolicyLimits(limiter)
            transport = options.transport
            if transport is None:
                owned = DeferredTransport(functools.partial(_aiohttp_transport, settings))
                stack.push_async_callback(owned.aclose)
                transport = owned
            logs = LogWriter(
                log_backend(settings.data_dir / LOGS_FILE, settings.database_url),
                batch_size=settings.log_batch_size,
                flush_interval=settings.log_flush_interval_s,
                retention_days=settings.log_retention_days,
            )
            await logs.start()
            stack.push_async_callback(logs.stop)
            await alerts.start()
            stack.push_async_callback(alerts.stop)
            telemetry = Telemetry(metrics)
            stack.push_async_callback(telemetry.aclose)
            yield cls(
                state=state,
                metrics=metrics,
                router=router,
                limits=limits,
                limiter=limiter,
                guardrails=options.guardrails or PolicyGuardrails(transport),
                transport=transport,
                logs=logs,
                alerts=alerts,
                telemetry=telemetry,
                disconnects=DisconnectWatch(asyncio.get_running_loop(), WATCH_AFTER_S),
            )


def data_plane_of(connection: HTTPConnection) -> DataPlane:
    """The data plane of the app serving `connection` (set by the app's lifespan)."""
    plane: DataPlane = connection.app.state.data_plane
    return plane


def _alerting(alerts: AlertOutbox) -> Callable[[ThresholdCrossed], None]:
    """What the limiter calls when a budget counter reaches an alert threshold: hand it to the outbox
    (O(1), never raises)."""

    def threshold_crossed(event: ThresholdCrossed) -> None:
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
        alerts.submit(alert)

    return threshold_crossed


def _redis_link(settings: GatewaySettings, metrics: GatewayMetrics) -> RedisLink | None:
    """The Redis connection shared state goes through, or None to keep state in this process."""
    if settings.redis_url is None:
        return None
    from tfy_gateway.gateway.shared.redis import RedisLink

    breaker = CircuitBreaker(settings.state_breaker_failures, settings.state_breaker_cooldown_s)
    link = RedisLink(settings.redis_url, timeout_s=settings.state_timeout_ms / 1000, breaker=breaker, observer=metrics)
    logger.info(
        "shared state in Redis at %s (rate limits, budgets, sticky pins, health marks; on_state_error=%s)",
        link.shown,
        settings.on_state_error,
    )
    return link


def _aiohttp_transport(settings: GatewaySettings) -> ClosableTransport:
    """The production transport; its module (and aiohttp) is imported here, in the deferred transport's
    worker thread, not while the gateway starts."""
    from tfy_gateway.gateway.providers.aiohttp_transport import AiohttpTransport

    return AiohttpTransport(
        settings.connection_limit,
        max_response_bytes=settings.max_response_bytes,
        http1=settings.upstream_client == "http1",
    )
