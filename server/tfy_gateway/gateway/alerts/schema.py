"""The alert outbox's database: `<data-dir>/alerts.db`, its own SQLite file (WAL, mode 0600).

`alerts` holds one row per dedupe key (so a second submit of the same key is a no-op, also after a
restart); `deliveries` one row per destination of each notification target (an email recipient, a
Slack channel, a webhook), with its status, attempts, next due time and last error. Migrations run
forward on open and are keyed by `PRAGMA user_version`.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tfy_gateway.gateway.errors import StateError
from tfy_gateway.gateway.private_files import private_file

ALERTS_FILE = "alerts.db"
STATUSES = ("pending", "delivered", "failed")

_MIGRATIONS = (
    # 1: the first schema
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
    CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (status, next_attempt_at);
    """,
)
SCHEMA_VERSION = len(_MIGRATIONS)


class SchemaError(StateError, RuntimeError):
    """The database was written by a newer gateway; the message says what to do."""


def connect(path: Path) -> sqlite3.Connection:
    """A connection with the schema migrated; usable from any one thread at a time."""
    private_file(path)
    connection = sqlite3.connect(str(path), timeout=5.0, check_same_thread=False, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=FULL")  # a delivered mark must survive a crash
    connection.execute("PRAGMA foreign_keys=ON")
    migrate(connection, path)
    return connection


def migrate(connection: sqlite3.Connection, path: Path) -> None:
    """Apply the migrations this file has not seen yet, each in one transaction."""
    version = int(connection.execute("PRAGMA user_version").fetchone()[0])
    if version > SCHEMA_VERSION:
        raise SchemaError(
            f"{path} has alert schema version {version}, newer than this gateway's {SCHEMA_VERSION}: "
            "upgrade tfy-gateway, or move the file away to start with an empty alert history"
        )
    for number in range(version + 1, SCHEMA_VERSION + 1):
        connection.execute("BEGIN IMMEDIATE")
        try:
            for statement in _MIGRATIONS[number - 1].split(";"):
                if statement.strip():
                    connection.execute(statement)
            connection.execute(f"PRAGMA user_version = {number}")
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise
