"""The fake provider's Google endpoints over real HTTP: Gemini API, Vertex AI, the OAuth token endpoint,
and Google's error bodies and auth answers."""

from __future__ import annotations

import base64
import json
import time

import httpx

from tfy_gateway.fakeprovider import running

GEMINI = "/v1beta/models/gemini-2.5-flash"
VERTEX = "/v1/projects/p/locations/us/publishers"
BODY = {"contents": [{"role": "user", "parts": [{"text": "hello"}]}], "generationConfig": {"maxOutputTokens": 4}}
KEY = {"x-goog-api-key": "gm-key"}


def jwt(claims: dict[str, object]) -> str:
    encode = lambda value: base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()  # noqa: E731
    return f"{encode({'alg': 'RS256'})}.{encode(claims)}.c2ln"


def test_gemini_generate_and_stream(http: httpx.Client) -> None:
    answer = http.post(f"{GEMINI}:generateContent", json=BODY, headers=KEY).json()
    assert answer["candidates"][0]["finishReason"] == "MAX_TOKENS"
    assert answer["usageMetadata"]["candidatesTokenCount"] == 4
    streamed = http.post(f"{GEMINI}:streamGenerateContent", params={"alt": "sse"}, json=BODY, headers=KEY)
    assert streamed.headers["content-type"].startswith("text/event-stream")
    events = [json.loads(line[6:]) for line in streamed.text.splitlines() if line.startswith("data: ")]
    assert len(events) == 4 and events[-1]["candidates"][0]["finishReason"] == "MAX_TOKENS"
    assert [e["usageMetadata"]["candidatesTokenCount"] for e in events] == [1, 2, 3, 4]
    as_array = http.post(f"{GEMINI}:streamGenerateContent", json=BODY, headers=KEY).json()
    assert isinstance(as_array, list) and len(as_array) == 4


def test_google_errors_and_auth() -> None:
    with running(api_key="gm-key") as url, httpx.Client(base_url=url) as http:
        missing = http.post(f"{GEMINI}:generateContent", json=BODY)
        assert missing.status_code == 403 and missing.json()["error"]["status"] == "PERMISSION_DENIED"
        wrong = http.post(f"{GEMINI}:generateContent", json=BODY, headers={"x-goog-api-key": "nope"}).json()["error"]
        assert (wrong["code"], wrong["status"], wrong["details"][0]["reason"]) == (
            400,
            "INVALID_ARGUMENT",
            "API_KEY_INVALID",
        )
        by_query = http.post(f"{GEMINI}:generateContent", params={"key": "gm-key"}, json=BODY)
        assert by_query.status_code == 200
        injected = http.post("/v1beta/models/gemini-2.5-flash@status=503:generateContent", json=BODY, headers=KEY)
        assert injected.status_code == 503 and injected.json()["error"]["status"] == "UNAVAILABLE"
        no_token = http.post(f"{VERTEX}/google/models/gemini-2.5-pro:generateContent", json=BODY)
        assert no_token.status_code == 401 and no_token.json()["error"]["status"] == "UNAUTHENTICATED"
        claims = {
            "iss": "sa@p.iam",
            "scope": "s",
            "aud": "https://oauth2.googleapis.com/token",
            "exp": time.time() + 60,
        }
        grant = {"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": jwt(claims)}
        token = http.post("/token", data=grant).json()
        assert token["token_type"] == "Bearer" and token["expires_in"] == 3599
        bearer = {"authorization": f"Bearer {token['access_token']}"}
        vertex = http.post(f"{VERTEX}/google/models/gemini-2.5-pro:generateContent", json=BODY, headers=bearer)
        assert vertex.status_code == 200, vertex.text
        expired = http.post("/token", data={**grant, "assertion": jwt({**claims, "exp": 1})})
        assert expired.status_code == 400 and expired.json()["error"] == "invalid_grant"
        wrong_grant = http.post("/token", data={**grant, "grant_type": "password"}).json()
        assert wrong_grant["error"] == "unsupported_grant_type"


def test_claude_on_vertex_takes_the_model_from_the_path(http: httpx.Client) -> None:
    claude = f"{VERTEX}/anthropic/models/claude-sonnet-4-5@20250929"
    body = {"anthropic_version": "vertex-2023-10-16", "max_tokens": 3, "messages": [{"role": "user", "content": "hi"}]}
    answer = http.post(f"{claude}:rawPredict", json=body, headers={"authorization": "Bearer t"}).json()
    assert answer["model"] == "claude-sonnet-4-5@20250929" and answer["usage"]["output_tokens"] == 3
    refused = http.post(f"{claude}:rawPredict", json={**body, "model": "x"}, headers={"authorization": "Bearer t"})
    assert refused.status_code == 400 and "in the URL" in refused.text
    knobbed = http.post(
        f"{claude}@tokens=2:rawPredict", json={**body, "max_tokens": 50}, headers={"authorization": "Bearer t"}
    )
    assert knobbed.json()["usage"]["output_tokens"] == 2
