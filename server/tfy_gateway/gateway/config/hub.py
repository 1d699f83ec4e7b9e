"""`ConfigHub`: holds the current `CompiledConfig`; the `ConfigWriter` swaps in the next one with one assignment.

Readers take `current` once and keep that value for as long as they need a consistent view: a
request authenticates, plans, authorizes and calls upstream against one version even if an apply or a
token change lands meanwhile.
"""

from __future__ import annotations

from tfy_gateway.gateway.config.compiled import EMPTY_CONFIG, CompiledConfig
from tfy_gateway.gateway.snapshot import ConfigSnapshot


class ConfigHub:
    def __init__(self) -> None:
        self._current = EMPTY_CONFIG

    @property
    def current(self) -> CompiledConfig:
        return self._current

    @property
    def snapshot(self) -> ConfigSnapshot:
        return self._current.snapshot

    @property
    def version(self) -> int:
        return self._current.version

    def install(self, config: CompiledConfig) -> None:
        """Make `config` current; every request that starts afterwards uses it. Only the writer calls this."""
        self._current = config
