"""Control-plane endpoints over real HTTP: auth, roles, validation, dry runs, listings, errors."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.gateway.conftest import Api, add_user, load_examples
from tests.helpers import GatewayProcess

CONFIG = "/api/svc/v1/llm-gateway/config/gateway-load-balancing-config"
Connect = Callable[[str, str | None], Api]


def assert_envelope(response: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    """The platform's envelope; `code` is the status on the control plane, OpenAI's name on the data plane."""
    assert response.status_code == status, response.text
    body = response.json()
    assert body["status"] == "failure"
    assert body["message"] and body["error"]["message"] == body["message"]
    assert body["error"]["code"] == (code or str(status))
    assert body["error"]["type"] and body["error_origin_level"]
    return body


@pytest.fixture(scope="module")
def setup(shared_gateway: GatewayProcess) -> Iterator[dict[str, Any]]:
    """Provider accounts (backend may use openai-main), a user bob in team backend, a VA."""
    with Api(shared_gateway.base_url, shared_gateway.admin_token) as admin:
        accounts = load_examples("provider-accounts.yaml")
        for account in accounts:  # the examples grant every user; this test grants one team, and carol
            account.pop("collaborators", None)
        accounts[0]["collaborators"] = [{"subject": "team:backend", "role_id": "provider-account-access"}]
        accounts[2]["integrations"][0]["authorized_subjects"] = ["user:carol@example.com"]
        for manifest in accounts:
            assert admin.apply(manifest).status_code == 200
        bob = add_user(shared_gateway, "bob@example.com", "--team", "backend")
        carol = add_user(shared_gateway, "carol@example.com")
        account = {
            "name": "ci-bot",
            "type": "virtual-account",
            "permissions": [
                {"resource_fqn": "anthropic-main/claude-sonnet", "resource_type": "model", "role_id": "model-access"},
                {"resource_fqn": "azure-backup", "resource_type": "provider-account", "role_id": "access"},
            ],
        }
        created = admin.apply(account)
        assert created.status_code == 200, created.text
        account_id = created.json()["data"]["id"]
        token = admin.get(f"/api/svc/v1/virtual-accounts/{account_id}/token").json()["token"]
        yield {"admin": admin, "bob": bob, "carol": carol, "vat": token, "va_id": account_id, "accounts": accounts}


def test_missing_malformed_and_unknown_tokens_get_401(shared_gateway: GatewayProcess, connect: Connect) -> None:
    for token in (None, "not-a-tfy-token", "tfy_" + "0" * 40):
        api = connect(shared_gateway.base_url, token)
        for response in (api.get("/api/svc/v1/session"), api.apply({"type": "team", "name": "x", "members": []})):
            body = assert_envelope(response, 401)
            assert body["error_origin_level"] == "authentication"
    # min-cli-version and tenant-id are the only endpoints without a token (the CLI calls them so).
    assert httpx.get(f"{shared_gateway.base_url}/api/svc/v1/min-cli-version").status_code == 200
    tenant = httpx.get(f"{shared_gateway.base_url}/api/svc/v1/tenant-id", params={"hostName": "x"}).json()
    assert tenant == {"tenantName": "local", "auth_server_url": shared_gateway.base_url}


def test_virtual_account_token_is_refused_by_the_control_plane(
    shared_gateway: GatewayProcess, setup: dict[str, Any], connect: Connect
) -> None:
    assert setup["vat"].startswith("tfy_va_ci-bot_")
    vat = connect(shared_gateway.base_url, setup["vat"])
    for response in (
        vat.get("/api/svc/v1/session"),
        vat.get("/api/svc/v1/provider-accounts"),
        vat.apply({"name": "t", "type": "team", "members": []}),
    ):
        body = assert_envelope(response, 403)
        assert "Virtual account ci-bot cannot call the control plane" in body["message"]
    # ...but it reaches the data plane's model list, with exactly its grants.
    assert sorted(vat.models()) == ["anthropic-main/claude-sonnet", "azure-backup/gpt-4o"]


def test_token_is_revealed_once(shared_gateway: GatewayProcess, setup: dict[str, Any]) -> None:
    again = setup["admin"].get(f"/api/svc/v1/virtual-accounts/{setup['va_id']}/token")
    assert "already shown once" in assert_envelope(again, 409)["message"]


def test_non_admin_reads_but_cannot_change_config(
    shared_gateway: GatewayProcess, setup: dict[str, Any], connect: Connect
) -> None:
    bob = connect(shared_gateway.base_url, setup["bob"])
    session = bob.get("/api/svc/v1/session").json()["user"]
    assert session["email"] == "bob@example.com" and session["teams"] == ["backend", "everyone"]
    routing = load_examples("routing-weighted.yaml")[0]
    body = assert_envelope(bob.apply(routing, dry_run=True), 403)
    assert "bob@example.com is not a tenant admin" in body["message"]
    assert_envelope(bob.delete(setup["accounts"][0]), 403)
    listed = bob.get("/api/svc/v1/provider-accounts").json()
    assert [item["name"] for item in listed["data"]] == ["openai-main", "azure-backup", "anthropic-main"]
    # Plain API keys are never echoed by list endpoints; tfy-secret:// references are kept.
    assert listed["data"][0]["manifest"]["auth_data"]["api_key"].startswith("tfy-secret://")
    # Models: bob through team:backend on openai-main; carol through authorized_subjects.
    assert bob.models() == ["openai-main/gpt-4o", "openai-main/gpt-4o-mini", "openai-main/text-embedding-3-small"]
    carol = connect(shared_gateway.base_url, setup["carol"])
    assert carol.models() == ["anthropic-main/claude-sonnet"]
    assert len(setup["admin"].models()) == 5


def test_users_manage_only_their_own_tokens(
    shared_gateway: GatewayProcess, setup: dict[str, Any], connect: Connect
) -> None:
    bob = connect(shared_gateway.base_url, setup["bob"])
    carol = connect(shared_gateway.base_url, setup["carol"])
    created = bob.http.post("/api/svc/v1/personal-access-tokens", json={"name": "laptop"})
    assert created.status_code == 200, created.text
    new_token, token_id = created.json()["token"], created.json()["id"]
    assert new_token.startswith("tfy_")
    listed = bob.get("/api/svc/v1/personal-access-tokens").json()["data"]
    assert {item["name"] for item in listed} == {"default", "laptop"}
    assert all("token" not in item for item in listed)
    assert connect(shared_gateway.base_url, new_token).get("/api/svc/v1/session").status_code == 200
    body = assert_envelope(carol.http.delete(f"/api/svc/v1/personal-access-tokens/{token_id}"), 403)
    assert "belongs to another user" in body["message"]
    assert bob.http.delete(f"/api/svc/v1/personal-access-tokens/{token_id}").status_code == 200
    assert_envelope(connect(shared_gateway.base_url, new_token).get("/api/svc/v1/session"), 401)


def test_invalid_manifest_lists_every_error_and_changes_nothing(setup: dict[str, Any]) -> None:
    admin: Api = setup["admin"]
    routing = load_examples("routing-weighted.yaml")[0]
    routing["rules"][0]["load_balance_targets"][0]["weight"] = 80
    routing["rules"][0]["load_balance_targets"][1]["target"] = "nope/gpt-4o"
    body = assert_envelope(admin.apply(routing), 422)
    assert "2 errors" in body["message"]
    assert "weights sum to 110" in body["message"]
    assert "nope/gpt-4o" in body["message"]
    assert {error["path"] for error in body["errors"]} >= {"rules[0].load_balance_targets"}
    assert_envelope(admin.get(CONFIG), 404)
    assert_envelope(admin.apply({"name": "x", "type": "bad-type"}), 422)
    assert_envelope(admin.http.put("/api/svc/v1/apply", content=b"{not json"), 400)


def test_dry_run_changes_nothing(setup: dict[str, Any]) -> None:
    admin: Api = setup["admin"]
    routing = load_examples("routing-weighted.yaml")[0]
    dry = admin.apply(routing, dry_run=True).json()
    assert dry["existingManifest"] is None and dry["action"] == "CREATE"
    assert dry["data"]["type"] == "gateway-load-balancing-config"
    assert "No gateway-load-balancing-config is configured" in assert_envelope(admin.get(CONFIG), 404)["message"]
    applied = admin.apply(routing).json()
    assert applied["action"] == "CREATE"
    changed = copy.deepcopy(routing)
    changed["rules"][0]["load_balance_targets"][0]["weight"] = 60
    changed["rules"][0]["load_balance_targets"][1]["weight"] = 40
    dry = admin.apply(changed, dry_run=True).json()
    assert dry["action"] == "UPDATE" and dry["existingManifest"] == routing
    config = admin.get(CONFIG).json()
    assert config["manifest"] == routing
    assert config["tenantName"] == "local" and config["type"] == "gateway-load-balancing-config"
    assert {"id", "createdBySubject", "createdAt", "updatedAt"} <= set(config)


def test_provider_account_in_use_cannot_be_deleted(setup: dict[str, Any]) -> None:
    admin: Api = setup["admin"]
    routing = load_examples("routing-weighted.yaml")[0]
    assert admin.apply(routing).status_code == 200
    body = assert_envelope(admin.delete(setup["accounts"][1]), 409)
    assert (
        "chat-routing (gateway-load-balancing-config) rule 'weighted-chat' routes to azure-backup/gpt-4o"
        in (body["message"])
    )
    assert admin.get("/api/svc/v1/provider-accounts/azure-backup").status_code == 200
    emptied = {**setup["accounts"][1], "integrations": []}
    assert "removes models that other configuration routes to" in assert_envelope(admin.apply(emptied), 409)["message"]
    assert admin.delete(routing).status_code == 200
    assert_envelope(admin.delete(routing), 404)


def test_body_size_cap_gives_413(shared_gateway: GatewayProcess, setup: dict[str, Any]) -> None:
    admin: Api = setup["admin"]
    huge = {"name": "big", "type": "team", "members": [], "description": "x" * (11 * 1024 * 1024)}
    assert_envelope(admin.apply(huge), 413)


def test_listings_use_the_platform_envelope(setup: dict[str, Any]) -> None:
    admin: Api = setup["admin"]
    page = admin.get("/api/svc/v1/provider-accounts", limit=1, offset=1).json()
    assert [item["name"] for item in page["data"]] == ["azure-backup"]
    assert page["pagination"] == {"total": 3, "offset": 1, "limit": 1}
    account = page["data"][0]
    assert account["fqn"] == "local:azure-openai:azure-backup" and account["provider"] == "azure-openai"
    assert account["integrations"][0]["model"] == "azure-backup/gpt-4o"
    integrations = admin.get("/api/svc/v1/provider-integrations").json()
    assert integrations["pagination"]["total"] == 5
    accounts = admin.get("/api/svc/v1/virtual-accounts").json()
    assert accounts["data"][0]["name"] == "ci-bot"
    assert accounts["data"][0]["models"] == ["anthropic-main/claude-sonnet", "azure-backup/gpt-4o"]
    teams = admin.get("/api/svc/v1/teams").json()["data"]
    assert [(t["name"], t["members"]) for t in teams] == [("backend", ["bob@example.com"])]
    users = {u["email"]: u for u in admin.get("/api/svc/v1/users").json()["data"]}
    assert users["admin@local"]["isAdmin"] and not users["bob@example.com"]["isAdmin"]
    assert admin.get("/api/svc/v1/workspaces").json()["pagination"]["total"] == 1
    assert_envelope(admin.get("/api/svc/v1/provider-accounts", limit="x"), 400)
    assert_envelope(admin.get("/api/svc/v1/llm-gateway/config/gateway-budget-config"), 404)
    assert_envelope(admin.get("/api/svc/v1/no-such-endpoint"), 404)


def test_dependency_tree_and_session_shapes(setup: dict[str, Any]) -> None:
    admin: Api = setup["admin"]
    tree = admin.http.post("/api/svc/v1/dependency-tree", json={"manifests": setup["accounts"]}).json()
    first = tree["data"][0]
    assert (first["resourceType"], first["resourceName"], first["dependencies"]) == (
        "provider-account/openai",
        "openai-main",
        [],
    )
    user = admin.get("/api/svc/v1/session").json()["user"]
    assert user["tenantName"] == "local" and user["subject"]["subjectSlug"] == "admin@local"


def test_regenerating_a_virtual_account_token(
    shared_gateway: GatewayProcess, setup: dict[str, Any], connect: Connect
) -> None:
    admin: Api = setup["admin"]
    account_id = admin.apply({"name": "rotating-bot", "type": "virtual-account"}).json()["data"]["id"]
    first = admin.get(f"/api/svc/v1/virtual-accounts/{account_id}").json()["token"]  # revealed once, here
    assert "token" not in admin.get(f"/api/svc/v1/virtual-accounts/{account_id}").json()
    regenerate = f"/api/svc/v1/virtual-accounts/{account_id}/regenerate-token"
    second = admin.http.post(regenerate, json={"gracePeriodInMinutes": 5}).json()["token"]
    assert connect(shared_gateway.base_url, first).models() == []  # still valid during the grace period
    third = admin.http.post(regenerate).json()["token"]
    for old in (first, second):
        assert_envelope(connect(shared_gateway.base_url, old).get("/api/llm/models"), 401, "invalid_api_key")
    assert connect(shared_gateway.base_url, third).models() == []
    assert_envelope(admin.http.post(regenerate, json={"gracePeriodInMinutes": -1}), 422)
    assert admin.http.delete(f"/api/svc/v1/virtual-accounts/{account_id}").status_code == 200
    assert_envelope(connect(shared_gateway.base_url, third).get("/api/llm/models"), 401, "invalid_api_key")


@pytest.mark.parametrize(
    ("manifest", "warned"),
    [
        (
            {
                "name": "budgets",
                "type": "gateway-budget-config",
                "rules": [{"id": "daily", "when": {}, "limit_to": 1, "unit": "cost_per_day"}],
            },
            False,  # enforced by the local gateway
        ),
        ({"name": "guardrails", "type": "gateway-guardrails-config", "rules": []}, False),  # enforced (issue 21)
        ({"name": "settings", "type": "gateway-global-settings", "retry_settings": {"attempts": 3}}, True),
    ],
)
def test_applying_a_config_the_local_gateway_does_not_enforce_warns(
    gateway: GatewayProcess, manifest: dict[str, object], warned: bool
) -> None:
    response = httpx.put(
        gateway.base_url + "/api/svc/v1/apply",
        json={"manifest": manifest},
        headers={"Authorization": f"Bearer {gateway.admin_token}"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    codes = [w["code"] for w in response.json().get("warnings", [])]
    assert ("not-enforced-locally" in codes) is warned


def test_a_token_works_on_the_very_next_request_and_stops_with_its_revocation(
    shared_gateway: GatewayProcess, setup: dict[str, Any]
) -> None:
    """A token write installs the new identities before it answers: no wait, no retry, 20 of 20."""
    admin: Api = setup["admin"]
    statuses: list[tuple[int, int]] = []
    for i in range(20):
        created = admin.http.post("/api/svc/v1/personal-access-tokens", json={"name": f"at-once-{i}"})
        assert created.status_code == 200, created.text
        headers = {"Authorization": f"Bearer {created.json()['token']}"}
        used = httpx.get(shared_gateway.base_url + "/api/llm/models", headers=headers, timeout=30)
        admin.http.delete(f"/api/svc/v1/personal-access-tokens/{created.json()['id']}")
        revoked = httpx.get(shared_gateway.base_url + "/api/llm/models", headers=headers, timeout=30)
        statuses.append((used.status_code, revoked.status_code))
    assert statuses == [(200, 401)] * 20


def test_admins_create_users_and_their_tokens_through_the_api(
    shared_gateway: GatewayProcess, setup: dict[str, Any], connect: Connect
) -> None:
    admin: Api = setup["admin"]
    created = admin.http.post("/api/svc/v1/users", json={"email": "Dana@Example.com", "teams": ["backend"]})
    assert created.status_code == 200, created.text
    assert created.json()["data"]["email"] == "dana@example.com" and "backend" in created.json()["data"]["teams"]
    dana = connect(shared_gateway.base_url, created.json()["token"])
    assert dana.get("/api/svc/v1/session").status_code == 200  # at once
    assert_envelope(admin.http.post("/api/svc/v1/users", json={"email": "dana@example.com"}), 409)
    assert_envelope(dana.http.post("/api/svc/v1/users", json={"email": "eve@example.com"}), 403)
    assert_envelope(admin.http.post("/api/svc/v1/users", json={"email": "not-an-email"}), 422)
    # An admin makes a token for dana; dana cannot make one for somebody else.
    issued = admin.http.post(
        "/api/svc/v1/personal-access-tokens", json={"name": "ci-token", "userEmail": "dana@example.com"}
    )
    assert issued.status_code == 200, issued.text
    listed = admin.get("/api/svc/v1/tokens", user="dana@example.com").json()["data"]
    assert sorted(t["name"] for t in listed) == ["ci-token", "default"]
    assert all(set(t) == {"id", "name", "ownerKind", "owner", "createdAt", "expiresAt"} for t in listed)
    assert issued.json()["token"] not in str(listed)
    refused = dana.http.post(
        "/api/svc/v1/personal-access-tokens", json={"name": "x-for-bob", "userEmail": "bob@example.com"}
    )
    assert_envelope(refused, 403)
    assert_envelope(dana.get("/api/svc/v1/tokens"), 403)
