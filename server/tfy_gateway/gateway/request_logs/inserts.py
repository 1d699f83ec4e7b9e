"""SQLite `INSERT`s for a batch of request-log rows: many rows a statement, their NULLs and their
columns' usual empty values written in it.

Binding is most of what a row costs the writer's thread (callgrind: 13k of the ~29k instructions a
row spends in `execute`): Python's sqlite3 binds a None only after looking for an adapter for it
(0.24 µs a None), and every text with a copy under SQLite's mutex (~780 instructions a text, ~165
an integer). A row has six or so Nones (no error, no stream, no bodies, no trace) and five to ten
values that are their column's empty value (`{}`, `[]`, 0). So rows are grouped by their shape,
which of those columns hold None or their empty value, and each group's statement writes those as
literals and binds only the rest. Statements hold 128, 64, ... or 1 rows, so a few shapes of rows
make a few dozen distinct statements, all prepared once.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Iterator
from itertools import chain
from typing import Any

from tfy_gateway.gateway.request_logs.record import COLUMNS, Row

ROWS_PER_STATEMENT = 128

WRITTEN: dict[str, Any] = {
    **dict.fromkeys(
        ("subject", "token_name", "requested_model", "resolved_model", "error", "error_origin", "ttft_ms"), None
    ),
    **dict.fromkeys(("provider_ms", "cost", "request_body", "response_body", "trace_id"), None),
    **dict.fromkeys(("metadata", "limits"), "{}"),
    **dict.fromkeys(("rule_ids", "tries", "teams", "guardrails"), "[]"),
    **dict.fromkeys(("cached_tokens", "stream", "retries", "fallbacks", "usage_estimated"), 0),
}
"""The columns whose value a statement may write instead of binding, and that value: None (NULL) in
the nullable ones, the empty value in the others (compared with `==`: False and 0.0 are stored as
the literal 0, as binding them stored them in these INTEGER columns)."""
_SQL = {None: "NULL", "{}": "'{}'", "[]": "'[]'", 0: "0"}
_POSITIONS = tuple(COLUMNS.index(name) for name in WRITTEN)
_VALUES = tuple(WRITTEN.values())

Shape = tuple[bool, ...]
"""Per column of `WRITTEN`, in its order: whether a row's value is written in the statement."""


def _shape_function() -> Callable[[Row], Shape]:
    """`shape_of`, generated as one tuple of tests: ~0.3 µs a row, where mapping `operator.is_` over the
    values took 0.75 and the former `tuple(map(type, row))` 0.53 (the writer thread holds the GIL for
    this, beside the event loop)."""
    tests = ", ".join(
        f"row[{position}] is None" if value is None else f"row[{position}] == values[{index}]"
        for index, (position, value) in enumerate(zip(_POSITIONS, _VALUES, strict=True))
    )
    function: Callable[[Row], Shape] = eval(f"lambda row, values=values: ({tests},)", {"values": _VALUES})
    return function


shape_of = _shape_function()

# The same statement for both engines: a record written twice (a retried batch) is replaced, not doubled.
UPSERT = " ON CONFLICT (id) DO UPDATE SET " + ", ".join(f"{c} = excluded.{c}" for c in COLUMNS if c != "id")


def _literals(shape: Shape) -> list[str | None]:
    """Per column, the SQL literal a row of `shape` has written in its place (None: its value is bound)."""
    written: list[str | None] = [None] * len(COLUMNS)
    for position, value, literal in zip(_POSITIONS, _VALUES, shape, strict=True):
        if literal:
            written[position] = _SQL[value]
    return written


@functools.lru_cache(maxsize=64)
def insert_rows(shape: Shape, count: int) -> str:
    """`INSERT` of `count` rows of `shape` in one statement (upserts row by row, as `INSERT` does)."""
    one = "(" + ", ".join("?" if literal is None else literal for literal in _literals(shape)) + ")"
    return f"INSERT INTO request_logs ({', '.join(COLUMNS)}) VALUES {', '.join([one] * count)}{UPSERT}"


@functools.lru_cache(maxsize=64)
def bound_values(shape: Shape) -> Callable[[Row], tuple[Any, ...]]:
    """What a row of `shape` binds: its values not written in the statement, in order (a tuple)."""
    positions = [position for position, literal in enumerate(_literals(shape)) if literal is None]
    if len(positions) == 1:  # itemgetter of one position returns the value itself
        return lambda row: (row[positions[0]],)
    return operator.itemgetter(*positions)


def statements(rows: list[Row]) -> Iterator[tuple[str, list[Any]]]:
    """(statement, its parameters) that insert `rows` (in an order of their own: no query reads the
    order rows were written in), the last row of an id only (groups may be written in another order
    than their rows came in)."""
    groups: dict[Shape, list[Row]] = {}
    for row in {row[0]: row for row in rows}.values():
        shape = shape_of(row)
        group = groups.get(shape)
        if group is None:
            groups[shape] = [row]
        else:
            group.append(row)
    for shape, group in groups.items():
        bound = bound_values(shape)
        start, left = 0, len(group)
        while left:
            count = ROWS_PER_STATEMENT if left >= ROWS_PER_STATEMENT else 1 << (left.bit_length() - 1)
            yield insert_rows(shape, count), list(chain.from_iterable(map(bound, group[start : start + count])))
            start += count
            left -= count
