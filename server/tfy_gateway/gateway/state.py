"""`GatewayState`: the one object every route module reaches through `request.app.state`.

Built in the app's lifespan (never at import time), it bundles the settings, the store, the
authenticator, the compiled configuration (`config`) and the lock that serialises control-plane writes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import anyio
from starlette.requests import HTTPConnection

from tfy_gateway.gateway.accounting import PriceTable
from tfy_gateway.gateway.auth import Authenticator
from tfy_gateway.gateway.config import ConfigCompiler, ConfigHub
from tfy_gateway.gateway.identities import bootstrap_admin, token_entries
from tfy_gateway.gateway.settings import GatewaySettings
from tfy_gateway.gateway.snapshot import ConfigSnapshot
from tfy_gateway.gateway.store import Store, TokenRecord, UserRecord, open_store

logger = logging.getLogger(__name__)


class TokenReveals:
    """Virtual-account tokens waiting to be shown once (in memory only, never on disk).

    The platform's flow is "apply a virtual-account manifest, then GET /virtual-accounts/{id}/token".
    We store only hashes, so the secret made at creation is kept here until that first read.
    """

    def __init__(self) -> None:
        self._pending: dict[str, str] = {}

    def put(self, account: str, token: str) -> None:
        self._pending[account] = token

    def pop(self, account: str) -> str | None:
        return self._pending.pop(account, None)

    def discard(self, account: str) -> None:
        self._pending.pop(account, None)

    def __repr__(self) -> str:
        return f"TokenReveals(pending={len(self._pending)})"


def config_hub(settings: GatewaySettings) -> ConfigHub:
    compiler = ConfigCompiler(
        data_dir=settings.data_dir, prices=PriceTable.bundled(), routing_cache_size=settings.model_cache_size
    )
    return ConfigHub(compiler, tenant=settings.tenant_name)


@dataclass
class GatewayState:
    settings: GatewaySettings
    store: Store
    config: ConfigHub
    authenticator: Authenticator = field(default_factory=Authenticator)
    write_lock: anyio.Lock = field(default_factory=anyio.Lock)
    reveals: TokenReveals = field(default_factory=TokenReveals)
    data_version: int = 0

    @property
    def tenant(self) -> str:
        return self.settings.tenant_name

    @classmethod
    async def open(cls, settings: GatewaySettings) -> GatewayState:
        """Open (and migrate) the store, make sure the admin token exists, and load everything into memory."""
        store = await anyio.to_thread.run_sync(open_store, settings.database_path, settings.database_url)
        logger.info("control-plane store: %s", store.location)
        state = cls(settings=settings, store=store, config=config_hub(settings))
        store.observe(state._committed)
        where = await store.run(bootstrap_admin, store, settings)
        logger.info("admin token: %s", where)
        await state.reload()
        return state

    def _committed(self, before: int, after: int) -> None:
        """Our own commit: when nobody else wrote since what we loaded, memory already has it (the
        writer installs its config or refreshes identities under the write lock), so no reload."""
        if before == self.data_version:
            self.data_version = after

    async def reload(self) -> None:
        """Rebuild the configuration and the token map from one consistent read of the database
        (start, a reconnect, or a change by another replica or the offline CLI)."""
        contents = await self.store.run(self.store.contents)
        config = await self.config.prepare_from(contents.resources)
        self.config.install(config)
        self._replace_identities(config.snapshot, contents.users, contents.tokens)
        self.data_version = contents.version

    async def refresh_identities(self, snapshot: ConfigSnapshot | None = None) -> None:
        """Swap in a new token map; call after any change to users, tokens, teams or accounts."""
        users = await self.store.run(self.store.users)
        tokens = await self.store.run(self.store.tokens)
        self._replace_identities(snapshot or self.config.snapshot, users, tokens)

    def _replace_identities(self, snapshot: ConfigSnapshot, users: list[UserRecord], tokens: list[TokenRecord]) -> None:
        ids = {r.name: r.id for r in snapshot.of_type_prefix("virtual-account")}
        self.authenticator.replace(token_entries(users, tokens, snapshot.manifests(), ids))

    async def reload_if_changed_elsewhere(self) -> bool:
        """Reload when another process (a replica, `tfy-gateway users add`) committed to the database."""
        async with self.write_lock:
            return await self.catch_up()

    async def catch_up(self) -> bool:
        """`reload_if_changed_elsewhere` for a caller that already holds the write lock."""
        version = await self.store.run(self.store.data_version)
        if version == self.data_version:
            return False
        logger.info("the store is at version %d (loaded: %d): changed elsewhere; reloading", version, self.data_version)
        await self.reload()
        return True

    async def close(self) -> None:
        await self.store.run(self.store.close)


def get_state(connection: HTTPConnection) -> GatewayState:
    """The gateway state of the app serving `connection` (a Request or a WebSocket)."""
    state: GatewayState = connection.app.state.gateway
    return state
