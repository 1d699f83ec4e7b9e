"""The control-plane store: manifests, users and tokens, in SQLite (default) or PostgreSQL.

`Store` is the interface every caller types against; `open_store` picks the engine from the settings:
`--database-url postgresql://...` for several replicas sharing one control plane, else
`<data-dir>/gateway.sqlite3`. The PostgreSQL engine (and psycopg) is imported only when used.
"""

from __future__ import annotations

from pathlib import Path

from tfy_gateway.gateway.store.base import (
    HISTORY_KEEP,
    Contents,
    HistoryRecord,
    HistorySummary,
    ResourceRecord,
    Store,
    StoreConflict,
    StoreError,
    TokenRecord,
    Transaction,
    UserRecord,
    utc_now,
)
from tfy_gateway.gateway.store.sqlite import SqliteStore

__all__ = [
    "HISTORY_KEEP",
    "Contents",
    "HistoryRecord",
    "HistorySummary",
    "ResourceRecord",
    "SqliteStore",
    "Store",
    "StoreConflict",
    "StoreError",
    "TokenRecord",
    "Transaction",
    "UserRecord",
    "open_store",
    "utc_now",
]


def open_store(database_path: Path, database_url: str | None = None) -> Store:
    """PostgreSQL at `database_url` when given, else the SQLite file at `database_path`; migrated."""
    if database_url:
        from tfy_gateway.gateway.store.postgres import PostgresStore

        return PostgresStore(database_url)
    return SqliteStore(database_path)
