"""The MCP server factory: tools, resources and prompts around a control plane given by the environment."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Literal

import anyio
from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError, UnexpectedToolError
from mcp.types import CallToolResult, InputRequiredResult
from pydantic import ValidationError

from tfy_gateway import __version__
from tfy_gateway.mcp import prompts, resources
from tfy_gateway.mcp.arguments import argument_errors
from tfy_gateway.mcp.local import LocalGateway, default_data_dir
from tfy_gateway.mcp.plans import DEFAULT_TTL_SECONDS, PlanStore
from tfy_gateway.mcp.state import ServerState
from tfy_gateway.mcp.tools import register_all
from tfy_gateway.platform import BASE_URL_VARIABLES, ConfigurationError, ControlPlaneSettings

logger = logging.getLogger(__name__)

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]

INSTRUCTIONS = """\
Tools to inspect and change a TrueFoundry-style AI gateway (routing, rate limits, budgets, provider
accounts, virtual accounts) through its control plane, and to test it through its data plane.
Credentials come from the server's environment (TFY_BASE_URL, TFY_API_KEY), never from arguments.
Typical workflow: gateway_status; gateway_check_intent until complete, asking the user each
next_question; gateway_render_manifest (merges with the live config); gateway_validate_manifest for
hand-written YAML; gateway_plan to show the diff; gateway_apply_plan with the plan_id once the user
approved that diff; gateway_smoke_test with verify=<the intent> to check that it holds. Gateway
configs are singletons: render, or merge into gateway_get_config's manifest, rather than writing a
config with only the new rule.
Resources: gateway://references/<name> (docs) and gateway://schemas/<type> (JSON Schemas).
"""


def create_server(
    environ: Mapping[str, str] | None = None,
    *,
    local: bool = False,
    clock: Callable[[], float] = time.time,
    plan_ttl_seconds: float = DEFAULT_TTL_SECONDS,
    timeout: float = 30.0,
    log_level: LogLevel = "INFO",
    local_data_dir: Path | None = None,
) -> MCPServer[ServerState]:
    """A new server. `environ` defaults to os.environ, read when the server starts.

    With `local=True` and no base URL in the environment, the bundled gateway (with the fake provider
    and the starter catalog) is started in-process for the server's lifetime and used as the control
    plane; its data dir is `local_data_dir`, else `default_data_dir(environ)` (persistent).
    """

    @asynccontextmanager
    async def lifespan(_: MCPServer[ServerState]) -> AsyncIterator[ServerState]:
        env = dict(os.environ if environ is None else environ)
        gateway: LocalGateway | None = None
        if local and not any(env.get(name, "").strip() for name in BASE_URL_VARIABLES):
            gateway = LocalGateway(local_data_dir or default_data_dir(env))
            await anyio.to_thread.run_sync(gateway.start)
            env.update(gateway.env)
        try:
            yield _state(env, clock, plan_ttl_seconds, timeout, local_gateway=gateway is not None)
        finally:
            if gateway is not None:
                await anyio.to_thread.run_sync(gateway.stop)

    server: MCPServer[ServerState] = GatewayServer(
        "tfy-gateway",
        title="tfy-gateway",
        instructions=INSTRUCTIONS,
        version=__version__,
        lifespan=lifespan,
        log_level=log_level,
    )
    register_all(server)
    resources.register(server)
    prompts.register(server)
    return server


class GatewayServer(MCPServer[ServerState]):
    """The SDK's server, except that arguments failing validation come back as findings, not pydantic text."""

    async def call_tool(
        self, name: str, arguments: dict[str, Any], context: Context[ServerState, Any] | None = None
    ) -> CallToolResult | InputRequiredResult:
        try:
            return await super().call_tool(name, arguments, context)
        except ToolError as exc:
            if isinstance(exc, UnexpectedToolError) or not isinstance(exc.__cause__, ValidationError):
                raise
            raise ToolError(argument_errors(name, exc.__cause__)) from exc.__cause__


def _state(
    env: Mapping[str, str], clock: Callable[[], float], ttl: float, timeout: float, *, local_gateway: bool
) -> ServerState:
    settings: ControlPlaneSettings | None = None
    error: ConfigurationError | None = None
    try:
        settings = ControlPlaneSettings.from_env(env)
    except ConfigurationError as exc:
        error = exc
        logger.warning("control plane not configured: %s", exc)
    else:
        # Which URL and (masked) key the server got: the first thing to check when settings seem ignored.
        logger.info("control plane: %s (key %s)", settings.base_url, settings.masked_key)
        for warning in settings.warnings:
            logger.warning(warning)
    return ServerState(
        settings=settings,
        settings_error=error,
        plans=PlanStore(clock, ttl),
        local_gateway=local_gateway,
        timeout=timeout,
    )
