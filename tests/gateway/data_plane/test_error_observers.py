"""Observers (response headers, the request log) report what an error says of itself, whatever its class.

A kind of refusal they have never heard of, defined here, names its rule in
`x-tfy-applied-configurations`, its headroom in `x-ratelimit-*` and its rule in the log's `limits`,
as the limiter's own `LimitExceeded` does; an error that names no rule adds none of them.
"""

from __future__ import annotations

from typing import Any

import pytest

from tfy_gateway.gateway.applied import AppliedRule, Headroom
from tfy_gateway.gateway.caller_memo import CallerMemo
from tfy_gateway.gateway.config import EMPTY_CONFIG
from tfy_gateway.gateway.data_plane.context import RequestContext
from tfy_gateway.gateway.data_plane.endpoints import ENDPOINTS
from tfy_gateway.gateway.data_plane.failures import DataPlaneError
from tfy_gateway.gateway.data_plane.limiting import LimitExceeded
from tfy_gateway.gateway.data_plane.recording import record
from tfy_gateway.gateway.data_plane.response_headers import applied_configurations, response_headers
from tfy_gateway.gateway.errors import ApiError
from tfy_gateway.gateway.limits import Refusal
from tfy_gateway.gateway.metrics import GatewayMetrics
from tfy_gateway.gateway.request_logs import row_to_dict
from tfy_gateway.gateway.request_logs.record import Row
from tfy_gateway.gateway.tallies import MAX_SHAPES, ShapeCache


class TooManyAtOnce(DataPlaneError):
    """A new kind of refusal (a concurrency cap): no observer knows this class."""

    def __init__(self) -> None:
        super().__init__(429, "At most 4 requests at once.", origin="rate_limiting", retry_after_s=2.0)
        self.applied = (AppliedRule("rate_limit", "concurrency", "per-user"),)
        self.headroom = (Headroom("requests", 4, 0, 2.0),)


class Captured:
    """Stands in for the log writer: keeps what is submitted, as the logs API reads it back."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []
        self.texts = ShapeCache()
        self.caller_texts: CallerMemo[tuple[str, str, str]] = CallerMemo(MAX_SHAPES)

    def submit_row(self, row: Row) -> None:
        self.records.append(row_to_dict(row))


def failed(error: ApiError) -> RequestContext:
    ctx = RequestContext(endpoint=ENDPOINTS["chat/completions"], config=EMPTY_CONFIG)
    ctx.model, ctx.status, ctx.error = "fake/gpt-4o", error.status, error
    return ctx


def observed(ctx: RequestContext) -> tuple[dict[str, Any], dict[bytes, bytes], dict[str, Any]]:
    headers = dict(response_headers(ctx, content_type=None, timing=False))
    logs = Captured()
    record(ctx, GatewayMetrics(), logs)  # type: ignore[arg-type]
    (logged,) = logs.records
    return applied_configurations(ctx), headers, logged


def budget_refusal() -> Refusal:
    return Refusal(
        kind="budget",
        rule_id="daily",
        config_name="budgets",
        entity=(),
        limit=1000,
        unit="tokens_per_day",
        window="day 2026-01-01",
        retry_after_s=3600.0,
        message="Budget 'daily' spent.",
    )


def test_a_new_kind_of_refusal_is_reported_without_observer_changes() -> None:
    applied, headers, logged = observed(failed(TooManyAtOnce()))
    assert applied["rate_limit"] == {"config": "concurrency", "rule_id": "per-user"}
    assert headers[b"x-ratelimit-limit-requests"] == b"4"
    assert headers[b"x-ratelimit-remaining-requests"] == b"0"
    assert headers[b"x-ratelimit-reset-requests"] == b"2"
    assert logged["limits"] == {"rate_limit": "per-user"}
    assert (logged["status"], logged["error_origin"]) == (429, "rate_limiting")


def test_the_limiters_own_refusal_reads_the_same_way() -> None:
    applied, headers, logged = observed(failed(LimitExceeded(budget_refusal())))
    assert applied["budgets"] == [{"config": "budgets", "rule_id": "daily"}]
    assert headers[b"x-ratelimit-limit-budget-tokens"] == b"1000"
    assert headers[b"x-ratelimit-remaining-budget-tokens"] == b"0"
    assert logged["limits"] == {"budgets": ["daily"]}


@pytest.mark.parametrize("error", [DataPlaneError(502, "unreachable", origin="gateway"), ApiError(400, "bad")])
def test_an_error_that_names_no_rule_adds_no_limit_report(error: ApiError) -> None:
    applied, headers, logged = observed(failed(error))
    assert "rate_limit" not in applied and "budgets" not in applied
    assert not any(name.startswith(b"x-ratelimit-") for name in headers)
    assert logged["limits"] == {}
