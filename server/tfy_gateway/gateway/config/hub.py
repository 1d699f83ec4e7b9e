"""`ConfigHub`: holds the current `CompiledConfig` and swaps in the next one with one assignment.

Writers (apply, delete, a reload after another process wrote the database) call `prepare`, which
builds and compiles the next snapshot in a worker thread, then `install` once the store committed.
Readers take `current` once and keep that value for as long as they need a consistent view: a
request plans, authorizes and calls upstream against one version even if an apply lands meanwhile.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import anyio

from tfy_gateway.gateway.config.collector import CollectorPause
from tfy_gateway.gateway.config.compiled import EMPTY_CONFIG, CompiledConfig, ConfigCompiler
from tfy_gateway.gateway.snapshot import ConfigSnapshot, Resource, ResourceKey, build_snapshot
from tfy_gateway.gateway.store import ResourceRecord


class ConfigHub:
    def __init__(self, compiler: ConfigCompiler, *, tenant: str) -> None:
        self._compiler = compiler
        self._tenant = tenant
        self._current = EMPTY_CONFIG
        # Writers hold `collector.paused()` from reading a manifest to installing its configuration.
        self.collector = CollectorPause()

    @property
    def current(self) -> CompiledConfig:
        return self._current

    @property
    def snapshot(self) -> ConfigSnapshot:
        return self._current.snapshot

    @property
    def version(self) -> int:
        return self._current.version

    async def prepare(self, changes: Mapping[ResourceKey, Resource | None]) -> CompiledConfig:
        """The current resources with `changes` applied (None deletes), compiled as the next version."""
        resources = dict(self._current.snapshot.resources)
        for key, resource in changes.items():
            if resource is None:
                resources.pop(key, None)
            else:
                resources[key] = resource
        return await self.prepare_from(resources.values())

    async def prepare_from(self, records: Iterable[ResourceRecord | Resource]) -> CompiledConfig:
        """A whole new configuration (start-up, or a reload from the database), compiled off the loop."""
        version = self._current.version + 1
        items = list(records)

        def build() -> CompiledConfig:
            with self.collector.paused():
                snapshot = build_snapshot(items, version=version, tenant=self._tenant)
                return self._compiler.compile(snapshot)

        return await anyio.to_thread.run_sync(build)

    def install(self, config: CompiledConfig) -> None:
        """Make `config` current; every request that starts afterwards uses it."""
        self._current = config
