"""The alert outbox's tables: in `<data-dir>/alerts.db` (its own SQLite file, WAL, mode 0600), or in
the PostgreSQL database the replicas share (the same tables, created by the store's migration 7).

`alerts` holds one row per dedupe key (so a second submit of the same key is a no-op, also after a
restart and from another replica); `alert_deliveries` one row per destination of each notification
target (an email recipient, a Slack channel, a webhook), with its status, attempts, next due time,
last error and claim (`claimed_by` until `claimed_until`: the one process attempting it, whichever
worker or replica). SQLite migrations run forward on open, keyed by `PRAGMA user_version`; a file
that is not a readable alert database stops the start with one line saying which file, what is wrong
and what to do (`AlertsFileError`).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tfy_gateway.gateway.errors import StateError
from tfy_gateway.gateway.private_files import private_file

ALERTS_FILE = "alerts.db"
STATUSES = ("pending", "delivered", "failed")


_MIGRATIONS = (
    # 1: the first schema (deliveries without claims)
    f"""
    CREATE TABLE IF NOT EXISTS alerts (
        id          TEXT PRIMARY KEY,
        dedupe_key  TEXT NOT NULL UNIQUE,
        kind        TEXT NOT NULL,
        config      TEXT NOT NULL,
        rule_id     TEXT NOT NULL,
        entity      TEXT NOT NULL,
        period      TEXT NOT NULL,
        threshold   REAL NOT NULL,
        used        REAL NOT NULL,
        limit_value REAL NOT NULL,
        unit        TEXT NOT NULL,
        occurred_at REAL NOT NULL,
        created_at  REAL NOT NULL,
        body        TEXT NOT NULL
    );
    CREATE INDEX IF NOT EXISTS alerts_time ON alerts (occurred_at);
    CREATE TABLE IF NOT EXISTS deliveries (
        alert_id        TEXT NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
        target_index    INTEGER NOT NULL,
        destination     TEXT NOT NULL,
        type            TEXT NOT NULL,
        channel         TEXT NOT NULL,
        status          TEXT NOT NULL CHECK (status IN {STATUSES!r}),
        attempts        INTEGER NOT NULL DEFAULT 0,
        next_attempt_at REAL,
        last_attempt_at REAL,
        delivered_at    REAL,
        last_error      TEXT,
        PRIMARY KEY (alert_id, target_index, destination)
    );
    CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (status, next_attempt_at)
    """,
    # 2: claims, so that several workers sharing the file attempt each delivery once; the table takes
    # the name it has in PostgreSQL
    """
    ALTER TABLE deliveries RENAME TO alert_deliveries;
    ALTER TABLE alert_deliveries ADD COLUMN claimed_by TEXT;
    ALTER TABLE alert_deliveries ADD COLUMN claimed_until REAL
    """,
)
SCHEMA_VERSION = len(_MIGRATIONS)


class SchemaError(StateError, RuntimeError):
    """The database was written by a newer gateway; the message says what to do."""


class AlertsFileError(StateError, RuntimeError):
    """`alerts.db` is not a readable alert database (truncated, garbage, a directory, unreadable):
    the message names the file, the problem and what to do, in one line."""


def connect(path: Path, *, check: bool = False) -> sqlite3.Connection:
    """A connection with the schema migrated; usable from any one thread at a time. `check` (the
    outbox's start): read every page once (`PRAGMA quick_check`), so a damaged file is found now."""
    if path.is_dir():
        raise AlertsFileError(_unusable(path, "it is a directory"))
    try:
        private_file(path)
        connection = sqlite3.connect(str(path), timeout=5.0, check_same_thread=False, isolation_level=None)
    except (OSError, sqlite3.Error) as exc:
        raise AlertsFileError(_unusable(path, _reason(exc))) from None
    try:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=FULL")  # a delivered mark must survive a crash
        connection.execute("PRAGMA foreign_keys=ON")
        migrate(connection, path)
        verdict = connection.execute("PRAGMA quick_check(1)").fetchone()[0] if check else "ok"
        if verdict != "ok":
            raise sqlite3.DatabaseError(f"damaged ({verdict})")
    except sqlite3.DatabaseError as exc:
        connection.close()
        raise AlertsFileError(_unusable(path, _reason(exc))) from None
    except BaseException:
        connection.close()
        raise
    return connection


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _unusable(path: Path, reason: str) -> str:
    return (
        f"the alert outbox {path} cannot be used: {reason}. Move it aside (mv {path} {path}.broken) to start "
        "with an empty alert history (pending deliveries in it are lost), or restore it from a backup"
    )


def migrate(connection: sqlite3.Connection, path: Path) -> None:
    """Apply the migrations this file has not seen yet, each in one transaction. The version is read
    again inside each transaction: workers starting together must not apply one twice."""
    for number in range(1, SCHEMA_VERSION + 1):
        connection.execute("BEGIN IMMEDIATE")
        try:
            version = int(connection.execute("PRAGMA user_version").fetchone()[0])
            if version > SCHEMA_VERSION:
                raise SchemaError(
                    f"{path} has alert schema version {version}, newer than this gateway's {SCHEMA_VERSION}: "
                    "upgrade tfy-gateway, or move the file away to start with an empty alert history"
                )
            if version < number:
                for statement in _MIGRATIONS[number - 1].split(";"):
                    if statement.strip():
                        connection.execute(statement)
                connection.execute(f"PRAGMA user_version = {number}")
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise
