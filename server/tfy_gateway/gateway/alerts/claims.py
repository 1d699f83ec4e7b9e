"""`RedisAlertClaims`: which replica raised an alert first, when replicas share Redis but no database.

Each replica keeps its own `alerts.db`; the first to store an alert's dedupe key wins a `SET NX` on
`<prefix>alert:<id>` and delivers it, the others drop it. The key lives `CLAIM_TTL_S` (400 days:
longer than any periodic budget window). When Redis does not answer, the alert is kept (a repeat is
better than a lost alert) and the log says so. With a shared PostgreSQL database the alerts table's
unique key does this instead, and no claim is needed.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Protocol

from tfy_gateway.gateway.alerts.alert import Alert
from tfy_gateway.gateway.shared.state_store import StateStoreDown

if TYPE_CHECKING:
    from tfy_gateway.gateway.shared.redis import RedisLink

logger = logging.getLogger(__name__)

CLAIM_TTL_S = 400 * 24 * 3600


class AlertClaims(Protocol):
    async def first(self, alert: Alert) -> bool:
        """True when this process is the first to raise `alert` (it stores and delivers it)."""
        ...


class RedisAlertClaims:
    def __init__(self, link: RedisLink, *, prefix: str) -> None:
        self._link = link
        self._prefix = prefix

    async def first(self, alert: Alert) -> bool:
        key = f"{self._prefix}alert:{alert.id}"
        client = self._link.client
        try:
            won = await self._link.call("alert claim", lambda: client.set(key, b"1", nx=True, ex=CLAIM_TTL_S))
        except StateStoreDown as exc:
            logger.warning("alert %s: %s; delivering it from this replica (another may too)", alert.id, exc)
            return True
        return bool(won)
