"""The local gateway's control plane: the `/api/svc/v1` endpoints the `tfy` CLI and the skill use.

One module per resource group; each exposes `routes`. `extension()` bundles them for `create_app`.
"""

from __future__ import annotations

from starlette.routing import BaseRoute

from tfy_gateway.gateway.control_plane import (
    alerts,
    apply,
    configs,
    models,
    provider_accounts,
    session,
    teams,
    tokens,
    virtual_accounts,
    workspaces,
)
from tfy_gateway.gateway.extension import Extension

_MODULES = (session, apply, configs, provider_accounts, virtual_accounts, tokens, teams, workspaces, models, alerts)


def routes() -> list[BaseRoute]:
    return [route for module in _MODULES for route in module.routes]


def extension() -> Extension:
    """The control plane as an `Extension` of the gateway app."""
    return Extension(name="control-plane", routes=routes())
