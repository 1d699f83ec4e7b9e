"""`GatewayState`: the one object every route module reaches through `request.app.state`.

Built in the app's lifespan (never at import time), it bundles the settings, the store, the current
compiled configuration (`config`: manifests and identities as one value) and the `ConfigWriter`, the
only way either changes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import anyio
from starlette.requests import HTTPConnection

from tfy_gateway.gateway.accounting import PriceTable
from tfy_gateway.gateway.auth import Authenticator
from tfy_gateway.gateway.config import ConfigCompiler, ConfigHub, ConfigWriter
from tfy_gateway.gateway.dir_lock import DataDirLock
from tfy_gateway.gateway.identities import bootstrap_admin
from tfy_gateway.gateway.observability.spec import defaults_from
from tfy_gateway.gateway.providers.secrets import exposed_secret_files
from tfy_gateway.gateway.settings import GatewaySettings
from tfy_gateway.gateway.store import Store, open_store

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class GatewayState:
    settings: GatewaySettings
    store: Store
    config: ConfigHub
    writer: ConfigWriter
    dir_lock: DataDirLock

    @property
    def tenant(self) -> str:
        return self.settings.tenant_name

    @property
    def authenticator(self) -> Authenticator:
        """The token map of the current configuration (read it once per request, with the config)."""
        return self.config.current.identities

    @classmethod
    async def open(cls, settings: GatewaySettings) -> GatewayState:
        """Hold the data dir (the offline CLI refuses while a server does), open (and migrate) the store, make
        sure the admin token exists, and load everything into memory."""
        dir_lock = DataDirLock(settings.data_dir)
        await anyio.to_thread.run_sync(dir_lock.acquire)
        try:
            store = await anyio.to_thread.run_sync(open_store, settings.database_path, settings.database_url)
        except BaseException:
            dir_lock.release()
            raise
        logger.info("control-plane store: %s", store.location)
        for warning in exposed_secret_files(settings.data_dir):
            logger.warning("%s", warning)
        hub = ConfigHub()
        compiler = ConfigCompiler(
            settings.data_dir,
            PriceTable.bundled(),
            defaults_from(settings),
            offline_upstream=settings.offline_upstream,
            guardrail_timeout_ms=settings.guardrail_timeout_ms,
        )
        state = cls(settings, store, hub, ConfigWriter(store, hub, compiler, tenant=settings.tenant_name), dir_lock)
        try:
            where = await store.run(bootstrap_admin, store, settings)
            logger.info("admin token: %s", where)
            await state.writer.load()
        except BaseException:
            with anyio.CancelScope(shield=True):
                await state.close()
            raise
        return state

    async def close(self) -> None:
        try:
            await self.store.run(self.store.close)
        finally:
            self.dir_lock.release()


def get_state(connection: HTTPConnection) -> GatewayState:
    """The gateway state of the app serving `connection` (a Request or a WebSocket)."""
    state: GatewayState = connection.app.state.gateway
    return state
