"""The local gateway: a TrueFoundry-compatible control plane (and, plugged in, data plane).

`create_app(settings)` builds the Starlette app; `GatewayState` (via `get_state(request)`) gives
route modules the settings, the store, the authenticator and the compiled configuration.
"""

from tfy_gateway.gateway.app import create_app
from tfy_gateway.gateway.auth import Authenticator, Principal
from tfy_gateway.gateway.config import CompiledConfig, ConfigHub
from tfy_gateway.gateway.extension import Extension
from tfy_gateway.gateway.settings import GatewaySettings
from tfy_gateway.gateway.snapshot import ConfigSnapshot
from tfy_gateway.gateway.state import GatewayState, get_state

__all__ = [
    "Authenticator",
    "CompiledConfig",
    "ConfigHub",
    "ConfigSnapshot",
    "Extension",
    "GatewaySettings",
    "GatewayState",
    "Principal",
    "create_app",
    "get_state",
]
