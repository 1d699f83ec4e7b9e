"""The local gateway's control plane: the `/api/svc/v1` endpoints the `tfy` CLI and the skill use.

One module per resource group; each exposes `routes` (those that read the data plane's runtime, such
as request logs, usage and budgets, a `routes(plane)` function). All of them are thin adapters: reads
come from the compiled config or the data plane's query objects, writes go through the `ConfigWriter`.
"""

from __future__ import annotations

from starlette.routing import BaseRoute

from tfy_gateway.gateway.control_plane import (
    alerts,
    apply,
    budgets,
    configs,
    limit_usage,
    logs,
    provider_accounts,
    session,
    teams,
    tokens,
    users,
    virtual_accounts,
    workspaces,
)
from tfy_gateway.gateway.data_plane import DataPlane

_MODULES = (session, apply, configs, provider_accounts, virtual_accounts, tokens, teams, users, workspaces, alerts)


def routes(plane: DataPlane) -> list[BaseRoute]:
    return [
        *(route for module in _MODULES for route in module.routes),
        *logs.routes(plane),
        *limit_usage.routes(plane),
        *budgets.routes(plane),
    ]
