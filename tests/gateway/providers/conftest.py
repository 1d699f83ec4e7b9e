"""Adapters against the fake provider over real HTTP (a real pooled AiohttpTransport), and targets for
the socket-free MemoryTransport tests."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from tfy_gateway.fakeprovider import running
from tfy_gateway.gateway.providers import AiohttpTransport, HttpResponse, UpstreamTarget

SECRET_KEY = "sk-test-0123456789abcdef"


@contextlib.asynccontextmanager
async def serving(handler: Any) -> AsyncIterator[TestServer]:
    """A local aiohttp server answering every method and path with `handler` (an upstream whose
    behaviour the test writes), closed on exit."""
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield server
    finally:
        await server.close()


@pytest.fixture
def fake_url() -> Iterator[str]:
    with running() as base_url:
        yield base_url


@pytest.fixture
async def transport() -> AsyncIterator[AiohttpTransport]:
    async with AiohttpTransport() as pooled:
        yield pooled


def recorded(fake_url: str) -> list[dict[str, Any]]:
    """Requests the fake provider saw (credential headers are fingerprints)."""
    return list(httpx.get(f"{fake_url}/_fake/requests").json()["data"])


def stats(fake_url: str) -> dict[str, int]:
    return dict(httpx.get(f"{fake_url}/_fake/stats").json())


def openai_target(fake_url: str, model: str = "gpt-4o", *, knobs: str = "", **changes: Any) -> UpstreamTarget:
    base = f"{fake_url}/knobs/{knobs}/v1" if knobs else f"{fake_url}/v1"
    options: dict[str, Any] = {
        "wire_format": "openai",
        "provider": "openai",
        "base_url": base,
        "model_id": model,
        "auth_headers": {"authorization": f"Bearer {SECRET_KEY}"},
        "account": "openai-main",
        "integration": "gpt-4o",
    }
    options.update(changes)
    return UpstreamTarget(**options)


def anthropic_target(fake_url: str, model: str = "claude-sonnet-4-5", **changes: Any) -> UpstreamTarget:
    options: dict[str, Any] = {
        "wire_format": "anthropic",
        "provider": "anthropic",
        "base_url": f"{fake_url}/v1",
        "model_id": model,
        "auth_headers": {"x-api-key": SECRET_KEY},
        "account": "anthropic-main",
        "integration": "claude",
    }
    options.update(changes)
    return UpstreamTarget(**options)


def azure_target(fake_url: str, deployment: str = "gpt-4o-deployment", **changes: Any) -> UpstreamTarget:
    options: dict[str, Any] = {
        "wire_format": "azure-openai",
        "provider": "azure-openai",
        "base_url": fake_url,
        "model_id": deployment,
        "auth_headers": {"api-key": SECRET_KEY},
        "api_version": "2024-10-21",
        "account": "azure-backup",
        "integration": "gpt-4o",
    }
    options.update(changes)
    return UpstreamTarget(**options)


def json_reply(status: int, payload: Any, headers: dict[str, str] | None = None) -> HttpResponse:
    """A JSON answer for MemoryTransport handlers."""
    return HttpResponse(status, {"content-type": "application/json", **(headers or {})}, json.dumps(payload).encode())


def sse_reply(events: list[tuple[str, Any]], *, done: bool = False) -> HttpResponse:
    """An SSE answer: (event name or "", payload) pairs, optionally ending with `data: [DONE]`."""
    frames = []
    for name, payload in events:
        prefix = f"event: {name}\n" if name else ""
        frames.append(f"{prefix}data: {json.dumps(payload)}\n\n")
    if done:
        frames.append("data: [DONE]\n\n")
    return HttpResponse(200, {"content-type": "text/event-stream"}, "".join(frames).encode())
