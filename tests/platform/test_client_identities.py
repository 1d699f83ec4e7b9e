"""Users and tokens through `ControlPlaneClient`, against a stub control plane speaking the contract.

The stub is a small Starlette app (served in process through httpx's ASGI transport) with the
endpoints' request and response shapes; the CLI's end-to-end tests run against a real
`tfy-gateway serve` (tests/cli/test_tokens.py, tests/gateway/test_users_cli.py).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tfy_gateway.platform import (
    ControlPlaneClient,
    ControlPlaneError,
    PermissionDeniedError,
    ResourceNotFoundError,
    TokenView,
    UnsupportedFeatureError,
    ValidationFailed,
)

ADMIN = "tfy_stub_admin_key_0123456789"
MEMBER = "tfy_stub_member_key_0123456789"
SVC = "/api/svc/v1"


def failure(status: int, message: str) -> JSONResponse:
    return JSONResponse({"status": "failure", "message": message, "error": {"message": message}}, status)


@dataclass
class Stub:
    """The control plane's identities: users by email, tokens by id, applied virtual accounts."""

    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    tokens: dict[str, dict[str, Any]] = field(default_factory=dict)
    accounts: set[str] = field(default_factory=set)
    requests: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    ids: itertools.count[int] = field(default_factory=itertools.count)

    def caller(self, request: Request) -> str | None:
        key = request.headers.get("authorization", "").removeprefix("Bearer ")
        return {ADMIN: "admin@local", MEMBER: "member@example.com"}.get(key)

    def issue(self, kind: str, owner: str, name: str, expires: str | None = None) -> dict[str, Any]:
        token = {"id": f"tok-{next(self.ids)}", "name": name, "ownerKind": kind, "owner": owner}
        token |= {"createdAt": "2030-01-01T00:00:00Z", "expiresAt": expires, "secret": f"tfy_{owner}_{name}"}
        self.tokens[token["id"]] = token
        return token

    def app(self) -> Starlette:
        async def dispatch(request: Request) -> JSONResponse:
            self.requests.append((request.method, request.url.path, dict(request.query_params)))
            caller = self.caller(request)
            if caller is None:
                return failure(401, "bad token")
            handler = getattr(self, request.scope["route"].name)
            return await handler(request, caller)  # type: ignore[no-any-return]

        routes = [
            Route(f"{SVC}/session", dispatch, methods=["GET"], name="session"),
            Route(f"{SVC}/users", dispatch, methods=["POST"], name="add_user"),
            Route(f"{SVC}/users", dispatch, methods=["GET"], name="list_users"),
            Route(f"{SVC}/personal-access-tokens", dispatch, methods=["POST"], name="create_token"),
            Route(f"{SVC}/personal-access-tokens/{{id}}", dispatch, methods=["DELETE"], name="delete_token"),
            Route(f"{SVC}/tokens", dispatch, methods=["GET"], name="list_tokens"),
            Route(f"{SVC}/virtual-accounts/{{id}}/regenerate-token", dispatch, methods=["POST"], name="regenerate"),
        ]
        return Starlette(routes=routes)

    async def session(self, request: Request, caller: str) -> JSONResponse:
        return JSONResponse({"data": {"user": {"email": caller}}})

    async def add_user(self, request: Request, caller: str) -> JSONResponse:
        if caller != "admin@local":
            return failure(403, "only admins add users")
        body = await request.json()
        email = body.get("email", "")
        if "@" not in email:
            return failure(422, f"Invalid email {email!r}.")
        if email in self.users:
            return failure(409, f"User {email} already exists.")
        self.users[email] = {"id": f"user-{email}", "email": email, "isAdmin": body["isAdmin"]}
        self.users[email] |= {"teams": [*body["teams"], "everyone"], "createdAt": "2030-01-01T00:00:00Z"}
        token = self.issue("user", email, body.get("tokenName", "default"))
        return JSONResponse({"data": self.users[email], "token": token["secret"]})

    async def list_users(self, request: Request, caller: str) -> JSONResponse:
        return self.page(request, list(self.users.values()))

    async def create_token(self, request: Request, caller: str) -> JSONResponse:
        body = await request.json()
        owner = body.get("userEmail", caller)
        if owner != caller and caller != "admin@local":
            return failure(403, "only admins create tokens for others")
        if owner not in self.users:
            return failure(404, f"No user {owner!r}.")
        token = self.issue("user", owner, body["name"], body.get("expirationDate"))
        return JSONResponse({"token": token["secret"], "id": token["id"], "name": token["name"]})

    async def list_tokens(self, request: Request, caller: str) -> JSONResponse:
        user, account = request.query_params.get("user"), request.query_params.get("virtualAccount")
        found = [
            {k: v for k, v in t.items() if k != "secret"}
            for t in self.tokens.values()
            if (user is None or (t["ownerKind"], t["owner"]) == ("user", user))
            and (account is None or (t["ownerKind"], t["owner"]) == ("virtualaccount", account))
        ]
        return self.page(request, found)

    async def delete_token(self, request: Request, caller: str) -> JSONResponse:
        if self.tokens.pop(request.path_params["id"], None) is None:
            return failure(404, f"No personal access token with id {request.path_params['id']!r}.")
        return JSONResponse({"data": {"id": request.path_params["id"]}})

    async def regenerate(self, request: Request, caller: str) -> JSONResponse:
        name = request.path_params["id"]
        if name not in self.accounts:
            return failure(404, f"No virtual account {name!r}.")
        grace = (await request.json())["gracePeriodInMinutes"]
        if grace == 0:
            self.tokens = {k: t for k, t in self.tokens.items() if t["owner"] != name}
        return JSONResponse({"token": self.issue("virtualaccount", name, "token")["secret"]})

    def page(self, request: Request, items: list[dict[str, Any]]) -> JSONResponse:
        limit = min(int(request.query_params.get("limit", 100)), 1000)
        offset = int(request.query_params.get("offset", 0))
        pagination = {"total": len(items), "offset": offset, "limit": limit}
        return JSONResponse({"data": items[offset : offset + limit], "pagination": pagination})


@pytest.fixture
def stub() -> Stub:
    return Stub()


def client(stub: Stub, key: str = ADMIN) -> ControlPlaneClient:
    return ControlPlaneClient("http://stub.test", key, transport=httpx.ASGITransport(app=stub.app()))


async def test_add_a_user_then_list_it_with_its_first_token(stub: Stub) -> None:
    async with client(stub) as cp:
        added = await cp.create_user("alice@example.com", teams=["backend"], token_name="laptop")
        users = await cp.list_users()
        tokens = await cp.list_tokens(user="alice@example.com")
    assert added.token == "tfy_alice@example.com_laptop" and added.token not in repr(added)
    assert (added.user.email, added.user.is_admin) == ("alice@example.com", False)
    assert added.user.teams == ("backend", "everyone")
    assert users == [added.user]
    assert [(t.name, t.subject, t.expires_at) for t in tokens] == [("laptop", "user:alice@example.com", None)]


async def test_adding_a_user_twice_or_a_bad_email_carries_the_servers_message(stub: Stub) -> None:
    async with client(stub) as cp:
        await cp.create_user("alice@example.com")
        with pytest.raises(ValidationFailed) as twice:
            await cp.create_user("alice@example.com")
        with pytest.raises(ValidationFailed) as invalid:
            await cp.create_user("not-an-email")
    assert twice.value.status == 409 and str(twice.value) == "User alice@example.com already exists."
    assert invalid.value.status == 422 and "Invalid email 'not-an-email'" in str(invalid.value)


async def test_a_member_key_is_refused_with_the_servers_message(stub: Stub) -> None:
    async with client(stub, MEMBER) as cp:
        with pytest.raises(PermissionDeniedError) as refused:
            await cp.create_user("bob@example.com")
    assert refused.value.status == 403 and "only admins add users" in str(refused.value)


async def test_lists_follow_pagination_past_one_page(stub: Stub) -> None:
    for n in range(250):
        stub.users[f"u{n}@x"] = {"id": f"user-{n}", "email": f"u{n}@x", "isAdmin": False, "teams": ["everyone"]}
        stub.issue("user", f"u{n}@x", "default")
    async with client(stub) as cp:
        users = await cp.list_users()
        tokens = await cp.list_tokens()
    assert [u.email for u in users] == [f"u{n}@x" for n in range(250)]
    assert len({t.id for t in tokens}) == 250
    offsets = [query["offset"] for method, path, query in stub.requests if path == f"{SVC}/users"]
    assert offsets == ["0", "100", "200"]


async def test_tokens_are_created_for_a_user_listed_by_owner_and_deleted_by_id(stub: Stub) -> None:
    stub.accounts.add("ci-bot")
    async with client(stub) as cp:
        await cp.create_user("alice@example.com")
        created = await cp.create_personal_access_token(
            "ci-job", expiration_date="2031-01-01T00:00:00Z", user_email="alice@example.com"
        )
        bot = await cp.regenerate_virtual_account_token("ci-bot")
        alices = await cp.list_tokens(user="alice@example.com")
        bots = await cp.list_tokens(virtual_account="ci-bot")
        await cp.delete_personal_access_token(created.id or "")
        after = await cp.list_tokens(user="alice@example.com")
    assert created.name == "ci-job" and created.token.startswith("tfy_") and created.token not in repr(created)
    assert [t.name for t in alices] == ["default", "ci-job"] and alices[1].expires_at == "2031-01-01T00:00:00Z"
    assert bot.startswith("tfy_ci-bot") and [t.subject for t in bots] == ["virtualaccount:ci-bot"]
    assert [t.name for t in after] == ["default"]
    queries = [query for method, path, query in stub.requests if path == f"{SVC}/tokens"]
    assert queries[0]["user"] == "alice@example.com" and queries[1]["virtualAccount"] == "ci-bot"
    assert "virtualAccount" not in queries[0] and "user" not in queries[1]


async def test_a_token_for_an_unknown_user_or_account_is_not_found(stub: Stub) -> None:
    async with client(stub) as cp:
        with pytest.raises(ResourceNotFoundError, match=r"No user 'bob@example\.com'"):
            await cp.create_personal_access_token("x", user_email="bob@example.com")
        with pytest.raises(ResourceNotFoundError, match="No virtual account 'ghost'"):
            await cp.regenerate_virtual_account_token("ghost", grace_minutes=5)


async def test_an_older_control_plane_without_the_endpoints_says_so(stub: Stub) -> None:
    older = Starlette(routes=[r for r in stub.app().routes if r.name in ("session", "list_users")])  # type: ignore[attr-defined]
    async with ControlPlaneClient("http://stub.test", ADMIN, transport=httpx.ASGITransport(app=older)) as cp:
        with pytest.raises(UnsupportedFeatureError, match=r"does not serve adding users \(405"):
            await cp.create_user("alice@example.com")
        with pytest.raises(UnsupportedFeatureError, match=r"does not serve token listing \(404"):
            await cp.list_tokens()


async def test_a_malformed_answer_is_an_error_not_a_half_view(stub: Stub) -> None:
    broken = {"data": [{"id": "t1", "name": "x", "ownerKind": "robot", "owner": "o"}], "pagination": {"total": 1}}
    app = Starlette(routes=[Route(f"{SVC}/tokens", lambda request: JSONResponse(broken))])
    async with ControlPlaneClient("http://stub.test", ADMIN, transport=httpx.ASGITransport(app=app)) as cp:
        with pytest.raises(ControlPlaneError, match="ownerKind 'robot'"):
            await cp.list_tokens()
    assert TokenView("t1", "x", "user", "a@x").subject == "user:a@x"
