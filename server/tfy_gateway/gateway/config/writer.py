"""`ConfigWriter`: the only holder of the write lock; every configuration and identity change goes through it.

Apply, delete, budget writes, users, tokens and virtual-account tokens are all one kind of write: an
*operation* reads the latest snapshot and returns the `Change` it makes (raising a 4xx `ApiError`
when it is refused). The writer runs it the same way every time:

1. **catch up** with the store (another replica or the offline CLI may have committed);
2. **plan and compile** in one worker thread, with the garbage collector paused around that CPU work
   only (never across the request's upload, a lock wait or a database round trip: config/collector.py);
3. **commit** the change in one transaction that expects the version the plan was made on; when
   another replica committed meanwhile (`StoreConflict`) nothing was written, so it catches up and
   plans again, the last time (after `OPTIMISTIC_ATTEMPTS` lost races) under the store's write lease,
   which no other process can commit through: a busy neighbour delays a write but never fails it;
4. **install** the compiled config, identities included, with one assignment: the very next request on
   this replica sees the change, and never a configuration of one version with identities of another.

Steps 3 and 4 are shielded from cancellation, so the store and memory never disagree. A dry run stops
after planning. Other replicas load the committed version through `propagation.py`.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import TypeVar

import anyio

from tfy_gateway.gateway.config.collector import CollectorPause
from tfy_gateway.gateway.config.compiled import CompiledConfig, CompileError, ConfigCompiler
from tfy_gateway.gateway.config.hub import ConfigHub
from tfy_gateway.gateway.errors import ApiError
from tfy_gateway.gateway.snapshot import Change, ConfigSnapshot, build_snapshot
from tfy_gateway.gateway.store import Store, StoreConflict

logger = logging.getLogger(__name__)

T = TypeVar("T")
Operation = Callable[[ConfigSnapshot], tuple[Change, T]]
"""Reads the latest snapshot, returns the change to commit and what the caller gets back. Runs in a
worker thread, so it must not touch the event loop; it may run more than once (after a conflict)."""

OPTIMISTIC_ATTEMPTS = 2
"""Plans that may lose the race to another replica's commit before the writer takes the write lease."""


class ChangedElsewhere(ApiError):
    """A commit got through the write lease (a process that does not honour it); nothing was written."""

    def __init__(self, what: str) -> None:
        super().__init__(
            409,
            f"Cannot change {what}: another process changed the configuration while this change held the "
            "store's write lease (an older gateway version on the same database?). Nothing was changed; "
            "try again.",
        )


class TokenReveals:
    """Virtual-account tokens waiting to be shown once (in memory only, never on disk).

    The platform's flow is "apply a virtual-account manifest, then GET /virtual-accounts/{id}/token".
    Only hashes are stored, so the secret made at creation is kept here until that first read.
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


class ConfigWriter:
    def __init__(self, store: Store, hub: ConfigHub, compiler: ConfigCompiler, *, tenant: str) -> None:
        self._store = store
        self._hub = hub
        self._compiler = compiler
        self._tenant = tenant
        self._lock = anyio.Lock()
        self._collector = CollectorPause()
        self._loaded = -1  # the store version memory holds
        self.reveals = TokenReveals()

    @property
    def loaded_version(self) -> int:
        """The store's change counter at the version installed in memory."""
        return self._loaded

    async def load(self) -> None:
        """Load everything from the store (start-up)."""
        async with self._lock:
            await self._reload()

    async def catch_up(self) -> bool:
        """Reload when another process (a replica, the offline CLI) committed; True when it did."""
        async with self._lock:
            return await self._catch_up()

    async def decode(self, parse: Callable[[], T]) -> T:
        """Run `parse` (a large request body's decoding) off the event loop with the collector paused."""

        def run() -> T:
            with self._collector.paused():
                return parse()

        return await anyio.to_thread.run_sync(run)

    async def plan(self, operation: Operation[T]) -> T:
        """A dry run: `operation` on the latest configuration; nothing is written or installed."""
        async with self._lock:
            await self._catch_up()
            snapshot = self._hub.snapshot

            def run() -> T:
                with self._collector.paused():
                    return operation(snapshot)[1]

            return await anyio.to_thread.run_sync(run)

    async def write(self, operation: Operation[T], *, what: str) -> T:
        """Plan `operation` on the latest configuration, commit its change and install the result."""
        async with self._lock:
            for _ in range(OPTIMISTIC_ATTEMPTS):
                try:
                    return await self._attempt(operation, what)
                except StoreConflict:
                    continue
            async with self._write_lease():
                try:
                    return await self._attempt(operation, what)
                except StoreConflict:
                    raise ChangedElsewhere(what) from None

    async def _attempt(self, operation: Operation[T], what: str) -> T:
        """Catch up, plan, commit, install; `StoreConflict` (nothing written) when another process won."""
        await self._catch_up()
        expected = self._loaded
        change, result, config = await anyio.to_thread.run_sync(self._plan_and_compile, operation, what)
        with anyio.CancelScope(shield=True):
            self._loaded = await self._store.run(self._commit, change, expected)
            self._hub.install(config)
        return result

    @asynccontextmanager
    async def _write_lease(self) -> AsyncIterator[None]:
        """Hold the store's write lease (taken and released in worker threads: both may block)."""
        logger.info(
            "another process committed while this change was planned, twice: planning again under the write lease"
        )
        lease = self._store.write_lease()
        await anyio.to_thread.run_sync(lease.__enter__)
        try:
            yield
        finally:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(lease.__exit__, None, None, None)

    def _plan_and_compile(self, operation: Operation[T], what: str) -> tuple[Change, T, CompiledConfig]:
        current = self._hub.current
        with self._collector.paused():
            change, result = operation(current.snapshot)
            snapshot = current.snapshot.with_change(change, version=current.version + 1)
            try:
                return change, result, self._compiler.compile(snapshot, current)
            except CompileError as exc:
                raise ApiError(
                    500,
                    f"Cannot apply {what}: {exc}. Nothing was changed; the gateway keeps serving configuration "
                    f"version {current.version}. Please report this: the manifest validated but did not compile.",
                ) from exc

    def _commit(self, change: Change, expected: int) -> int:
        with self._store.transaction(expect_version=expected) as tx:
            change.write(tx)
        return tx.version

    async def _catch_up(self) -> bool:
        version = await self._store.run(self._store.data_version)
        if version == self._loaded:
            return False
        if self._loaded >= 0:
            logger.info("the store is at version %d (loaded: %d): changed elsewhere; reloading", version, self._loaded)
        await self._reload()
        return True

    async def _reload(self) -> None:
        """Rebuild configuration and identities from one consistent read of the store."""
        contents = await self._store.run(self._store.contents)
        version = self._hub.version + 1

        def build() -> CompiledConfig:
            with self._collector.paused():
                snapshot = build_snapshot(
                    contents.resources,
                    version=version,
                    tenant=self._tenant,
                    users=contents.users,
                    tokens=contents.tokens,
                )
                return self._compiler.compile(snapshot)

        config = await anyio.to_thread.run_sync(build)
        with anyio.CancelScope(shield=True):
            self._hub.install(config)
            self._loaded = contents.version
