"""Protocol answers where the SDK's defaults differ from the MCP spec (the official conformance suite found
these): unknown prompt or missing prompt argument and an invalid pagination cursor are -32602 without a
traceback, and `server/discover` advertises the same capabilities as `initialize`.

Checked with the MCP Python client in both eras (the `initialize` handshake and `server/discover`); the
conformance package itself needs Node 22 and its network-facing runner, so it is not run here."""

from __future__ import annotations

import logging

import pytest
from mcp.shared.exceptions import MCPError

from mcp import Client
from tfy_gateway.mcp import create_server

INVALID_PARAMS = -32602


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_prompt_and_cursor_errors_are_invalid_params(mode: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    async with Client(create_server({}), mode=mode) as client:  # type: ignore[arg-type]
        for request in (
            lambda: client.get_prompt("no-such-prompt"),
            lambda: client.get_prompt("add_route", {}),
            lambda: client.list_tools(cursor="not-a-cursor"),
            lambda: client.list_prompts(cursor="not-a-cursor"),
            lambda: client.list_resources(cursor="not-a-cursor"),
            lambda: client.list_resource_templates(cursor="not-a-cursor"),
        ):
            with pytest.raises(MCPError) as refused:
                await request()
            assert refused.value.code == INVALID_PARAMS, refused.value.message
        rendered = await client.get_prompt("add_route", {"model": "openai/gpt-4o"})
        assert "openai/gpt-4o" in str(rendered.messages[0].content)
        assert (await client.list_tools()).next_cursor is None
    assert "Traceback" not in caplog.text and not [r for r in caplog.records if r.exc_info]


async def test_discover_advertises_what_initialize_does() -> None:
    async with Client(create_server({}), mode="legacy") as legacy:  # type: ignore[arg-type]
        initialized = legacy.server_capabilities
    async with Client(create_server({}), mode="auto") as modern:  # type: ignore[arg-type]
        discovered = modern.server_capabilities
    assert discovered.model_dump(exclude_none=True) == initialized.model_dump(exclude_none=True)
    assert discovered.tools is not None and not discovered.tools.list_changed
    assert discovered.resources is not None and not discovered.resources.subscribe
