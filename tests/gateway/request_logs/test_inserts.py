"""SQLite inserts by row shape: every row of a batch is stored exactly, its Nones as NULLs."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tests.gateway.request_logs.records import NOW, record
from tfy_gateway.gateway.request_logs.backend import SqliteLogs
from tfy_gateway.gateway.request_logs.inserts import ROWS_PER_STATEMENT, insert_rows, statements
from tfy_gateway.gateway.request_logs.record import COLUMNS, Row


def mixed_rows(count: int) -> list[Row]:
    """Rows of four shapes, interleaved: an error, a stream with a trace, logged bodies, a plain answer."""
    rows = []
    for n in range(count):
        kind = n % 4
        if kind == 0:
            item = record(n, at=NOW + n, status=502, error="upstream failed", error_origin="provider", cost=0.0)
        elif kind == 1:
            item = record(n, at=NOW + n, stream=True, ttft_ms=12.5, trace_id=f"{n:032x}")
        elif kind == 2:
            item = record(n, at=NOW + n, request_body='{"a": 1}', response_body="", subject=None)  # type: ignore[arg-type]
        else:
            item = record(n, at=NOW + n)
        rows.append(item.to_row())
    return rows


def test_a_batch_of_mixed_shapes_is_stored_exactly(tmp_path: Path) -> None:
    rows = mixed_rows(2 * ROWS_PER_STATEMENT + 45)  # full statements and a remainder, for every shape
    logs = SqliteLogs(tmp_path / "logs.sqlite3")
    logs.open()
    try:
        logs.insert(rows)
    finally:
        logs.close()
    with sqlite3.connect(tmp_path / "logs.sqlite3") as connection:
        stored = connection.execute(f"SELECT {', '.join(COLUMNS)} FROM request_logs").fetchall()
    assert sorted(stored) == sorted(rows)  # None read back as None, "" as ""


def test_nulls_are_written_in_the_statement_and_only_values_bound() -> None:
    rows = mixed_rows(3)
    planned = list(statements(rows))
    assert len(planned) == 3  # one statement per shape
    for statement, parameters in planned:
        assert statement.count("?") == len(parameters)
        assert None not in parameters
    error_row = rows[0]
    statement, parameters = planned[0]
    assert statement == insert_rows(tuple(map(type, error_row)), 1)
    assert parameters == [value for value in error_row if value is not None]


def test_a_group_is_split_into_statements_of_a_few_sizes() -> None:
    rows = [record(n, at=NOW + n).to_row() for n in range(ROWS_PER_STATEMENT + 7)]  # one shape
    sizes = [statement.count("(?") for statement, _ in statements(rows)]
    assert sizes == [ROWS_PER_STATEMENT, 4, 2, 1]
