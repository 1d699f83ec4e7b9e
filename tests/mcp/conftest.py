"""Shared helpers for the MCP tests: an in-memory client on a server whose control plane is real."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import pytest
from mcp.types import CallToolResult

from mcp import Client
from tests.helpers import EXAMPLES, GatewayProcess
from tfy_gateway.manifests import load_file
from tfy_gateway.mcp import create_server
from tfy_gateway.platform import ControlPlaneClient


class FakeClock:
    """A clock tests move by hand: plan expiry without sleeping."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@asynccontextmanager
async def connect(env: Mapping[str, str] | None = None, **options: Any) -> AsyncIterator[Client]:
    """An in-memory MCP client on a fresh server reading `env` (never os.environ)."""
    server = create_server(dict(env or {}), **options)
    async with Client(server, raise_exceptions=True) as client:
        yield client


async def call(client: Client, tool: str, arguments: dict[str, Any] | None = None) -> Any:
    """Call a tool that must succeed; returns its structured content."""
    result = await client.call_tool(tool, arguments or {})
    assert not result.is_error, _text(result)
    return result.structured_content


async def call_error(client: Client, tool: str, arguments: dict[str, Any] | None = None) -> str:
    """Call a tool that must fail as a tool error; returns the text the model sees."""
    result = await client.call_tool(tool, arguments or {})
    assert result.is_error, result.structured_content
    return _text(result)


def _text(result: CallToolResult) -> str:
    return "\n".join(getattr(block, "text", "") for block in result.content)


async def seed(gateway: GatewayProcess, *example_files: str) -> None:
    """Apply example manifests straight through the control-plane API (not through the tools)."""
    async with ControlPlaneClient(gateway.base_url, gateway.admin_token) as client:
        for name in example_files:
            for doc in load_file(EXAMPLES / name):
                await client.apply(doc.data, dry_run=False)


async def live_config(gateway: GatewayProcess, config_type: str) -> dict[str, Any] | None:
    async with ControlPlaneClient(gateway.base_url, gateway.admin_token) as client:
        return await client.get_config(config_type)
