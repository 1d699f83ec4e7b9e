"""The observe stage's log rows: what a request's limit rules, caller, metadata and routing rule leave in its row,
whatever was logged before."""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

from tests.gateway.data_plane.conftest import DataPlane
from tests.gateway.data_plane.test_request_series import KINDS, SERVED, Dropped, request
from tfy_gateway.gateway.applied import AppliedRule
from tfy_gateway.gateway.auth import Principal
from tfy_gateway.gateway.caller_memo import CallerMemo
from tfy_gateway.gateway.config import EMPTY_CONFIG
from tfy_gateway.gateway.data_plane.context import RequestContext
from tfy_gateway.gateway.data_plane.endpoints import ENDPOINTS
from tfy_gateway.gateway.data_plane.headers import RequestOptions
from tfy_gateway.gateway.data_plane.recording import record
from tfy_gateway.gateway.identities import EVERYONE_TEAM
from tfy_gateway.gateway.limits import Reservation
from tfy_gateway.gateway.metrics import GatewayMetrics
from tfy_gateway.gateway.request_logs import row_to_dict
from tfy_gateway.gateway.request_logs.record import Row
from tfy_gateway.gateway.routing.types import RoutePlan
from tfy_gateway.gateway.tallies import MAX_SHAPES, ShapeCache

RATE = AppliedRule("rate_limit", "rate-limits", "rpm")
DAILY = AppliedRule("budget", "budgets", "daily")
AUDITED = AppliedRule("budget", "audit-budgets", "monthly")


class Rows:
    """Stands in for the log writer: keeps each row, read back as the logs API reads it."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []
        self.texts = ShapeCache()
        self.caller_texts: CallerMemo[tuple[str, str, str]] = CallerMemo(MAX_SHAPES)

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


class Tries(Dropped):
    """Keeps each row's `tries`, as the logs API reads it."""

    def __init__(self) -> None:
        super().__init__()
        self.tries: list[Any] = []

    def submit_row(self, row: Row) -> None:
        self.tries.append(row_to_dict(row)["tries"])


async def test_a_remembered_shape_logs_the_tries_a_fresh_lookup_logs(dp: DataPlane) -> None:
    """The row's `tries` text is kept with its shape's series: every kind of request logs the calls
    it made (only the last one when the router never returned), its shape met before or not."""
    config = dp.gateway.data_plane.config.current
    remembered, fresh = GatewayMetrics(), GatewayMetrics()
    remembered_rows, fresh_rows = Tries(), Tries()
    for kind in KINDS * 2:
        record(request(config, kind), remembered, remembered_rows)  # type: ignore[arg-type]
        fresh.shapes = ShapeCache()  # forget every shape: each request encodes its tries anew
        record(request(config, kind), fresh, fresh_rows)  # type: ignore[arg-type]
    assert remembered_rows.tries == fresh_rows.tries
    by_kind = dict(zip(KINDS, fresh_rows.tries, strict=False))
    assert by_kind["refused"] == [] and by_kind["client-left"] == [[SERVED, 499]]
    assert len(by_kind["retried"]) == 2 and by_kind["answered"] == [[SERVED, 200]]


def plan_with_rule(rule_id: str) -> RoutePlan:
    return RoutePlan("fake/gpt-4o", rule_id, "routing", "weighted", ())


def caller(name: str, teams: tuple[str, ...]) -> Principal:
    subjects = (f"user:{name}", *(f"team:{team}" for team in teams))
    return Principal("user", name, name, teams, False, subjects, "token", "t-" + name)


def test_each_row_names_its_own_callers_teams_metadata_and_rule() -> None:
    """The metadata, rule_ids and teams texts are kept per caller object, metadata object and rule:
    requests of callers, metadata and rules that alternate each log their own (an equal but
    separately parsed metadata, or a caller rebuilt after a change, logs what it holds)."""
    logs, metrics = Rows(), GatewayMetrics()
    ana = caller("ana@x", ("backend", EVERYONE_TEAM))
    bo = caller("bo@x", (EVERYONE_TEAM,))
    ana_moved = caller("ana@x", ("frontend",))
    pilot = MappingProxyType({"project": "pilot"})
    other = MappingProxyType({"project": "other"})
    plans = {"fast": plan_with_rule("fast"), None: None}
    calls = [
        (ana, pilot, "fast"),
        (bo, pilot, None),
        (ana, other, "fast"),
        (ana, pilot, None),
        (None, MappingProxyType({}), None),
        (ana_moved, MappingProxyType({"project": "pilot"}), "fast"),
        (bo, other, "fast"),
        (ana, pilot, "fast"),
    ]
    for principal, metadata, rule in calls:
        ctx = admitted(())
        ctx.principal = principal
        ctx.options = RequestOptions(metadata=metadata)
        ctx.plan = plans[rule]
        record(ctx, metrics, logs)  # type: ignore[arg-type]
    assert [(row["teams"], row["metadata"], row["rule_ids"]) for row in logs.rows] == [
        (["backend"], {"project": "pilot"}, ["fast"]),
        ([], {"project": "pilot"}, []),
        (["backend"], {"project": "other"}, ["fast"]),
        (["backend"], {"project": "pilot"}, []),
        ([], {}, []),
        (["frontend"], {"project": "pilot"}, ["fast"]),
        ([], {"project": "other"}, ["fast"]),
        (["backend"], {"project": "pilot"}, ["fast"]),
    ]
