"""Every failure gets the right status and the platform's envelope (with OpenAI's error fields)."""

from __future__ import annotations

import httpx
import pytest

from tests.gateway.conformance.openapi import conform
from tests.gateway.data_plane.conftest import PROVIDER_KEY, UPSTREAM_TIMEOUT_S, DataPlane


def envelope(response: httpx.Response, status: int, origin: str) -> dict:
    """The platform's envelope, whose `error` is OpenAI's Error object (code and param included)."""
    assert response.status_code == status, response.text
    body = response.json()
    assert body["status"] == "failure"
    assert body["message"] == body["error"]["message"] and body["message"]
    conform(body, "ErrorResponse")
    assert body["error"]["code"] and not body["error"]["code"].isdigit()  # a name, not the status again
    assert body["error_origin_level"] == origin
    return body


async def test_unauthenticated(dp: DataPlane) -> None:
    missing = await dp.http.post(dp.base + "/chat/completions", json={"model": "fake/gpt-4o", "messages": []})
    envelope(missing, 401, "authentication")
    wrong = await dp.chat(token="tfy_wrong_" + "x" * 20)
    assert "invalid, expired or revoked" in envelope(wrong, 401, "authentication")["message"]


async def test_unknown_model_is_openais_404(dp: DataPlane) -> None:
    body = envelope(await dp.chat("fake/does-not-exist"), 404, "request")
    assert body["error"]["code"] == "model_not_found" and body["error"]["param"] == "model"
    assert body["message"].startswith("The model `fake/does-not-exist` does not exist")


async def test_user_without_access_gets_403_and_sees_only_its_models(dp: DataPlane) -> None:
    token = await dp.add_user("nobody@example.com")
    body = envelope(await dp.chat("private/gpt-4o", token=token), 403, "authorization")
    assert "User nobody@example.com is not authorized to access model private/gpt-4o" in body["message"]
    models = (await dp.http.get(dp.base + "/models", headers=dp.auth(token))).json()["data"]
    ids = {model["id"] for model in models}
    assert "fake/gpt-4o" in ids and "private/gpt-4o" not in ids
    assert (await dp.chat("fake/gpt-4o", token=token)).status_code == 200


async def test_oversized_body_is_413(dp: DataPlane) -> None:
    huge = "x" * (10 * 1024 * 1024 + 1)
    response = await dp.chat(body={"messages": [{"role": "user", "content": huge}]})
    assert "larger than" in envelope(response, 413, "request")["message"]


@pytest.mark.parametrize(
    ("content", "status", "needle"),
    [
        (b"{not json", 400, "not valid JSON"),
        (b"", 400, "empty"),
        (b"[1, 2]", 400, "must be a JSON object"),
        (b'{"model": "fake/gpt-4o"}', 400, "'messages' is required"),
        (b'{"model": "fake/gpt-4o", "messages": "hi"}', 422, "'messages' is invalid"),
        (b'{"messages": [{"role": "user", "content": "x"}]}', 400, "'model' is required"),
        (b'{"model": "fake/gpt-4o", "messages": [{"role": "user"}], "stream": "yes"}', 422, "'stream'"),
    ],
)
async def test_invalid_bodies(dp: DataPlane, content: bytes, status: int, needle: str) -> None:
    response = await dp.http.post(
        dp.base + "/chat/completions", content=content, headers={**dp.auth(), "content-type": "application/json"}
    )
    body = envelope(response, status, "request")
    assert needle in body["message"] and body["error"]["type"] == "invalid_request_error"


@pytest.mark.parametrize(
    ("header", "value", "needle"),
    [
        ("x-tfy-metadata", "not json", "x-tfy-metadata is not valid JSON"),
        ("x-tfy-metadata", '{"a": 1}', "must be a string"),
        ("x-tfy-metadata", '{"a": "' + "v" * 129 + '"}', "longer than 128"),
        ("x-tfy-request-timeout", "soon", "x-tfy-request-timeout must be a positive number"),
        ("x-tfy-retry-config", '{"attempts": "many"}', "x-tfy-retry-config"),
        ("x-tfy-logging-config", "yes", "x-tfy-logging-config"),
    ],
)
async def test_invalid_headers(dp: DataPlane, header: str, value: str, needle: str) -> None:
    assert needle in envelope(await dp.chat(headers={header: value}), 400, "request")["message"]


async def test_unsupported_and_unknown_endpoints_say_what_is_supported(dp: DataPlane) -> None:
    realtime = envelope(await dp.post("realtime", {"model": "fake/gpt-4o"}), 404, "request")
    assert "the Realtime API" in realtime["message"] and "chat/completions" in realtime["message"]
    assert "responses" in realtime["message"]  # /responses is served now, and listed as supported
    unknown = envelope(await dp.post("nope", {}), 404, "request")
    assert "No data-plane endpoint /api/llm/nope" in unknown["message"]
    wrong_method = await dp.http.get(dp.base + "/chat/completions", headers=dp.auth())
    envelope(wrong_method, 405, "request")


async def test_upstream_500_keeps_the_status_with_the_provider(dp: DataPlane) -> None:
    body = envelope(await dp.chat("fake/broken"), 500, "api_error")
    assert body["provider"] == "openai" and "fake/broken" in body["message"]


async def test_connection_refused_is_502(dp: DataPlane) -> None:
    body = envelope(await dp.chat("down/gpt-4o"), 502, "gateway")
    assert body["provider"] == "openai" and "cannot connect" in body["message"]


# fake/slow answers after 2.5 s, so which status comes back says which timeout fired, whatever the
# machine's speed: 200 = none, 504 = the gateway's 1.5 s upstream timeout, 408 = the request's own.
# The logged latency can only be longer than a timeout that fired (lower bounds hold on a slow machine;
# the slack covers rounding between the two clocks).
CLOCK_SLACK_MS = 50


async def test_upstream_timeout_is_504(dp: DataPlane) -> None:
    response = await dp.chat("fake/slow")
    body = envelope(response, 504, "gateway")
    assert "timed out" in body["message"]
    record = await dp.log_record(response, model="fake/slow")
    assert record["status"] == 504 and "timed out" in record["error"]
    assert record["latency_ms"] >= UPSTREAM_TIMEOUT_S * 1000 - CLOCK_SLACK_MS


async def test_request_timeout_header_gives_408(dp: DataPlane) -> None:
    response = await dp.chat("fake/slow", headers={"x-tfy-request-timeout": "200"})
    envelope(response, 408, "gateway")
    record = await dp.log_record(response, model="fake/slow")
    assert record["status"] == 408
    assert record["latency_ms"] >= 200 - CLOCK_SLACK_MS


async def test_ttft_timeout_header_gives_408_for_streams(dp: DataPlane) -> None:
    response = await dp.chat("fake/slow-start", body={"stream": True}, headers={"x-tfy-ttft-timeout-ms": "150"})
    assert "first token" in envelope(response, 408, "gateway")["message"]


async def test_missing_secret_names_the_reference_never_a_value(dp: DataPlane) -> None:
    body = envelope(await dp.chat("nosecret/gpt-4o"), 500, "gateway")
    assert "tfy-secret://local:missing-group:API_KEY" in body["message"]
    assert "TFY_SECRET_MISSING_GROUP_API_KEY" in body["message"]
    assert PROVIDER_KEY not in body["message"]


async def test_virtual_account_reaches_only_granted_models(dp: DataPlane) -> None:
    manifest = {
        "type": "virtual-account",
        "name": "ci-bot",
        "permissions": [{"resource_fqn": "fake/gpt-4o", "resource_type": "model", "role_id": "model-access"}],
    }
    applied = await dp.http.put("/api/svc/v1/apply", json={"manifest": manifest, "dryRun": False}, headers=dp.auth())
    assert applied.status_code == 200, applied.text
    account_id = applied.json()["data"]["id"]
    token = await dp.http.get(f"/api/svc/v1/virtual-accounts/{account_id}/token", headers=dp.auth())
    vat = token.json()["token"]
    assert (await dp.chat("fake/gpt-4o", token=vat)).status_code == 200
    body = envelope(await dp.chat("fake/public", token=vat), 403, "authorization")
    assert body["message"].startswith("Virtual account ci-bot is not authorized to access model fake/public")
    records = (await dp.logs(vat))["data"]
    assert {r["subject"] for r in records} == {"virtualaccount:ci-bot"} and len(records) == 2
