"""Raw JSON calls for endpoints the platform client does not wrap (explain, logs, usage).

Failures become ToolErrors with a next step; a 404 means this control plane lacks the endpoint.
The API key goes only into the Authorization header and is scrubbed from any echoed text.
"""

from __future__ import annotations

from typing import Any

import httpx
from mcp.server.mcpserver.exceptions import ToolError

from tfy_gateway.mcp.errors import RESTART_HINT
from tfy_gateway.platform import ControlPlaneSettings, mask_secret


def scrub(text: str, settings: ControlPlaneSettings) -> str:
    return text.replace(settings.api_key, mask_secret(settings.api_key)) if settings.api_key else text


def _message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:300]
    if isinstance(body, dict):
        error = body.get("error")
        message = body.get("message") or (error.get("message") if isinstance(error, dict) else error)
        if message:
            return str(message)[:300]
    return ""


async def request_json(
    settings: ControlPlaneSettings,
    method: str,
    path: str,
    *,
    feature: str,
    timeout: float,
    params: dict[str, Any] | None = None,
    json: Any = None,
) -> Any:
    """`feature` names the capability in the "not supported" message (e.g. 'explain')."""
    url = settings.base_url + path
    try:
        async with httpx.AsyncClient(timeout=timeout) as http:
            response = await http.request(
                method,
                url,
                params={k: v for k, v in (params or {}).items() if v is not None},
                json=json,
                headers={"Authorization": f"Bearer {settings.api_key}", "Accept": "application/json"},
            )
    except httpx.HTTPError as exc:
        raise ToolError(
            f"Could not reach the control plane at {settings.base_url} ({type(exc).__name__}). "
            "Start the gateway or fix TFY_BASE_URL, then call gateway_status."
        ) from None
    said = scrub(_message(response), settings)
    if response.status_code == 404:
        raise ToolError(
            f"This control plane ({settings.base_url}) does not support {feature} yet "
            f"(404 for {method} {path}). Use a tfy-gateway version that serves it."
        )
    if response.status_code == 401:
        raise ToolError(f"The control plane rejected TFY_API_KEY (401): {said}. Fix TFY_API_KEY. {RESTART_HINT}")
    if response.status_code == 403:
        raise ToolError(f"TFY_API_KEY may not use {feature} (403): {said}. Ask an admin for access.")
    if response.status_code >= 400:
        raise ToolError(f"{feature} failed ({response.status_code}): {said or 'no message'}. Check the arguments.")
    try:
        return response.json()
    except ValueError:
        raise ToolError(f"{feature}: the control plane answered with something that is not JSON.") from None
