"""SQLite inserts by row shape: every row of a batch is stored exactly, its Nones as NULLs and its
columns' empty values as literals."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tests.gateway.request_logs.records import NOW, record
from tfy_gateway.gateway.request_logs.backend import SqliteLogs
from tfy_gateway.gateway.request_logs.inserts import ROWS_PER_STATEMENT, WRITTEN, insert_rows, shape_of, statements
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


def test_nulls_and_empty_values_are_written_in_the_statement_and_only_the_rest_bound() -> None:
    rows = mixed_rows(3)
    planned = list(statements(rows))
    assert len(planned) == 3  # one statement per shape
    for statement, parameters in planned:
        assert statement.count("?") == len(parameters)
        assert None not in parameters
    error_row = rows[0]
    statement, parameters = planned[0]
    assert statement == insert_rows(shape_of(error_row), 1)
    written = [
        name in WRITTEN and (value is None if WRITTEN[name] is None else value == WRITTEN[name])
        for name, value in zip(COLUMNS, error_row, strict=True)
    ]
    assert sum(written) >= 14  # its Nones, rule_ids, limits, teams, guardrails, counters...
    assert parameters == [value for value, literal in zip(error_row, written, strict=True) if not literal]
    assert statement.count("NULL") >= 6 and "'[]'" in statement and "'{}'" in statement


def test_empty_values_written_as_literals_read_back_with_their_column_types(tmp_path: Path) -> None:
    """0.0 (a free request's cost) and False share the literal 0 with the integer 0: the column's
    affinity stores each as before (REAL 0.0, INTEGER 0), and an empty text stays text."""
    row = record(1, cost=0.0, metadata={}, stream=False).to_row()
    bound = record(2, cost=0.25, metadata={"k": "v"}, stream=True).to_row()
    logs = SqliteLogs(tmp_path / "logs.sqlite3")
    logs.open()
    try:
        logs.insert([row, bound])
    finally:
        logs.close()
    columns = (
        "cost, typeof(cost), stream, typeof(stream), metadata, typeof(metadata), cached_tokens, typeof(cached_tokens)"
    )
    with sqlite3.connect(tmp_path / "logs.sqlite3") as connection:
        read = {found[0]: found[1:] for found in connection.execute(f"SELECT id, {columns} FROM request_logs")}
    assert read["r1"] == (0.0, "real", 0, "integer", "{}", "text", 0, "integer")
    assert read["r2"] == (0.25, "real", 1, "integer", '{"k":"v"}', "text", 0, "integer")


def test_a_group_is_split_into_statements_of_a_few_sizes() -> None:
    rows = [record(n, at=NOW + n).to_row() for n in range(ROWS_PER_STATEMENT + 7)]  # one shape
    sizes = [statement.count("(?") for statement, _ in statements(rows)]
    assert sizes == [ROWS_PER_STATEMENT, 4, 2, 1]
