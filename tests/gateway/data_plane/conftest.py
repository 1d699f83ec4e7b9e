"""A gateway subprocess wired to an in-process fake provider, shared by the data-plane tests.

One gateway per test module (starting one costs about a second); tests that need a pristine one
use the function-scoped `gateway` fixture from tests/conftest.py. The provider account's API key
is a `tfy-secret://` reference resolved from `<data-dir>/secrets.json`, and the fake provider
requires that key, so every successful call also proves credentials are forwarded.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.helpers import GatewayProcess, free_port, wait_for
from tfy_gateway.fakeprovider import running

PROVIDER_KEY = "sk-fakeprovider-" + "k3y" * 8
UPSTREAM_TIMEOUT_S = 1.5


def fake_account(base_url: str) -> dict[str, Any]:
    def model(name: str, model_id: str, types: list[str], **extra: Any) -> dict[str, Any]:
        return {"type": "integration/model/openai", "name": name, "model_id": model_id, "model_types": types, **extra}

    cost = {"metric": "per_1000_tokens", "value": {"input": 0.0025, "output": 0.01, "cache_read": 0.00125}}
    return {
        "name": "fake",
        "type": "provider-account/openai",
        "base_url": f"{base_url}/v1",
        "auth_data": {"type": "api-key", "api_key": "tfy-secret://local:fake-group:API_KEY"},
        "collaborators": [{"subject": "team:everyone", "role_id": "provider-account-access"}],
        "integrations": [
            model("gpt-4o", "gpt-4o", ["chat"], cost=cost),
            model("cached", "gpt-4o@cached_tokens=4", ["chat"], cost=cost),
            model("embed", "text-embedding-3-small", ["embedding"]),
            model("media", "fake-media", ["rerank", "moderation", "image", "text_to_speech", "audio_transcription"]),
            model("public", "gpt-4o-mini", ["chat"]),
            model("broken", "gpt-4o@status=500", ["chat"]),
            model("slow", "gpt-4o@latency_ms=2500", ["chat"]),
            model("slow-start", "gpt-4o@ttft_ms=1000", ["chat"]),
            model("dripping", "gpt-4o@tokens=200,tpot_ms=20", ["chat"]),
            # Calls that never end on their own (10 minutes): only a cancellation stops them.
            model("stalled", "gpt-4o@latency_ms=600000", ["chat"]),
            model("endless", "gpt-4o@tokens=30000,tpot_ms=20", ["chat"]),
        ],
    }


def other_accounts(base_url: str) -> list[dict[str, Any]]:
    everyone = [{"subject": "team:everyone", "role_id": "provider-account-access"}]
    integration = {"type": "integration/model/openai", "name": "gpt-4o", "model_id": "gpt-4o", "model_types": ["chat"]}
    return [
        {
            "name": "down",
            "type": "provider-account/openai",
            "base_url": f"http://127.0.0.1:{free_port()}/v1",
            "auth_data": {"type": "api-key", "api_key": "tfy-secret://local:fake-group:API_KEY"},
            "collaborators": everyone,
            "integrations": [integration],
        },
        {
            "name": "nosecret",
            "type": "provider-account/openai",
            "base_url": f"{base_url}/v1",
            "auth_data": {"type": "api-key", "api_key": "tfy-secret://local:missing-group:API_KEY"},
            "collaborators": everyone,
            "integrations": [integration],
        },
        {
            "name": "discounted",
            "type": "provider-account/openai",
            "base_url": f"{base_url}/v1",
            "discount_percent": 50,
            "auth_data": {"type": "api-key", "api_key": "tfy-secret://local:fake-group:API_KEY"},
            "collaborators": everyone,
            "integrations": [
                {**integration, "cost": {"metric": "per_1000_tokens", "value": {"input": 0.0025, "output": 0.01}}}
            ],
        },
        {
            "name": "claude",
            "type": "provider-account/anthropic",
            "base_url": f"{base_url}/v1",
            "auth_data": {"type": "api-key", "api_key": "tfy-secret://local:fake-group:API_KEY"},
            "collaborators": everyone,
            "integrations": [
                {
                    "type": "integration/model/anthropic",
                    "name": "sonnet",
                    "model_id": "claude-3-5-sonnet-20241022",
                    "model_types": ["chat"],
                }
            ],
        },
        {
            "name": "private",
            "type": "provider-account/openai",
            "base_url": f"{base_url}/v1",
            "auth_data": {"type": "api-key", "api_key": "tfy-secret://local:fake-group:API_KEY"},
            "integrations": [integration],
        },
    ]


@dataclass
class DataPlane:
    """The running gateway, its fake provider and helpers to call it."""

    gateway: GatewayProcess
    provider: str

    @property
    def base(self) -> str:
        return self.gateway.base_url + "/api/llm"

    @property
    def token(self) -> str:
        return self.gateway.admin_token

    def auth(self, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.token}"}

    def post(self, path: str, body: Any = None, *, token: str | None = None, **kwargs: Any) -> httpx.Response:
        headers = {**self.auth(token), **kwargs.pop("headers", {})}
        timeout = kwargs.pop("timeout", 30)
        return httpx.post(f"{self.base}/{path}", json=body, headers=headers, timeout=timeout, **kwargs)

    def chat(self, model: str = "fake/gpt-4o", **kwargs: Any) -> httpx.Response:
        body = {"model": model, "messages": [{"role": "user", "content": "hello there"}], **kwargs.pop("body", {})}
        return self.post("chat/completions", body, **kwargs)

    def logs(self, token: str | None = None, **params: Any) -> dict[str, Any]:
        response = httpx.get(
            self.gateway.base_url + "/api/svc/v1/llm-gateway/logs", params=params, headers=self.auth(token), timeout=30
        )
        assert response.status_code == 200, response.text
        return response.json()

    def log_record(self, response: httpx.Response, **params: Any) -> dict[str, Any]:
        """The request log record of `response`, once written (records are written after the reply)."""
        request_id = response.headers["x-tfy-request-id"]

        def find() -> dict[str, Any] | None:
            return next((r for r in self.logs(limit=500, **params)["data"] if r["id"] == request_id), None)

        return wait_for(find, f"the request log record of {request_id}")

    def add_user(self, email: str, *extra: str) -> str:
        """A new (non-admin) user's PAT, added through the running server's API (it works at once)."""
        command = [sys.executable, "-m", "tfy_gateway", "users", "add", email, *extra]
        env = {**os.environ, **self.gateway.env}
        result = subprocess.run(command, capture_output=True, text=True, check=True, env=env)
        token = re.search(r"tfy_[A-Za-z0-9_\-]+", result.stdout)
        assert token, result.stderr
        return token.group(0)


def apply(gateway: GatewayProcess, manifest: dict[str, Any]) -> None:
    response = httpx.put(
        gateway.base_url + "/api/svc/v1/apply",
        json={"manifest": manifest, "dryRun": False},
        headers={"Authorization": f"Bearer {gateway.admin_token}"},
        timeout=30,
    )
    assert response.status_code == 200, response.text


def configure(gateway: GatewayProcess, provider: str) -> None:
    """Write the secrets file and apply the provider accounts (secrets are read on every apply)."""
    gateway.data_dir.mkdir(parents=True, exist_ok=True)
    (gateway.data_dir / "secrets.json").write_text(json.dumps({"fake-group": {"API_KEY": PROVIDER_KEY}}))
    for manifest in [fake_account(provider), *other_accounts(provider)]:
        apply(gateway, manifest)


def start_data_plane(data_dir: Path, provider: str) -> GatewayProcess:
    gateway = GatewayProcess(data_dir, env={"TFY_GATEWAY_UPSTREAM_TIMEOUT_S": str(UPSTREAM_TIMEOUT_S)})
    gateway.start()
    configure(gateway, provider)
    return gateway


@pytest.fixture(scope="module")
def provider() -> Iterator[str]:
    with running(api_key=PROVIDER_KEY) as base_url:
        yield base_url


@pytest.fixture(scope="module")
def dp(tmp_path_factory: pytest.TempPathFactory, provider: str) -> Iterator[DataPlane]:
    gateway = start_data_plane(tmp_path_factory.mktemp("data-plane") / "data", provider)
    try:
        yield DataPlane(gateway, provider)
    finally:
        gateway.stop()
