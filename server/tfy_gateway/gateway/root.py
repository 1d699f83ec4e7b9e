"""`GET /` and `GET /health`: what this server is and where to go next, for a person or a probe.

A browser or `curl` pointed at the bare origin used to get a 404. A browser (it asks for HTML) is
sent to the dashboard (`/ui`); otherwise both paths answer JSON without authentication and without
secrets: the service, its version, the control-plane and data-plane URLs
(as this request reached them), and the next steps. `/health` is the liveness probe (200 while the
process serves); `/api/llm/health` adds the loaded model count.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from tfy_gateway import __version__


def pointers(base: str) -> dict[str, Any]:
    return {
        "status": "ok",
        "service": "tfy-gateway local gateway (TrueFoundry-compatible AI gateway)",
        "version": __version__,
        "control_plane": f"{base}/api/svc/v1",
        "data_plane": f"{base}/api/llm",
        "openai_base_url": f"{base}/api/llm",
        "models": f"{base}/api/llm/models",
        "data_plane_health": f"{base}/api/llm/health",
        "metrics": f"{base}/metrics",
        "dashboard": f"{base}/ui",
        "auth": "Bearer token: the admin token is in <data-dir>/admin-token (default .tfy-gateway/admin-token)",
        "tfy_cli": f"export TFY_HOST={base} TFY_API_KEY=<token>; then tfy apply -f <manifest>",
        "docs": "tfy-gateway --help; the package's README and references/ (over MCP: gateway://references/<name>)",
    }


async def root(request: Request) -> Response:
    if request.url.path == "/" and "text/html" in request.headers.get("accept", ""):
        return RedirectResponse("/ui", status_code=307)  # a browser: the dashboard
    base = str(request.base_url).rstrip("/")
    return Response(orjson.dumps(pointers(base)), media_type="application/json")


routes = [Route("/", root, methods=["GET"]), Route("/health", root, methods=["GET"])]
