"""Offline mode: the fake provider in a thread of this process, and the starter catalog applied to a gateway.

Shared by `tfy-gateway serve --offline` and `tfy-gateway mcp --local`. The fake provider runs as a
daemon thread of the same process (no child process to leave behind); the gateway is started with
`offline_upstream` set to it, so every upstream call goes there whatever address an account names
(see `gateway/providers/offline.py`). The starter accounts (the examples, see `starter.py`) are
applied where missing; accounts already there are never changed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING

from tfy_gateway.fakeprovider.runner import running
from tfy_gateway.fakeprovider.starter import accounts_to_apply

if TYPE_CHECKING:
    from tfy_gateway.platform import ControlPlaneClient

logger = logging.getLogger(__name__)


@dataclass
class SeedReport:
    applied: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # starter names the control plane already has


async def seed_starter_accounts(client: ControlPlaneClient) -> SeedReport:
    """Apply, through `client`, the starter accounts its control plane lacks."""
    report = SeedReport()
    to_apply, report.kept = accounts_to_apply(await client.list_provider_accounts())
    for account in to_apply:
        await client.apply(account, dry_run=False)
        report.applied.append(str(account["name"]))
    return report


class OfflineProviders:
    """`with OfflineProviders() as offline: offline.url; offline.seed(base_url, token)`."""

    def __init__(self) -> None:
        self.url = ""
        self._stack = contextlib.ExitStack()

    def start(self) -> str:
        self.url = self._stack.enter_context(running(port=0))
        logger.info("fake provider at %s", self.url)
        return self.url

    def seed(self, base_url: str, api_key: str) -> SeedReport:
        """Apply the starter accounts the control plane lacks."""
        return asyncio.run(self._seed(base_url, api_key))

    async def _seed(self, base_url: str, api_key: str) -> SeedReport:
        from tfy_gateway.platform import ControlPlaneClient

        async with ControlPlaneClient(base_url, api_key) as client:
            report = await seed_starter_accounts(client)
        if report.applied:
            logger.info("starter provider accounts applied: %s", ", ".join(report.applied))
        return report

    def stop(self) -> None:
        self._stack.close()

    def __enter__(self) -> OfflineProviders:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
