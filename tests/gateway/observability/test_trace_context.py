"""W3C traceparent parsing: what continues a trace, and what starts a new one."""

from __future__ import annotations

import pytest

from tfy_gateway.gateway.observability.trace_context import incoming, parse_traceparent

TRACE, SPAN = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"


def test_a_valid_traceparent_is_continued_with_its_tracestate() -> None:
    parent = incoming({"traceparent": f"00-{TRACE}-{SPAN}-01", "tracestate": "vendor=x"})
    assert parent is not None
    assert (parent.trace_id, parent.span_id, parent.sampled) == (TRACE, SPAN, True)
    assert parent.headers() == {"traceparent": f"00-{TRACE}-{SPAN}-01", "tracestate": "vendor=x"}


def test_upper_case_and_a_future_version_with_more_fields_are_read() -> None:
    parsed = parse_traceparent(f"01-{TRACE.upper()}-{SPAN}-00-extra")
    assert parsed is not None and parsed.trace_id == TRACE and not parsed.sampled


@pytest.mark.parametrize(
    "value",
    [
        "",
        "garbage",
        f"00-{TRACE}-{SPAN}",  # no flags
        f"00-{TRACE}-{SPAN}-01-extra",  # version 00 has exactly four fields
        f"ff-{TRACE}-{SPAN}-01",  # version ff is invalid
        f"00-{'0' * 32}-{SPAN}-01",  # all-zero trace id
        f"00-{TRACE}-{'0' * 16}-01",  # all-zero parent id
        f"00-{TRACE[:-1]}g-{SPAN}-01",  # not hex
        f"00-{TRACE}1-{SPAN}-01",  # too long
    ],
)
def test_a_malformed_traceparent_starts_a_new_trace(value: str) -> None:
    assert parse_traceparent(value) is None


def test_an_oversized_tracestate_is_not_passed_on() -> None:
    parent = parse_traceparent(f"00-{TRACE}-{SPAN}-01", "k=" + "v" * 600)
    assert parent is not None and parent.tracestate is None


@pytest.mark.parametrize(
    "value",
    [
        f"00-{TRACE}-{SPAN}-1",  # one-digit flags
        f"0-{TRACE}-{SPAN}-01",  # one-digit version
        f"00-{TRACE}-{SPAN}-01-",  # version 00 with an empty fifth field
        f"00_{TRACE}-{SPAN}-01",  # not dash-separated
        f"00-{TRACE}-{SPAN}-0x",  # flags not hex
    ],
)
def test_fields_of_the_wrong_size_or_alphabet_start_a_new_trace(value: str) -> None:
    assert parse_traceparent(value) is None


def test_a_traceparent_with_surrounding_spaces_is_read() -> None:
    parsed = parse_traceparent(f"  00-{TRACE}-{SPAN}-01 ")
    assert parsed is not None and (parsed.trace_id, parsed.span_id, parsed.flags) == (TRACE, SPAN, 1)
