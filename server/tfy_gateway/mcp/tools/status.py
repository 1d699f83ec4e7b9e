"""Status and catalog tools: which control plane, who am I, which models, what config is live."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import httpx
from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.types import ToolAnnotations
from pydantic import BaseModel, Field

from tfy_gateway import __version__
from tfy_gateway.intents import to_yaml
from tfy_gateway.mcp.live import live_catalog, untrusted
from tfy_gateway.mcp.state import state_of
from tfy_gateway.mcp.tools.base import add_tool
from tfy_gateway.platform import AuthenticationError, ControlPlaneClient, ControlPlaneError, UnreachableError

READ_ONLY = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False)
ConfigType = Literal[
    "gateway-load-balancing-config",
    "gateway-rate-limiting-config",
    "gateway-budget-config",
    "gateway-guardrails-config",
]


class StatusResult(BaseModel):
    configured: bool = Field(description="TFY_BASE_URL (or TFY_HOST/TFY_API_HOST) and TFY_API_KEY are set.")
    base_url: str | None = Field(description="The control plane in use (no credentials).")
    local_gateway: bool = Field(description="The control plane is a gateway started by this server (--local).")
    reachable: bool
    authenticated: bool
    user: str | None = Field(description="Who TFY_API_KEY belongs to (email or name).")
    roles: list[str] = Field(default_factory=list)
    teams: list[str] = Field(default_factory=list)
    tenant: str | None = None
    min_cli_version: str | None = Field(default=None, description="Reported by the control plane.")
    server_version: str = Field(description="Version of this tfy-gateway MCP server.")
    problem: str | None = Field(default=None, description="What is wrong, when something is.")
    next_step: str | None = None
    warnings: list[str] = Field(default_factory=list)


async def gateway_status(ctx: Context) -> StatusResult:
    """Report which control plane this server talks to, whether it answers, and who the API key belongs to.

    Returns the base URL (never the key), reachability, the user, roles and teams of TFY_API_KEY, the
    tenant, and a problem/next_step pair when something is wrong. It does not change anything and
    does not list models or configs (see gateway_list_models, gateway_get_config).
    """
    state = state_of(ctx)
    result = StatusResult(
        configured=state.settings is not None,
        base_url=state.settings.base_url if state.settings else None,
        local_gateway=state.local_gateway,
        reachable=False,
        authenticated=False,
        user=None,
        server_version=__version__,
    )
    if state.settings is None:
        result.problem = str(state.settings_error)
        result.next_step = "Set the variables in the MCP server's environment (or start it with --local) and restart."
        return result
    result.warnings = list(state.settings.warnings)
    try:
        async with ControlPlaneClient.from_settings(state.settings, timeout=state.timeout) as client:
            result.min_cli_version = await _min_cli_version(state.settings.base_url, state.timeout)
            session = await client.session()
    except UnreachableError as exc:
        result.problem = str(exc)
        result.next_step = "Start the gateway (`tfy-gateway serve`) or fix TFY_BASE_URL, then restart this server."
        return result
    except AuthenticationError as exc:
        result.reachable = True
        result.problem = str(exc)
        result.next_step = "Set a valid TFY_API_KEY in the MCP server's environment and restart it."
        return result
    except ControlPlaneError as exc:
        result.problem = str(exc)
        result.next_step = "Check that TFY_BASE_URL is the bare origin of a TrueFoundry-compatible control plane."
        return result
    result.reachable = result.authenticated = True
    found = session.get("user")
    user: dict[str, Any] = found if isinstance(found, dict) else session
    result.user = untrusted(user.get("email") or user.get("username") or user.get("id") or "unknown")
    result.roles = [untrusted(r) for r in user.get("roles") or [] if isinstance(r, str)]
    result.teams = [untrusted(t) for t in user.get("teams") or [] if isinstance(t, str)]
    tenant = user.get("tenantName") or (session.get("tenantInfo") or {}).get("tenantName")
    result.tenant = untrusted(tenant) if tenant else None
    return result


async def _min_cli_version(base_url: str, timeout: float) -> str | None:
    """Unauthenticated version probe; also distinguishes 'down' from 'bad key' early."""
    try:
        async with httpx.AsyncClient(timeout=timeout) as http:
            response = await http.get(f"{base_url}/api/svc/v1/min-cli-version")
    except httpx.HTTPError:
        raise UnreachableError(f"could not reach the control plane at {base_url}") from None
    if response.status_code != 200:
        return None
    try:
        body: Any = response.json()
    except ValueError:
        return None
    version = body.get("minVersion") if isinstance(body, dict) else None
    return untrusted(version) if version else None


class ModelInfo(BaseModel):
    id: str = Field(description="Model id to send in requests: '<provider-account>/<model>'.")
    provider_account: str
    provider: str | None = Field(description="Provider type, e.g. 'openai', 'azure-openai', 'virtual-model'.")
    model_types: list[str] = Field(default_factory=list)
    virtual: bool = False


class ModelPage(BaseModel):
    models: list[ModelInfo]
    total: int = Field(description="Models matching the filters.")
    offset: int
    limit: int
    has_more: bool
    next_offset: int | None = Field(description="Pass as offset to get the next page; null on the last page.")


async def gateway_list_models(
    ctx: Context,
    limit: Annotated[int, Field(ge=1, le=200, description="Page size.")] = 50,
    offset: Annotated[int, Field(ge=0, description="Models to skip (from next_offset).")] = 0,
    provider: Annotated[
        str | None, Field(description="Only this provider type (e.g. 'openai') or provider account name.")
    ] = None,
    model_type: Annotated[str | None, Field(description="Only models of this type, e.g. 'chat', 'embedding'.")] = None,
) -> ModelPage:
    """List the models the API key can call through the gateway, one page at a time, sorted by id.

    Returns ids ('<provider-account>/<model>', the names to use in manifests and requests), provider
    type, model types, whether a model is virtual, and paging fields. It does not show prices or
    routing rules (see gateway_get_config) and does not call any model (see gateway_smoke_test).
    """
    state = state_of(ctx)
    async with state.control_plane() as client:
        listed = await client.list_models()
        catalog, _ = await live_catalog(client)
    models: list[ModelInfo] = []
    for item in listed:
        model_id = str(item.get("id", ""))
        entry = catalog.get(model_id)
        account = entry.account if entry else model_id.split("/", 1)[0]
        account_type = entry.account_type.split("/", 1)[-1] if entry else None
        models.append(
            ModelInfo(
                id=untrusted(model_id),
                provider_account=untrusted(account),
                provider=account_type,
                model_types=list(entry.model_types) if entry else [],
                virtual=entry.virtual if entry else False,
            )
        )
    if provider:
        models = [m for m in models if provider in (m.provider, m.provider_account)]
    if model_type:
        models = [m for m in models if model_type in m.model_types]
    models.sort(key=lambda m: m.id)
    page = models[offset : offset + limit]
    more = offset + len(page) < len(models)
    return ModelPage(
        models=page,
        total=len(models),
        offset=offset,
        limit=limit,
        has_more=more,
        next_offset=offset + len(page) if more else None,
    )


class ConfigResult(BaseModel):
    config_type: str
    exists: bool = Field(description="False when no config of this type has been applied yet.")
    name: str | None = None
    rule_ids: list[str] = Field(default_factory=list, description="Rules in evaluation order.")
    yaml: str | None = Field(description="The live manifest as YAML.")
    manifest: dict[str, Any] | None = Field(description="The live manifest as JSON.")


async def gateway_get_config(
    ctx: Context,
    config_type: Annotated[ConfigType, Field(description="Which gateway config to read.")],
) -> ConfigResult:
    """Read the live manifest of one gateway config (routing, rate limits, budgets or guardrails).

    Returns it as YAML and JSON with its rule ids in evaluation order, or exists=false when none is
    applied. It does not change anything; to change a config, render or write a manifest and use
    gateway_plan then gateway_apply_plan.
    """
    state = state_of(ctx)
    async with state.control_plane() as client:
        manifest = await client.get_config(config_type)
    if manifest is None:
        return ConfigResult(config_type=config_type, exists=False, yaml=None, manifest=None)
    rules = _rules(manifest)
    return ConfigResult(
        config_type=config_type,
        exists=True,
        name=untrusted(manifest.get("name", "")) or None,
        rule_ids=[untrusted(r.get("id")) for r in rules if isinstance(r, dict) and r.get("id")],
        yaml=to_yaml(manifest),
        manifest=manifest,
    )


def _rules(manifest: dict[str, Any]) -> list[Any]:
    rules = manifest.get("rules")
    return rules if isinstance(rules, list) else []


def register(server: MCPServer) -> None:
    add_tool(server, gateway_status, title="Gateway status", annotations=READ_ONLY)
    add_tool(server, gateway_list_models, title="List gateway models", annotations=READ_ONLY)
    add_tool(server, gateway_get_config, title="Get a gateway config", annotations=READ_ONLY)
