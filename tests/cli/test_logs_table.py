"""`tfy-gateway logs` shows the trace id of the records that belong to a trace."""

from __future__ import annotations

from tfy_gateway.cli.logs import format_table

RECORD = {"time": "2026-01-01T00:00:00+00:00", "status": 200, "requested_model": "m", "latency_ms": 3}


def test_a_trace_column_only_when_a_record_has_a_trace() -> None:
    plain = format_table([RECORD])
    assert "trace" not in plain.splitlines()[0]
    traced = format_table([{**RECORD, "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736"}, RECORD]).splitlines()
    assert traced[0].split()[-2:] == ["trace", "error"]
    assert "4bf92f3577b34da6a3ce929d0e0e4736" in traced[1]
    assert traced[2].split()[-1] == "-"
