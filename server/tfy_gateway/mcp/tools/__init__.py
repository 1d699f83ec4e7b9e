"""The server's tools, one module per concept; `register_all` adds them in a stable order."""

from __future__ import annotations

from mcp.server import MCPServer

from tfy_gateway.mcp.tools import authoring, data_plane, plans, policy, status


def register_all(server: MCPServer) -> None:
    status.register(server)
    authoring.register(server)
    plans.register(server)
    data_plane.register(server)
    policy.register(server)
