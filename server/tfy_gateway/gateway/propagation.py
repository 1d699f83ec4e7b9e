"""Config propagation: writes committed by another process go live here within about a second.

Two paths lead to the same reload (`ConfigWriter.catch_up`: compare the store's
change counter with the version loaded; if it moved, read everything in one snapshot, compile it off
the event loop and install it with one assignment, so no request ever sees a mix of versions):

- a poll every `watch_interval_s` (the backstop: SQLite, or a PostgreSQL notification lost while the
  listening connection was down);
- with PostgreSQL, `LISTEN tfy_gateway_changes`: every committed write notifies, so a replica reloads
  as soon as the commit is visible. After (re)connecting the listener catches up first, so a replica
  that was cut off loads the current version before waiting for the next notification.

Bursts coalesce: notifications only wake the one reloader task, which reloads once for all of them.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import anyio

from tfy_gateway.gateway.state import GatewayState

if TYPE_CHECKING:
    import psycopg

logger = logging.getLogger(__name__)

RECONNECT_FIRST_S = 0.2
RECONNECT_MAX_S = 2.0


class Wakeup:
    """A level-triggered event that can be re-armed: `set` any number of times, `wait` returns once."""

    def __init__(self) -> None:
        self._event = anyio.Event()

    def set(self) -> None:
        self._event.set()

    async def wait(self, timeout: float) -> None:
        with anyio.move_on_after(timeout):
            await self._event.wait()
        self._event = anyio.Event()


async def propagate(state: GatewayState) -> None:
    """Run the reloader (and, with PostgreSQL, the listener) until cancelled."""
    interval = state.settings.watch_interval_s
    wakeup = Wakeup()
    async with anyio.create_task_group() as tasks:
        if state.settings.database_url:
            tasks.start_soon(_listen, state, wakeup)
        if interval > 0 or state.settings.database_url:
            tasks.start_soon(_reload_when_changed, state, wakeup, interval if interval > 0 else 3600.0)


async def _reload_when_changed(state: GatewayState, wakeup: Wakeup, interval: float) -> None:
    while True:
        await wakeup.wait(interval)
        try:
            await state.writer.catch_up()
        except Exception as exc:
            # An unreachable database is expected while PostgreSQL restarts: say it, no traceback.
            logger.warning("checking the store for changes made elsewhere failed: %s", getattr(exc, "message", exc))


async def _listen(state: GatewayState, wakeup: Wakeup) -> None:
    """Keep a LISTEN connection open; wake the reloader on every notification and after reconnecting."""
    from tfy_gateway.gateway.secrets_masking import mask_url
    from tfy_gateway.gateway.store.postgres import CHANNEL

    url = state.settings.database_url
    assert url is not None
    where = mask_url(url)
    delay = RECONNECT_FIRST_S
    lost = False
    while True:
        connection: psycopg.AsyncConnection[object] | None = None
        try:
            connection = await _connect(url)
            await connection.execute(f"LISTEN {CHANNEL}")
            if lost:
                logger.warning("listening for configuration changes on %s again", where)
            lost, delay = False, RECONNECT_FIRST_S
            wakeup.set()  # catch up with whatever was committed while we were not listening
            async for _ in connection.notifies():
                wakeup.set()
        except Exception as exc:
            if not lost:
                interval = state.settings.watch_interval_s
                logger.warning(
                    "lost the notification connection to %s (%s); reconnecting%s",
                    where,
                    str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__,
                    f", and polling every {interval:g} s meanwhile" if interval > 0 else "",
                )
            lost = True
        finally:
            if connection is not None:
                with anyio.CancelScope(shield=True):
                    await connection.close()
        await anyio.sleep(delay)
        delay = min(delay * 2, RECONNECT_MAX_S)


async def _connect(url: str) -> psycopg.AsyncConnection[object]:
    import psycopg

    from tfy_gateway.gateway.store.postgres import CONNECT_TIMEOUT_S

    connection: psycopg.AsyncConnection[object] = await psycopg.AsyncConnection.connect(
        url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S, application_name="tfy-gateway-listener"
    )
    return connection
