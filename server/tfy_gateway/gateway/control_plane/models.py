"""`GET /api/llm/models`: the models the caller's token may use, in OpenAI's list format.

Served here because it is a view of configuration; the data plane may reuse `list_models`. Any
token works (PAT or VAT): admins see every model, others what `gateway.access` grants them.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tfy_gateway.gateway.control_plane.http import authenticate, json_response
from tfy_gateway.gateway.state import get_state


async def list_models(request: Request) -> Response:
    principal = authenticate(request)
    snapshot = get_state(request).config.snapshot
    data = [
        {"id": entry.id, "object": "model", "owned_by": entry.account, "created": 0}
        for entry in snapshot.access.visible(principal)
    ]
    return json_response({"object": "list", "data": data})


routes = [
    Route("/api/llm/models", list_models, methods=["GET"]),
    Route("/api/llm/v1/models", list_models, methods=["GET"]),
]
