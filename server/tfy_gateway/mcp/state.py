"""Per-server state built in the lifespan: where the control plane is, and the plan store.

Tools reach it through `state_of(ctx)`. Credentials are read once from the environment when the
server starts; a missing or invalid setting is kept as an error that every tool reports, so the
server still starts and `gateway_status` can explain what to set.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError

from tfy_gateway.mcp.errors import tool_error
from tfy_gateway.mcp.plans import PlanStore
from tfy_gateway.platform import (
    ConfigurationError,
    ControlPlaneClient,
    ControlPlaneError,
    ControlPlaneSettings,
)


@dataclass
class ServerState:
    settings: ControlPlaneSettings | None
    settings_error: ConfigurationError | None
    plans: PlanStore
    local_gateway: bool = False
    timeout: float = 30.0

    def require_settings(self) -> ControlPlaneSettings:
        if self.settings is None:
            assert self.settings_error is not None
            raise tool_error(self.settings_error)
        return self.settings

    @asynccontextmanager
    async def control_plane(self) -> AsyncIterator[ControlPlaneClient]:
        """A client for one tool call; control-plane failures leave as ToolError with a next step."""
        settings = self.require_settings()
        try:
            async with ControlPlaneClient.from_settings(settings, timeout=self.timeout) as client:
                yield client
        except ControlPlaneError as exc:
            raise tool_error(exc) from None


def state_of(ctx: Context) -> ServerState:
    state = ctx.request_context.lifespan_context
    if not isinstance(state, ServerState):  # pragma: no cover - the lifespan always sets it
        raise ToolError("The server is not initialised; restart the MCP server.")
    return state
