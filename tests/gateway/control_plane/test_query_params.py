"""Every query parameter of every control-plane read is parsed and bounded: hostile values (`²`, `inf`,
`nan`, negative, huge, a control character, 5000 characters) are a 400 naming the parameter or an
ordinary answer, never a 500. The table below must list every GET route, so a new one gets covered."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.routing import Route

from tests.gateway.inprocess import InProcessGateway
from tfy_gateway.gateway.control_plane import routes

BUDGET = {
    "name": "team-cap",
    "type": "tenant-budget-config",
    "limits": {"cost_per_day": 10},
    "applies_to": {"type": "per-user"},
    "mode": "enforce",
}
SVC = "/api/svc/v1/llm-gateway"
PAGE = ("limit", "offset")
LOG_TEXTS = ("model", "subject", "status", "id", "team", "metadata", "rule", "trace_id")
# GET path -> (whole-number parameters, time parameters, text parameters)
PARAMS: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    "/api/svc/v1/users": (PAGE, (), ()),
    "/api/svc/v1/users/{id}": ((), (), ()),
    "/api/svc/v1/teams": (PAGE, (), ()),
    "/api/svc/v1/teams/{id}": ((), (), ()),
    "/api/svc/v1/personal-access-tokens": (PAGE, (), ("nameSearchQuery",)),
    "/api/svc/v1/tokens": (PAGE, (), ("user", "virtualAccount")),
    "/api/svc/v1/workspaces": (PAGE, (), ()),
    "/api/svc/v1/virtual-accounts": (PAGE, (), ("nameSearchQuery",)),
    "/api/svc/v1/virtual-accounts/exists": ((), (), ("name",)),
    "/api/svc/v1/virtual-accounts/{id}": ((), (), ()),
    "/api/svc/v1/virtual-accounts/{id}/token": ((), (), ()),
    "/api/svc/v1/provider-accounts": (PAGE, (), ("provider",)),
    "/api/svc/v1/provider-accounts/{id}": ((), (), ()),
    "/api/svc/v1/provider-integrations": (PAGE, (), ()),
    "/api/svc/v1/min-cli-version": ((), (), ()),
    "/api/svc/v1/tenant-id": ((), (), ()),
    "/api/svc/v1/session": ((), (), ()),
    f"{SVC}/config/{{type}}": ((), (), ("name",)),
    f"{SVC}/config/tenant-rate-limit-config/{{kind}}": ((), (), ("name",)),
    f"{SVC}/config/budget/usage": ((), (), ("rule",)),
    f"{SVC}/config/rate-limit/usage": ((), (), ("rule",)),
    f"{SVC}/logs": (PAGE, ("since", "until"), LOG_TEXTS),
    f"{SVC}/usage/summary": ((), ("since", "until"), (*LOG_TEXTS, "group_by")),
    f"{SVC}/usage/series": (("bucket",), ("since", "until"), LOG_TEXTS),
    f"{SVC}/config-history": ((), (), ("kind", "name", "from", "to")),
    f"{SVC}/alerts": (PAGE, (), ("status", "config", "rule_id")),
    f"{SVC}/budgets": ((), (), ("type", "team_name")),
    f"{SVC}/budgets/my-usage": ((), (), ()),
    f"{SVC}/budgets/{{id}}": ((), (), ()),
    f"{SVC}/budgets/{{id}}/leaderboard": (("limit",), (), ()),
}
CONCRETE = {"{id}": "team-cap", "{type}": "tenant-budget-config", "{kind}": "model"}
HOSTILE = ["²", "inf", "nan", "-1", "1e400", "9" * 30, "x\x01y", "a" * 5000, "١٢"]


def concrete(path: str) -> str:
    for name, value in CONCRETE.items():
        path = path.replace(name, value)
    return path


def refused(name: str, value: str, numbers: tuple[str, ...], texts: tuple[str, ...]) -> bool:
    """Whether `name=value` must be a 400: any hostile number or time, an overlong or unprintable text."""
    return name in numbers or (name in texts and (len(value) > 256 or not value.isprintable()))


def test_the_table_lists_every_get_route() -> None:
    gets = {r.path for r in routes() if isinstance(r, Route) and "GET" in (r.methods or ())}
    assert gets == set(PARAMS)


@pytest.mark.parametrize("path", sorted(PARAMS))
async def test_no_query_value_makes_a_read_fail(inprocess_gateway: InProcessGateway, path: str) -> None:
    gateway = inprocess_gateway
    await gateway.apply(BUDGET)
    numbers, times, texts = PARAMS[path]
    for name in (*numbers, *times, *texts, "unknown"):
        for value in HOSTILE:
            answer = await gateway.http.get(concrete(path), params={name: value}, headers=gateway.auth())
            shown = f"{path}?{name}={value[:20]!r}: {answer.status_code} {answer.text[:200]}"
            assert answer.status_code < 500, shown
            body: dict[str, Any] = answer.json()
            if name == "limit" and value == "9" * 30:
                assert answer.status_code == 200, shown  # a page size above the maximum is served capped
            elif refused(name, value, numbers + times, texts):
                assert answer.status_code == 400 and name in body["message"], shown


async def test_page_sizes_are_capped_and_offsets_bounded(inprocess_gateway: InProcessGateway) -> None:
    gateway = inprocess_gateway
    capped = await gateway.http.get("/api/svc/v1/users", params={"limit": "5000"}, headers=gateway.auth())
    assert capped.status_code == 200 and capped.json()["pagination"]["limit"] == 1000
    huge = await gateway.http.get("/api/svc/v1/users", params={"offset": str(10**9 + 1)}, headers=gateway.auth())
    assert huge.status_code == 400 and "offset must be at most 1000000000" in huge.json()["message"]
    assert (await gateway.http.get(f"{SVC}/logs", params={"limit": "1" + "0" * 40}, headers=gateway.auth())).json()[
        "pagination"
    ]["limit"] == 1000
    await gateway.apply(BUDGET)
    sdk = await gateway.http.get(
        f"{SVC}/budgets/team-cap/leaderboard", params={"limit": "20.0"}, headers=gateway.auth()
    )
    assert sdk.status_code == 200
