"""The client's requests and error mapping, over real HTTP against a scripted loopback server."""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers import free_port
from tests.platform.conftest import ScriptedServer
from tfy_gateway.platform import (
    AuthenticationError,
    ControlPlaneClient,
    ControlPlaneError,
    NotFoundError,
    PermissionDeniedError,
    ResourceNotFoundError,
    UnreachableError,
    ValidationFailed,
    creation_diff,
)

KEY = "tfy_wire_test_key_0123456789"
SESSION = {"user": {"email": "dev@local", "tenantName": "local"}}
EXISTING: dict[str, Any] = {
    "name": "rl",
    "type": "gateway-rate-limiting-config",
    "rules": [{"id": "r1", "when": {}, "limit_to": 10, "unit": "requests_per_minute"}],
}


def envelope(status: int, message: str, **extra: Any) -> dict[str, Any]:
    return {
        "status": "failure",
        "message": message,
        "error": {"message": message, "type": "X", "code": str(status)},
        **extra,
    }


async def test_apply_sends_what_the_tfy_cli_sends(scripted: ScriptedServer) -> None:
    scripted.reply("PUT", "/api/svc/v1/apply", body={"existingManifest": EXISTING, "action": "UPDATE"})
    new = {**EXISTING, "description": None, "rules": [{**EXISTING["rules"][0], "limit_to": 20, "x": None}]}
    async with ControlPlaneClient(scripted.base_url + "/", KEY) as client:
        outcome = await client.apply(new, dry_run=True)
    seen = scripted.seen[-1]
    assert seen.headers["authorization"] == f"Bearer {KEY}"
    assert seen.headers["content-type"] == "application/json"
    # top-level None removed, nested None kept: exactly the CLI's payload
    assert seen.body == {"manifest": {k: v for k, v in new.items() if v is not None}, "dryRun": True}
    assert "x" in seen.body["manifest"]["rules"][0]
    assert outcome.action == "UPDATE" and outcome.existing == EXISTING and outcome.dry_run
    assert "-  limit_to: 10\n" in outcome.diff and "+  limit_to: 20\n" in outcome.diff
    assert outcome.diff.startswith("--- existing/rl (gateway-rate-limiting-config)\n")


async def test_apply_create_and_unchanged(scripted: ScriptedServer) -> None:
    scripted.reply("PUT", "/api/svc/v1/apply", body={"existingManifest": None})
    async with ControlPlaneClient(scripted.base_url, KEY) as client:
        created = await client.apply(EXISTING, dry_run=False)
        scripted.reply("PUT", "/api/svc/v1/apply", body={"existingManifest": EXISTING, "data": {"id": "1"}})
        same = await client.apply(EXISTING, dry_run=True)
    assert created.action == "CREATE" and created.created and created.diff == creation_diff(EXISTING)
    assert scripted.seen[0].body["dryRun"] is False
    assert same.action == "UPDATE" and not same.changed and same.data == {"id": "1"}


async def test_validation_failure_carries_the_server_message_and_findings(scripted: ScriptedServer) -> None:
    errors = [{"severity": "error", "code": "weights", "message": "weights sum to 90", "path": "rules[0]"}]
    message = "Invalid manifest rl (gateway-rate-limiting-config): 1 error:\n- rules[0]: weights sum to 90"
    scripted.reply("PUT", "/api/svc/v1/apply", 422, envelope(422, message, errors=errors, warnings=[]))
    async with ControlPlaneClient(scripted.base_url, KEY) as client:
        with pytest.raises(ValidationFailed) as info:
            await client.apply(EXISTING, dry_run=True)
    assert info.value.status == 422
    assert str(info.value) == message
    assert info.value.findings == errors


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"message": "top"}, "top"),
        ({"error": {"message": "nested"}}, "nested"),
        ({"detail": "starlette style"}, "starlette style"),
    ],
)
async def test_error_envelope_variants(scripted: ScriptedServer, body: dict[str, Any], expected: str) -> None:
    scripted.reply("PUT", "/api/svc/v1/apply", 400, body)
    async with ControlPlaneClient(scripted.base_url, KEY) as client:
        with pytest.raises(ValidationFailed, match=expected):
            await client.apply(EXISTING, dry_run=True)


async def test_401_403_and_5xx_messages(scripted: ScriptedServer) -> None:
    async with ControlPlaneClient(scripted.base_url, KEY) as client:
        scripted.reply("GET", "/api/svc/v1/session", 401, envelope(401, f"bad token {KEY}"))
        with pytest.raises(AuthenticationError) as auth:
            await client.session()
        scripted.reply("PUT", "/api/svc/v1/apply", 403, envelope(403, "admins only"))
        with pytest.raises(PermissionDeniedError) as denied:
            await client.apply(EXISTING, dry_run=False)
        scripted.reply("POST", "/api/svc/v1/delete", 503, raw=b"<html>upstream down</html>", content_type="text/html")
        with pytest.raises(ControlPlaneError) as failed:
            await client.delete(EXISTING)
    expected = f"the control plane at {scripted.base_url} rejected TFY_API_KEY (401)"
    assert str(auth.value).startswith(f"{expected}: check the key / create a new PAT")
    assert KEY not in str(auth.value)  # even when the server echoes it
    assert denied.value.status == 403 and "admins only" in str(denied.value)
    assert isinstance(denied.value, AuthenticationError)
    assert failed.value.status == 503 and "delete rl (gateway-rate-limiting-config)" in str(failed.value)
    assert "upstream down" in str(failed.value)


async def test_404_tells_a_wrong_url_from_a_missing_resource(scripted: ScriptedServer) -> None:
    async with ControlPlaneClient(scripted.base_url + "/some/path", KEY) as client:
        with pytest.raises(NotFoundError) as wrong:
            await client.apply(EXISTING, dry_run=True)
    assert str(wrong.value).startswith(
        f"no such endpoint at {scripted.base_url}/some/path: is TFY_BASE_URL the bare origin"
    )
    scripted.reply("GET", "/api/svc/v1/session", body=SESSION)
    scripted.reply("POST", "/api/svc/v1/delete", 404, envelope(404, "No rl exists"))
    async with ControlPlaneClient(scripted.base_url, KEY) as client:
        with pytest.raises(ResourceNotFoundError, match="No rl exists"):
            await client.delete(EXISTING)
        assert await client.get_config("gateway-budget-config") is None


async def test_get_config_and_listings(scripted: ScriptedServer) -> None:
    config = {"id": "c1", "type": "gateway-rate-limiting-config", "manifest": EXISTING}
    scripted.reply("GET", "/api/svc/v1/llm-gateway/config/gateway-rate-limiting-config", body=config)
    page1 = [{"manifest": {"name": f"a{i}", "type": "provider-account/openai"}} for i in range(100)]
    scripted.reply("GET", "/api/svc/v1/provider-accounts", body={"data": page1, "pagination": {"total": 100}})
    scripted.reply("GET", "/api/llm/models", body={"object": "list", "data": [{"id": "a0/gpt-4o"}]})
    async with ControlPlaneClient(scripted.base_url, KEY) as client:
        assert await client.get_config("gateway-rate-limiting-config") == EXISTING
        accounts = await client.list_provider_accounts()
        assert await client.list_models() == [{"id": "a0/gpt-4o"}]
    assert [a["name"] for a in accounts] == [f"a{i}" for i in range(100)]
    listing = [s for s in scripted.seen if s.path.startswith("/api/svc/v1/provider-accounts")]
    assert len(listing) == 1 and "limit=100" in listing[0].path and "offset=0" in listing[0].path


async def test_pagination_is_followed(scripted: ScriptedServer) -> None:
    def page(path: str) -> dict[str, Any]:
        offset = int(path.split("offset=")[1].split("&")[0])
        names = [f"a{i}" for i in range(offset, min(offset + 100, 150))]
        return {"data": [{"name": n} for n in names], "pagination": {"total": 150}}

    scripted.reply("GET", "/api/svc/v1/provider-accounts", body=page)
    async with ControlPlaneClient(scripted.base_url, KEY) as client:
        accounts = await client.list_provider_accounts()
    assert [a["name"] for a in accounts] == [f"a{i}" for i in range(150)]
    assert len([s for s in scripted.seen if "provider-accounts" in s.path]) == 2


async def test_unreachable_and_timeout(scripted: ScriptedServer) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    async with ControlPlaneClient(url, KEY) as client:
        with pytest.raises(UnreachableError) as refused:
            await client.session()
    assert str(refused.value).startswith(
        f"could not reach the control plane at {url}: is the gateway running (`tfy-gateway serve`)?"
    )
    scripted.reply("GET", "/api/svc/v1/session", body=SESSION, delay=0.5)
    async with ControlPlaneClient(scripted.base_url, KEY, timeout=0.1) as client:
        with pytest.raises(UnreachableError, match="timed out"):
            await client.session()


async def test_non_json_success_body_is_a_clear_error(scripted: ScriptedServer) -> None:
    scripted.reply("GET", "/api/svc/v1/session", raw=b"<html>login page</html>", content_type="text/html")
    async with ControlPlaneClient(scripted.base_url, KEY) as client:
        with pytest.raises(ControlPlaneError, match="expected a JSON object"):
            await client.session()


async def test_redirect_is_reported_not_followed(scripted: ScriptedServer) -> None:
    scripted.reply("GET", "/api/svc/v1/session", 301, raw=b"", headers={"location": "https://elsewhere/"})
    async with ControlPlaneClient(scripted.base_url, KEY) as client:
        with pytest.raises(ControlPlaneError, match="redirected") as info:
            await client.session()
    assert info.value.status == 301
