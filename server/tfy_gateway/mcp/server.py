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
from mcp.shared.exceptions import MCPError
from mcp.types import (
    CallToolResult,
    DiscoverResult,
    GetPromptResult,
    InputRequiredResult,
    PaginatedRequestParams,
    RequestParams,
)
from mcp_types import INVALID_PARAMS
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
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
    """The SDK's server, with the protocol's answers where its defaults differ from the spec:
    tool arguments failing validation come back as findings, not pydantic text; an unknown prompt or
    a missing prompt argument is invalid params (-32602), not an internal error with a traceback; a
    list request with a cursor this server never issued is -32602 (every list fits one page, so
    no cursor is valid); and `server/discover` advertises what `initialize` does (no list-changed
    notifications, no resource subscriptions: every list is fixed while the server runs)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        lowlevel = self._lowlevel_server
        for method in LISTS:
            entry = lowlevel.get_request_handler(method)
            if entry is not None:
                lowlevel.add_request_handler(method, PaginatedRequestParams, _first_page_only(entry.handler))
        lowlevel.add_request_handler("server/discover", RequestParams, self._discover)

    async def _discover(self, ctx: Any, params: RequestParams | None) -> DiscoverResult:
        lowlevel = self._lowlevel_server
        return DiscoverResult(
            supported_versions=list(MODERN_PROTOCOL_VERSIONS),
            capabilities=lowlevel.get_capabilities(),  # the handshake era's derivation: what initialize says
            instructions=lowlevel.instructions,
        )

    async def get_prompt(
        self, name: str, arguments: dict[str, Any] | None = None, context: Context[ServerState, Any] | None = None
    ) -> GetPromptResult | InputRequiredResult:
        prompt = self._prompt_manager.get_prompt(name)
        if prompt is None:
            known = ", ".join(p.name for p in self._prompt_manager.list_prompts())
            raise MCPError(INVALID_PARAMS, f"Unknown prompt: {name!r}; the prompts are: {known}")
        missing = [a.name for a in prompt.arguments or [] if a.required and a.name not in (arguments or {})]
        if missing:
            raise MCPError(INVALID_PARAMS, f"Prompt {name!r} needs the argument(s) {', '.join(missing)}")
        return await super().get_prompt(name, arguments, context)

    async def call_tool(
        self, name: str, arguments: dict[str, Any], context: Context[ServerState, Any] | None = None
    ) -> CallToolResult | InputRequiredResult:
        try:
            return await super().call_tool(name, arguments, context)
        except ToolError as exc:
            if isinstance(exc, UnexpectedToolError) or not isinstance(exc.__cause__, ValidationError):
                raise
            raise ToolError(argument_errors(name, exc.__cause__)) from exc.__cause__


LISTS = ("tools/list", "prompts/list", "resources/list", "resources/templates/list")


def _first_page_only(handler: Any) -> Any:
    """`handler` for a list request, refusing a cursor (this server never issues one)."""

    async def listing(ctx: Any, params: PaginatedRequestParams | None) -> Any:
        if params is not None and params.cursor is not None:
            raise MCPError(INVALID_PARAMS, f"Invalid cursor {params.cursor[:40]!r}: this server's lists have one page")
        return await handler(ctx, params)

    return listing


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
