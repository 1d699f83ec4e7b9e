"""The error contract, tried with the real openai SDK: a provider's `error.code`, `param` and `type`
reach the client inside the platform's envelope (so `e.code` / `e.param` say what the provider
said), the gateway's own errors name a code and the field at fault, a provider refusing the gateway's
key is not the client's own 401, and a wrong method is a 405 with `Allow`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import openai
import pytest

from tests.gateway.conformance.openapi import conform
from tests.gateway.data_plane.conftest import EVERYONE, DataPlane
from tests.gateway.inprocess import FAKE_ORIGIN

MESSAGES = [{"role": "user", "content": "a prompt that is longer than the tiny context window of this model"}]


def account(name: str, provider: str, model_id: str, secret: str = "fake-group") -> dict[str, Any]:
    return {
        "name": name,
        "type": f"provider-account/{provider}",
        "base_url": f"{FAKE_ORIGIN}/v1",
        "auth_data": {"type": "api-key", "api_key": f"tfy-secret://local:{secret}:API_KEY"},
        "collaborators": EVERYONE,
        "integrations": [
            {"type": f"integration/model/{provider}", "name": "m", "model_id": model_id, "model_types": ["chat"]}
        ],
    }


@pytest.fixture
async def sdk(dp: DataPlane) -> AsyncIterator[openai.AsyncOpenAI]:
    """The openai SDK on the in-process gateway, with the SDK's own default of two retries."""
    async with openai.AsyncOpenAI(base_url=dp.base, api_key=dp.token, http_client=dp.gateway.client()) as client:
        yield client


@pytest.mark.parametrize(
    ("provider", "code", "param"),
    [("openai", "context_length_exceeded", "messages"), ("anthropic", "invalid_request_error", None)],
)
async def test_the_providers_code_and_param_reach_the_sdk(
    dp: DataPlane, sdk: openai.AsyncOpenAI, provider: str, code: str, param: str | None
) -> None:
    model_id = "gpt-4o@context_tokens=8" if provider == "openai" else "claude-3-5-haiku@context_tokens=8"
    await dp.apply(account("small", provider, model_id))
    with pytest.raises(openai.BadRequestError) as caught:
        await sdk.chat.completions.create(model="small/m", messages=MESSAGES, max_tokens=4)
    error = caught.value
    assert (error.code, error.param) == (code, param)
    assert error.type == "invalid_request_error"
    assert "context length" in error.message or "prompt is too long" in error.message
    conform({"error": error.body}, "ErrorResponse")


async def test_a_streamed_request_gets_the_same_code(dp: DataPlane, sdk: openai.AsyncOpenAI) -> None:
    await dp.apply(account("small", "openai", "gpt-4o@context_tokens=8"))
    with pytest.raises(openai.BadRequestError) as caught:
        await sdk.chat.completions.create(model="small/m", messages=MESSAGES, stream=True)
    assert (caught.value.code, caught.value.param) == ("context_length_exceeded", "messages")


async def test_a_bad_provider_key_is_not_the_clients_401(dp: DataPlane, sdk: openai.AsyncOpenAI) -> None:
    """The fake provider requires PROVIDER_KEY; this account sends another key. The SDK must not see
    an AuthenticationError (its own token is fine) and must not retry (asking again cannot help)."""
    (dp.gateway.data_dir / "secrets.json").write_text('{"fake-group": {"API_KEY": "x"}, "bad": {"API_KEY": "sk-bad"}}')
    await dp.gateway.restart()
    await dp.apply(account("badkey", "openai", "gpt-4o", secret="bad"))
    before = dp.gateway.provider_stats()["requests"]
    async with openai.AsyncOpenAI(base_url=dp.base, api_key=dp.token, http_client=dp.gateway.client()) as client:
        with pytest.raises(openai.APIStatusError) as caught:
            await client.chat.completions.create(model="badkey/m", messages=MESSAGES)
    error = caught.value
    assert not isinstance(error, (openai.AuthenticationError, openai.PermissionDeniedError))
    assert error.status_code == 502 and error.code == "invalid_api_key"
    assert error.response.headers["x-should-retry"] == "false"
    assert "refused the gateway's credentials" in error.message and "Your token is fine" in error.message
    assert dp.gateway.provider_stats()["requests"] == before + 1  # neither the SDK nor the gateway asked again


async def test_the_gateways_own_errors_name_code_and_param(dp: DataPlane, sdk: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as unknown:
        await sdk.chat.completions.create(model="fake/no-such-model", messages=MESSAGES)
    assert (unknown.value.code, unknown.value.param) == ("model_not_found", "model")
    with pytest.raises(openai.BadRequestError) as bad:
        await sdk.chat.completions.create(model="fake/gpt-4o", messages=MESSAGES, temperature=3)
    assert (bad.value.code, bad.value.param) == ("invalid_value", "temperature")
    missing = await dp.post("chat/completions", {"model": "fake/gpt-4o"})
    assert missing.status_code == 400
    assert missing.json()["error"] | {"message": ""} == {
        "message": "",
        "type": "invalid_request_error",
        "code": "missing_required_parameter",
        "param": "messages",
    }
    async with openai.AsyncOpenAI(
        base_url=dp.base, api_key="tfy_wrong_" + "x" * 20, http_client=dp.gateway.client()
    ) as anonymous_client:
        with pytest.raises(openai.AuthenticationError) as anonymous:
            await anonymous_client.models.list()
    assert anonymous.value.code == "invalid_api_key"


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [("GET", "chat/completions", "POST"), ("POST", "models", "GET"), ("DELETE", "models/fake/gpt-4o", "GET")],
)
async def test_a_wrong_method_is_405_with_allow(dp: DataPlane, method: str, path: str, allow: str) -> None:
    response = await dp.http.request(method, f"{dp.base}/{path}", headers=dp.auth())
    assert response.status_code == 405 and response.headers["allow"] == allow
    conform(response.json(), "ErrorResponse")
    assert response.json()["error"]["code"] == "method_not_allowed"


async def test_models_retrieve(dp: DataPlane, sdk: openai.AsyncOpenAI) -> None:
    model = await sdk.models.retrieve("fake/gpt-4o")
    assert (model.id, model.object, model.owned_by) == ("fake/gpt-4o", "model", "fake")
    raw = await dp.http.get(f"{dp.base}/models/fake/gpt-4o", headers=dp.auth())
    conform(raw.json(), "Model")
    conform((await dp.http.get(f"{dp.base}/models", headers=dp.auth())).json(), "ListModelsResponse")
    with pytest.raises(openai.NotFoundError) as unknown:
        await sdk.models.retrieve("fake/no-such-model")
    assert unknown.value.code == "model_not_found"
    user = await dp.add_user("nobody@example.com")
    async with openai.AsyncOpenAI(base_url=dp.base, api_key=user, http_client=dp.gateway.client()) as client:
        with pytest.raises(openai.NotFoundError):  # exists, but not for this user: as OpenAI answers it
            await client.models.retrieve("private/gpt-4o")


async def test_a_parameter_anthropic_cannot_honour_is_refused_before_any_call(
    dp: DataPlane, sdk: openai.AsyncOpenAI
) -> None:
    before = dp.gateway.provider_stats()["requests"]
    with pytest.raises(openai.BadRequestError) as refused:
        await sdk.chat.completions.create(model="claude/sonnet", messages=MESSAGES, temperature=1.5)
    assert (refused.value.code, refused.value.param) == ("unsupported_value", "temperature")
    assert "Anthropic's temperature ranges from 0 to 1" in refused.value.message
    with pytest.raises(openai.BadRequestError) as seeded:
        await sdk.chat.completions.create(model="claude/sonnet", messages=MESSAGES, seed=1)
    assert (seeded.value.code, seeded.value.param) == ("unsupported_parameter", "seed")
    assert dp.gateway.provider_stats()["requests"] == before


async def test_a_model_that_cannot_be_called_is_not_retried_by_the_sdk(dp: DataPlane) -> None:
    response = await dp.chat("nosecret/gpt-4o")
    assert response.status_code == 500 and response.headers["x-should-retry"] == "false"
    assert response.json()["error"]["code"] == "configuration_error"
    assert "TFY_SECRET_MISSING_GROUP_API_KEY" in response.json()["message"]


async def test_an_endpoint_the_providers_wire_lacks_is_named(dp: DataPlane) -> None:
    response = await dp.post("embeddings", {"model": "claude/sonnet", "input": "x"})
    assert response.status_code == 400
    conform(response.json(), "ErrorResponse")
    assert response.json()["error"]["code"] == "unsupported_endpoint"
