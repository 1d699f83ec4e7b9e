"""State a scripted session carries from step to step, and the one way steps call a tool."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mcp import Client
from tfy_gateway.demo.output import Printer


class StepFailed(Exception):
    """A step could not do what it shows; the message says what went wrong."""


@dataclass
class DemoSession:
    client: Client
    out: Printer
    fake_provider_url: str
    # Filled in by the steps, in order.
    user: str | None = None
    rendered_yaml: str | None = None
    plan_id: str | None = None

    async def call(self, tool: str, arguments: dict[str, Any] | None = None) -> dict[str, Any]:
        """Call a tool through the MCP client; a tool error fails the step with the tool's message."""
        result = await self.client.call_tool(tool, arguments or {})
        if result.is_error:
            message = " ".join(getattr(block, "text", "") for block in result.content).strip()
            raise StepFailed(f"{tool} failed: {message or 'no message'}")
        content = result.structured_content
        if not isinstance(content, dict):
            raise StepFailed(f"{tool} returned no structured result")
        return content
