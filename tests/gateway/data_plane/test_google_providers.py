"""Gemini and Vertex AI accounts through the gateway, with the real openai SDK as the client and the
fake provider speaking Google's wire (generateContent, SSE, OAuth token endpoint) in process.

The Vertex token is obtained by google-auth from a service-account key made here (a fresh RSA key):
the JWT it signs is checked with the public key, and the token the fake issues for it is the one the
Vertex call carries. No socket, no internet.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import openai
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from tests.gateway.data_plane.conftest import EVERYONE
from tests.gateway.data_plane.test_openai_sdk import WEATHER_TOOL
from tests.gateway.inprocess import FAKE_ORIGIN, GATEWAY_URL, InProcessGateway, running_gateway
from tests.helpers import eventually

MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hello there"}]


def service_account_key() -> tuple[dict[str, Any], rsa.RSAPublicKey]:
    """A service-account key file (Google's JSON shape) whose token_uri is the fake provider's."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    info = {
        "type": "service_account",
        "project_id": "proj-1",
        "private_key_id": "key-1",
        "private_key": pem,
        "client_email": "gateway@proj-1.iam.gserviceaccount.com",
        "client_id": "1234567890",
        "token_uri": f"{FAKE_ORIGIN}/token",
    }
    return info, private.public_key()


def gemini_account(**auth: Any) -> dict[str, Any]:
    return {
        "name": "gemini-main",
        "type": "provider-account/google-gemini",
        "collaborators": EVERYONE,
        "auth_data": {"type": "api-key", "apiKey": "gm-test-key-123456", **auth},
        "integrations": [
            {
                "type": "integration/model/gemini",
                "name": "flash",
                "model_id": "gemini-2.5-flash",
                "model_types": ["chat"],
            },
            {
                "type": "integration/model/gemini",
                "name": "broken",
                "model_id": "gemini-2.5-flash@status=429",
                "model_types": ["chat"],
            },
        ],
    }


def vertex_account(key: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {
        "name": "vertex-main",
        "type": "provider-account/google-vertex",
        "collaborators": EVERYONE,
        "project_id": "proj-1",
        "region": "europe-west4",
        "base_url": FAKE_ORIGIN,  # a Private Service Connect address: the fake provider
        "auth_data": {"type": "key-file", "key_file_content": json.dumps(key)},
        "integrations": [
            {"type": "integration/model/vertex", "name": "pro", "model_id": "gemini-2.5-pro", "model_types": ["chat"]},
            {
                "type": "integration/model/vertex",
                "name": "claude",
                "model_id": "anthropic/claude-sonnet-4-5@20250929",
                "model_types": ["chat"],
            },
        ],
        **fields,
    }


@pytest.fixture
async def gateway(tmp_path: Path) -> AsyncIterator[InProcessGateway]:
    """A gateway that calls the addresses the accounts name (not offline): here, the fake provider."""
    async with running_gateway(tmp_path / "data", offline=False, provider_key="gm-test-key-123456") as gateway:
        yield gateway


@pytest.fixture
async def offline(tmp_path: Path) -> AsyncIterator[InProcessGateway]:
    """As `serve --offline`: Google's real addresses (Gemini has no base_url) answered by the fake provider."""
    async with running_gateway(tmp_path / "data", provider_key="gm-test-key-123456") as gateway:
        yield gateway


def sdk(gateway: InProcessGateway) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(
        base_url=f"{GATEWAY_URL}/api/llm", api_key=gateway.token, max_retries=0, http_client=gateway.client()
    )


def fingerprint(value: str) -> str:
    """How the fake provider records a credential header."""
    return "sha256:" + hashlib.sha256(value.encode()).hexdigest()[:12]


async def test_gemini_chat_plain_streamed_and_with_tools(offline: InProcessGateway) -> None:
    gateway = offline
    await gateway.apply(gemini_account())
    client = sdk(gateway)
    answer = await client.chat.completions.create(model="gemini-main/flash", messages=MESSAGES, max_tokens=6)
    assert answer.choices[0].message.content == "Fake reply from gemini-2.5-flash: hello there"
    assert answer.choices[0].finish_reason == "length"
    assert answer.usage is not None and answer.usage.completion_tokens == 6
    sent = gateway.provider_requests()[-1]
    assert sent["path"] == "/v1beta/models/gemini-2.5-flash:generateContent"
    assert sent["headers"]["x-goog-api-key"] == fingerprint("gm-test-key-123456")
    assert sent["body"]["systemInstruction"] == {"parts": [{"text": "Be brief."}]}
    assert sent["body"]["generationConfig"] == {"maxOutputTokens": 6}

    stream = await client.chat.completions.create(
        model="gemini-main/flash", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
    )
    chunks = [chunk async for chunk in stream]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.startswith("Fake reply from gemini-2.5-flash: hello there") and len(text.split()) == 16
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["stop"]
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == 16 and chunks[-1].usage.prompt_tokens == answer.usage.prompt_tokens
    sent = gateway.provider_requests()[-1]
    assert (sent["path"], sent["query"]) == ("/v1beta/models/gemini-2.5-flash:streamGenerateContent", {"alt": "sse"})

    tools = {"tools": [WEATHER_TOOL], "tool_choice": "required"}
    called = await client.chat.completions.create(model="gemini-main/flash", messages=MESSAGES, **tools)
    call = called.choices[0].message.tool_calls[0]
    assert called.choices[0].finish_reason == "tool_calls"
    assert (call.function.name, json.loads(call.function.arguments)) == ("get_weather", {"city": "fake-city"})
    declared = gateway.provider_requests()[-1]["body"]
    assert declared["tools"] == [
        {
            "functionDeclarations": [
                {
                    "name": "get_weather",
                    "description": "Weather for a city",
                    "parametersJsonSchema": WEATHER_TOOL["function"]["parameters"],
                }
            ]
        }
    ]
    assert declared["toolConfig"] == {"functionCallingConfig": {"mode": "ANY"}}

    streamed = await client.chat.completions.create(model="gemini-main/flash", messages=MESSAGES, stream=True, **tools)
    deltas = [c.choices[0].delta for c in [chunk async for chunk in streamed] if c.choices]
    opened = [d.tool_calls[0] for d in deltas if d.tool_calls]
    assert [(o.id, o.function.name, o.function.arguments) for o in opened] == [
        (call.id, "get_weather", call.function.arguments)
    ]

    # The tool's answer goes back as a functionResponse named after the call it answers.
    follow_up = [
        *MESSAGES,
        called.choices[0].message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": '{"temp_c": 21}'},
    ]
    final = await client.chat.completions.create(model="gemini-main/flash", messages=follow_up, tools=[WEATHER_TOOL])
    assert final.choices[0].finish_reason == "stop" and final.choices[0].message.content
    contents = gateway.provider_requests()[-1]["body"]["contents"]
    assert [turn["role"] for turn in contents] == ["user", "model", "user"]
    assert contents[1]["parts"] == [{"functionCall": {"name": "get_weather", "args": {"city": "fake-city"}}}]
    assert contents[2]["parts"] == [{"functionResponse": {"name": "get_weather", "response": {"temp_c": 21}}}]


async def test_gemini_error_reaches_the_client_in_the_envelope(offline: InProcessGateway) -> None:
    gateway = offline
    await gateway.apply(gemini_account())
    answer = await gateway.http.post(
        "/api/llm/chat/completions",
        json={"model": "gemini-main/broken", "messages": MESSAGES},
        headers={**gateway.auth(), "x-tfy-retry-config": json.dumps({"attempts": 1})},
    )
    assert answer.status_code == 429
    body = answer.json()
    assert body["status"] == "failure" and body["error_origin_level"] == "api_error"
    assert "fake provider: injected error (status 429)" in body["message"]
    assert body["error"]["type"] == "RESOURCE_EXHAUSTED"

    await gateway.apply(gemini_account(apiKey="gm-wrong-key-000000"))
    with pytest.raises(openai.BadRequestError) as raised:  # a wrong key: Google's 400 API_KEY_INVALID, kept
        await sdk(gateway).chat.completions.create(model="gemini-main/flash", messages=MESSAGES)
    assert raised.value.status_code == 400
    assert "API key not valid" in raised.value.message
    assert "gm-wrong-key" not in json.dumps(raised.value.body)


async def test_vertex_token_from_a_service_account_key_via_google_auth(gateway: InProcessGateway) -> None:
    key, public_key = service_account_key()
    await gateway.apply(vertex_account(key))
    client = sdk(gateway)
    first, second = await asyncio.gather(
        client.chat.completions.create(model="vertex-main/pro", messages=MESSAGES, max_tokens=4),
        client.chat.completions.create(model="vertex-main/pro", messages=MESSAGES, max_tokens=5),
    )
    assert (first.usage.completion_tokens, second.usage.completion_tokens) == (4, 5)
    requests = gateway.provider_requests()
    grants = [r for r in requests if r["path"] == "/token"]
    assert len(grants) == 1, "two concurrent calls share one token"
    grant = grants[0]["body"]
    assert grant["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer"
    header, payload, signature = grant["assertion"].split(".")
    decode = lambda part: base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))  # noqa: E731
    public_key.verify(decode(signature), f"{header}.{payload}".encode(), padding.PKCS1v15(), hashes.SHA256())
    claims = json.loads(decode(payload))
    assert claims["iss"] == key["client_email"] and claims["aud"] == "https://oauth2.googleapis.com/token"
    assert claims["scope"] == "https://www.googleapis.com/auth/cloud-platform"
    assert json.loads(decode(header))["kid"] == "key-1"
    token = "ya29.fake-" + hashlib.blake2b(grant["assertion"].encode(), digest_size=12).hexdigest()
    calls = [r for r in requests if r["path"] != "/token"]
    assert {r["path"] for r in calls} == {
        "/v1/projects/proj-1/locations/europe-west4/publishers/google/models/gemini-2.5-pro:generateContent"
    }
    assert {r["headers"]["authorization"] for r in calls} == {fingerprint(f"Bearer {token}")}

    stream = await client.chat.completions.create(
        model="vertex-main/pro",
        messages=MESSAGES,
        stream=True,
        stream_options={"include_usage": True},
        tools=[WEATHER_TOOL],
        tool_choice={"type": "function", "function": {"name": "get_weather"}},
    )
    chunks = [chunk async for chunk in stream]
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["tool_calls"]
    assert [d.function.name for c in chunks if c.choices for d in c.choices[0].delta.tool_calls or ()] == [
        "get_weather"
    ]
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0
    assert gateway.provider_requests()[-1]["body"]["toolConfig"] == {
        "functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["get_weather"]}
    }
    assert len([r for r in gateway.provider_requests() if r["path"] == "/token"]) == 1, "the token is reused"


async def test_claude_on_vertex_plain_and_streamed(gateway: InProcessGateway) -> None:
    key, _ = service_account_key()
    await gateway.apply(vertex_account(key))
    client = sdk(gateway)
    answer = await client.chat.completions.create(model="vertex-main/claude", messages=MESSAGES, max_tokens=5)
    assert answer.choices[0].message.content.startswith("Fake reply from claude-sonnet-4-5@20250929")
    sent = gateway.provider_requests()[-1]
    assert sent["path"] == (
        "/v1/projects/proj-1/locations/europe-west4/publishers/anthropic/models/claude-sonnet-4-5@20250929:rawPredict"
    )
    assert sent["body"]["anthropic_version"] == "vertex-2023-10-16" and "model" not in sent["body"]
    assert sent["body"]["system"] == "Be brief."
    stream = await client.chat.completions.create(
        model="vertex-main/claude", messages=MESSAGES, max_tokens=7, stream=True, stream_options={"include_usage": True}
    )
    chunks = [chunk async for chunk in stream]
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 7
    assert gateway.provider_requests()[-1]["path"].endswith(":streamRawPredict")


async def test_a_refused_grant_is_a_clear_502(gateway: InProcessGateway) -> None:
    key, _ = service_account_key()
    await gateway.apply(vertex_account({**key, "token_uri": f"{FAKE_ORIGIN}/knobs/x/token-nowhere"}))
    answer = await gateway.http.post(
        "/api/llm/chat/completions", json={"model": "vertex-main/pro", "messages": MESSAGES}, headers=gateway.auth()
    )
    assert answer.status_code == 502
    message = answer.json()["message"]
    assert "could not obtain a Vertex access token for vertex-main/pro" in message
    assert "PRIVATE KEY" not in message


async def test_offline_vertex_answers_at_googles_addresses_from_the_fake(offline: InProcessGateway) -> None:
    """A key whose token_uri is Google's and an account without base_url: offline, both go to the fake."""
    key, _ = service_account_key()
    key["token_uri"] = "https://oauth2.googleapis.com/token"
    account = vertex_account(key, region="global")
    del account["base_url"]
    await offline.apply(account)
    answer = await sdk(offline).chat.completions.create(model="vertex-main/pro", messages=MESSAGES, max_tokens=3)
    assert answer.usage is not None and answer.usage.completion_tokens == 3
    paths = [r["path"] for r in offline.provider_requests()[-2:]]
    assert paths == [
        "/token",
        "/v1/projects/proj-1/locations/global/publishers/google/models/gemini-2.5-pro:generateContent",
    ]


async def logged(gateway: InProcessGateway, request_id: str) -> dict[str, Any]:
    async def find() -> dict[str, Any] | None:
        answer = await gateway.http.get("/api/svc/v1/llm-gateway/logs", params={"limit": 100}, headers=gateway.auth())
        return next((r for r in answer.json()["data"] if r["id"] == request_id), None)

    return await eventually(find, f"the log record {request_id}", timeout=20)


async def stream_lines(gateway: InProcessGateway, model: str) -> tuple[str, list[str]]:
    body = {"model": model, "messages": MESSAGES, "stream": True}
    async with gateway.http.stream("POST", "/api/llm/chat/completions", json=body, headers=gateway.auth()) as answer:
        lines = [line async for line in answer.aiter_lines() if line]
    return answer.headers["x-tfy-request-id"], lines


async def test_streamed_cost_is_exact_and_a_cut_stream_is_charged_what_it_said(gateway: InProcessGateway) -> None:
    key, _ = service_account_key()
    await gateway.apply(vertex_account(key))
    cut = vertex_account(key, name="vertex-cut", base_url=f"{FAKE_ORIGIN}/knobs/tokens=50,cut_after=3")
    await gateway.apply(cut)
    request_id, lines = await stream_lines(gateway, "vertex-main/pro")
    assert lines[-1] == "data: [DONE]"
    record = await logged(gateway, request_id)
    assert record["usage_estimated"] is False and record["completion_tokens"] == 16
    # gemini-2.5-pro's public price (the bundled table): $1.25 in, $10 out per million tokens
    expected = (record["prompt_tokens"] * 0.00125 + 16 * 0.01) / 1000
    assert record["cost"] == pytest.approx(expected, rel=1e-9)

    request_id, lines = await stream_lines(gateway, "vertex-cut/pro")
    assert "data: [DONE]" not in lines and '"error"' in lines[-1]
    cut_record = await logged(gateway, request_id)
    assert cut_record["status"] == 502 and cut_record["usage_estimated"] is True
    # the prompt as Gemini counted it (its usageMetadata), the output it had sent
    assert cut_record["prompt_tokens"] == record["prompt_tokens"] and cut_record["completion_tokens"] == 3
    assert cut_record["cost"] == pytest.approx((record["prompt_tokens"] * 0.00125 + 3 * 0.01) / 1000, rel=1e-9)
