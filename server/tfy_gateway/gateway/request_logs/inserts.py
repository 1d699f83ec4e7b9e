"""SQLite `INSERT`s for a batch of request-log rows: many rows a statement, their NULLs written in it.

Python's sqlite3 binds an int, float or str directly, but a None only after looking for an adapter
for it (a registry lookup and two failed attribute lookups, each formatting an AttributeError): 0.24
µs a None, against ~0.05 for a value. A row has six or so (no error, no stream, no bodies, no trace),
about 1.5 µs of the writer's ~8 a row. So rows are grouped by their column types, and each group's
statement says NULL where its rows have None and binds only the rest. Statements hold 128, 64, ... or
1 rows, so a few shapes of rows make a few dozen distinct statements, all prepared once.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

from tfy_gateway.gateway.request_logs.record import COLUMNS, Row

ROWS_PER_STATEMENT = 128
_NONE = type(None)
Shape = tuple[type, ...]
"""The type of each value of a row, in column order."""

# The same statement for both engines: a record written twice (a retried batch) is replaced, not doubled.
UPSERT = " ON CONFLICT (id) DO UPDATE SET " + ", ".join(f"{c} = excluded.{c}" for c in COLUMNS if c != "id")


@functools.lru_cache(maxsize=64)
def insert_rows(shape: Shape, count: int) -> str:
    """`INSERT` of `count` rows of `shape` in one statement (upserts row by row, as `INSERT` does)."""
    one = "(" + ", ".join("NULL" if kind is _NONE else "?" for kind in shape) + ")"
    return f"INSERT INTO request_logs ({', '.join(COLUMNS)}) VALUES {', '.join([one] * count)}{UPSERT}"


def statements(rows: list[Row]) -> Iterator[tuple[str, list[Any]]]:
    """(statement, its parameters) that insert `rows` (in an order of their own: no query reads the
    order rows were written in), the last row of an id only (groups may be written in another order
    than their rows came in)."""
    groups: dict[Shape, list[Row]] = {}
    for row in {row[0]: row for row in rows}.values():
        shape = tuple(map(type, row))
        group = groups.get(shape)
        if group is None:
            groups[shape] = [row]
        else:
            group.append(row)
    for shape, group in groups.items():
        start, left = 0, len(group)
        while left:
            count = ROWS_PER_STATEMENT if left >= ROWS_PER_STATEMENT else 1 << (left.bit_length() - 1)
            chunk = group[start : start + count]
            yield insert_rows(shape, count), [value for row in chunk for value in row if value is not None]
            start += count
            left -= count
