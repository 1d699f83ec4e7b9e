"""VertexTokenSource: google-auth's service-account grant over the gateway's transport (MemoryTransport
here), a token reused while google-auth deems it valid, refreshed when it is not, and failures that
name the account without quoting the key."""

from __future__ import annotations

import asyncio
import json
from urllib.parse import parse_qs

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tfy_gateway.gateway.providers import HttpRequest, HttpResponse, MemoryTransport, UpstreamError
from tfy_gateway.gateway.providers.vertex_credentials import VertexCredentialsError, VertexTokenSource

PEM = (
    rsa.generate_private_key(public_exponent=65537, key_size=2048)
    .private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    .decode()
)
KEY = {
    "type": "service_account",
    "project_id": "p",
    "private_key_id": "k1",
    "private_key": PEM,
    "client_email": "sa@p.iam.gserviceaccount.com",
    "token_uri": "https://oauth2.googleapis.com/token",
}


def token_server(expires_in: int, status: int = 200) -> tuple[MemoryTransport, list[HttpRequest]]:
    seen: list[HttpRequest] = []

    def answer(request: HttpRequest) -> HttpResponse:
        seen.append(request)
        if status != 200:
            body = {"error": "invalid_grant", "error_description": "Invalid JWT Signature."}
        else:
            body = {"access_token": f"ya29.t{len(seen)}", "expires_in": expires_in, "token_type": "Bearer"}
        return HttpResponse(status, {"content-type": "application/json"}, json.dumps(body).encode())

    return MemoryTransport(answer), seen


async def test_a_token_is_reused_while_valid_and_concurrent_callers_share_one_grant() -> None:
    transport, seen = token_server(3600)
    source = VertexTokenSource(KEY, "vx/m")
    tokens = await asyncio.gather(*(source.authorization(transport) for _ in range(5)))
    assert set(tokens) == {"Bearer ya29.t1"} and len(seen) == 1
    assert seen[0].url == "https://oauth2.googleapis.com/token"
    grant = parse_qs(seen[0].body.decode())
    assert (
        grant["grant_type"] == ["urn:ietf:params:oauth:grant-type:jwt-bearer"] and grant["assertion"][0].count(".") == 2
    )


async def test_a_token_about_to_expire_is_refreshed() -> None:
    """google-auth refreshes a few minutes before expiry: a 60-second token is never reused."""
    transport, _ = token_server(60)
    source = VertexTokenSource(KEY, "vx/m")
    assert await source.authorization(transport) == "Bearer ya29.t1"
    assert await source.authorization(transport) == "Bearer ya29.t2"
    assert source.refreshes == 2


async def test_offline_sends_token_requests_to_the_fake_provider() -> None:
    transport, seen = token_server(3600)
    await VertexTokenSource(KEY, "vx/m").offline("http://fake.test").authorization(transport)
    assert seen[0].url == "http://fake.test/token"


async def test_a_refused_grant_is_a_502_that_never_reached_the_model() -> None:
    transport, _ = token_server(3600, status=400)
    with pytest.raises(UpstreamError) as raised:
        await VertexTokenSource(KEY, "vx/m").authorization(transport)
    assert raised.value.status == 502 and raised.value.reached is False
    assert "vx/m" in raised.value.message and "invalid_grant" in raised.value.message
    assert "PRIVATE KEY" not in raised.value.message


def test_a_malformed_key_is_a_config_error_without_the_key() -> None:
    with pytest.raises(VertexCredentialsError, match="not a usable Google credential") as raised:
        VertexTokenSource({**KEY, "private_key": "-----BEGIN PRIVATE KEY-----\nnot-a-key\n"}, "vx/m")
    assert "not-a-key" not in str(raised.value)
    with pytest.raises(VertexCredentialsError, match="only file-sourced workload identity"):
        VertexTokenSource(
            {"type": "external_account", "credential_source": {"url": "http://x"}},
            "vx/m",
            kind="workload-identity-federation-file",
        )
