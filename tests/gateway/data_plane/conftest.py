"""The data-plane tests' gateway: in this event loop with the fake provider in process (`dp`), or a
real gateway subprocess over HTTP (`dp_process`, for the tests of real clients: the CLI, curl, the
openai SDK over a socket).

Both carry the same provider accounts. Their API key is a `tfy-secret://` reference resolved from
`<data-dir>/secrets.json`, and the fake provider requires that key, so every successful call also
proves credentials are forwarded. `dp` is a fresh gateway per test (starting one takes a tenth of a second);
`dp_process` is one per module (a process takes about a second), so its tests keep to data of their own.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.gateway.inprocess import FAKE_ORIGIN, GATEWAY_URL, InProcessGateway, running_gateway
from tests.helpers import GatewayProcess, eventually, free_port, wait_for
from tfy_gateway.fakeprovider import running

PROVIDER_KEY = "sk-fakeprovider-" + "k3y" * 8
UPSTREAM_TIMEOUT_S = 1.5
SECRET = "tfy-secret://local:fake-group:API_KEY"  # PROVIDER_KEY, as `write_secrets` stores it
EVERYONE = [{"subject": "team:everyone", "role_id": "provider-account-access"}]  # every user may call the account


def fake_account(base_url: str) -> dict[str, Any]:
    def model(name: str, model_id: str, types: list[str], **extra: Any) -> dict[str, Any]:
        return {"type": "integration/model/openai", "name": name, "model_id": model_id, "model_types": types, **extra}

    cost = {"metric": "per_1000_tokens", "value": {"input": 0.0025, "output": 0.01, "cache_read": 0.00125}}
    return {
        "name": "fake",
        "type": "provider-account/openai",
        "base_url": f"{base_url}/v1",
        "auth_data": {"type": "api-key", "api_key": SECRET},
        "collaborators": EVERYONE,
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
    integration = {"type": "integration/model/openai", "name": "gpt-4o", "model_id": "gpt-4o", "model_types": ["chat"]}
    return [
        {
            "name": "down",
            "type": "provider-account/openai",
            "base_url": f"http://127.0.0.1:{free_port()}/v1",
            "auth_data": {"type": "api-key", "api_key": SECRET},
            "collaborators": EVERYONE,
            "integrations": [integration],
        },
        {
            "name": "nosecret",
            "type": "provider-account/openai",
            "base_url": f"{base_url}/v1",
            "auth_data": {"type": "api-key", "api_key": "tfy-secret://local:missing-group:API_KEY"},
            "collaborators": EVERYONE,
            "integrations": [integration],
        },
        {
            "name": "discounted",
            "type": "provider-account/openai",
            "base_url": f"{base_url}/v1",
            "discount_percent": 50,
            "auth_data": {"type": "api-key", "api_key": SECRET},
            "collaborators": EVERYONE,
            "integrations": [
                {**integration, "cost": {"metric": "per_1000_tokens", "value": {"input": 0.0025, "output": 0.01}}}
            ],
        },
        {
            "name": "claude",
            "type": "provider-account/anthropic",
            "base_url": f"{base_url}/v1",
            "auth_data": {"type": "api-key", "api_key": SECRET},
            "collaborators": EVERYONE,
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
            "auth_data": {"type": "api-key", "api_key": SECRET},
            "integrations": [integration],
        },
    ]


def accounts(provider: str) -> list[dict[str, Any]]:
    """Every provider account of the data-plane tests, on the fake provider at `provider`."""
    return [fake_account(provider), *other_accounts(provider)]


def write_secrets(data_dir: Path) -> None:
    """The value of the accounts' secret (secrets are read on every apply)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "secrets.json").write_text(json.dumps({"fake-group": {"API_KEY": PROVIDER_KEY}}))


@dataclass
class DataPlane:
    """A gateway in this event loop with the accounts applied, its fake provider, and helpers to call it."""

    gateway: InProcessGateway
    base: str = GATEWAY_URL + "/api/llm"

    @property
    def http(self) -> httpx.AsyncClient:
        return self.gateway.http

    @property
    def token(self) -> str:
        return self.gateway.token

    def auth(self, token: str | None = None) -> dict[str, str]:
        return self.gateway.auth(token)

    async def post(self, path: str, body: Any = None, *, token: str | None = None, **kwargs: Any) -> httpx.Response:
        headers = {**self.auth(token), **kwargs.pop("headers", {})}
        return await self.http.post(f"{self.base}/{path}", json=body, headers=headers, **kwargs)

    async def chat(self, model: str = "fake/gpt-4o", **kwargs: Any) -> httpx.Response:
        body = {"model": model, "messages": [{"role": "user", "content": "hello there"}], **kwargs.pop("body", {})}
        return await self.post("chat/completions", body, **kwargs)

    async def logs(self, token: str | None = None, **params: Any) -> dict[str, Any]:
        response = await self.http.get("/api/svc/v1/llm-gateway/logs", params=params, headers=self.auth(token))
        assert response.status_code == 200, response.text
        logs: dict[str, Any] = response.json()
        return logs

    async def log_record(self, response: httpx.Response, **params: Any) -> dict[str, Any]:
        """The request log record of `response`, once written (records are written after the reply)."""
        request_id = response.headers["x-tfy-request-id"]

        async def find() -> dict[str, Any] | None:
            return next((r for r in (await self.logs(limit=500, **params))["data"] if r["id"] == request_id), None)

        return await eventually(find, f"the request log record of {request_id}")

    async def apply(self, manifest: dict[str, Any]) -> None:
        await self.gateway.apply(manifest)

    async def add_user(self, email: str, *, teams: Sequence[str] = ()) -> str:
        """A new (non-admin) user's PAT, added through the control plane (it works at once)."""
        return await self.gateway.add_user(email, teams=teams)


@asynccontextmanager
async def data_plane(data_dir: Path, **settings: Any) -> AsyncIterator[DataPlane]:
    """A gateway in this event loop with every account applied; `settings` override the defaults."""
    write_secrets(data_dir)
    options = {"upstream_timeout_s": UPSTREAM_TIMEOUT_S, **settings}
    async with running_gateway(data_dir, offline=False, provider_key=PROVIDER_KEY, **options) as gateway:
        for manifest in accounts(FAKE_ORIGIN):
            await gateway.apply(manifest)
        yield DataPlane(gateway)


@pytest.fixture
async def dp(tmp_path: Path) -> AsyncIterator[DataPlane]:
    async with data_plane(tmp_path / "data") as plane:
        yield plane


@dataclass
class DataPlaneProcess:
    """A gateway subprocess, its fake provider (a thread of this process) and helpers to call it."""

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
    write_secrets(gateway.data_dir)
    for manifest in accounts(provider):
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
def dp_process(tmp_path_factory: pytest.TempPathFactory, provider: str) -> Iterator[DataPlaneProcess]:
    gateway = start_data_plane(tmp_path_factory.mktemp("data-plane") / "data", provider)
    try:
        yield DataPlaneProcess(gateway, provider)
    finally:
        gateway.stop()
