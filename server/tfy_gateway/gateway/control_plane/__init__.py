"""The local gateway's control plane: the `/api/svc/v1` endpoints the `tfy` CLI and the skill use.

One module per resource group; each exposes `routes`. All of them are thin adapters: reads come from the
compiled config (`get_state`) or the data plane's query objects (`data_plane_of`: request logs, usage,
budgets, explain), writes go through the `ConfigWriter`.
"""

from __future__ import annotations

from starlette.routing import BaseRoute

from tfy_gateway.gateway.control_plane import (
    alerts,
    apply,
    budgets,
    configs,
    history,
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

_MODULES = (
    session,
    apply,
    configs,
    history,
    provider_accounts,
    virtual_accounts,
    tokens,
    teams,
    users,
    workspaces,
    alerts,
    logs,
    limit_usage,
    budgets,
)


def routes() -> list[BaseRoute]:
    return [route for module in _MODULES for route in module.routes]
