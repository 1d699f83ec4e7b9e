"""`DataPlane`: the per-app objects the hot path reads, built in the extension's lifespan.

One pooled aiohttp session for every upstream call, the router and the model catalog (both
recompiled on each published config snapshot), the request-log writer and the metrics registry.
Nothing here is module-level: two apps in one process never share any of it.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from tfy_gateway.gateway.accounting import PriceTable
from tfy_gateway.gateway.data_plane.catalog import EMPTY_CATALOG, ModelCatalog, build_catalog, load_secrets
from tfy_gateway.gateway.data_plane.options import DataPlaneOptions
from tfy_gateway.gateway.metrics import GatewayMetrics
from tfy_gateway.gateway.providers import AiohttpTransport
from tfy_gateway.gateway.request_logs import LOGS_FILE, LogWriter
from tfy_gateway.gateway.routing import Router
from tfy_gateway.gateway.snapshot import ConfigSnapshot
from tfy_gateway.gateway.state import GatewayState

logger = logging.getLogger(__name__)


class DataPlane:
    """Holds what requests share; `lifespan(state)` opens and closes it with the app."""

    def __init__(self, options: DataPlaneOptions) -> None:
        self.options = options
        self.metrics = GatewayMetrics()
        self.router = Router()
        self.prices = PriceTable.bundled()
        self.catalog: ModelCatalog = EMPTY_CATALOG
        self._state: GatewayState | None = None
        self._transport: AiohttpTransport | None = None
        self._logs: LogWriter | None = None
        self._data_dir = Path(".")

    @property
    def state(self) -> GatewayState:
        if self._state is None:
            raise RuntimeError("the data plane is not started (the app lifespan did not run)")
        return self._state

    @property
    def transport(self) -> AiohttpTransport:
        if self._transport is None:
            raise RuntimeError("the data plane is not started (the app lifespan did not run)")
        return self._transport

    @property
    def logs(self) -> LogWriter:
        if self._logs is None:
            raise RuntimeError("the data plane is not started (the app lifespan did not run)")
        return self._logs

    @property
    def logs_path(self) -> Path:
        return self._data_dir / LOGS_FILE

    @asynccontextmanager
    async def lifespan(self, state: GatewayState) -> AsyncIterator[None]:
        self._state = state
        self._data_dir = Path(state.settings.data_dir)
        self._transport = AiohttpTransport(self.options.connection_limit)
        self._logs = LogWriter(
            self.logs_path,
            batch_size=self.options.log_batch_size,
            flush_interval=self.options.log_flush_interval_s,
            retention_days=self.options.log_retention_days,
        )
        await self._logs.start()
        unsubscribe = state.snapshot.subscribe(self.compile)
        try:
            yield
        finally:
            unsubscribe()
            await self._logs.stop()
            await self._transport.aclose()

    def compile(self, snapshot: ConfigSnapshot) -> None:
        """Rebuild routing and upstream targets for a new snapshot (on apply, never per request)."""
        try:
            self.router.compile(snapshot)
        except Exception:
            logger.exception(
                "compiling routing rules of snapshot %d failed; keeping the previous ones", snapshot.version
            )
        # Secrets are re-read on every config change so a newly added secret needs no restart.
        self.catalog = build_catalog(snapshot, load_secrets(self._data_dir), self.prices)
