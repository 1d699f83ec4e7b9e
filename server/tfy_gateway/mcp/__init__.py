"""The MCP server (`tfy-gateway mcp`): typed tools for the clarify -> render -> validate -> plan ->
apply -> smoke-test workflow, against any TrueFoundry-compatible control plane reached over HTTP."""

from tfy_gateway.mcp.server import INSTRUCTIONS, create_server

__all__ = ["INSTRUCTIONS", "create_server"]
