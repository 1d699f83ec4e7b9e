"""Versioned schema migrations, one list for both engines, recorded in `schema_migrations`.

Each migration has the SQL for SQLite and for PostgreSQL; they are the same text wherever the two
dialects agree (most of it). A store applies the missing ones in order, inside one transaction, when it
opens: so a replica that starts against an older database upgrades it, and two replicas starting at
once apply each migration exactly once (SQLite: `BEGIN IMMEDIATE`; PostgreSQL: an advisory lock).
A database migrated by a newer tfy-gateway is refused rather than misread.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from tfy_gateway.gateway.batches import schema as batch_tables
from tfy_gateway.gateway.request_logs.schema import TEAMS_COLUMN, table_sql
from tfy_gateway.gateway.store.base import Cursor, StoreError, utc_now

Dialect = Literal["sqlite", "postgres"]


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sqlite: str
    postgres: str

    def statements(self, dialect: Dialect) -> list[str]:
        text = self.sqlite if dialect == "sqlite" else self.postgres
        return [part.strip() for part in text.split(";") if part.strip()]


_CONTROL_TABLES = """
CREATE TABLE IF NOT EXISTS resources (
    {seq}id          TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,
    name        TEXT NOT NULL,
    type        TEXT NOT NULL,
    manifest    TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    UNIQUE (kind, name)
);
CREATE TABLE IF NOT EXISTS users (
    email       TEXT PRIMARY KEY,
    id          TEXT NOT NULL UNIQUE,
    is_admin    INTEGER NOT NULL DEFAULT 0,
    created_at  TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS tokens (
    id          TEXT PRIMARY KEY,
    token_hash  TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    owner_kind  TEXT NOT NULL CHECK (owner_kind IN ('user', 'virtualaccount')),
    owner       TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    expires_at  TEXT
);
CREATE INDEX IF NOT EXISTS tokens_owner ON tokens (owner_kind, owner)
"""

_CONTROL_VERSION = """
CREATE TABLE IF NOT EXISTS control_version (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    version BIGINT NOT NULL
);
INSERT INTO control_version (id, version) VALUES (1, 0) ON CONFLICT (id) DO NOTHING
"""

# SQLite keeps request logs in their own file (request_logs/schema.py) so that their volume never
# slows control-plane writes; with PostgreSQL they share the database every replica writes to.
_REQUEST_LOGS_POSTGRES = table_sql("DOUBLE PRECISION")
_REQUEST_LOG_TEAMS_POSTGRES = f"ALTER TABLE request_logs ADD COLUMN IF NOT EXISTS {TEAMS_COLUMN}"

# Every version of every resource, appended by `Change.write` in the writer's transaction (a delete is a
# NULL manifest). `version` is the store's change counter of that transaction, so versions of different
# resources interleave in commit order. Resources that exist when this migration runs get one row at
# the current counter (who changed them before is unknown). Retention: `base.HISTORY_KEEP` per resource.
_RESOURCE_HISTORY = """
CREATE TABLE IF NOT EXISTS resource_history (
    kind        TEXT NOT NULL,
    name        TEXT NOT NULL,
    version     BIGINT NOT NULL,
    type        TEXT NOT NULL,
    manifest    TEXT,
    digest      TEXT,
    changed_by  TEXT,
    changed_at  TEXT NOT NULL,
    PRIMARY KEY (kind, name, version)
);
INSERT INTO resource_history (kind, name, version, type, manifest, digest, changed_by, changed_at)
SELECT kind, name, (SELECT version FROM control_version WHERE id = 1), type, manifest, NULL, NULL, updated_at
FROM resources
"""

# SQLite keeps budget alerts in alerts.db (alerts/schema.py, the same tables); replicas sharing PostgreSQL
# share them here, so that an alert is stored and delivered once whichever replica raised it.
_ALERTS_POSTGRES = """
CREATE TABLE IF NOT EXISTS alerts (
    id          TEXT PRIMARY KEY,
    dedupe_key  TEXT NOT NULL UNIQUE,
    kind        TEXT NOT NULL,
    config      TEXT NOT NULL,
    rule_id     TEXT NOT NULL,
    entity      TEXT NOT NULL,
    period      TEXT NOT NULL,
    threshold   DOUBLE PRECISION NOT NULL,
    used        DOUBLE PRECISION NOT NULL,
    limit_value DOUBLE PRECISION NOT NULL,
    unit        TEXT NOT NULL,
    occurred_at DOUBLE PRECISION NOT NULL,
    created_at  DOUBLE PRECISION NOT NULL,
    body        TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS alerts_time ON alerts (occurred_at);
CREATE TABLE IF NOT EXISTS alert_deliveries (
    alert_id        TEXT NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
    target_index    INTEGER NOT NULL,
    destination     TEXT NOT NULL,
    type            TEXT NOT NULL,
    channel         TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at DOUBLE PRECISION,
    last_attempt_at DOUBLE PRECISION,
    delivered_at    DOUBLE PRECISION,
    last_error      TEXT,
    claimed_by      TEXT,
    claimed_until   DOUBLE PRECISION,
    PRIMARY KEY (alert_id, target_index, destination)
);
CREATE INDEX IF NOT EXISTS alert_deliveries_due ON alert_deliveries (status, next_attempt_at)
"""


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "resources, users and tokens",
        # SQLite orders resources by rowid; PostgreSQL has none, so an identity column keeps the order.
        _CONTROL_TABLES.format(seq=""),
        _CONTROL_TABLES.format(seq="seq BIGINT GENERATED ALWAYS AS IDENTITY,\n    "),
    ),
    Migration(2, "change counter read by every replica", _CONTROL_VERSION, _CONTROL_VERSION),
    Migration(3, "request logs (PostgreSQL only)", "", _REQUEST_LOGS_POSTGRES),
    # A table created by migration 3 from a newer table_sql already has the column.
    Migration(4, "request logs: trace_id", "", "ALTER TABLE request_logs ADD COLUMN IF NOT EXISTS trace_id TEXT"),
    Migration(5, "resource version history", _RESOURCE_HISTORY, _RESOURCE_HISTORY),
    # Databases whose request_logs table came from migration 3 before it had the column.
    Migration(
        6, "request logs: the caller's teams", "", f"ALTER TABLE request_logs ADD COLUMN IF NOT EXISTS {TEAMS_COLUMN}"
    ),
    Migration(7, "budget alerts and their deliveries (PostgreSQL only)", "", _ALERTS_POSTGRES),
    Migration(
        8,
        "request logs: guardrail checks",
        "",
        "ALTER TABLE request_logs ADD COLUMN IF NOT EXISTS guardrails TEXT NOT NULL DEFAULT '[]'",
    ),
    Migration(9, "files, batches and their results (the Batch API)", batch_tables.SQLITE, batch_tables.POSTGRES),
)
LATEST = MIGRATIONS[-1].version

_BOOKKEEPING = (
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
)


def migrate(
    execute: Callable[[str, tuple[Any, ...]], Cursor],
    dialect: Dialect,
    *,
    where: str,
    migrations: Sequence[Migration] = MIGRATIONS,
) -> list[int]:
    """Apply the missing migrations through `execute` (inside the caller's transaction and lock).

    Returns the versions applied. `where` names the database in the error for a newer schema.
    """
    execute(_BOOKKEEPING, ())
    applied = {int(row[0]) for row in execute("SELECT version FROM schema_migrations", ()).fetchall()}
    newest_known = migrations[-1].version if migrations else 0
    if applied and max(applied) > newest_known:
        raise StoreError(
            f"{where} was written by a newer tfy-gateway (schema {max(applied)} > {newest_known}); "
            "upgrade tfy-gateway or point it at another database"
        )
    done = []
    for migration in migrations:
        if migration.version in applied:
            continue
        for statement in migration.statements(dialect):
            execute(statement, ())
        execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
            (migration.version, migration.name, utc_now()),
        )
        done.append(migration.version)
    return done
