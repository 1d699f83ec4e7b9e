"""Serving the MCP server over streamable HTTP on loopback, with Host and Origin checks.

A browser page can reach loopback ports, so requests whose Origin is not this server's own loopback
origin are refused with 403 (DNS-rebinding protection, as the MCP transport spec requires).
"""

from __future__ import annotations

import logging

import uvicorn
from mcp.server import MCPServer
from mcp.server.transport_security import TransportSecuritySettings
from starlette.applications import Starlette

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
MCP_PATH = "/mcp"

logger = logging.getLogger(__name__)


def transport_security(port: int) -> TransportSecuritySettings:
    hosts = [f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}"]
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=hosts,
        allowed_origins=[f"http://{host}" for host in hosts],
    )


def http_app(server: MCPServer, host: str, port: int) -> Starlette:
    if host not in LOOPBACK_HOSTS:
        raise ValueError(f"refusing to bind {host!r}: the MCP server only listens on loopback {LOOPBACK_HOSTS}")
    return server.streamable_http_app(
        streamable_http_path=MCP_PATH, transport_security=transport_security(port), host=host
    )


def run_http(server: MCPServer, host: str, port: int) -> None:
    """Serve until interrupted; uvicorn's stdout logging is disabled (logs go to stderr)."""
    app = http_app(server, host, port)
    logger.info("MCP server on http://%s:%d%s", host if host != "::1" else "[::1]", port, MCP_PATH)
    config = uvicorn.Config(app, host=host, port=port, log_config=None, access_log=False, log_level="warning")
    uvicorn.Server(config).run()
