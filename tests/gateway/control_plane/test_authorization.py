"""Who may read what on `/api/svc/v1`: a matrix of callers (admin, a user, a team member, a virtual
account, nobody) over every read endpoint, budgets included, and what each answer lets a non-admin
see: its own logs, usage, tokens and budget counters only. The rules are in references/api-endpoints.md."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx
import pytest
from starlette.routing import Route

from tests.gateway.control_plane.test_query_params import PARAMS
from tests.gateway.inprocess import InProcessGateway
from tfy_gateway.gateway.control_plane import routes

SVC = "/api/svc/v1/llm-gateway"
ROLES = ("admin", "user", "member", "vat", "nobody")
ALL, USERS, ADMIN, OPEN = ROLES[:4], ("admin", "user", "member"), ("admin",), ROLES
# GET path (with {id} etc. filled in below) -> who may read it. Anyone else: 401 (nobody) or 403.
READS: dict[str, tuple[str, ...]] = {
    "/api/svc/v1/users": USERS,
    "/api/svc/v1/users/{id}": USERS,
    "/api/svc/v1/teams": USERS,
    "/api/svc/v1/teams/{id}": USERS,
    "/api/svc/v1/personal-access-tokens": USERS,
    "/api/svc/v1/tokens": ADMIN,
    "/api/svc/v1/workspaces": USERS,
    "/api/svc/v1/virtual-accounts": USERS,
    "/api/svc/v1/virtual-accounts/exists": USERS,
    "/api/svc/v1/virtual-accounts/{id}": USERS,
    "/api/svc/v1/virtual-accounts/{id}/token": ADMIN,
    "/api/svc/v1/provider-accounts": USERS,
    "/api/svc/v1/provider-accounts/{id}": USERS,
    "/api/svc/v1/provider-integrations": USERS,
    "/api/svc/v1/min-cli-version": OPEN,
    "/api/svc/v1/tenant-id": OPEN,
    "/api/svc/v1/session": USERS,
    f"{SVC}/config/{{type}}": USERS,
    f"{SVC}/config/tenant-rate-limit-config/{{kind}}": USERS,
    f"{SVC}/config/budget/usage": ADMIN,
    f"{SVC}/config/rate-limit/usage": ADMIN,
    f"{SVC}/logs": ALL,  # a virtual account reads its own
    f"{SVC}/usage/summary": ALL,
    f"{SVC}/usage/series": ALL,
    f"{SVC}/config-history": ADMIN,
    f"{SVC}/alerts": ADMIN,
    f"{SVC}/budgets": USERS,
    f"{SVC}/budgets/my-usage": USERS,
    f"{SVC}/budgets/{{id}}": USERS,
    f"{SVC}/budgets/{{id}}/leaderboard": ADMIN,
}
FILLED = {
    "/api/svc/v1/users/{id}": "/api/svc/v1/users/alice@example.com",
    "/api/svc/v1/teams/{id}": "/api/svc/v1/teams/backend",
    "/api/svc/v1/virtual-accounts/{id}": "/api/svc/v1/virtual-accounts/ci-bot",
    "/api/svc/v1/virtual-accounts/{id}/token": "/api/svc/v1/virtual-accounts/ci-bot/token",
    "/api/svc/v1/provider-accounts/{id}": "/api/svc/v1/provider-accounts/openai-main",
    f"{SVC}/config/{{type}}": f"{SVC}/config/tenant-budget-config",
    f"{SVC}/config/tenant-rate-limit-config/{{kind}}": f"{SVC}/config/tenant-rate-limit-config/model",
    f"{SVC}/budgets/{{id}}": f"{SVC}/budgets/per-user-daily",
    f"{SVC}/budgets/{{id}}/leaderboard": f"{SVC}/budgets/per-user-daily/leaderboard",
}
PER_USER = {
    "name": "per-user-daily",
    "type": "tenant-budget-config",
    "limits": {"cost_per_day": 100},
    "applies_to": {"type": "per-user"},
    "mode": "enforce",
}
PER_TEAM = {**PER_USER, "name": "backend-daily", "type": "team-budget-config", "team_name": "backend"}
OTHERS = {"alice@example.com", "bob@example.com", "carol@example.com", "admin@local", "ci-bot"}
BOT = {
    "name": "ci-bot",
    "type": "virtual-account",
    "permissions": [{"resource_type": "model", "resource_fqn": "openai-main/gpt-4o", "role_id": "r"}],
}


@pytest.fixture
async def callers(inprocess_gateway: InProcessGateway) -> Mapping[str, dict[str, str]]:
    """Each role's headers, after each caller made a request (so logs and budgets hold its spend)."""
    gateway = inprocess_gateway
    for manifest in (PER_USER, PER_TEAM, BOT):
        await gateway.apply(manifest)
    alice = await gateway.add_user("alice@example.com")
    await gateway.add_user("carol@example.com", teams=["backend"])  # someone else in bob's team
    bob = await gateway.add_user("bob@example.com", teams=["backend"])
    vat = (await gateway.http.get("/api/svc/v1/virtual-accounts/ci-bot/token", headers=gateway.auth())).json()
    tokens = {"admin": gateway.token, "user": alice, "member": bob, "vat": vat["token"]}
    headers = {role: {"Authorization": f"Bearer {token}"} for role, token in tokens.items()}
    body = {"model": "openai-main/gpt-4o", "messages": [{"role": "user", "content": "spend"}], "max_tokens": 8}
    for role in ("admin", "user", "member", "vat"):
        answer = await gateway.http.post("/api/llm/chat/completions", json=body, headers=headers[role])
        assert answer.status_code == 200, (role, answer.text)
    return {**headers, "nobody": {}}


def test_the_matrix_covers_every_read_route() -> None:
    gets = {r.path for r in routes() if isinstance(r, Route) and "GET" in (r.methods or ())}
    assert gets == set(READS) == set(PARAMS)


async def test_each_caller_reads_only_the_endpoints_its_role_allows(
    inprocess_gateway: InProcessGateway, callers: Mapping[str, dict[str, str]]
) -> None:
    gateway = inprocess_gateway
    outcomes = {}
    for path in READS:
        for role in ROLES:
            answer = await gateway.http.get(FILLED.get(path, path), headers=callers[role])
            outcomes[(path, role)] = answer.status_code
    revealed = ("/api/svc/v1/virtual-accounts/{id}/token", "admin")
    assert outcomes.pop(revealed) == 409  # the fixture took the token, shown once
    wrong = {key: status for key, status in outcomes.items() if status != expected(*key)}
    assert wrong == {}, wrong


def expected(path: str, role: str) -> int:
    if role in READS[path]:
        return 200
    return 401 if role == "nobody" else 403


async def get(gateway: InProcessGateway, path: str, headers: dict[str, str], **params: Any) -> Any:
    answer = await gateway.http.get(path, params=params, headers=headers)
    assert answer.status_code == 200, answer.text
    return answer.json()


async def test_a_non_admin_sees_only_its_own_logs_usage_tokens_and_counters(
    inprocess_gateway: InProcessGateway, callers: Mapping[str, dict[str, str]]
) -> None:
    gateway = inprocess_gateway
    alice, bob = callers["user"], callers["member"]
    logs = await get(gateway, f"{SVC}/logs", alice)
    assert {r["subject"] for r in logs["data"]} == {"user:alice@example.com"}
    own = await get(gateway, f"{SVC}/logs", callers["vat"])
    assert {r["subject"] for r in own["data"]} == {"virtualaccount:ci-bot"}
    refused = await gateway.http.get(f"{SVC}/logs", params={"subject": "user:bob@example.com"}, headers=alice)
    assert refused.status_code == 403
    summary = await get(gateway, f"{SVC}/usage/summary", alice)
    assert summary["total"]["requests"] == 1 and [s["subject"] for s in summary["by_subject"]] == [
        "user:alice@example.com"
    ]
    tokens = await get(gateway, "/api/svc/v1/personal-access-tokens", alice)
    assert {t["manifest"]["user_fqn"] for t in tokens["data"]} == {"alice@example.com"}
    mine = await get(gateway, f"{SVC}/budgets/my-usage", bob)
    entities = {e["entity"] for entry in mine["matched"] for e in entry["entities"]}
    assert "bob@example.com" in entities and not entities & (OTHERS - {"bob@example.com"}), entities
    everyone = await get(gateway, f"{SVC}/budgets/per-user-daily/leaderboard", callers["admin"])
    assert len(everyone["matched"][0]["entities"]) >= 3  # admins see every user's spend


async def simulate(gateway: InProcessGateway, headers: dict[str, str], **body: Any) -> httpx.Response:
    return await gateway.http.post(
        f"{SVC}/budgets/simulate", json={"model": "openai-main/gpt-4o", **body}, headers=headers
    )


async def test_simulate_shows_a_non_admin_its_own_counters_only(
    inprocess_gateway: InProcessGateway, callers: Mapping[str, dict[str, str]]
) -> None:
    gateway = inprocess_gateway
    alice, bob, admin = callers["user"], callers["member"], callers["admin"]
    for body in ({"user": "bob@example.com"}, {"virtual_account": "ci-bot"}, {"teams": ["backend"]}):
        answer = await simulate(gateway, alice, **body)
        assert answer.status_code == 403, (body, answer.text)
        assert "only" in answer.json()["message"] or "member" in answer.json()["message"]
    own = (await simulate(gateway, alice)).json()
    assert {e["entity"] for entry in own["matched"] for e in entry["entities"]} & OTHERS == {"alice@example.com"}
    team = (await simulate(gateway, bob, teams=["backend"])).json()
    assert {e["entity"] for entry in team["matched"] for e in entry["entities"]} & OTHERS == {"bob@example.com"}
    assert {entry["name"] for entry in team["matched"]} >= {"per-user-daily", "backend-daily"}
    assert (await simulate(gateway, callers["vat"])).status_code == 403
    other = (await simulate(gateway, admin, user="bob@example.com")).json()
    assert {e["entity"] for entry in other["matched"] for e in entry["entities"]} >= {"bob@example.com"}
