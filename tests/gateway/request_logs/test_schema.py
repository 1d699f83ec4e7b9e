"""The SQLite request-log schema: the resolved model's index holds only rows whose model changed, and
a model filter finds the same rows in a file made before that (with the full index)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tests.gateway.request_logs.records import NOW, record
from tfy_gateway.gateway.request_logs import LogFilter, query_logs
from tfy_gateway.gateway.request_logs.backend import SqliteLogs
from tfy_gateway.gateway.request_logs.schema import connect, table_sql

ROWS = [
    record(1, at=NOW + 1).to_row(),  # acct/m -> acct/m
    record(2, at=NOW + 2, requested_model="alias", resolved_model="acct/m").to_row(),
    record(3, at=NOW + 3, requested_model="acct/m", resolved_model="other/m").to_row(),
    record(4, at=NOW + 4, requested_model="alias", resolved_model=None).to_row(),  # refused before routing
]


def stored(path: Path) -> None:
    logs = SqliteLogs(path)
    logs.open()
    try:
        logs.insert(ROWS)
    finally:
        logs.close()


@pytest.mark.parametrize("made_before", [False, True])
def test_a_model_filter_matches_the_requested_or_the_resolved_model(tmp_path: Path, made_before: bool) -> None:
    path = tmp_path / "logs.sqlite3"
    if made_before:  # the schema before the partial index: every row in it
        with sqlite3.connect(path) as old:
            old.executescript(table_sql("REAL"))
    stored(path)
    connection = connect(path)
    try:
        found = {
            model: sorted(item["id"] for item in query_logs(connection, LogFilter(model=model), limit=10, offset=0)[0])
            for model in ("acct/m", "alias", "other/m")
        }
        index = connection.execute("SELECT sql FROM sqlite_master WHERE name = 'request_logs_resolved'").fetchone()[0]
        entries = connection.execute(
            "SELECT COUNT(*) FROM request_logs INDEXED BY request_logs_resolved"
            " WHERE resolved_model IS NOT requested_model AND resolved_model > ''"
        ).fetchone()[0]
    finally:
        connection.close()
    assert found == {"acct/m": ["r1", "r2", "r3"], "alias": ["r2", "r4"], "other/m": ["r3"]}
    assert ("WHERE" in index) is not made_before
    assert entries == 2  # r2 and r3: the rows whose model changed (and has a name)


def test_the_model_filter_searches_both_indexes(tmp_path: Path) -> None:
    connection = connect(tmp_path / "logs.sqlite3")
    try:
        clause, params = LogFilter(model="acct/m", since=NOW).where()
        plan = " / ".join(
            row[3] for row in connection.execute(f"EXPLAIN QUERY PLAN SELECT id FROM request_logs{clause}", params)
        )
    finally:
        connection.close()
    assert "USING INDEX request_logs_model" in plan and "USING INDEX request_logs_resolved" in plan
    assert "SCAN request_logs" not in plan
