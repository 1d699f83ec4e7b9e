"""Request ids: unique, and ordered by arrival time (the request-log index appends instead of scattering)."""

from __future__ import annotations

import re
import time

from tfy_gateway.gateway.data_plane.context import new_request_id


def test_ids_are_24_hex_digits_and_unique() -> None:
    ids = [new_request_id() for _ in range(20_000)]
    assert all(re.fullmatch(r"[0-9a-f]{24}", value) for value in ids)
    assert len(set(ids)) == len(ids)


def test_ids_start_with_the_arrival_millisecond() -> None:
    before = time.time_ns() // 1_000_000
    value = new_request_id()
    after = time.time_ns() // 1_000_000
    assert before <= int(value[:12], 16) <= after


def test_an_id_of_a_later_millisecond_sorts_after() -> None:
    first = new_request_id()
    deadline = time.monotonic() + 5
    while (later := new_request_id())[:12] == first[:12]:
        assert time.monotonic() < deadline, "the clock did not move in 5 s"
    assert later > first
