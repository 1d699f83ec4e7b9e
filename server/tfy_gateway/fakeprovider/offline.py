"""Offline mode: the fake provider in a thread of this process, and the starter catalog applied to a gateway.

Shared by `tfy-gateway serve --offline` and `tfy-gateway mcp --local`. The fake provider runs as a
daemon thread of the same process (no child process to leave behind), on the port it had last time
for this data dir when that port is free, so the accounts seldom need re-pointing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from tfy_gateway.fakeprovider.runner import running
from tfy_gateway.fakeprovider.starter import (
    accounts_to_apply,
    previous_fake_url,
    remember_fake_url,
    starter_accounts,
    write_placeholder_secrets,
)

if TYPE_CHECKING:
    from tfy_gateway.platform import ControlPlaneClient

logger = logging.getLogger(__name__)


@dataclass
class SeedReport:
    applied: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # starter names whose live account points elsewhere


async def seed_starter_accounts(client: ControlPlaneClient, fake_url: str, previous_url: str | None) -> SeedReport:
    """Apply, through `client`, the starter accounts its control plane lacks (or that point at
    `previous_url`, an earlier fake provider); their secrets must have values already."""
    report = SeedReport()
    live = await client.list_provider_accounts()
    to_apply, report.kept = accounts_to_apply(live, fake_url, previous_url)
    for account in to_apply:
        await client.apply(account, dry_run=False)
        report.applied.append(str(account["name"]))
    return report


class OfflineProviders:
    """`with OfflineProviders(data_dir) as offline: offline.url; offline.seed(base_url, token)`."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.url = ""
        self._stack = contextlib.ExitStack()
        self._previous: str | None = None

    def start(self) -> str:
        self._previous = previous_fake_url(self.data_dir)
        port = int(self._previous.rsplit(":", 1)[-1]) if self._previous else 0
        try:
            self.url = self._stack.enter_context(running(port=port))
        except (OSError, RuntimeError):  # last time's port is taken now: any free one
            self.url = self._stack.enter_context(running(port=0))
        added = write_placeholder_secrets(self.data_dir, starter_accounts(self.url))
        if added:
            logger.info("placeholder secrets for the fake provider in %s: %s", self.data_dir, ", ".join(added))
        logger.info("fake provider at %s", self.url)
        return self.url

    def seed(self, base_url: str, api_key: str) -> SeedReport:
        """Apply the starter accounts the control plane lacks (or that point at the old fake provider)."""
        return asyncio.run(self._seed(base_url, api_key))

    async def _seed(self, base_url: str, api_key: str) -> SeedReport:
        from tfy_gateway.platform import ControlPlaneClient

        async with ControlPlaneClient(base_url, api_key) as client:
            report = await seed_starter_accounts(client, self.url, self._previous)
        remember_fake_url(self.data_dir, self.url)
        if report.applied:
            logger.info("starter accounts pointed at the fake provider: %s", ", ".join(report.applied))
        for name in report.kept:
            logger.info("provider account %s points elsewhere; left as it is", name)
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
