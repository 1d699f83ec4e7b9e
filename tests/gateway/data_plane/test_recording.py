"""The observe stage's log rows: what a request's limit rules leave in its row, whatever was logged before."""

from __future__ import annotations

from typing import Any

from tfy_gateway.gateway.applied import AppliedRule
from tfy_gateway.gateway.config import EMPTY_CONFIG
from tfy_gateway.gateway.data_plane.context import RequestContext
from tfy_gateway.gateway.data_plane.endpoints import ENDPOINTS
from tfy_gateway.gateway.data_plane.recording import record
from tfy_gateway.gateway.limits import Reservation
from tfy_gateway.gateway.metrics import GatewayMetrics
from tfy_gateway.gateway.request_logs import row_to_dict
from tfy_gateway.gateway.request_logs.record import Row
from tfy_gateway.gateway.tallies import ShapeCache

RATE = AppliedRule("rate_limit", "rate-limits", "rpm")
DAILY = AppliedRule("budget", "budgets", "daily")
AUDITED = AppliedRule("budget", "audit-budgets", "monthly")


class Rows:
    """Stands in for the log writer: keeps each row, read back as the logs API reads it."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []
        self.texts = ShapeCache()

    def submit_row(self, row: Row) -> None:
        self.rows.append(row_to_dict(row))


def admitted(applied: tuple[AppliedRule, ...], would_block: tuple[AppliedRule, ...] = ()) -> RequestContext:
    ctx = RequestContext(endpoint=ENDPOINTS["chat/completions"], config=EMPTY_CONFIG)
    ctx.model, ctx.status = "fake/gpt-4o", 200
    ctx.reservation = Reservation(applied, would_block=would_block)
    return ctx


def test_each_row_names_its_own_requests_limit_rules() -> None:
    logs, metrics = Rows(), GatewayMetrics()
    requests = [
        admitted((RATE, DAILY)),
        admitted((RATE, DAILY), would_block=(AUDITED,)),
        admitted((RATE, DAILY)),
        admitted((DAILY,)),
        admitted(()),
        admitted((RATE, DAILY), would_block=(AUDITED,)),
    ]
    for ctx in requests:
        record(ctx, metrics, logs)  # type: ignore[arg-type]
    plain = {"rate_limit": "rpm", "budgets": ["daily"]}
    audited = {**plain, "would_have_blocked": [{"kind": "budget", "config": "audit-budgets", "rule_id": "monthly"}]}
    assert [row["limits"] for row in logs.rows] == [plain, audited, plain, {"budgets": ["daily"]}, {}, audited]
