"""Turn control-plane failures into tool errors the model can act on.

`ToolError` text reaches the model verbatim (any other exception is reduced to a generic message),
so every message says what failed and which call or setting fixes it. Messages come from the
platform client, which already scrubs the API key.
"""

from __future__ import annotations

from mcp.server.mcpserver.exceptions import ToolError

from tfy_gateway.platform import (
    AuthenticationError,
    ConfigurationError,
    ControlPlaneError,
    NotFoundError,
    PermissionDeniedError,
    UnreachableError,
    ValidationFailed,
)

RESTART_HINT = "Set it in the MCP server's environment and restart the server (credentials are never tool arguments)."


def tool_error(exc: ControlPlaneError) -> ToolError:
    """A ToolError for a control-plane failure, with the next step for the model."""
    if isinstance(exc, ConfigurationError):
        return ToolError(f"The control plane is not configured: {exc}. {RESTART_HINT}")
    if isinstance(exc, PermissionDeniedError):
        return ToolError(f"{exc}. Ask an admin for the permission; call gateway_status to see who you are.")
    if isinstance(exc, AuthenticationError):
        return ToolError(f"{exc}. Fix TFY_API_KEY. {RESTART_HINT}")
    if isinstance(exc, UnreachableError):
        return ToolError(f"{exc}. Start the gateway or fix TFY_BASE_URL, then call gateway_status.")
    if isinstance(exc, NotFoundError):
        return ToolError(f"{exc}. Call gateway_status to check the control plane.")
    if isinstance(exc, ValidationFailed):
        details = "; ".join(
            f"{f.get('severity') or 'error'}: {f.get('message')}" + (f" ({f.get('path')})" if f.get("path") else "")
            for f in exc.findings[:10]
        )
        suffix = f": {details}" if details else ""
        return ToolError(
            f"The control plane refused the manifest: {exc}{suffix}. Fix it, check it with "
            "gateway_validate_manifest, then call gateway_plan again."
        )
    return ToolError(f"{exc}. Retry later; call gateway_status if it persists.")
